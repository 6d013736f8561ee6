// The privacy switch of a section (the engine's disableSync/enableSync): a section's writes stay on
// the device, and the user chooses what happens to the copy the server already has. Cairn's
// setSectionSync and isPrivacyClear delegate here.

import { makeChange, WHOLE_SECTION } from './codec.js';

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {import('./cairn.js').Cairn} Cairn */

/**
 * The privacy switch of a section, as the engine's disableSync/enableSync. Off: this device's
 * writes to it stay here and the server's changes to it are not applied here; `serverCopy` is the
 * user's choice for the copy the server already has: 'keep' it, or 'delete' it (a clear of the
 * section is pushed but not applied here, so the server purges its copy and the user's other
 * devices lose theirs too, while this device keeps its own). On: what stayed local is pushed
 * (after 'delete', what the clear removed is written again with new stamps) and the client
 * catches up from the start, bringing in what changed meanwhile.
 * @param {string} section @param {boolean} on @param {'keep'|'delete'} [serverCopy]
 */
export function setSectionSync(/** @type {Cairn} */ cairn, section, on, serverCopy = 'keep') {
  const kind = cairn.kind(section);
  if (!kind) throw new RangeError(`unknown section '${section}'`);
  if (serverCopy !== 'keep' && serverCopy !== 'delete') throw new RangeError(`serverCopy must be 'keep' or 'delete', not '${serverCopy}'`);
  const wasOn = cairn.privacy[section] !== false;
  if (!on) {
    if (!wasOn && (serverCopy === 'keep' || cairn.privacyDeleted[section] !== undefined)) return;
    cairn.privacy = { ...cairn.privacy, [section]: false };
    cairn.writeSetting('privacy', cairn.privacy);
    if (serverCopy === 'delete') {
      const clears = kind === 'map'
        ? [makeChange('clear', section, WHOLE_SECTION, undefined, cairn.clock.tick())]
        : cairn.replicaState.log(section).streams().map((stream) => makeChange('clear', section, stream, undefined, cairn.clock.tick()));
      const upTo = clears.length ? clears[clears.length - 1].stamp : cairn.clock.tick();
      cairn.reserveClock();
      cairn.privacyDeleted = { ...cairn.privacyDeleted, [section]: upTo };
      cairn.writeSetting('privacy-deleted', cairn.privacyDeleted);
      if (clears.length) cairn.outbox.add(clears, cairn.replica); // pushed (see isPrivacyClear), never applied here
      cairn.sync?.push();
    }
    cairn.channel?.postMessage({ type: 'privacy', from: cairn.replica, privacy: cairn.privacy, privacyDeleted: cairn.privacyDeleted });
    cairn.emit('change', { changes: [], origin: 'local' });
    return;
  }
  if (wasOn) return;
  cairn.privacy = { ...cairn.privacy, [section]: true };
  cairn.writeSetting('privacy', cairn.privacy);
  const upTo = cairn.privacyDeleted[section];
  if (upTo !== undefined) {
    // The server's copy was deleted up to `upTo`: share this device's copy again, above it...
    if (kind === 'map') {
      for (const [key, e] of cairn.replicaState.map(section).sorted()) if (e.stamp <= upTo && e.value !== null) cairn.writeText('set', section, key, e.value);
    } else {
      const log = cairn.replicaState.log(section);
      for (const stream of log.streams()) for (const e of log.entries(stream)) if (e.stamp <= upTo) cairn.writeText('append', section, stream, e.value);
    }
    // ...and apply the server's clear here too, which now hides only the old copies.
    const streams = kind === 'map' ? [WHOLE_SECTION] : cairn.replicaState.log(section).streams();
    for (const stream of streams) {
      const clear = makeChange('clear', section, stream, undefined, upTo);
      if (cairn.replicaState.apply(clear)) cairn.persist(clear, cairn.policyFor(section));
    }
    const rest = { ...cairn.privacyDeleted };
    delete rest[section];
    cairn.privacyDeleted = rest;
    cairn.writeSetting('privacy-deleted', cairn.privacyDeleted);
  }
  cairn.outbox.add(cairn.replicaState.changesOf(section), cairn.replica);
  // The server's changes to it were skipped while it was off: catch up from the start.
  cairn.resetCursor();
  cairn.sync?.resync(0);
  cairn.channel?.postMessage({ type: 'privacy', from: cairn.replica, privacy: cairn.privacy, privacyDeleted: cairn.privacyDeleted });
  cairn.sync?.push();
  cairn.emit('change', { changes: [], origin: 'local' });
}

/**
 * A clear sent by a 'delete' privacy switch: pushed although its section does not sync. Takes the
 * switches' watermarks (`privacy-deleted`) so the page and the shared worker use one rule.
 * @param {Record<string, string>} privacyDeleted @param {Change} c
 */
export function isPrivacyClear(privacyDeleted, c) {
  const upTo = privacyDeleted[c.section];
  return c.op === 'clear' && upTo !== undefined && c.stamp <= upTo;
}
