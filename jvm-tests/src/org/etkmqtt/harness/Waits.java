package org.etkmqtt.harness;

import java.util.function.BooleanSupplier;

/** Bounded polling: every wait in the tests ends after a stated time. */
public final class Waits {
    private Waits() {
    }

    /** Polls {@code condition} every 20 ms; true as soon as it holds, false after {@code timeoutMs}. */
    public static boolean until(long timeoutMs, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() >= deadline) {
                return false;
            }
            sleep(20);
        }
    }

    public static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
