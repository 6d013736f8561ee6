package dev.cairn.server.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An in-JVM TCP proxy that puts network faults between clients and a real server ({@code tc netem}
 * does not work on the test machines). It listens on a random port of 127.0.0.1 and opens one
 * upstream connection per accepted client: a {@link Link}.
 *
 * <p>Faults are set globally ({@link #faults()}, for every link, present and future) or per link
 * ({@link Link#faults()}); a link obeys the union of both:
 * <ul>
 *   <li><b>drop</b> (blackhole, a partition): bytes are read and thrown away in both directions,
 *       nothing is forwarded and both sockets stay open. A link that dropped bytes has a hole in
 *       its byte stream, so it never forwards again, even after the fault is lifted (like a TCP
 *       connection that died silently): the endpoints must find out by themselves (keepalive).
 *       Its sockets are closed once the fault is lifted and an endpoint closes its side.</li>
 *   <li><b>delay</b>: every chunk waits {@code fixed + random(0..jitter)} ms before it is written;
 *       order is always kept (a chunk never overtakes an earlier one).</li>
 *   <li><b>bandwidth</b>: at most that many bytes per second per direction.</li>
 *   <li><b>refuse</b> (global only): new connections are accepted and at once reset (RST).</li>
 * </ul>
 * and one lie (global only): {@link #rewriteWelcome(long)} makes links opened while it is on tell the
 * client a larger {@code welcome.maxFrameBytes} than the server's (see {@link WelcomeRewriter}),
 * so a client that sizes its pushes by it over-sends and gets 1009 closes;
 * and two actions: {@link Link#cut()} closes both sides cleanly (FIN) and {@link Link#reset()}
 * aborts both (SO_LINGER 0, so the peers see RST); {@link #cutAll()} / {@link #resetAll()} do it to
 * every open link.
 *
 * <p>Blocking sockets, two threads per direction (reader and writer, so a delay does not slow the
 * reads down); all daemon threads. Thread-safe.
 */
public final class FaultProxy implements AutoCloseable {

    /** Largest chunk read at once; a bandwidth cap writes it in smaller slices. */
    private static final int CHUNK = 16 << 10;

    private final InetSocketAddress upstream;
    private final ServerSocket listener;
    private final Faults global = new Faults();
    private final List<Link> links = new CopyOnWriteArrayList<>();
    private final AtomicLong linkCount = new AtomicLong();
    private final AtomicLong refusedCount = new AtomicLong();
    private final Random jitter;
    private volatile boolean refuse;
    private volatile boolean closed;
    /** While above 0, new links rewrite the welcome's maxFrameBytes to this. */
    private volatile long welcomeMaxFrameBytes;

    private FaultProxy(InetSocketAddress upstream, long seed) throws IOException {
        this.upstream = upstream;
        this.jitter = new Random(seed);
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "fault-proxy-accept-" + listener.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** A proxy to {@code host:port}; jitter is drawn from a random with {@code seed}. */
    public static FaultProxy start(String host, int port, long seed) {
        try {
            return new FaultProxy(new InetSocketAddress(host, port), seed);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the fault proxy's listening socket", e);
        }
    }

    public static FaultProxy start(String host, int port) {
        return start(host, port, 0);
    }

    /** The port clients connect to (on 127.0.0.1). */
    public int port() {
        return listener.getLocalPort();
    }

    /** {@code uri} with host and port replaced by this proxy's, e.g. the server's ws:// address. */
    public URI via(URI uri) {
        try {
            return new URI(uri.getScheme(), uri.getUserInfo(), "127.0.0.1", port(), uri.getPath(), uri.getQuery(), uri.getFragment());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** The faults every link obeys (in addition to its own). */
    public Faults faults() {
        return global;
    }

    /** While on, new connections are accepted and reset at once; open links go on. */
    public FaultProxy refuseNew(boolean on) {
        this.refuse = on;
        return this;
    }

    /**
     * While {@code maxFrameBytes > 0}, links opened from now on strip the client's WebSocket
     * extension offer (so frames are not compressed) and rewrite {@code maxFrameBytes} in the
     * server's {@code welcome} to this value; 0 turns it off for new links. Open links keep what
     * they had. {@link #heal()} turns it off.
     */
    public FaultProxy rewriteWelcome(long maxFrameBytes) {
        this.welcomeMaxFrameBytes = maxFrameBytes;
        return this;
    }

    /** How many welcomes were rewritten. */
    public long welcomesRewritten() {
        return rewritten.get();
    }

    private final AtomicLong rewritten = new AtomicLong();

    /** The open links (a snapshot). */
    public List<Link> links() {
        return new ArrayList<>(links);
    }

    /** How many links were ever opened / how many connections were refused. */
    public long linksOpened() {
        return linkCount.get();
    }

    public long refused() {
        return refusedCount.get();
    }

    /** Closes every open link cleanly (FIN both ways). */
    public void cutAll() {
        links().forEach(Link::cut);
    }

    /** Aborts every open link (RST both ways). */
    public void resetAll() {
        links().forEach(Link::reset);
    }

    /** Lifts every global fault and stops refusing; links poisoned by a drop stay dead. */
    public void heal() {
        global.clear();
        refuse = false;
        welcomeMaxFrameBytes = 0;
        for (Link l : links()) {
            l.faults().clear();
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        resetAll();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                continue;
            }
            if (refuse) {
                refusedCount.incrementAndGet();
                abort(client);
                continue;
            }
            Socket server = new Socket();
            try {
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                server.connect(upstream, 5_000);
            } catch (IOException e) {
                abort(client); // the upstream is down: the client sees a reset, as with a refused port
                closeQuietly(server);
                continue;
            }
            Link link = new Link(linkCount.incrementAndGet(), client, server);
            long lie = welcomeMaxFrameBytes;
            if (lie > 0) {
                link.rewriter = new WelcomeRewriter(lie, rewritten::incrementAndGet);
            }
            links.add(link);
            link.start();
        }
    }

    // ------------------------------------------------------------------ faults

    /** A set of faults; every setter takes effect at once on every chunk not yet written. */
    public static final class Faults {
        private volatile boolean drop;
        private volatile long delayMillis;
        private volatile long jitterMillis;
        private volatile long bytesPerSecond;

        /** Blackhole: read and discard everything, forward nothing (see {@link FaultProxy}). */
        public Faults drop(boolean on) {
            this.drop = on;
            return this;
        }

        /** Every chunk waits {@code fixed + random(0..jitter)} ms (order kept); 0, 0 for none. */
        public Faults delay(long fixedMillis, long jitterMillis) {
            if (fixedMillis < 0 || jitterMillis < 0) {
                throw new IllegalArgumentException("delay must be >= 0: " + fixedMillis + " + " + jitterMillis);
            }
            this.delayMillis = fixedMillis;
            this.jitterMillis = jitterMillis;
            return this;
        }

        /** At most this many bytes per second in each direction; 0 for no cap. */
        public Faults bandwidth(long bytesPerSecond) {
            if (bytesPerSecond < 0) {
                throw new IllegalArgumentException("bandwidth must be >= 0: " + bytesPerSecond);
            }
            this.bytesPerSecond = bytesPerSecond;
            return this;
        }

        public Faults clear() {
            drop = false;
            delayMillis = 0;
            jitterMillis = 0;
            bytesPerSecond = 0;
            return this;
        }

        public boolean dropping() {
            return drop;
        }

        @Override
        public String toString() {
            return "Faults{drop=" + drop + ", delay=" + delayMillis + "+" + jitterMillis + "ms, bandwidth=" + bytesPerSecond + "B/s}";
        }
    }

    // ------------------------------------------------------------------ links

    /** One proxied connection: a client socket and its upstream socket. */
    public final class Link {
        private final long id;
        private final Socket client;
        private final Socket server;
        private final Faults own = new Faults();
        private final AtomicBoolean closing = new AtomicBoolean();
        /** Set once bytes were dropped: the stream has a hole, nothing is forwarded any more. */
        private volatile boolean poisoned;
        private final AtomicLong forwarded = new AtomicLong();
        private final AtomicLong dropped = new AtomicLong();
        /** Set for links opened while {@link #rewriteWelcome} was on. */
        private volatile WelcomeRewriter rewriter;

        private Link(long id, Socket client, Socket server) {
            this.id = id;
            this.client = client;
            this.server = server;
        }

        public long id() {
            return id;
        }

        /** This link's own faults (the proxy's global ones apply as well). */
        public Faults faults() {
            return own;
        }

        public boolean open() {
            return !closing.get();
        }

        /** True once the link dropped bytes: it never forwards again. */
        public boolean poisoned() {
            return poisoned;
        }

        public long bytesForwarded() {
            return forwarded.get();
        }

        public long bytesDropped() {
            return dropped.get();
        }

        /** Closes both sides cleanly: the peers read end-of-stream (FIN). */
        public void cut() {
            if (closing.compareAndSet(false, true)) {
                links.remove(this);
                for (Socket s : List.of(client, server)) {
                    try {
                        s.shutdownOutput();
                    } catch (IOException ignored) {
                        // already half-closed or gone
                    }
                    closeQuietly(s);
                }
            }
        }

        /** Aborts both sides: SO_LINGER 0 and close, so the peers see a connection reset (RST). */
        public void reset() {
            if (closing.compareAndSet(false, true)) {
                links.remove(this);
                abort(client);
                abort(server);
            }
        }

        private boolean dropping() {
            return global.drop || own.drop;
        }

        private void start() {
            direction("up", client, server);
            direction("down", server, client);
        }

        /** One direction: a reader that timestamps chunks and a writer that writes them when due. */
        private void direction(String name, Socket from, Socket to) {
            LinkedBlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();
            Thread reader = new Thread(() -> read(from, queue), "fault-proxy-" + id + "-" + name + "-read");
            Thread writer = new Thread(() -> write(to, queue), "fault-proxy-" + id + "-" + name + "-write");
            reader.setDaemon(true);
            writer.setDaemon(true);
            reader.start();
            writer.start();
        }

        private void read(Socket from, LinkedBlockingQueue<Chunk> queue) {
            long lastDue = 0;
            try {
                InputStream in = from.getInputStream();
                byte[] buf = new byte[CHUNK];
                while (true) {
                    int n = in.read(buf);
                    if (n < 0) {
                        break;
                    }
                    if (poisoned || dropping()) {
                        poisoned = true;
                        dropped.addAndGet(n);
                        continue;
                    }
                    long delay = global.delayMillis + own.delayMillis;
                    long spread = global.jitterMillis + own.jitterMillis;
                    if (spread > 0) {
                        synchronized (jitter) {
                            delay += (long) (jitter.nextDouble() * spread);
                        }
                    }
                    long due = Math.max(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay), lastDue);
                    lastDue = due;
                    byte[] bytes = Arrays.copyOf(buf, n);
                    WelcomeRewriter w = rewriter;
                    if (w != null) {
                        bytes = from == client ? w.up(bytes) : w.down(bytes);
                        if (bytes.length == 0) {
                            continue; // held until the request, the response or the welcome is whole
                        }
                    }
                    queue.add(new Chunk(bytes, due));
                }
            } catch (IOException e) {
                // reset or closed: handled below like an end of stream
            }
            if (poisoned) {
                // A dead link does not pass the close on while the partition lasts.
                while (dropping() && !closing.get()) {
                    sleepMillis(50);
                }
                reset();
                return;
            }
            queue.add(Chunk.END);
        }

        private void write(Socket to, LinkedBlockingQueue<Chunk> queue) {
            try {
                OutputStream out = to.getOutputStream();
                while (!closing.get()) {
                    Chunk c = queue.poll(200, TimeUnit.MILLISECONDS);
                    if (c == null) {
                        continue;
                    }
                    if (c == Chunk.END) {
                        // half-close: pass the FIN on; the link ends when both directions did
                        try {
                            to.shutdownOutput();
                        } catch (IOException ignored) {
                            // already gone
                        }
                        if (halfClosed.incrementAndGet() == 2) {
                            cut();
                        }
                        return;
                    }
                    long wait = c.due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                    writeCapped(out, c.bytes);
                }
            } catch (IOException e) {
                reset(); // one side is gone: the other learns it as abruptly
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private final AtomicLong halfClosed = new AtomicLong();

        private void writeCapped(OutputStream out, byte[] bytes) throws IOException, InterruptedException {
            int offset = 0;
            while (offset < bytes.length) {
                if (poisoned) {
                    dropped.addAndGet(bytes.length - offset);
                    return;
                }
                long cap = effectiveCap();
                int slice = cap == 0 ? bytes.length - offset : (int) Math.max(1, Math.min(bytes.length - offset, cap / 20));
                out.write(bytes, offset, slice);
                out.flush();
                forwarded.addAndGet(slice);
                offset += slice;
                if (cap > 0) {
                    TimeUnit.NANOSECONDS.sleep(slice * 1_000_000_000L / cap);
                }
            }
        }

        private long effectiveCap() {
            long a = global.bytesPerSecond;
            long b = own.bytesPerSecond;
            if (a == 0) {
                return b;
            }
            return b == 0 ? a : Math.min(a, b);
        }

        @Override
        public String toString() {
            return "Link#" + id + "{open=" + open() + ", poisoned=" + poisoned + ", forwarded=" + forwarded + ", dropped=" + dropped + ", " + own + "}";
        }
    }

    private record Chunk(byte[] bytes, long due) {
        static final Chunk END = new Chunk(new byte[0], 0);
    }

    private static void abort(Socket s) {
        try {
            s.setSoLinger(true, 0);
        } catch (IOException ignored) {
            // closed already
        }
        closeQuietly(s);
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // best effort
        }
    }

    private static void sleepMillis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
