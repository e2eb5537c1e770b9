// SPDX-License-Identifier: MIT
// host-errors.js: what a browser's native-messaging error means for nmstore,
// in one sentence, and the command that fixes it. The client (its
// rejections' code and message) and the status page (the sentence and a
// copyable command) both read this one table, so that they never disagree.
//
// It takes a plain message string, from Chrome's chrome.runtime.lastError
// or Firefox's port.error, so it does not care which browser produced it.
// The messages, as each browser words them:
//   Chromium 156 (each one produced for real by
//   tests/browser/e2e/status-page.test.js):
//     "Specified native messaging host not found."
//     "Access to the specified native messaging host is forbidden."
//     "Native host has exited."
//     "Error when communicating with the native messaging host."
//   Firefox (toolkit/components/extensions/NativeMessaging.sys.mjs and
//   NativeManifests.sys.mjs): a manifest that is missing, unreadable, or does
//   not list the add-on in allowed_extensions all end as
//     "No such native application org.nmstore.host"
//   on purpose (so that an add-on without the permission learns nothing;
//   only the browser console says "does not have permission to use native
//   manifest"). Older Firefox releases threw
//     "This extension does not have permission to use native application <name>".
//   A host that writes a length over 1 MiB (junk on stdout read as a length):
//     "Native application tried to send a message of N bytes, which exceeds
//      the limit of 1048576 bytes."
//   A host that ends is a disconnect with no error at all in Firefox, and a
//   manifest whose program is missing gives "An unexpected error occurred".
//   Firefox ESR 153 says each of these: tests/browser/e2e/status-page-firefox.test.js.

/**
 * @typedef {'not-found' | 'forbidden' | 'exited' | 'communication' | 'other'} HostErrorKind
 */

/**
 * @typedef {object} HostProblem  what the client's rejection and the page show
 * @property {HostErrorKind} kind
 * @property {string} code  the NmstoreError code: E_HOST_NOT_FOUND,
 *   E_HOST_FORBIDDEN, E_HOST_EXITED, E_HOST_PROTOCOL, E_HOST_UNREACHABLE, or
 *   E_HOST_BROKEN for any of them once this profile reached the host before
 * @property {string} title  a heading: "not installed", "installed but broken", ...
 * @property {string} sentence  what is wrong, for a person
 * @property {string} fixText  what to do, in words, before the command
 * @property {string} command  the command to run, with this extension's id
 * @property {string} browserMessage  the browser's own words
 * @property {boolean} broken  this profile reached the host before
 */

/** @type {{kind: HostErrorKind, re: RegExp}[]} */
const PATTERNS = [
  { kind: 'not-found', re: /specified native messaging host not found/i },
  { kind: 'not-found', re: /^no such native application\b/i },
  { kind: 'forbidden', re: /access to the specified native messaging host is forbidden/i },
  { kind: 'forbidden', re: /does not have permission to use native (application|manifest)/i },
  { kind: 'exited', re: /native host has exited/i },
  { kind: 'exited', re: /^the host closed the connection$/i },
  { kind: 'communication', re: /error when communicating with the native messaging host/i },
  { kind: 'communication', re: /native application tried to send a message of \d+ bytes/i },
];

/**
 * Which case a browser's message is.
 * @param {string | undefined | null} message
 * @returns {HostErrorKind}
 */
export function classifyHostError(message) {
  const m = (message ?? '').trim();
  for (const p of PATTERNS) if (p.re.test(m)) return p.kind;
  return 'other';
}

/** @type {Record<HostErrorKind, string>} */
const CODES = {
  'not-found': 'E_HOST_NOT_FOUND',
  forbidden: 'E_HOST_FORBIDDEN',
  exited: 'E_HOST_EXITED',
  communication: 'E_HOST_PROTOCOL',
  other: 'E_HOST_UNREACHABLE',
};

/**
 * @typedef {object} Extension  which extension asks, for the command's id
 * @property {string} id  chrome.runtime.id
 * @property {'chromium' | 'firefox'} browser
 */

/**
 * This extension as the running browser describes it.
 * @returns {Extension}
 */
export function thisExtension() {
  const rt = /** @type {any} */ (globalThis).chrome?.runtime;
  const url = typeof rt?.getURL === 'function' ? rt.getURL('') : '';
  return { id: rt?.id ?? '', browser: url.startsWith('moz-extension:') ? 'firefox' : 'chromium' };
}

