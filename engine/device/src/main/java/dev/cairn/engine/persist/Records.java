package dev.cairn.engine.persist;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.StoreException;
import dev.cairn.engine.store.StoreWrite;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * How the engine lays its records out in a {@link LocalStore}. Keys start with a one-byte type
 * so each kind of record is one prefix range; names are separated by NUL, which
 * {@link dev.cairn.engine.crdt.Names} forbids inside them.
 *
 * <pre>
 * 'm' section NUL key                 winning map entry      stamp, flag (0 tombstone / 1 value), JSON text
 * 'l' section NUL stream NUL stamp     visible log entry      JSON text
 * 'w' section NUL stream               log watermark          stamp
 * 'w' section NUL                      map section watermark  stamp   (a whole-section clear: empty stream)
 * 'o' seq (8 bytes, big-endian)        outbox entry           change JSON
 * 'x' name                             engine metadata        bytes
 * </pre>
 * A stamp is 8 bytes of hlc (big-endian) and the replica id in UTF-8, length-prefixed in values.
 */
public final class Records {

    /** Type byte of a map section's winning entry (a value or a tombstone). */
    public static final byte MAP = 'm';
    /** Type byte of a visible log entry. */
    public static final byte LOG = 'l';
    /** Type byte of a clear's watermark: one log stream's, or a whole map section's. */
    public static final byte WATERMARK = 'w';
    /** Type byte of an outbox entry: a change the server has not acknowledged yet. */
    public static final byte OUTBOX = 'o';
    /** Type byte of the engine's own metadata (replica id, clock high-water mark, sync cursor, privacy switches). */
    public static final byte META = 'x';

    private Records() {
    }

    // ---- keys

    /** The record key of one map key's winning entry. */
    public static byte[] mapKey(String section, String key) {
        return join(MAP, section, key);
    }

    /** The record key of a log stream's watermark, or with an empty {@code stream} a map section's. */
    public static byte[] watermarkKey(String section, String stream) {
        return join(WATERMARK, section, stream);
    }

    /** The record key of one log entry: records sort by section and stream, then by stamp. */
    public static byte[] logKey(String section, String stream, Stamp stamp) {
        byte[] s = utf8(section);
        byte[] t = utf8(stream);
        byte[] r = utf8(stamp.replica());
        return ByteBuffer.allocate(1 + s.length + 1 + t.length + 1 + 8 + r.length)
                .put(LOG).put(s).put((byte) 0).put(t).put((byte) 0).putLong(stamp.hlc()).put(r).array();
    }

    /** Prefix of every stored entry of one log stream. */
    public static byte[] logStreamPrefix(String section, String stream) {
        return join(LOG, section, stream + '\u0000');
    }

    /** The record key of outbox entry {@code seq}: big-endian, so entries sort oldest first. */
    public static byte[] outboxKey(long seq) {
        return ByteBuffer.allocate(9).put(OUTBOX).putLong(seq).array();
    }

    /** The record key of one engine metadata value. */
    public static byte[] metaKey(String name) {
        byte[] n = utf8(name);
        return ByteBuffer.allocate(1 + n.length).put(META).put(n).array();
    }

    /** The prefix every record of one type starts with (for a scan of that kind). */
    public static byte[] prefix(byte type) {
        return new byte[] {type};
    }

    /** The sequence number in an {@link #outboxKey(long)}. */
    public static long outboxSeq(byte[] key) {
        return ByteBuffer.wrap(key, 1, 8).getLong();
    }

    // ---- a change as the record that stores it

    /** The store write that persists a change's effect (the winning entry, the entry, or the watermark). */
    public static StoreWrite write(Change change) {
        if (change instanceof Change.Put put) {
            byte[] value = put.isDelete() ? null : utf8(put.value());
            byte[] stamp = stampBytes(put.stamp());
            ByteBuffer buf = ByteBuffer.allocate(stamp.length + 1 + (value == null ? 0 : value.length)).put(stamp);
            if (value == null) {
                buf.put((byte) 0);
            } else {
                buf.put((byte) 1).put(value);
            }
            return StoreWrite.put(mapKey(put.section(), put.key()), buf.array());
        } else if (change instanceof Change.Append append) {
            return StoreWrite.put(logKey(append.section(), append.stream(), append.stamp()), utf8(append.value()));
        } else {
            Change.Clear clear = (Change.Clear) change;
            return StoreWrite.put(watermarkKey(clear.section(), clear.stream()), stampBytes(clear.stamp()));
        }
    }

