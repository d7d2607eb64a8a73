package org.etkmqtt.harness;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/** Reads a child process's output line by line on a daemon thread. */
public final class LineReader {
    private LineReader() {
    }

    /**
     * Hands each UTF-8 line of {@code in} to {@code onLine}, then runs
     * {@code onEnd} once the stream ends (the process exited or was killed).
     */
    public static void start(InputStream in, String threadName, Consumer<String> onLine, Runnable onEnd) {
        Thread reader = new Thread(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                    onLine.accept(line);
                }
            } catch (IOException e) {
                // the process was stopped or killed
            } finally {
                onEnd.run();
            }
        }, threadName);
        reader.setDaemon(true);
        reader.start();
    }
}