/**
 * The `nmstore install` command that allows this extension.
 * @param {Extension} ext
 */
export function installCommand(ext) {
  if (!ext.id) return 'nmstore install';
  return ext.browser === 'firefox'
    ? `nmstore install --firefox-id ${ext.id}`
    : `nmstore install --extension-id ${ext.id}`;
}

/**
 * The sentence and the fix for a browser's message.
 * @param {string | undefined | null} message  the browser's words
 * @param {Extension} ext
 * @param {{broken?: boolean}} [options]  broken: this profile reached the
 *   host before, so it is installed, whatever the browser says
 * @returns {HostProblem}
 */
export function describeHostError(message, ext, options = {}) {
  const browserMessage = (message ?? '').trim() || 'the host closed the connection';
  const kind = classifyHostError(browserMessage);
  const broken = !!options.broken;
  const who = ext.browser === 'firefox' ? 'Firefox' : 'the browser';
  const install = installCommand(ext);
  /** @type {Omit<HostProblem, 'kind' | 'code' | 'browserMessage' | 'broken'>} */
  let d;
  switch (kind) {
    case 'not-found':
      d = ext.browser === 'firefox'
        ? {
          title: 'The nmstore host is not installed',
          sentence: 'Firefox finds no nmstore host manifest that allows this add-on ' +
            `(${ext.id}); it says the same when the manifest is missing and when it does not list this add-on.`,
          fixText: 'Register nmstore with Firefox for this add-on:',
          command: install,
        }
        : {
          title: 'The nmstore host is not installed',
          sentence: 'This browser finds no nmstore host manifest, so nmstore is not installed or not registered with this browser.',
          fixText: 'Install nmstore, then register it with this browser:',
          command: install,
        };
      break;
    case 'forbidden':
      d = {
        title: 'The nmstore host does not allow this extension',
        sentence: `nmstore is installed, but its host manifest does not list this extension (${ext.id}), ` +
          `so ${who} refuses to start it.`,
        fixText: 'Allow this extension in the manifest:',
        command: install,
      };
      break;
    case 'exited':
      d = {
        title: 'The nmstore host stopped',
        sentence: 'The nmstore host started but ended before it answered: it crashed, or could not open its data folder.',
        fixText: 'See why (it checks the manifest, the program and the data folder):',
        command: 'nmstore doctor',
      };
      break;
    case 'communication':
      d = {
        title: 'The nmstore host spoke garbage',
        sentence: 'The program the host manifest names wrote something other than native messages to its output, ' +
          'usually a wrapper script that prints text before it starts nmstore.',
        fixText: 'Find the program and what it prints:',
        command: 'nmstore doctor',
      };
      break;
    default:
      d = {
        title: 'The nmstore host cannot be reached',
        // Firefox ESR 153 says only this when the program the manifest
        // names is missing or cannot run (status-page-firefox.test.js).
        sentence: ext.browser === 'firefox' && /^an unexpected error occurred$/i.test(browserMessage)
          ? 'Firefox could not start the program the nmstore host manifest names: it was moved or deleted, or cannot run.'
          : `The nmstore host could not be reached: ${browserMessage}`,
        fixText: 'See what is wrong:',
        command: 'nmstore doctor',
      };
  }
  if (broken) {
    // A host this profile reached before is installed, whatever the browser
    // says now: a moved binary or a removed manifest looks "not found".
    d = {
      title: 'nmstore is installed but broken',
      sentence: 'The nmstore host worked in this browser profile before, but cannot be reached now ' +
        `(${who} says: "${browserMessage}"). The extension's data is in nmstore, so it does not fall back ` +
        'to the browser\'s own storage.',
      fixText: `See what is wrong, then repair it (usually \`${install}\`):`,
      command: 'nmstore doctor',
    };
  }
  return { kind, code: broken ? 'E_HOST_BROKEN' : CODES[kind], browserMessage, broken, ...d };
}

/**
 * The problem as one line of text, for an error message.
 * @param {HostProblem} p
 */
export function problemText(p) {
  const raw = p.broken || p.kind === 'other' ? '' : ` (the browser said: "${p.browserMessage}")`;
  return `${p.sentence}${raw} ${p.fixText} ${p.command}`;
}
