package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.source.doctree.DocCommentTree;
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.ModifiersTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.DocTrees;
import com.sun.source.util.JavacTask;
import com.sun.source.util.TreePath;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.lang.model.element.Modifier;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * Every public type, constructor, method, field and enum constant of the packages the engine's
 * three modules export has a doc comment. javadoc's doclint runs with {@code all,-missing} in the
 * build (broken references and HTML fail it); this test is the "missing comment" half, without
 * doclint's demand for an {@code @param} and {@code @return} on every method.
 */
class PublicApiDocsTest {

    private static final List<Path> MODULES = List.of(Path.of("../core"), Path.of("../store"), Path.of("."));

    @Test
    void everyExportedDeclarationHasADocComment() throws IOException {
        List<String> missing = new ArrayList<>();
        int checked = 0;
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        for (Path module : MODULES) {
            Path sources = module.resolve("src/main/java");
            Set<String> exported = exportedPackages(sources.resolve("module-info.java"));
            List<Path> files = new ArrayList<>();
            for (String pkg : exported) {
                try (Stream<Path> s = Files.list(sources.resolve(pkg.replace('.', '/')))) {
                    s.filter(p -> p.toString().endsWith(".java") && !p.endsWith("package-info.java")).forEach(files::add);
                }
            }
            try (StandardJavaFileManager fm = javac.getStandardFileManager(null, null, null)) {
                Iterable<? extends JavaFileObject> units = fm.getJavaFileObjectsFromPaths(files);
                JavacTask task = (JavacTask) javac.getTask(null, fm, d -> { }, List.of("-proc:none"), null, units);
                DocTrees docs = DocTrees.instance(task);
                for (CompilationUnitTree unit : task.parse()) {
                    for (Tree type : unit.getTypeDecls()) {
                        if (type instanceof ClassTree c && isPublic(c.getModifiers(), false)) {
                            checked += check(docs, new TreePath(new TreePath(unit), c), missing);
                        }
                    }
                }
            }
        }
        assertTrue(checked > 300, "the test found the API: " + checked + " declarations");
        assertTrue(missing.isEmpty(), missing.size() + " public declarations without a doc comment:\n  " + String.join("\n  ", missing));
    }

    /** Checks a public type and its public members; returns how many declarations it checked. */
    private static int check(DocTrees docs, TreePath typePath, List<String> missing) {
        ClassTree type = (ClassTree) typePath.getLeaf();
        String name = typePath.getCompilationUnit().getPackageName() + "." + type.getSimpleName();
        boolean implicitlyPublic = type.getKind() == Tree.Kind.INTERFACE || type.getKind() == Tree.Kind.ANNOTATION_TYPE;
        int checked = 1;
        need(docs, typePath, name, missing);
        for (Tree member : type.getMembers()) {
            TreePath path = new TreePath(typePath, member);
            if (member instanceof ClassTree nested && isPublic(nested.getModifiers(), implicitlyPublic)) {
                checked += check(docs, path, missing);
            } else if (member instanceof MethodTree m && isPublic(m.getModifiers(), implicitlyPublic) && !overrides(m)
                    && !isCompactConstructor(type, m)) {
                checked++;
                need(docs, path, name + "." + (m.getName().contentEquals("<init>") ? type.getSimpleName() : m.getName()) + "()", missing);
            } else if (member instanceof VariableTree v && (isPublic(v.getModifiers(), implicitlyPublic) || isEnumConstant(type, v))) {
                checked++;
                need(docs, path, name + "." + v.getName(), missing);
            }
        }
        return checked;
    }

    private static void need(DocTrees docs, TreePath path, String name, List<String> missing) {
        DocCommentTree doc = docs.getDocCommentTree(path);
        if (doc == null || doc.getFullBody().isEmpty() && doc.getBlockTags().isEmpty()) {
            missing.add(name);
        }
    }

    private static boolean isPublic(ModifiersTree modifiers, boolean implicitlyPublic) {
        Set<Modifier> flags = modifiers.getFlags();
        return flags.contains(Modifier.PUBLIC) || flags.contains(Modifier.PROTECTED) || implicitlyPublic && !flags.contains(Modifier.PRIVATE);
    }

    private static boolean overrides(MethodTree m) {
        return m.getModifiers().getAnnotations().stream().anyMatch(a -> a.getAnnotationType().toString().endsWith("Override"));
    }

    /** A record's compact canonical constructor is documented by the record's own comment. */
    private static boolean isCompactConstructor(ClassTree type, MethodTree m) {
        return type.getKind() == Tree.Kind.RECORD && m.getName().contentEquals("<init>") && m.getParameters().isEmpty();
    }

    private static boolean isEnumConstant(ClassTree type, VariableTree v) {
        return type.getKind() == Tree.Kind.ENUM && v.getType() == null;
    }

    private static Set<String> exportedPackages(Path moduleInfo) throws IOException {
        Set<String> out = new TreeSet<>();
        Matcher m = Pattern.compile("(?m)^\\s*exports\\s+([\\w.]+)\\s*;").matcher(Files.readString(moduleInfo));
        while (m.find()) {
            out.add(m.group(1));
        }
        assertTrue(!out.isEmpty(), moduleInfo + " exports packages");
        return out;
    }
}
