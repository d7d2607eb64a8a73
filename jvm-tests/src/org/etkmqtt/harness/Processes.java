package org.etkmqtt.harness;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs short-lived command-line tools with a time limit. */
public final class Processes {
    private Processes() {
    }

    /** What a finished command printed (stdout and stderr merged) and its exit code. */
    public static final class Result {
        public final List<String> command;
        public final int exitCode;
        public final String output;

        Result(List<String> command, int exitCode, String output) {
            this.command = command;
            this.exitCode = exitCode;
            this.output = output;
        }

        /** Throws unless the command exited with 0. */
        public Result check() {
            if (exitCode != 0) {
                throw new IllegalStateException("command failed with exit code " + exitCode + ": "
                        + String.join(" ", command) + "\n" + output);
            }
            return this;
        }
    }

    /** Runs {@code command} in {@code dir}, killing it after {@code timeoutMs}. */
    public static Result run(File dir, long timeoutMs, String... command) {
        return run(dir, timeoutMs, null, Arrays.asList(command));
    }

    /** Runs {@code command} with {@code stdin} as its input, killing it after {@code timeoutMs}. */
    public static Result run(File dir, long timeoutMs, byte[] stdin, List<String> command) {
        File output = null;
        Process process = null;
        try {
            output = File.createTempFile("etkmqtt-cmd-", ".out");
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(output);
            if (dir != null) {
                builder.directory(dir);
            }
            process = ProcessGuard.start(builder);
            OutputStream in = process.getOutputStream();
            try {
                if (stdin != null) {
                    in.write(stdin);
                }
            } finally {
                in.close();
            }
            if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) {
                ProcessGuard.kill(process);
                throw new IllegalStateException("command did not finish within " + timeoutMs + " ms: "
                        + String.join(" ", command) + "\n" + read(output));
            }
            ProcessGuard.forget(process);
            return new Result(command, process.exitValue(), read(output));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + String.join(" ", command) + ": " + e, e);
        } catch (InterruptedException e) {
            ProcessGuard.kill(process);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + String.join(" ", command), e);
        } finally {
            if (output != null) {
                output.delete();
            }
        }
    }

    static String read(File file) {
        try {
            return new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    /** Deletes a directory tree, ignoring failures (used for temporary directories). */
    public static void deleteTree(File dir) {
        File[] children = dir.listFiles();
        if (children != null) {
            for (File child : children) {
                deleteTree(child);
            }
        }
        dir.delete();
    }
}
