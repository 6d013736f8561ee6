// The syncNow() waiters: the JavaScript twin of dev.cairn.engine.sync.SyncWaiters (spec/vectors/sync/README.md,
// "Waiters"). A call resolves once the session is live, caught up, and nothing written before the
// call is pending; it fails with the reason as soon as that cannot happen without the app or the
// server changing something (a permanent failure, a lock, a dropped or stuck change).

/** @typedef {{code: string, message: string}} SyncError */

/** An Error carrying the sync error's code. @param {SyncError} e */
export function syncError(e) {
  return Object.assign(new Error(`${e.code}: ${e.message}`), { code: e.code });
}

export class SyncWaiters {
  constructor() {
    /** @type {Array<{ids: Set<string>, tag: object|undefined, resolve: () => void, reject: (e: Error) => void}>} */
    this.list = [];
  }

  /**
   * Waits for these changes (the ones pending at the call). `tag` marks the call for release().
   * @param {Iterable<string>} ids @param {object} [tag] @returns {Promise<void>}
   */
  add(ids, tag) {
    return new Promise((resolve, reject) => this.list.push({ ids: new Set(ids), tag, resolve, reject }));
  }

  /** Resolves the calls added with `tag`, whatever is still pending (a space a session does not sync). @param {object} tag */
  release(tag) {
    const done = this.list.filter((w) => w.tag === tag);
    if (done.length === 0) return;
    this.list = this.list.filter((w) => w.tag !== tag);
    done.forEach((w) => w.resolve());
  }

  /** Takes over another client's pending calls (the sync worker replaced its client): they settle here. @param {SyncWaiters} other */
  adopt(other) {
    this.list.push(...other.list);
    other.list = [];
  }

  get size() {
    return this.list.length;
  }

  /** Resolves the calls whose changes are all through. @param {boolean} live @param {(id: string) => boolean} isPending */
  settle(live, isPending) {
    if (!live || this.list.length === 0) return;
    const done = this.list.filter((w) => ![...w.ids].some(isPending));
    this.list = this.list.filter((w) => !done.includes(w));
    done.forEach((w) => w.resolve());
  }

  /** Fails every call waiting for one of `ids` (every call, if none given). @param {SyncError} error @param {string[]} [ids] */
  fail(error, ids) {
    const hit = ids ? new Set(ids) : null;
    const failed = this.list.filter((w) => !hit || [...hit].some((id) => w.ids.has(id)));
    if (failed.length === 0) return;
    this.list = this.list.filter((w) => !failed.includes(w));
    failed.forEach((w) => w.reject(syncError(error)));
  }
}
