// The pull applier: the JavaScript twin of dev.cairn.engine.sync.PullApplier (spec/vectors/sync/README.md,
// "Pull applier"). A page's changes are applied, then the cursor moves; caught-up covers the cursor;
// a welcome.head below the cursor takes the whole state again from 0. With end-to-end encryption a
// page is opened first: a value sealed with another key locks the client and applies nothing.

import { E2eError } from './crypto.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {{seq: number, change: Change}} Entry */

/**
 * @typedef {object} PullHandlers
 * @property {(changes: Change[], cursor: number, entries: Entry[]) => (void|Promise<unknown>)} apply a page, covering seqs up to cursor;
 *   a promise: the page is saved when it settles (the next page waits for it)
 * @property {(cursor: number) => void} [covered] caught-up: every change up to cursor was sent
 * @property {() => void} [reset] the server's head is below our cursor: it sends everything from 0
 * @property {(error: E2eError) => void} lock values sealed with another key (a wrong passphrase)
 * @property {(error: {code: string, message: string}) => void} problem
 * @property {(error: {code: string, message: string}) => void} fail the page could not be applied: the session must end
 */

export class PullApplier {
  /** @param {number} cursor @param {import('./crypto.js').ChangeCipher|null} cipher @param {PullHandlers} on */
  constructor(cursor, cipher, on) {
    this.cursor = cursor;
    this.cipher = cipher;
    this.on = on;
  }

  /** @param {{head: number}} welcome */
  welcome(welcome) {
    if (welcome.head < this.cursor) {
      // The server lost or reset this user's data (a backup restored): take its whole state again.
      this.cursor = 0;
      this.on.reset?.();
    }
  }

  /** Applies a page, then moves the cursor. @param {{changes: Entry[], cursor: number}} frame @param {() => boolean} current */
  async page(frame, current) {
    const entries = this.cipher ? await this.open(frame.changes) : frame.changes;
    if (!entries || !current()) return false; // nothing applied, the cursor stays
    await this.on.apply(entries.map((c) => c.change), frame.cursor, entries);
    this.cursor = Math.max(this.cursor, frame.cursor);
    return true;
  }

  /** @param {{cursor: number}} frame */
  caughtUp(frame) {
    this.cursor = Math.max(this.cursor, frame.cursor);
    this.on.covered?.(frame.cursor);
  }

  /**
   * Opens a page's sealed values. Another key's value locks (null: nothing applied); a value that
   * does not open otherwise (altered, plain text in an encrypted section) is left out and reported.
   * @private @param {Entry[]} page @returns {Promise<Entry[]|null>}
   */
  async open(page) {
    const cipher = /** @type {import('./crypto.js').ChangeCipher} */ (this.cipher);
    const opened = await Promise.all(page.map(({ seq, change }) => cipher.open(change).then(
      (plain) => ({ seq, change: plain, error: null }),
      (/** @type {unknown} */ error) => ({ seq, change, error }))));
    const wrong = opened.find((o) => o.error instanceof E2eError && o.error.reason === 'WRONG_PASSPHRASE');
    if (wrong) {
      this.on.lock(/** @type {E2eError} */ (wrong.error));
      return null;
    }
    const failed = opened.find((o) => o.error && !(o.error instanceof E2eError));
    if (failed) {
      // Not the data's fault (e.g. WebCrypto failed): apply nothing, reconnect and catch up again.
      this.on.fail({ code: 'e2e-open', message: `could not decrypt a page from the server: ${/** @type {Error} */ (failed.error).message}` });
      return null;
    }
    for (const o of opened) {
      if (o.error) {
        const e = /** @type {E2eError} */ (o.error);
        this.on.problem({ code: `e2e-${e.reason.toLowerCase()}`, message: `ignored an end-to-end encrypted change from the server that does not open: ${e.message}` });
      }
    }
    return opened.filter((o) => !o.error).map(({ seq, change }) => ({ seq, change }));
  }
}
