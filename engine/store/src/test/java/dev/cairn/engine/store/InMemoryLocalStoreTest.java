package dev.cairn.engine.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class InMemoryLocalStoreTest extends LocalStoreContract {

    @Override
    protected LocalStore newStore() {
        return new InMemoryLocalStore();
    }

    @Test
    void sizeBytesIsTheExactPayloadAndReturnsToZero() {
        put(store, b(1, 2), b(1, 2, 3));
        assertEquals(5, store.sizeBytes());
        put(store, b(1, 2), b(9));
        assertEquals(3, store.sizeBytes());
        store.commit(List.of(StoreWrite.put(b(7), b(7, 7)), StoreWrite.delete(b(1, 2))));
        assertEquals(3, store.sizeBytes());
        store.commit(List.of(StoreWrite.delete(b(7)), StoreWrite.delete(b(8))));
        assertEquals(0, store.sizeBytes());
    }

    @Test
    void twoStoresAreIndependent() {
        LocalStore other = newStore();
        try {
            put(store, b(1), b(1));
            assertEquals(0, other.count());
        } finally {
            other.close();
        }
    }
}
