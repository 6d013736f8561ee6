// End-to-end encryption of values with WebCrypto: the JavaScript twin of
// dev.cairn.engine.crypto.{E2eKey,ValueCipher,ChangeCipher}. spec/vectors/e2e/ pins the bytes, so a
// value sealed in the browser opens in the JVM engine and the other way round.
//
// Key: PBKDF2-HMAC-SHA256 over the UTF-8 passphrase, salt "cairn-e2e-v1:" + user id, 512 bits:
// the first 256 are the AES-GCM key, the last 256 an HMAC-SHA256 key for nonces and the key id.
// Envelope: {"$e2e":1,"ct":"<b64url>","iv":"<b64url>","kid":"<key id>"}; additional data
// "cairn-e2e-v1" NUL section NUL target NUL stamp (a value cannot be moved or re-stamped);
// nonce = HMAC(macKey, aad NUL plaintext)[0..12) (a re-sent change seals to the same bytes).

export const DEFAULT_ITERATIONS = 600000;
export const MIN_ITERATIONS = 1000;
const MARKER = '$e2e';
const VERSION = 1;
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Why a value could not be opened: WRONG_PASSPHRASE, TAMPERED or MALFORMED (as the Java E2eException). */
export class E2eError extends Error {
  /** @param {'WRONG_PASSPHRASE'|'TAMPERED'|'MALFORMED'} reason @param {string} message */
  constructor(reason, message) {
    super(message);
    this.name = 'E2eError';
    this.reason = reason;
  }
}

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) throw new Error('end-to-end encryption needs WebCrypto (a secure context: https or localhost)');
  return s;
}

