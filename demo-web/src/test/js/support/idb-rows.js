// Reads a whole object store of one of the client's IndexedDB databases (fake-indexeddb in Node):
// what the tests check was saved, read through a connection of their own.
import { IdbStore } from '../../../main/web/cairn/idb-store.js';

/** Every row of `store` in the database of `name` (a user, or a space's store name), as [key, value] pairs. @param {string} name @param {string} store */
export async function rows(name, store) {
  const db = await IdbStore.openDb(name);
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(store, 'readonly');
      const keys = tx.objectStore(store).getAllKeys();
      const values = tx.objectStore(store).getAll();
      tx.oncomplete = () => resolve(keys.result.map((k, i) => [k, values.result[i]]));
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}
