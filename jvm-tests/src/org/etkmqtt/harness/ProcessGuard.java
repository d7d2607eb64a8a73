package org.etkmqtt.harness;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Makes sure no process started by the tests (brokers, mosquitto_sub, child
 * JVMs) outlives the test JVM.
 *
 * <p>Two layers: a shutdown hook kills every registered process on a normal
 * JVM exit, and a watchdog shell (started once) kills them when the JVM dies
 * without running hooks (a crash in native code, {@code -Xcheck:jni} abort,
 * SIGKILL): the watchdog reads PIDs from a pipe and acts when the pipe closes.
 */
public final class ProcessGuard {
    private static final Set<Process> LIVE = new LinkedHashSet<>();
    private static OutputStream watchdogPipe;
    private static boolean hookInstalled;

    private static final String WATCHDOG_SCRIPT =
            "declare -A pids; "
            + "while read -r line; do "
            + "  case \"$line\" in -*) unset \"pids[${line#-}]\";; ?*) pids[$line]=1;; esac; "
            + "done; "
            + "for pid in \"${!pids[@]}\"; do kill -9 \"$pid\" 2>/dev/null; done";

    private ProcessGuard() {
    }

    /** Starts {@code builder} and registers the process. */
    public static Process start(ProcessBuilder builder) throws IOException {
        synchronized (ProcessGuard.class) {
            installOnce();
            Process process = builder.start();
            LIVE.add(process);
            tellWatchdog(Long.toString(process.pid()));
            return process;
        }
    }

    /** Kills {@code process} (SIGTERM, then SIGKILL after {@code graceMs}) and waits for it. */
    public static void stop(Process process, long graceMs) {
        if (process == null) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(graceMs, TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        forget(process);
    }

    /** Kills {@code process} with SIGKILL at once and waits for it. */
    public static void kill(Process process) {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        forget(process);
    }

    /** Unregisters a process that has ended by itself. */
    public static void forget(Process process) {
        synchronized (ProcessGuard.class) {
            if (LIVE.remove(process) && !process.isAlive()) {
                tellWatchdog("-" + process.pid());
            }
        }
    }

    private static void installOnce() throws IOException {
        if (hookInstalled) {
            return;
        }
        hookInstalled = true;
        Runtime.getRuntime().addShutdownHook(new Thread(ProcessGuard::killAll, "etkmqtt-test-process-guard"));
        ProcessBuilder watchdog = new ProcessBuilder("bash", "-c", WATCHDOG_SCRIPT);
        watchdog.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        watchdog.redirectError(ProcessBuilder.Redirect.DISCARD);
        watchdogPipe = watchdog.start().getOutputStream();
    }

    private static void tellWatchdog(String line) {
        if (watchdogPipe == null) {
            return;
        }
        try {
            watchdogPipe.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            watchdogPipe.flush();
        } catch (IOException e) {
            watchdogPipe = null;
        }
    }

    private static void killAll() {
        List<Process> all;
        synchronized (ProcessGuard.class) {
            all = new ArrayList<>(LIVE);
            LIVE.clear();
        }
        for (Process process : all) {
            process.destroyForcibly();
        }
        for (Process process : all) {
            try {
                process.waitFor(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
