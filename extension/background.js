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

chrome.action.onClicked.addListener(() => {
  chrome.runtime.openOptionsPage();
});