    /** Decodes a map, log or watermark record back into the change that produced it. */
    public static Change read(byte[] key, byte[] value) {
        try {
            switch (key[0]) {
                case MAP -> {
                    String[] names = names(key, 1, 2);
                    ByteBuffer buf = ByteBuffer.wrap(value);
                    Stamp stamp = readStamp(buf);
                    byte flag = buf.get();
                    String json = flag == 0 ? null : new String(value, buf.position(), buf.remaining(), StandardCharsets.UTF_8);
                    return new Change.Put(names[0], names[1], json, stamp);
                }
                case LOG -> {
                    int sep1 = indexOf(key, 1);
                    int sep2 = indexOf(key, sep1 + 1);
                    String section = new String(key, 1, sep1 - 1, StandardCharsets.UTF_8);
                    String stream = new String(key, sep1 + 1, sep2 - sep1 - 1, StandardCharsets.UTF_8);
                    long hlc = ByteBuffer.wrap(key, sep2 + 1, 8).getLong();
                    String replica = new String(key, sep2 + 9, key.length - sep2 - 9, StandardCharsets.UTF_8);
                    return new Change.Append(section, stream, new String(value, StandardCharsets.UTF_8), new Stamp(hlc, replica));
                }
                case WATERMARK -> {
                    String[] names = names(key, 1, 2);
                    return new Change.Clear(names[0], names[1], readStamp(ByteBuffer.wrap(value)));
                }
                default -> throw new StoreException("record type '" + (char) key[0] + "' is not a state record");
            }
        } catch (RuntimeException e) {
            if (e instanceof StoreException se) {
                throw se;
            }
            throw new StoreException("damaged record in local store: " + e.getMessage(), e);
        }
    }

    /** An outbox record's value: the change as the wire's change JSON, in UTF-8. */
    public static byte[] outboxValue(Change change) {
        return utf8(ChangeJson.encode(change));
    }

    /** Decodes an {@link #outboxValue(Change)}; {@link StoreException} if the record is damaged. */
    public static Change readOutbox(byte[] value) {
        try {
            return ChangeJson.decode(new String(value, StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            throw new StoreException("damaged outbox record in local store: " + e.getMessage(), e);
        }
    }

    // ---- helpers

    /** The UTF-8 bytes of {@code s}. */
    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] stampBytes(Stamp stamp) {
        byte[] r = utf8(stamp.replica());
        return ByteBuffer.allocate(8 + 1 + r.length).putLong(stamp.hlc()).put((byte) r.length).put(r).array();
    }

    static Stamp readStamp(ByteBuffer buf) {
        long hlc = buf.getLong();
        int len = buf.get() & 0xFF;
        byte[] r = new byte[len];
        buf.get(r);
        return new Stamp(hlc, new String(r, StandardCharsets.UTF_8));
    }

    private static byte[] join(byte type, String a, String b) {
        byte[] x = utf8(a);
        byte[] y = utf8(b);
        return ByteBuffer.allocate(1 + x.length + 1 + y.length).put(type).put(x).put((byte) 0).put(y).array();
    }

    private static String[] names(byte[] key, int from, int count) {
        String[] out = new String[count];
        int start = from;
        for (int i = 0; i < count; i++) {
            int end = i == count - 1 ? key.length : indexOf(key, start);
            out[i] = new String(key, start, end - start, StandardCharsets.UTF_8);
            start = end + 1;
        }
        return out;
    }

    private static int indexOf(byte[] key, int from) {
        for (int i = from; i < key.length; i++) {
            if (key[i] == 0) {
                return i;
            }
        }
        throw new StoreException("damaged record key: missing separator");
    }
}
