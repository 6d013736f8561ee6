// Waiting in tests, on the monotonic clock: a wall clock that steps (a VM resumed, a clock synced)
// must not end a wait early or stretch it.
import assert from 'node:assert/strict';

/** Resolves once cond() (or the promise it returns) is truthy; fails after `ms`. @param {() => unknown} cond @param {string} [what] @param {number} [ms] */
export async function until(cond, what = 'the condition', ms = 3000) {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) assert.fail('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 5));
  }
}
