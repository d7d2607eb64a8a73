package org.etkmqtt.reliability;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;

import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.Processes;

/**
 * What the reliability tests need from a broker beyond the harness: a
 * configuration that keeps sessions across a restart, and SIGSTOP/SIGCONT of
 * the broker process (a frozen broker keeps its TCP connections open, as a
 * dead link through a NAT or a hung server does).
 */
public final class BrokerProcess {
    private BrokerProcess() {
    }

    /**
     * Mosquitto with {@code persistence true}: stopped with SIGTERM
     * ({@link Mosquitto#stop()} / {@link Mosquitto#restart()}) it saves its
     * sessions, queued QoS 1/2 messages included, and restores them at start.
     * The directory is world-writable because Mosquitto started as root may
     * switch to another user.
     */
    public static Mosquitto.Config persistentConfig(File persistenceDir) throws IOException {
        Files.setPosixFilePermissions(persistenceDir.toPath(), PosixFilePermissions.fromString("rwxrwxrwx"));
        return Mosquitto.config().line("persistence true")
                .line("persistence_location " + persistenceDir.getPath() + "/");
    }

    /** A temporary directory, removed by the returned closeable. */
    public static Path tempDir(String prefix) throws IOException {
        Path dir = Files.createTempDirectory(prefix);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return dir;
    }

    public static AutoCloseable deleting(Path dir) {
        return () -> Processes.deleteTree(dir.toFile());
    }

    /**
     * The broker's process: a descendant of this JVM running mosquitto whose
     * configuration listens on the broker's port (other test JVMs may run
     * brokers too, so the port is what identifies ours).
     */
    public static ProcessHandle find(Mosquitto broker) {
        Optional<ProcessHandle> found = ProcessHandle.current().descendants().filter(p -> {
            Optional<String[]> args = p.info().arguments();
            Optional<String> command = p.info().command();
            if (!command.isPresent() || !command.get().endsWith("mosquitto") || !args.isPresent()) {
                return false;
            }
            String[] a = args.get();
            for (int i = 0; i + 1 < a.length; i++) {
                if (a[i].equals("-c") && listensOn(new File(a[i + 1]), broker.port())) {
                    return true;
                }
            }
            return false;
        }).findFirst();
        if (!found.isPresent()) {
            throw new IllegalStateException("no mosquitto process found for " + broker);
        }
        return found.get();
    }

    /** kill -STOP: the broker stops answering, but its sockets stay open. */
    public static void freeze(ProcessHandle broker) {
        signal("STOP", broker);
    }

    /** kill -CONT. */
    public static void thaw(ProcessHandle broker) {
        signal("CONT", broker);
    }

    private static void signal(String name, ProcessHandle process) {
        Processes.run(null, 5_000, "kill", "-" + name, Long.toString(process.pid())).check();
    }

    private static boolean listensOn(File conf, int port) {
        try {
            List<String> lines = Files.readAllLines(conf.toPath());
            for (String line : lines) {
                if (line.startsWith("listener " + port + " ")) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }
}
