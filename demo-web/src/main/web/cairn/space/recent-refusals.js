// Recent refusals for good and leaves of spaces, for syncNow() marks: kept by the sync client
// (space-sync.js SpaceSync) and, through the sync worker, by each tab (worker/tab-link.js).

/** @typedef {import('./space-sync.js').SyncError} SyncError */

/** How many recent refusals and leaves SpaceSync keeps for syncNow() calls still saving. */
const KEPT_REFUSALS = 100;

/** A syncNow()'s mark (SpaceSync.mark). @typedef {{at: number, held: string[]}} SpaceMark */

/**
 * Recent refusals for good and leaves, by space: a syncNow() takes its mark before it saves, so
 * one that came while it saved (its changes or its space already gone) still fails it. Kept by
 * the sync client (SpaceSync) and, through the sync worker, by each tab (worker/tab-link.js).
 */
export class RecentRefusals {
  constructor() {
    /** @type {Array<{space: string, error: SyncError}>} */
    this.recent = [];
    this.before = 0;
  }

  /** @param {string[]} held the spaces the syncNow() covers @returns {SpaceMark} */
  mark(held) {
    return { at: this.before + this.recent.length, held };
  }

  /** The first refusal for good or leave of a space of `mark` since it was taken, or null. @param {SpaceMark} mark */
  missed(mark) {
    const since = this.recent.slice(Math.max(0, mark.at - this.before));
    return since.find((e) => mark.held.includes(e.space))?.error ?? null;
  }

  /** @param {string} space @param {SyncError} error */
  remember(space, error) {
    this.recent.push({ space, error });
    if (this.recent.length > KEPT_REFUSALS) {
      this.recent.shift();
      this.before++;
    }
  }
}
