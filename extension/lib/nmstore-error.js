// SPDX-License-Identifier: MIT
// nmstore-error.js: NmstoreError, what every promise of the client rejects
// with, and the three ways one is made: from a host's error reply, from a
// host that cannot be reached (its text from host-errors.js), and the
// sentence for a host that was never installed. Below every other module
// of the client, so that each can reject without importing the client.
import { describeHostError, problemText } from './host-errors.js';

/** An error from the host or from the connection; `code` is E_... */
export class NmstoreError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {string} [op]
   */
  constructor(code, message, op) {
    super(message);
    this.name = 'NmstoreError';
    this.code = code;
    this.op = op;
    /**
     * When the host cannot be reached: the sentence and the fix, for a
     * page to show (host-errors.js).
     * @type {import('./host-errors.js').HostProblem | undefined}
     */
    this.problem = undefined;
  }
}

/**
 * The rejection for a host that cannot be reached: its code and message
 * come from the one mapping of browser messages (host-errors.js).
 * @param {string} why  the browser's message
 * @param {import('./host-errors.js').Extension} ext
 * @param {boolean} broken  this profile reached the host before
 */
export function hostUnreachableError(why, ext, broken) {
  const problem = describeHostError(why, ext, { broken });
  const e = new NmstoreError(problem.code, problemText(problem));
  e.problem = problem;
  return e;
}

/**
 * The rejection for a host's error reply.
 * @param {string} op
 * @param {{code?: string, message?: string} | null | undefined} error
 */
export function hostError(op, error) {
  /** @type {{code?: string, message?: string}} */
  const e = error ?? {};
  return new NmstoreError(e.code ?? 'E_INTERNAL', `nmstore ${op}: ${e.message ?? 'the host gave no message'}`, op);
}

/**
 * The text a person reads when the host is missing.
 * @param {string} hostName
 */
export function hostMissingReason(hostName) {
  return `The nmstore native host (${hostName}) is not installed for this browser, ` +
    'so data is kept in chrome.storage.local for now. Install nmstore and run ' +
    '"nmstore install"; the data moves to nmstore the next time the extension connects.';
}
