// Which map keys hold the fields of each persistent value, and a generation per value that moves
// whenever an entry of it changes, so a StateHandle reads its entries without scanning its
// section and decodes them again only after one of them changed (see fields.js).

/** @typedef {import('./codec.js').Change} Change */
/** @typedef {import('./crdt.js').ReplicaState} ReplicaState */

/** @typedef {{epoch: number, keys: Map<string, Set<string>>, gens: Map<string, number>}} SectionIndex */

export class FieldIndex {
  /** @param {ReplicaState} state */
  constructor(state) {
    this.state = state;
    /** @type {Map<string, SectionIndex>} built for a section when a value of it is first read */
    this.sections = new Map();
    this.counter = 0;
  }

  /**
   * Follows changes applied to the state. Cairn calls it first for every 'change' event, before any
   * listener of the app, so a listener reading a handle sees the new value.
   * @param {Change[]} changes
   */
  changed(changes) {
    for (const c of changes) {
      const index = this.sections.get(c.section);
      if (!index) continue;
      if (c.op === 'clear') {
        // A whole-section clear purged entries: rebuilt on the next read, every generation new.
        this.sections.delete(c.section);
        continue;
      }
      if (c.op !== 'set' && c.op !== 'delete') continue;
      const cut = c.key.indexOf('#');
      const base = cut < 0 ? c.key : c.key.slice(0, cut);
      index.gens.set(base, ++this.counter);
      if (cut >= 0) {
        let keys = index.keys.get(base);
        if (!keys) index.keys.set(base, (keys = new Set()));
        keys.add(c.key);
      }
    }
  }

  /** @param {string} section @returns {SectionIndex} */
  section(section) {
    let index = this.sections.get(section);
    if (!index) {
      index = { epoch: ++this.counter, keys: new Map(), gens: new Map() };
      for (const k of this.state.map(section).entries.keys()) {
        const cut = k.indexOf('#');
        if (cut < 0) continue;
        const base = k.slice(0, cut);
        let keys = index.keys.get(base);
        if (!keys) index.keys.set(base, (keys = new Set()));
        keys.add(k);
      }
      this.sections.set(section, index);
    }
    return index;
  }

  /** A number that changes whenever an entry of the value under `key` may have changed. @param {string} section @param {string} key */
  generation(section, key) {
    const index = this.section(section);
    return `${index.epoch}.${index.gens.get(key) ?? 0}`;
  }

  /**
   * The live entries of the value under `key`: its root and its field entries.
   * @param {string} section @param {string} key @returns {import('./fields.js').StoredEntry[]}
   */
  entries(section, key) {
    const map = this.state.map(section);
    /** @type {import('./fields.js').StoredEntry[]} */
    const out = [];
    const root = map.entry(key);
    if (root && root.value !== null) out.push({ key, value: root.value, stamp: root.stamp });
    const keys = this.section(section).keys.get(key);
    if (keys) {
      for (const k of keys) {
        const e = map.entry(k);
        if (e && e.value !== null) out.push({ key: k, value: e.value, stamp: e.stamp });
        else if (!e) keys.delete(k); // purged by a clear
      }
    }
    return out;
  }
}
