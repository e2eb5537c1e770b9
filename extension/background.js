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
chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || message?.nmstore !== 'unlock' || typeof message.passphrase !== 'string') {
    return false;
  }
  client.unlock(message.passphrase).then(
    () => sendResponse({ ok: true }),
    (/** @type {any} */ e) => sendResponse({ ok: false, code: e.code, message: e.message }));
  return true; // the answer comes later
});

chrome.action.onClicked.addListener(() => {
  chrome.runtime.openOptionsPage();
});
