package dev.cairn.engine.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * A fuzz target's corpus: one file per input in {@code src/test/resources/fuzz/<target>/} of the
 * module, seeded with valid examples and every crasher ever found. CI replays all of it.
 *
 * <p>Files hold the input's bytes. A string input that UTF-8 cannot carry (a lone surrogate in a
 * Java string) is kept as UTF-16BE in a {@code .u16} file instead.
 */
public final class Corpus {

    /** One stored input. */
    public record Entry(String name, byte[] bytes) {
        /** The input as the Java string a string target receives. */
        public String text() {
            if (name.endsWith(".u16")) {
                return new String(bytes, StandardCharsets.UTF_16BE);
            }
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    private final Path dir;

    public Corpus(String target) {
        this(moduleDir().resolve("src/test/resources/fuzz").resolve(target));
    }

    public Corpus(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /** Every file, sorted by name (a missing directory is an empty corpus). */
    public List<Entry> load() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Entry> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                if (Files.isRegularFile(p) && !p.getFileName().toString().startsWith(".")) {
                    out.add(new Entry(p.getFileName().toString(), Files.readAllBytes(p)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Saves a string input under {@code prefix-<hash>}; returns the file. */
    public Path saveText(String prefix, String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        if (isWellFormed(text)) {
            return save(dir, prefix, ".json", utf8);
        }
        return save(dir, prefix, ".u16", text.getBytes(StandardCharsets.UTF_16BE));
    }

    /** Saves a byte input under {@code prefix-<hash>.json}; returns the file. */
    public Path saveBytes(String prefix, byte[] bytes) {
        return save(dir, prefix, ".json", bytes);
    }

    static Path save(Path dir, String prefix, String ext, byte[] bytes) {
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve(prefix + "-" + hash(bytes) + ext);
            Files.write(file, bytes);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static boolean isWellFormed(String text) {
        try {
            StandardCharsets.UTF_8.newEncoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).encode(java.nio.CharBuffer.wrap(text));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    static String hash(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The module's directory: Surefire sets {@code basedir}; otherwise the working directory. */
    static Path moduleDir() {
        String base = System.getProperty("basedir");
        return Path.of(base == null ? "" : base).toAbsolutePath();
    }
}