function b64url(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function unb64url(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) throw new E2eError('MALFORMED', 'bad base64url');
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  const bin = atob(padded);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function aad(section, target, stamp) {
  return enc.encode(`cairn-e2e-v1\u0000${section}\u0000${target}\u0000${String(stamp)}`);
}

/** A user's key, derived from a passphrase; never stored, never sent. */
export class E2eKey {
  /** @private */
  constructor(aesKey, macKey, id) {
    this.aesKey = aesKey;
    this.macKey = macKey;
    this.id = id;
  }

  /** @param {string} passphrase @param {string} userId @param {number} [iterations] */
  static async derive(passphrase, userId, iterations = DEFAULT_ITERATIONS) {
    if (typeof passphrase !== 'string' || passphrase.length === 0) throw new TypeError('the encryption passphrase must not be empty');
    if (typeof userId !== 'string' || userId.length === 0) throw new TypeError('the user id must not be empty');
    if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS) throw new RangeError(`PBKDF2 iterations must be >= ${MIN_ITERATIONS}, got ${iterations}`);
    const s = subtle();
    const base = await s.importKey('raw', enc.encode(passphrase), 'PBKDF2', false, ['deriveBits']);
    const bits = new Uint8Array(await s.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: enc.encode('cairn-e2e-v1:' + userId), iterations }, base, 512));
    const aesKey = await s.importKey('raw', bits.slice(0, 32), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    const macKey = await s.importKey('raw', bits.slice(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    bits.fill(0);
    const id = b64url(new Uint8Array(await s.sign('HMAC', macKey, enc.encode('cairn-key-id'))).slice(0, 8));
    return new E2eKey(aesKey, macKey, id);
  }
}

/** Seals and opens single values; see the file comment for the format. */
export class ValueCipher {
  /** @param {E2eKey} key */
  constructor(key) {
    this.key = key;
  }

  /** @returns {Promise<string>} the envelope JSON text of `valueJson` */
  async encrypt(section, target, stamp, valueJson) {
    const s = subtle();
    const a = aad(section, target, stamp);
    const plain = enc.encode(valueJson);
    const iv = new Uint8Array(await s.sign('HMAC', this.key.macKey, concat(a, new Uint8Array([0]), plain))).slice(0, 12);
    const ct = new Uint8Array(await s.encrypt({ name: 'AES-GCM', iv, additionalData: a, tagLength: 128 }, this.key.aesKey, plain));
    return `{"${MARKER}":${VERSION},"ct":"${b64url(ct)}","iv":"${b64url(iv)}","kid":"${this.key.id}"}`;
  }

  /** @returns {Promise<string>} the value JSON text; throws E2eError with a reason otherwise */
  async decrypt(section, target, stamp, envelopeJson) {
    const env = parseEnvelope(envelopeJson);
    const where = `value of ${section}/${target}`;
    if (!env) throw new E2eError('MALFORMED', `${where} is not an encrypted envelope`);
    if (env[MARKER] !== VERSION) throw new E2eError('MALFORMED', `${where} is encrypted with envelope version ${env[MARKER]}; this client reads version ${VERSION}`);
    if (env.kid !== this.key.id) throw new E2eError('WRONG_PASSPHRASE', `${where} was encrypted with a different passphrase (key ${env.kid}, this device has ${this.key.id})`);
    const iv = unb64url(env.iv);
    const ct = unb64url(env.ct);
    if (iv.length !== 12 || ct.length < 16) throw new E2eError('MALFORMED', `${where}: bad nonce or ciphertext length`);
    let plain;
    try {
      plain = await subtle().decrypt({ name: 'AES-GCM', iv, additionalData: aad(section, target, stamp), tagLength: 128 }, this.key.aesKey, ct);
    } catch {
      throw new E2eError('TAMPERED', `${where} failed its integrity check: altered, or moved from another key or stamp`);
    }
    try {
      return dec.decode(plain);
    } catch {
      throw new E2eError('MALFORMED', `${where} decrypted to invalid UTF-8`);
    }
  }
}

/** Whether a value's JSON text is an envelope. */
export function isEnvelope(valueJson) {
  return parseEnvelope(valueJson) !== null;
}

function parseEnvelope(text) {
  if (typeof text !== 'string' || !text.startsWith(`{"${MARKER}":`)) return null;
  let n;
  try { n = JSON.parse(text); } catch { return null; }
  if (!n || typeof n !== 'object' || Array.isArray(n) || Object.keys(n).length !== 4 || typeof n[MARKER] !== 'number') return null;
  for (const f of ['ct', 'iv', 'kid']) if (typeof n[f] !== 'string') return null;
  return n;
}

/**
 * Applies a ValueCipher to whole changes of the chosen sections, at the sync boundary (the twin
 * of dev.cairn.engine.crypto.ChangeCipher): what is pushed is sealed, what arrives is opened.
 * Local state and storage keep plain values (the device is trusted; the server is not).
 * Deletes and clears carry no value and pass unchanged, so the server still merges by stamp.
 */
export class ChangeCipher {
  /** @param {ValueCipher} cipher @param {Iterable<string>} sections */
  constructor(cipher, sections) {
    this.cipher = cipher;
    this.sections = new Set(sections);
  }

  /** @param {string} section */
  covers(section) {
    return this.sections.has(section);
  }

  /**
   * The change as it goes on the wire.
   * @template {{op: string, section: string, key?: string, stream?: string, value?: string, stamp: string}} C
   * @param {C} change @returns {Promise<C>}
   */
  async seal(change) {
    if (!this.covers(change.section) || (change.op !== 'set' && change.op !== 'append')) return change;
    const target = /** @type {string} */ (change.op === 'set' ? change.key : change.stream);
    return { ...change, value: await this.cipher.encrypt(change.section, target, change.stamp, /** @type {string} */ (change.value)) };
  }

  /**
   * The change as the device applies it; throws E2eError. A plain value in an encrypted section
   * (written before encryption was turned on, or by the server's HTTP API) is refused as
   * MALFORMED: the server must not be able to plant values the user's key did not seal.
   * @template {{op: string, section: string, key?: string, stream?: string, value?: string, stamp: string}} C
   * @param {C} change @returns {Promise<C>}
   */
  async open(change) {
    if (!this.covers(change.section) || (change.op !== 'set' && change.op !== 'append')) return change;
    const target = /** @type {string} */ (change.op === 'set' ? change.key : change.stream);
    if (!isEnvelope(change.value)) {
      throw new E2eError('MALFORMED', `section '${change.section}' is end-to-end encrypted but ${change.section}/${target} arrived as a plain value`);
    }
    return { ...change, value: await this.cipher.decrypt(change.section, target, change.stamp, /** @type {string} */ (change.value)) };
  }
}
