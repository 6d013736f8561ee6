package dev.cairn.server.store;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Record layout of {@link JournalServerStore}: one sorted map of {@code byte[]} keys compared as
 * unsigned bytes. Every key starts with the user id in UTF-8 and a NUL (user ids hold no NUL, names hold no
 * control characters), so each user is one contiguous key range and nothing reads across users.
 *
 * <pre>
 * key                                            value
 * user NUL 'h'                                   head seq (8 bytes)
 * user NUL 'm' section NUL key                   seq, hlc, replica length (1 byte), replica, flag (0 tombstone / 1 value), JSON text
 * user NUL 'l' section NUL stream NUL hlc replica  seq, JSON text        (visible log entry)
 * user NUL 'w' section NUL stream                seq, hlc, replica     (log watermark)
 * user NUL 'w' section NUL                       seq, hlc, replica     (map section clear watermark: empty stream)
 * user NUL 's' seq                               0xFF, key-suffix length (4 bytes), the entry's key past the user prefix, its value
 *                                                (index for readSince; stores of earlier versions hold the entry's whole key)
 * user NUL 'u'                                   bytes the user (or space) holds itself (8 bytes)
 * user NUL 'o'                                   bytes of the spaces the user owns (8 bytes; ServerStore.usage is 'u' + 'o')
 * space NUL 'c'                                  the user a space's bytes are charged to (UTF-8), while it has an owner
 * user NUL 'y' section NUL key NUL seq           replaced at (8 bytes), then the replaced map entry's value as above (history)
 * </pre>
 * Numbers are 8 bytes big-endian; seqs and hlcs are non-negative, so byte order is numeric order,
 * and log keys of one stream sort by stamp (replica ids are ASCII). Every entry value starts with
 * its seq.
 */
final class ServerRecords {

    static final byte HEAD = 'h';
    static final byte MAP = 'm';
    static final byte LOG = 'l';
    static final byte WATERMARK = 'w';
    static final byte SEQ = 's';
    static final byte USAGE = 'u';
    static final byte HISTORY = 'y';
    static final byte OWNED = 'o';
    static final byte CHARGED = 'c';
    /** First byte of a seq index value that holds its entry ({@link #indexValue}). */
    private static final byte INDEX_WITH_ENTRY = (byte) 0xFF;

    private ServerRecords() {
    }

    /** A stored entry: the seq that made it what it is and the change that recreates it. */
    record Stored(long seq, Change change) {
    }

    // ---- keys

    static byte[] userPrefix(String user) {
        byte[] u = utf8(user);
        return Arrays.copyOf(u, u.length + 1);
    }

    static byte[] headKey(byte[] user) {
        return concat(user, new byte[] {HEAD});
    }

    static byte[] mapKey(byte[] user, String section, String key) {
        return concat(user, new byte[] {MAP}, utf8(section), new byte[] {0}, utf8(key));
    }

    /** Prefix of every entry of one map section. */
    static byte[] mapSectionPrefix(byte[] user, String section) {
        return concat(user, new byte[] {MAP}, utf8(section), new byte[] {0});
    }

    /** A key after every entry of one map section (UTF-8 never holds the byte 0xFF). */
    static byte[] mapSectionLast(byte[] user, String section) {
        return concat(mapSectionPrefix(user, section), new byte[] {(byte) 0xFF});
    }

    static byte[] logKey(byte[] user, String section, String stream, Stamp stamp) {
        return concat(logStreamPrefix(user, section, stream), ByteBuffer.allocate(8).putLong(stamp.hlc()).array(), utf8(stamp.replica()));
    }

    /** Prefix of every entry of one log stream; the entries sort by stamp after it. */
    static byte[] logStreamPrefix(byte[] user, String section, String stream) {
        return concat(user, new byte[] {LOG}, utf8(section), new byte[] {0}, utf8(stream), new byte[] {0});
    }

    static byte[] watermarkKey(byte[] user, String section, String stream) {
        return concat(user, new byte[] {WATERMARK}, utf8(section), new byte[] {0}, utf8(stream));
    }

    static byte[] seqKey(byte[] user, long seq) {
        return concat(user, new byte[] {SEQ}, ByteBuffer.allocate(8).putLong(seq).array());
    }

    static byte[] usageKey(byte[] user) {
        return concat(user, new byte[] {USAGE});
    }

    /** Bytes of the spaces a user owns, charged to their quota (PROTOCOL.md 8.5). */
    static byte[] ownedKey(byte[] user) {
        return concat(user, new byte[] {OWNED});
    }

    /** Whom a space's bytes are charged to now. */
    static byte[] chargedKey(byte[] space) {
        return concat(space, new byte[] {CHARGED});
    }

    /** Prefix of every history record of one map key; they sort by the replaced entry's seq after it. */
    static byte[] historyKeyPrefix(byte[] user, String section, String key) {
        return concat(user, new byte[] {HISTORY}, utf8(section), new byte[] {0}, utf8(key), new byte[] {0});
    }

    static byte[] historyKey(byte[] user, String section, String key, long seq) {
        return concat(historyKeyPrefix(user, section, key), ByteBuffer.allocate(8).putLong(seq).array());
    }

    /** True if {@code key} is a history record (of any user). */
    static boolean isHistoryKey(byte[] key) {
        for (int i = 0; i < key.length - 1; i++) {
            if (key[i] == 0) {
                return key[i + 1] == HISTORY;
            }
        }
        return false;
    }

    /** A history record: when the entry was replaced, then the entry as {@link #mapValue} stored it. */
    static byte[] historyValue(long replacedAtMillis, byte[] replacedMapValue) {
        return ByteBuffer.allocate(8 + replacedMapValue.length).putLong(replacedAtMillis).put(replacedMapValue).array();
    }

    static long historyReplacedAt(byte[] value) {
        return readLong(value);
    }

    static LwwEntry historyEntry(byte[] value) {
        return mapEntry(Arrays.copyOfRange(value, 8, value.length));
    }

    /** The first key after every seq-index key of the user. */
    static byte[] seqKeyEnd(byte[] user) {
        return concat(user, new byte[] {SEQ + 1});
    }

    static long seqOfIndexKey(byte[] key) {
        return ByteBuffer.wrap(key, key.length - 8, 8).getLong();
    }

    /**
     * A seq index record that holds its entry (key past the user prefix, and value), so a catch-up
     * reads a page with one range scan and no lookup per change. An entry and its index record are
     * written and deleted together, so the copy is never stale.
     */
    static byte[] indexValue(int userLength, byte[] entryKey, byte[] entryValue) {
        int suffix = entryKey.length - userLength;
        return ByteBuffer.allocate(5 + suffix + entryValue.length).put(INDEX_WITH_ENTRY).putInt(suffix)
                .put(entryKey, userLength, suffix).put(entryValue).array();
    }

    /** False for the index records of earlier versions, which hold only the entry's key (it starts with a user id, never with 0xFF). */
    static boolean indexHoldsEntry(byte[] indexValue) {
        return indexValue.length > 0 && indexValue[0] == INDEX_WITH_ENTRY;
    }

    /** The entry an {@link #indexValue} holds, as {@link #decode} gives it. */
    static Stored decodeIndexed(byte[] userPrefix, byte[] indexValue) {
        byte[] key = indexedKey(userPrefix, indexValue);
        return decode(key, userPrefix.length, Arrays.copyOfRange(indexValue, 5 + key.length - userPrefix.length, indexValue.length));
    }

    /** The whole key of the entry an {@link #indexValue} holds; a length that does not fit the record is damage. */
    static byte[] indexedKey(byte[] userPrefix, byte[] indexValue) {
        int suffix = indexValue.length < 5 ? -1 : ByteBuffer.wrap(indexValue, 1, 4).getInt();
        if (suffix < 0 || 5L + suffix + 8 > indexValue.length) { // every entry value starts with its 8-byte seq
            throw new IllegalStateException("server store is damaged: a seq index record of " + indexValue.length
                    + " bytes holds a key of " + suffix + " bytes");
        }
        byte[] key = Arrays.copyOf(userPrefix, userPrefix.length + suffix);
        System.arraycopy(indexValue, 5, key, userPrefix.length, suffix);
        return key;
    }

    // ---- values

    static byte[] longValue(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    static long readLong(byte[] value) {
        return ByteBuffer.wrap(value, 0, 8).getLong();
    }

    /** The seq every entry value starts with. */
    static long seqOf(byte[] entryValue) {
        return readLong(entryValue);
    }

    static byte[] mapValue(long seq, LwwEntry entry) {
        byte[] r = utf8(entry.stamp().replica());
        byte[] v = entry.isTombstone() ? new byte[0] : utf8(entry.value());
        return ByteBuffer.allocate(8 + 8 + 1 + r.length + 1 + v.length)
                .putLong(seq).putLong(entry.stamp().hlc()).put((byte) r.length).put(r)
                .put((byte) (entry.isTombstone() ? 0 : 1)).put(v).array();
    }

    static LwwEntry mapEntry(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value);
        b.getLong();
        long hlc = b.getLong();
        int rLen = b.get() & 0xFF;
        String replica = new String(value, b.position(), rLen, StandardCharsets.UTF_8);
        b.position(b.position() + rLen);
        boolean live = b.get() == 1;
        String v = live ? new String(value, b.position(), value.length - b.position(), StandardCharsets.UTF_8) : null;
        return new LwwEntry(v, new Stamp(hlc, replica));
    }

    static byte[] logValue(long seq, String value) {
        byte[] v = utf8(value);
        return ByteBuffer.allocate(8 + v.length).putLong(seq).put(v).array();
    }

    static String logEntryValue(byte[] value) {
        return new String(value, 8, value.length - 8, StandardCharsets.UTF_8);
    }

    static byte[] watermarkValue(long seq, Stamp stamp) {
        byte[] r = utf8(stamp.replica());
        return ByteBuffer.allocate(16 + r.length).putLong(seq).putLong(stamp.hlc()).put(r).array();
    }

    static Stamp watermarkStamp(byte[] value) {
        return new Stamp(ByteBuffer.wrap(value, 8, 8).getLong(), new String(value, 16, value.length - 16, StandardCharsets.UTF_8));
    }

    /** Decodes a map, log or watermark entry of a user whose prefix is {@code userLength} bytes long. */
    static Stored decode(byte[] key, int userLength, byte[] value) {
        byte type = key[userLength];
        int sectionStart = userLength + 1;
        int sectionEnd = indexOfNul(key, sectionStart);
        String section = new String(key, sectionStart, sectionEnd - sectionStart, StandardCharsets.UTF_8);
        int nameStart = sectionEnd + 1;
        long seq = seqOf(value);
        switch (type) {
            case MAP -> {
                String k = new String(key, nameStart, key.length - nameStart, StandardCharsets.UTF_8);
                LwwEntry entry = mapEntry(value);
                return new Stored(seq, new Change.Put(section, k, entry.value(), entry.stamp()));
            }
            case LOG -> {
                int streamEnd = indexOfNul(key, nameStart);
                String stream = new String(key, nameStart, streamEnd - nameStart, StandardCharsets.UTF_8);
                long hlc = ByteBuffer.wrap(key, streamEnd + 1, 8).getLong();
                int replicaStart = streamEnd + 9;
                String replica = new String(key, replicaStart, key.length - replicaStart, StandardCharsets.UTF_8);
                return new Stored(seq, new Change.Append(section, stream, logEntryValue(value), new Stamp(hlc, replica)));
            }
            case WATERMARK -> {
                String stream = new String(key, nameStart, key.length - nameStart, StandardCharsets.UTF_8);
                return new Stored(seq, new Change.Clear(section, stream, watermarkStamp(value)));
            }
            default -> throw new IllegalStateException("unknown record type '" + (char) type + "' in the server store");
        }
    }

    private static int indexOfNul(byte[] key, int from) {
        for (int i = from; i < key.length; i++) {
            if (key[i] == 0) {
                return i;
            }
        }
        throw new IllegalStateException("damaged server store key: missing separator");
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
