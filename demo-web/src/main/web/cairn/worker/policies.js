// The tabs' storage policies as the sync worker reads them (the `policies` setting a tab writes,
// sync-port.js sharePolicies): the answer of the tab's Cairn.policyFor, so the worker saves a
// server change exactly when a tab would have, and holds the cursor below one it does not save.

import { DEFAULT_POLICY } from '../persister.js';

/** @typedef {import('../persister.js').PersistTo} PersistTo */

/**
 * A lookup of where a key is kept: its own policy, else (a field entry `K#a#b`) that of `K`, else
 * its section's, else the default. No key string is built while no key has a policy of its own
 * (a catch-up asks once per change).
 * @param {{sections?: Record<string, string>, keys?: Record<string, string>}|null} policies
 * @returns {(section: string, key?: string) => PersistTo}
 */
export function persistToLookup(policies) {
  const fallback = /** @type {PersistTo} */ (DEFAULT_POLICY.persistTo);
  if (!policies) return () => fallback;
  const sections = new Map(Object.entries(policies.sections ?? {}));
  const keys = new Map(Object.entries(policies.keys ?? {}));
  return (section, key) => {
    if (key !== undefined && keys.size > 0) {
      const own = keys.get(`${section}\u0000${key}`);
      if (own) return /** @type {PersistTo} */ (own);
      const cut = key.indexOf('#');
      const whole = cut > 0 ? keys.get(`${section}\u0000${key.slice(0, cut)}`) : undefined;
      if (whole) return /** @type {PersistTo} */ (whole);
    }
    return /** @type {PersistTo} */ (sections.get(section) || fallback);
  };
}
