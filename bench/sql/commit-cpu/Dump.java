import java.lang.reflect.Field;
public class Dump {
    public static void main(String[] a) throws Exception {
        Class<?> c = Class.forName("dev.cairn.server.store.PgServerStore");
        for (String name : a) {
            try {
                Field f = c.getDeclaredField(name);
                f.setAccessible(true);
                System.out.println("--@@ " + name);
                System.out.println(f.get(null));
            } catch (NoSuchFieldException e) {
                System.out.println("--@@ " + name + " MISSING");
            }
        }
    }
}
