// SPDX-License-Identifier: MIT
// background.js: the companion extension's service worker. It opens the
// status page from the toolbar button and keeps one NmstoreClient and
// NativeSessionStore for the extension's own background work; they are on
// globalThis.nmstore so that a person (or a test) can use them from the
// service worker's console.
import { NmstoreClient } from './lib/nmstore-client.js';
import { NativeSessionStore } from './lib/native-session-store.js';

const client = new NmstoreClient();
const sessions = new NativeSessionStore(client);

/** @type {any} */ (globalThis).nmstore = { client, sessions, NmstoreClient, NativeSessionStore };

// The status page's unlock form sends the passphrase here too, so that the
// worker's own host (each port has one) opens the store for background
// work. Only this extension's pages can send it: there are no content
// scripts, and onMessage hears no other extension.
//
// Its "Try again" sends {nmstore: 'retry'}: the worker's client drops its
// fallback or broken state and connects again, and the answer says how it
// went (mode, or the error's code and problem for the page to show).
chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id) return false;
  const fail = (/** @type {any} */ e) => sendResponse({ ok: false, code: e.code, message: e.message, problem: e.problem });
  if (message?.nmstore === 'unlock' && typeof message.passphrase === 'string') {
    client.unlock(message.passphrase).then(() => sendResponse({ ok: true }), fail);
    return true; // the answer comes later
  }
  if (message?.nmstore === 'retry') {
    client.reconnect().then((conn) => sendResponse({ ok: true, mode: conn.mode }), fail);
    return true;
  }
  return false;
});

chrome.action.onClicked.addListener(() => {
  chrome.runtime.openOptionsPage();
});
