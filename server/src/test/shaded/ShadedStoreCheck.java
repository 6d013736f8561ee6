import dev.cairn.engine.store.StoreWrite;
import dev.cairn.engine.store.TieredLocalStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * Runs the tiered store's MapDB paths from the shaded server jar alone, to prove the jar carries
 * what MapDB needs: {@code java -cp server/target/cairn-server.jar server/src/test/shaded/ShadedStoreCheck.java}.
 * Writes through many small segments (snapshot writes, merges, tombstones), compacts, reopens
 * and compares every record with a model; prints OK and exits 0, or fails.
 */
public class ShadedStoreCheck {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("cairn-shaded-check");
        TieredLocalStore.Options o = TieredLocalStore.Options.defaults().withFlushBytes(2048).withFanout(2);
        TreeMap<byte[], byte[]> model = new TreeMap<>(Arrays::compareUnsigned);
        try (TieredLocalStore s = TieredLocalStore.open(dir, o)) {
            for (int i = 0; i < 3000; i++) {
                List<StoreWrite> w = new ArrayList<>();
                byte[] k = ("k" + (i % 500)).getBytes(StandardCharsets.UTF_8);
                if (i % 7 == 0) {
                    w.add(StoreWrite.delete(k));
                    model.remove(k);
                } else {
                    byte[] v = ("value " + i).getBytes(StandardCharsets.UTF_8);
                    w.add(StoreWrite.put(k, v));
                    model.put(k, v);
                }
                s.commit(w);
            }
            s.checkpoint();
            s.compact();
        }
        try (TieredLocalStore s = TieredLocalStore.open(dir, o)) {
            TreeMap<byte[], byte[]> seen = new TreeMap<>(Arrays::compareUnsigned);
            s.scan(new byte[0], (k, v) -> seen.put(k, v));
            if (seen.size() != model.size()) {
                throw new AssertionError("records: " + seen.size() + " != " + model.size());
            }
            for (var e : model.entrySet()) {
                if (!Arrays.equals(e.getValue(), seen.get(e.getKey())) || !Arrays.equals(e.getValue(), s.get(e.getKey()))) {
                    throw new AssertionError("differs at " + new String(e.getKey(), StandardCharsets.UTF_8));
                }
            }
            System.out.println("OK: " + model.size() + " records through " + s.snapshotCount() + " MapDB snapshot(s), from the shaded jar");
        }
    }
}
