// Runs spec/vectors/e2e/ against the WebCrypto implementation (the Java engine runs the same file),
// so a value sealed in either client opens in the other.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { E2eKey, ValueCipher, E2eError, isEnvelope } from '../../main/web/cairn/crypto.js';

function vectorsFile() {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'spec', 'vectors', 'e2e', 'aes-gcm.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('no spec/vectors/e2e/aes-gcm.json above ' + fileURLToPath(import.meta.url));
  }
}

const vectors = JSON.parse(readFileSync(vectorsFile(), 'utf8'));

describe('e2e vectors', () => {
  for (const c of vectors.cases) {
    test(c.name, async () => {
      const key = await E2eKey.derive(c.passphrase, c.user, c.iterations);
      assert.equal(key.id, c.keyId);
      const cipher = new ValueCipher(key);
      assert.equal(await cipher.encrypt(c.section, c.target, c.stamp, c.value), c.envelope);
      assert.equal(await cipher.decrypt(c.section, c.target, c.stamp, c.envelope), c.value);
      assert.ok(isEnvelope(c.envelope));
    });
  }
  for (const c of vectors.errors) {
    test('refuses: ' + c.name, async () => {
      const cipher = new ValueCipher(await E2eKey.derive(c.passphrase, c.user, c.iterations));
      await assert.rejects(cipher.decrypt(c.section, c.target, c.stamp, c.envelope),
        (e) => e instanceof E2eError && e.reason === c.reason);
    });
  }
});

test('a plain value is not an envelope, and bad arguments are refused', async () => {
  assert.equal(isEnvelope('"dark"'), false);
  assert.equal(isEnvelope('{"$e2e":1,"ct":"x"}'), false);
  await assert.rejects(E2eKey.derive('', 'alice', 1000), TypeError);
  await assert.rejects(E2eKey.derive('p', 'alice', 10), RangeError);
});
