package org.etkmqtt;

/**
 * Checks that this JVM can load and use etkmqtt's native library, and says
 * which file it loaded: the check to run on a gateway after copying the jar
 * (and the library, if it lies beside the jar) into {@code /usr}.
 *
 * <pre>
 * java -cp etkmqtt.jar org.etkmqtt.CheckLibrary
 * jvmrun: -heapsize 5M -classpath /usr/app.jar -emain org.etkmqtt.CheckLibrary
 * </pre>
 *
 * Prints the JVM's os.name, os.arch and version, then either
 * {@code etkmqtt: OK: native library loaded from <file>} or
 * {@code etkmqtt: FAILED: <every place tried and why>} (and exits with 1).
 * It makes one client and closes it at once, without connecting.
 */
public final class CheckLibrary {
    private CheckLibrary() {
    }

    public static void main(String[] args) {
        String[] keys = {"os.name", "os.arch", "os.version", "java.vm.name", "java.version"};
        StringBuffer jvm = new StringBuffer("etkmqtt: this JVM:");
        for (int i = 0; i < keys.length; i++) {
            jvm.append(' ').append(keys[i]).append('=').append(System.getProperty(keys[i]));
        }
        System.out.println(jvm.toString());
        try {
            // A client, not only the loading, proves that the library's JNI
            // functions are there and work on this JVM.
            MqttClient client = new MqttClient("etkmqtt-check-library", "127.0.0.1") {
                public void callMqttEvent(int event) {
                }
            };
            client.close();
            System.out.println("etkmqtt: OK: native library loaded from " + NativeLoader.loadedFrom);
        } catch (Exception e) {
            System.out.println("etkmqtt: FAILED: " + e.getMessage());
            System.exit(1);
        }
    }
}
