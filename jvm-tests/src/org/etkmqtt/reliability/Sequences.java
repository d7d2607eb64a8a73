package org.etkmqtt.reliability;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Numbered payloads ("seq-00042") and what a subscriber made of them: how many
 * arrived, how many were repeats, which numbers are missing, and whether the
 * first arrival of each number came in increasing order (QoS 1 allows
 * duplicates after a reconnect, but no reordering of new messages).
 */
public final class Sequences {
    private static final String PREFIX = "seq-";

    public final int received;
    public final int distinct;
    public final int duplicates;
    /** Numbers in 0..expected-1 that never arrived. */
    public final List<Integer> missing = new ArrayList<>();
    /** First arrivals, in arrival order. */
    public final List<Integer> firstArrivals = new ArrayList<>();
    /** The first place where a new number arrived after a larger one, or null. */
    public final String orderViolation;
    /** Texts that are not numbered payloads. */
    public final List<String> foreign = new ArrayList<>();

    private Sequences(List<String> texts, int expected) {
        BitSet seen = new BitSet();
        int dups = 0;
        int lastFirst = -1;
        String violation = null;
        for (String text : texts) {
            if (!text.startsWith(PREFIX)) {
                foreign.add(text);
                continue;
            }
            int n = Integer.parseInt(text.substring(PREFIX.length()));
            if (seen.get(n)) {
                dups++;
                continue;
            }
            seen.set(n);
            firstArrivals.add(n);
            if (n < lastFirst && violation == null) {
                violation = "seq " + n + " first arrived after seq " + lastFirst + " (arrival #" + firstArrivals.size()
                        + ")";
            }
            lastFirst = Math.max(lastFirst, n);
        }
        for (int i = 0; i < expected; i++) {
            if (!seen.get(i)) {
                missing.add(i);
            }
        }
        received = texts.size();
        distinct = seen.cardinality();
        duplicates = dups;
        orderViolation = violation;
    }

    public static String payload(int n) {
        return String.format("%s%05d", PREFIX, n);
    }

    public static Sequences of(List<String> texts, int expected) {
        return new Sequences(texts, expected);
    }

    /** A short summary for assertion messages (the missing list is cut). */
    @Override
    public String toString() {
        List<Integer> someMissing = missing.size() > 20 ? missing.subList(0, 20) : missing;
        return "received=" + received + " distinct=" + distinct + " duplicates=" + duplicates + " missing("
                + missing.size() + ")=" + someMissing + " orderViolation=" + orderViolation + " foreign=" + foreign.size();
    }
}
