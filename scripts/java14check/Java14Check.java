import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import org.codehaus.mojo.animal_sniffer.SignatureChecker;
import org.codehaus.mojo.animal_sniffer.logging.PrintWriterLogger;

/**
 * The Java 1.4 library check behind {@code scripts/check-java14} and
 * {@code gradle javaApiCheck}: animal-sniffer compares every class, method
 * and field that the given class files refer to with the signature of the
 * Java 1.4 class library. {@code ecj -source 1.4} cannot do this, because it
 * compiles against the class library of the JDK it runs on, so
 * {@code StringBuilder} or {@code String.isEmpty()} compile without a word
 * and fail only on the gateway.
 *
 * <pre>
 * java -cp animal-sniffer.jar:asm.jar Java14Check.java --signature java14.signature
 *      [--known JAR_OR_DIR]... [--ignore PACKAGE.*]... [--sources DIR]... CLASSES_DIR_OR_JAR...
 * </pre>
 *
 * References to classes inside the checked paths, inside {@code --known}
 * paths, or matching an {@code --ignore} pattern are not library calls and
 * are not checked. Exit status: 0 when everything is in Java 1.4, 1 when
 * something is not (each reference is printed with its class and line, or
 * its source file and line with {@code --sources}), 2 for bad arguments.
 *
 * A build tool, run on the developer's machine with JDK 11 or later (as a
 * source file); it never goes onto the gateway.
 */
public final class Java14Check {
    private Java14Check() {
    }

    public static void main(String[] args) throws IOException {
        File signature = null;
        List<File> known = new ArrayList<>();
        List<File> sources = new ArrayList<>();
        List<File> checked = new ArrayList<>();
        Set<String> ignored = new TreeSet<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--signature") || arg.equals("--known") || arg.equals("--sources")
                    || arg.equals("--ignore")) {
                if (i + 1 == args.length) {
                    usage(arg + " needs a value");
                }
                String value = args[++i];
                if (arg.equals("--signature")) {
                    signature = new File(value);
                } else if (arg.equals("--known")) {
                    known.add(existing(value));
                } else if (arg.equals("--sources")) {
                    sources.add(existing(value));
                } else {
                    ignored.add(value);
                }
            } else if (arg.startsWith("--")) {
                usage("unknown option " + arg);
            } else {
                checked.add(existing(arg));
            }
        }
        if (signature == null || !signature.isFile()) {
            usage("--signature FILE is required (the java14 signature from Maven Central)");
        }
        if (checked.isEmpty()) {
            usage("no class directory or jar to check");
        }

        // Names of the classes that are not library classes: animal-sniffer
        // matches nested classes as Outer$Inner, so both spellings go in.
        int classFiles = 0;
        for (File path : checked) {
            classFiles += addClassNames(path, ignored);
        }
        for (File path : known) {
            addClassNames(path, ignored);
        }
        if (classFiles == 0) {
            System.err.println("check-java14: no .class files in " + checked
                    + " (give the compiler's output directory or a jar, not the sources)");
            System.exit(2);
        }

        PrintStream report = System.out;
        SignatureChecker checker;
        try (InputStream in = new FileInputStream(signature)) {
            checker = new SignatureChecker(in, ignored, new PrintWriterLogger(report));
        }
        checker.setCheckJars(true);
        // Without a source path animal-sniffer 1.28 fails with a NullPointerException;
        // an empty one makes it name the class file's own source file instead.
        checker.setSourcePath(sources);
        checker.process(checked.toArray(new File[0]));
        report.flush();
        if (checker.isSignatureBroken()) {
            System.out.println("check-java14: FAILED: the references above are not in the Java 1.4 class library"
                    + " (the Java version HMS supports on the Flexy); use Java 1.4 classes instead (StringBuffer"
                    + " for StringBuilder, length() == 0 for isEmpty(), ...)");
            System.exit(1);
        }
        System.out.println("check-java14: " + classFiles + " class files in " + checked
                + " use only the Java 1.4 library");
    }

    /** Adds the class names found in a directory or jar; returns how many class files it holds. */
    private static int addClassNames(File path, Set<String> names) throws IOException {
        List<String> found = new ArrayList<>();
        if (path.isDirectory()) {
            Path root = path.toPath();
            try (Stream<Path> files = Files.walk(root)) {
                files.filter(p -> p.toString().endsWith(".class"))
                        .forEach(p -> found.add(root.relativize(p).toString().replace(File.separatorChar, '/')));
            }
        } else if (path.getName().endsWith(".class")) {
            found.add(path.getName());
        } else {
            try (ZipFile jar = new ZipFile(path)) {
                for (Enumeration<? extends ZipEntry> e = jar.entries(); e.hasMoreElements();) {
                    String name = e.nextElement().getName();
                    if (name.endsWith(".class") && !name.startsWith("META-INF/")) {
                        found.add(name);
                    }
                }
            } catch (IOException e) {
                throw new IOException(path + " is neither a directory, a .class file nor a jar: " + e.getMessage(), e);
            }
        }
        for (String file : found) {
            String name = file.substring(0, file.length() - ".class".length()).replace('/', '.');
            names.add(name);
            names.add(name.replace('$', '.'));
        }
        return found.size();
    }

    private static File existing(String path) {
        File file = new File(path);
        if (!file.exists()) {
            usage(path + ": no such file or directory");
        }
        return file;
    }

    private static void usage(String problem) {
        System.err.println("check-java14: " + problem);
        System.err.println("usage: scripts/check-java14 [--classpath JAR:DIR...] [--sources DIR:DIR...] CLASSES_DIR_OR_JAR...");
        System.exit(2);
    }
}
