package org.etkmqtt.harness;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import org.etkmqtt.EWException;
import org.etkmqtt.MqttClient;
import org.etkmqtt.MqttMessage;

/**
 * An {@link MqttClient} that records its events for assertions: how many
 * status and message events came, the status read in each status event, the
 * threads that delivered them, and whether two callbacks ever overlapped.
 *
 * <p>By default each message event reads the message ({@link #readMessage()}
 * inside the callback, as Flexy applications do) and keeps it; with
 * {@link #readInCallback(boolean) readInCallback(false)} messages stay queued
 * in the library for the test to read. A {@link Hook} runs extra code inside
 * every callback.
 */
public class TestClient extends MqttClient {
    /** Code run inside the callback, after the recording. */
    public interface Hook {
        void onEvent(TestClient client, int event) throws Exception;
    }

    private final String clientId;
    private final Object monitor = new Object();
    private final AtomicInteger callbacksRunning = new AtomicInteger();
    private final List<Integer> statuses = new ArrayList<>();
    private final List<MqttMessage> messages = new ArrayList<>();
    private final Set<String> callbackThreads = new LinkedHashSet<>();
    private final List<Throwable> callbackErrors = new ArrayList<>();
    private int statusEvents;
    private int messageEvents;
    private int unknownEvents;
    private volatile boolean concurrentCallbacks;
    private volatile boolean readInCallback = true;
    private volatile Hook hook;
    private volatile long callbackDelayMs;

    public TestClient(String clientId, String host) throws Exception {
        super(clientId, host);
        this.clientId = clientId;
    }

    public String clientId() {
        return clientId;
    }

    /** Whether message events read the message in the callback (default true). */
    public TestClient readInCallback(boolean read) {
        readInCallback = read;
        return this;
    }

    public TestClient hook(Hook newHook) {
        hook = newHook;
        return this;
    }

    /** Makes every callback take this long, to widen windows for overlapping callbacks. */
    public TestClient callbackDelay(long ms) {
        callbackDelayMs = ms;
        return this;
    }

    /** Sets each option {@code NAME=VALUE} of {@code args} from index {@code from} on (child JVM command lines). */
    public TestClient optionAssignments(String[] args, int from) throws EWException {
        for (int i = from; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            setOption(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        return this;
    }

    /** Sets several options: name, value, name, value... */
    public TestClient options(String... namesAndValues) throws EWException {
        for (int i = 0; i < namesAndValues.length; i += 2) {
            setOption(namesAndValues[i], namesAndValues[i + 1]);
        }
        return this;
    }

    @Override
    public void callMqttEvent(int event) {
        if (callbacksRunning.incrementAndGet() > 1) {
            concurrentCallbacks = true;
        }
        try {
            synchronized (monitor) {
                callbackThreads.add(Thread.currentThread().getName());
            }
            if (event == MQTT_STATUS_EVENT) {
                int status = getStatus();
                synchronized (monitor) {
                    statusEvents++;
                    statuses.add(status);
                }
            } else if (event == MQTT_MESSAGE_EVENT) {
                MqttMessage message = readInCallback ? readMessage() : null;
                synchronized (monitor) {
                    messageEvents++;
                    if (message != null && message.getTopic() != null) {
                        messages.add(message);
                    }
                }
            } else {
                synchronized (monitor) {
                    unknownEvents++;
                }
            }
            if (callbackDelayMs > 0) {
                Thread.sleep(callbackDelayMs);
            }
            Hook h = hook;
            if (h != null) {
                h.onEvent(this, event);
            }
        } catch (Throwable t) {
            synchronized (monitor) {
                callbackErrors.add(t);
            }
        } finally {
            callbacksRunning.decrementAndGet();
            synchronized (monitor) {
                monitor.notifyAll();
            }
        }
    }

    /** Waits until {@link #getStatus()} returns {@code status}; false after {@code timeoutMs}. */
    public boolean awaitStatus(int status, long timeoutMs) {
        return awaitCondition(timeoutMs, () -> {
            try {
                return getStatus() == status;
            } catch (EWException e) {
                return false;
            }
        });
    }

    /** Waits until a status event has reported {@code status}; false after {@code timeoutMs}. */
    public boolean awaitStatusEvent(int status, long timeoutMs) {
        return awaitCondition(timeoutMs, () -> statusesSeen().contains(status));
    }

    /** Waits until the callback has read at least {@code count} messages; false after {@code timeoutMs}. */
    public boolean awaitMessages(int count, long timeoutMs) {
        return awaitCondition(timeoutMs, () -> messages().size() >= count);
    }

    /** Waits until at least {@code count} message events came; false after {@code timeoutMs}. */
    public boolean awaitMessageEvents(int count, long timeoutMs) {
        return awaitCondition(timeoutMs, () -> messageEvents() >= count);
    }

    /** Waits until {@link #getLastError()} is not null; returns it, or null after {@code timeoutMs}. */
    public String awaitLastError(long timeoutMs) {
        String[] error = new String[1];
        awaitCondition(timeoutMs, () -> (error[0] = getLastError()) != null);
        return error[0];
    }

    /** Reads with {@link #readMessage()} until {@code count} messages came or {@code timeoutMs} passed. */
    public List<MqttMessage> readMessages(int count, long timeoutMs) throws EWException {
        List<MqttMessage> read = new ArrayList<>();
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (read.size() < count) {
            MqttMessage message = readMessage();
            if (message.getTopic() != null) {
                read.add(message);
                continue;
            }
            if (System.nanoTime() >= deadline) {
                break;
            }
            Waits.sleep(10);
        }
        return read;
    }

    public List<MqttMessage> messages() {
        synchronized (monitor) {
            return new ArrayList<>(messages);
        }
    }

    public List<String> messageTexts() {
        List<String> texts = new ArrayList<>();
        for (MqttMessage message : messages()) {
            texts.add(new String(message.getPayload(), java.nio.charset.StandardCharsets.UTF_8));
        }
        return texts;
    }

    public List<Integer> statusesSeen() {
        synchronized (monitor) {
            return new ArrayList<>(statuses);
        }
    }

    public int statusEvents() {
        synchronized (monitor) {
            return statusEvents;
        }
    }

    public int messageEvents() {
        synchronized (monitor) {
            return messageEvents;
        }
    }

    public int unknownEvents() {
        synchronized (monitor) {
            return unknownEvents;
        }
    }

    public Set<String> callbackThreads() {
        synchronized (monitor) {
            return new LinkedHashSet<>(callbackThreads);
        }
    }

    public boolean sawConcurrentCallbacks() {
        return concurrentCallbacks;
    }

    public List<Throwable> callbackErrors() {
        synchronized (monitor) {
            return new ArrayList<>(callbackErrors);
        }
    }

    /** A readable summary for assertion messages. */
    public String describe() {
        String lastError = getLastError();
        int status;
        try {
            status = getStatus();
        } catch (EWException e) {
            status = STATUS_UNKNOWN;
        }
        return this + " status=" + status + " lastError=" + lastError + " statusesSeen=" + statusesSeen()
                + " messageEvents=" + messageEvents() + " callbackErrors=" + callbackErrors();
    }

    /**
     * Polls {@code condition} without holding the monitor (it may call into the
     * library, and the event thread takes the monitor), sleeping on the monitor
     * between polls so events wake it early.
     */
    private boolean awaitCondition(long timeoutMs, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                return false;
            }
            synchronized (monitor) {
                try {
                    monitor.wait(Math.min(left, 20));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
    }
}
