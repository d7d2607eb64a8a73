import java.lang.management.ManagementFactory;
import java.util.Arrays;

import org.etkmqtt.TagJson;

/**
 * TagJson.encode of 100 tags through JNI against the Flexy BASIC approach in
 * plain Java: string concatenation into a StringBuffer, no escaping. Both get
 * the same names, values and time; each is warmed up, then timed in several
 * runs (median time per call) with the bytes the calling thread allocated on
 * the Java heap (com.sun.management.ThreadMXBean.getThreadAllocatedBytes).
 * Run by bench/tagjson/run.
 *
 * <pre>java -cp etkmqtt.jar:. TagJsonBench [callsPerRun] [runs]</pre>
 */
public final class TagJsonBench {
    private static final int TAGS = 100;
    /** 2024-05-01 13:45:10 UTC. */
    private static final long EPOCH_MILLIS = 1714571110000L;

    static final String[] NAMES = new String[TAGS];
    static final Object[] VALUES = new Object[TAGS];
    static long sink;

    static {
        for (int i = 0; i < TAGS; i++) {
            NAMES[i] = "Tag" + (1000 + i);
            // A Flexy-like mix: 70 analog readings, 10 counters, 10 flags, 10 strings.
            if (i < 70) {
                VALUES[i] = Double.valueOf(i * 1.25 + 0.3);
            } else if (i < 80) {
                VALUES[i] = Integer.valueOf(i * 1000);
            } else if (i < 90) {
                VALUES[i] = (i % 2 == 0) ? Boolean.TRUE : Boolean.FALSE;
            } else {
                VALUES[i] = "state-" + i;
            }
        }
    }

    interface Encoder {
        String encode() throws Exception;
    }

    /** What the BASIC program does, in Java: concatenation, STR$-like values, no escaping. */
    static String basicStyle(String[] names, Object[] values, long epochMillis) {
        String now = basicTime(epochMillis);
        StringBuffer json = new StringBuffer();
        json.append('[');
        for (int i = 0; i < names.length; i++) {
            if (i > 0) {
                json.append(',');
            }
            json.append("{\"tag\":\"").append(names[i]).append("\",\"value\":").append(values[i])
                    .append(",\"time\":\"").append(now).append("\"}");
        }
        json.append(']');
        return json.toString();
    }

    /** Now$ of the BASIC program: YYYY-MM-DD HH:MM:SS built from its parts, once per publish. */
    static String basicTime(long epochMillis) {
        long seconds = Math.floorDiv(epochMillis, 1000L);
        long days = Math.floorDiv(seconds, 86400L);
        long secondOfDay = seconds - days * 86400L;
        // civil_from_days (Howard Hinnant)
        long z = days + 719468;
        long era = Math.floorDiv(z, 146097);
        long doe = z - era * 146097;
        long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153;
        long day = doy - (153 * mp + 2) / 5 + 1;
        long month = mp < 10 ? mp + 3 : mp - 9;
        long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
        return year + "-" + two(month) + "-" + two(day) + " " + two(secondOfDay / 3600) + ":"
                + two(secondOfDay / 60 % 60) + ":" + two(secondOfDay % 60);
    }

    private static String two(long n) {
        return n < 10 ? "0" + n : Long.toString(n);
    }

    public static void main(String[] args) throws Exception {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        threads.setThreadAllocatedMemoryEnabled(true);

        Encoder jni = () -> TagJson.encode(NAMES, VALUES, EPOCH_MILLIS, 0);
        Encoder basic = () -> basicStyle(NAMES, VALUES, EPOCH_MILLIS);
        String jniJson = jni.encode();
        String basicJson = basic.encode();
        System.out.println("sample_jni_bytes=" + jniJson.length());
        System.out.println("sample_basic_bytes=" + basicJson.length());
        System.out.println("sample_jni=" + jniJson.substring(0, 120) + "...");
        System.out.println("sample_basic=" + basicJson.substring(0, 120) + "...");

        // Warm-up (JIT) of both, twice the measured calls each.
        for (int w = 0; w < 2; w++) {
            loop(jni, calls);
            loop(basic, calls);
        }

        double[] jniNanos = new double[runs];
        double[] basicNanos = new double[runs];
        double[] jniBytes = new double[runs];
        double[] basicBytes = new double[runs];
        for (int r = 0; r < runs; r++) {
            // Interleaved, so drift (frequency, other load) hits both alike.
            measure(jni, calls, threads, jniNanos, jniBytes, r);
            measure(basic, calls, threads, basicNanos, basicBytes, r);
        }
        System.out.println("calls_per_run=" + calls);
        System.out.println("runs=" + runs);
        System.out.printf("jni_ns_per_call=%.0f%n", median(jniNanos));
        System.out.printf("basic_ns_per_call=%.0f%n", median(basicNanos));
        System.out.printf("jni_bytes_per_call=%.0f%n", median(jniBytes));
        System.out.printf("basic_bytes_per_call=%.0f%n", median(basicBytes));
        System.out.printf("jni_ns_runs=%s%n", Arrays.toString(round(jniNanos)));
        System.out.printf("basic_ns_runs=%s%n", Arrays.toString(round(basicNanos)));
        System.out.println("sink=" + sink);
    }

    private static void measure(Encoder encoder, int calls, com.sun.management.ThreadMXBean threads,
            double[] nanos, double[] bytes, int run) throws Exception {
        long self = Thread.currentThread().getId();
        long bytes0 = threads.getThreadAllocatedBytes(self);
        long t0 = System.nanoTime();
        loop(encoder, calls);
        long t1 = System.nanoTime();
        long bytes1 = threads.getThreadAllocatedBytes(self);
        nanos[run] = (double) (t1 - t0) / calls;
        bytes[run] = (double) (bytes1 - bytes0) / calls;
    }

    private static void loop(Encoder encoder, int calls) throws Exception {
        long total = 0;
        for (int i = 0; i < calls; i++) {
            total += encoder.encode().length();
        }
        sink += total;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static long[] round(double[] values) {
        long[] rounded = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            rounded[i] = Math.round(values[i]);
        }
        return rounded;
    }
}
