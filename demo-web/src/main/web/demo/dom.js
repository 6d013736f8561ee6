// Small DOM helpers the demo page's modules share.

export const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Creates an element. @param {string} tag @param {Record<string, any>} [props] @param {...(Node|string)} children */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    // ARIA states are tokens: screen readers need "true"/"false", not a present/absent attribute.
    else if (k.startsWith('aria-') && typeof v === 'boolean') node.setAttribute(k, String(v));
    else if (v === true) node.setAttribute(k, '');
    else if (v !== false && v != null) node.setAttribute(k, String(v));
  }
  node.append(...children);
  return node;
}

/** The filled part of a meter. Width set through the CSSOM: the server's CSP refuses style attributes. @param {number} percent */
export function meterFill(percent) {
  const fill = el('span');
  fill.style.width = `${percent}%`;
  return fill;
}

/** @param {number} t */
export function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 5 ? 'just now' : s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(t).toLocaleString();
}

/** @param {number} n */
export function size(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return n < 1024 ** 3 ? `${(n / 1024 / 1024).toFixed(2)} MB` : `${(n / 1024 ** 3).toFixed(1)} GB`;
}

/** How long a message stays: long enough to read, never so long that it describes a past state. */
const MESSAGE_MILLIS = { info: 8000, error: 20000 };
/** @type {ReturnType<typeof setTimeout>|null} */
let messageTimer = null;

/** The dashboard's one-line message; it clears itself so an old one never reads as current. @param {string} text @param {boolean} [error] */
export function message(text, error = false) {
  const m = $('dash-message');
  m.textContent = text;
  m.classList.toggle('error', error);
  if (messageTimer) clearTimeout(messageTimer);
  messageTimer = setTimeout(() => {
    messageTimer = null;
    m.textContent = '';
    m.classList.remove('error');
  }, error ? MESSAGE_MILLIS.error : MESSAGE_MILLIS.info);
}

/** localStorage that never throws (full or disabled storage only costs the remembering). */
export const local = {
  /** @param {string} key */
  get(key) {
    try { return localStorage.getItem(key); } catch { return null; }
  },
  /** @param {string} key @param {string} value */
  set(key, value) {
    try { localStorage.setItem(key, value); } catch { /* this page still works */ }
  },
  /** @param {string} key */
  remove(key) {
    try { localStorage.removeItem(key); } catch { /* nothing to remove */ }
  },
};
