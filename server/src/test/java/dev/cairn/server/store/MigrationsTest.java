package dev.cairn.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Finding migrations on the classpath, both from a classes directory (tests, IDE) and from the server jar. */
class MigrationsTest {

    @TempDir
    Path dir;

    @Test
    void findsTheMigrationsInTheClassesDirectoryInVersionOrder() {
        List<Migrations.Migration> migrations = Migrations.fromClasspath();
        assertEquals(1, migrations.get(0).version());
        assertEquals("init", migrations.get(0).name());
        assertTrue(migrations.get(0).sql().contains("CREATE TABLE user_heads"));
        assertEquals(Migrations.sha256(migrations.get(0).sql()), migrations.get(0).checksum());
        for (int i = 0; i < migrations.size(); i++) {
            assertEquals(i + 1, migrations.get(i).version());
        }
    }

    @Test
    void findsTheMigrationsInsideAJar() throws Exception {
        Path jar = dir.resolve("server.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            for (String cls : new String[] {"Migrations", "Migrations$Migration", "Migrations$Info"}) {
                add(out, "dev/cairn/server/store/" + cls + ".class", classBytes(cls));
            }
            add(out, "db/", new byte[0]);
            add(out, "db/V2__add_things.sql", "SELECT 2;".getBytes(StandardCharsets.UTF_8));
            add(out, "db/V10__later.sql", "SELECT 10;".getBytes(StandardCharsets.UTF_8));
            add(out, "db/V1__init.sql", "SELECT 1;".getBytes(StandardCharsets.UTF_8));
            add(out, "db/README.md", "not a migration".getBytes(StandardCharsets.UTF_8));
            for (int v = 3; v <= 9; v++) {
                add(out, "db/V" + v + "__step.sql", ("SELECT " + v + ";").getBytes(StandardCharsets.UTF_8));
            }
        }
        try (ChildFirst loader = new ChildFirst(new URL[] {jar.toUri().toURL()}, getClass().getClassLoader())) {
            Class<?> cls = loader.loadClass("dev.cairn.server.store.Migrations");
            assertEquals(loader, cls.getClassLoader(), "the class under test comes from the jar");
            Method fromClasspath = cls.getDeclaredMethod("fromClasspath");
            fromClasspath.setAccessible(true);
            List<?> found = (List<?>) fromClasspath.invoke(null);
            assertEquals(10, found.size());
            assertTrue(found.get(0).toString().contains("version=1, name=init, sql=SELECT 1;"), found.get(0).toString());
            assertTrue(found.get(9).toString().contains("version=10, name=later"), found.get(9).toString());
        }
    }

    private static byte[] classBytes(String simpleName) throws IOException {
        try (InputStream in = MigrationsTest.class.getResourceAsStream(simpleName + ".class")) {
            return in.readAllBytes();
        }
    }

    private static void add(JarOutputStream out, String name, byte[] bytes) throws IOException {
        out.putNextEntry(new JarEntry(name));
        OutputStream o = out;
        o.write(bytes);
        out.closeEntry();
    }

    /** Loads Migrations from the jar (not from target/classes); everything else from the parent. */
    private static final class ChildFirst extends URLClassLoader {
        ChildFirst(URL[] urls, ClassLoader parent) {
            super(urls, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.startsWith("dev.cairn.server.store.Migrations")) {
                synchronized (getClassLoadingLock(name)) {
                    Class<?> c = findLoadedClass(name);
                    if (c == null) {
                        c = findClass(name);
                    }
                    return c;
                }
            }
            return super.loadClass(name, resolve);
        }

        @Override
        public InputStream getResourceAsStream(String name) {
            if (name.startsWith("db/")) {
                URL url = findResource(name);
                try {
                    return url == null ? null : url.openStream();
                } catch (IOException e) {
                    return null;
                }
            }
            return super.getResourceAsStream(name);
        }
    }
}
