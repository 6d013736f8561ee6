import dev.cairn.engine.store.StoreWrite;
import dev.cairn.engine.store.TieredLocalStore;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Writes {@code bytes} of 1 KB records into a TieredLocalStore in a small heap, reopens it, reads
 * every record back and prints the heap pools' peaks (BENCHMARKS.md, "Heap"):
 * {@code java -Xmx64m -XX:+UseSerialGC -cp server/target/cairn-server.jar server/src/test/shaded/HeapDemo.java DIR 2147483648}.
 */
public class HeapDemo {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long targetBytes = Long.parseLong(args[1]);
        Random r = new Random(7);
        byte[] value = new byte[1000];
        long payload = 0;
        long t0 = System.nanoTime();
        long keys = 0;
        try (TieredLocalStore s = TieredLocalStore.open(dir)) {
            while (payload < targetBytes) {
                List<StoreWrite> batch = new ArrayList<>();
                for (int i = 0; i < 1000; i++) {
                    r.nextBytes(value);
                    byte[] key = String.format("user-%06d/entry-%010d", keys % 10_000, keys).getBytes();
                    batch.add(StoreWrite.put(key, value.clone()));
                    payload += key.length + value.length;
                    keys++;
                }
                s.commit(batch);
            }
            System.out.printf("wrote %,d records, %,d MiB of keys and values in %.1f s; snapshots %d%n", keys, payload >> 20,
                    (System.nanoTime() - t0) / 1e9, s.snapshotCount());
            s.checkpoint();
            long[] w = s.bytesWritten();
            System.out.printf("after checkpoint: %d snapshots; written journal %,d MiB, snapshots %,d MiB (%.2f per byte)%n", s.snapshotCount(),
                    w[0] >> 20, w[1] >> 20, (double) (w[0] + w[1]) / payload);
        }
        long t1 = System.nanoTime();
        try (TieredLocalStore s = TieredLocalStore.open(dir)) {
            System.out.printf("reopen %.1f ms%n", (System.nanoTime() - t1) / 1e6);
            long[] n = {0};
            s.scan(new byte[0], (k, v) -> n[0]++);
            System.out.printf("scanned %,d records in %.1f s%n", n[0], (System.nanoTime() - t1) / 1e9);
            byte[] v = s.get(String.format("user-%06d/entry-%010d", 4242L, 4242L).getBytes());
            System.out.println("get: " + (v == null ? "missing" : v.length + " bytes"));
        }
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == java.lang.management.MemoryType.HEAP) {
                System.out.printf("heap pool %s: peak used %,d KiB%n", p.getName(), p.getPeakUsage().getUsed() >> 10);
            }
        }
        System.out.printf("max heap %,d MiB%n", Runtime.getRuntime().maxMemory() >> 20);
    }
}
