package org.etkmqtt;

import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;

import org.etkmqtt.harness.ClientTestSupport;
import org.etkmqtt.harness.Mosquitto;
import org.etkmqtt.harness.TestClient;
import org.etkmqtt.harness.TestPki;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Certificate and key paths that point at a device, a pipe or a huge file
 * fail at once with the reason, as connect()'s EWException, against a real TLS Mosquitto. Before the
 * size limit, CAFILE=/dev/zero grew the JVM until the kernel killed it, and a
 * FIFO made close() block for over 10 s.
 */
public class CertificateFileLimitsTest extends ClientTestSupport {
    /** Far below what reading /dev/zero or a 2 MiB file into memory would add. */
    private static final long RSS_GROWTH_LIMIT_KIB = 64 * 1024;
    private static final long CLOSE_LIMIT_MS = 2_000;

    @Rule
    public final TemporaryFolder folder = new TemporaryFolder();

    @Test
    public void cafile_dev_zero_is_refused_as_not_a_regular_file() throws Exception {
        assertRefused("CAFILE", new File("/dev/zero"), "not a regular file");
    }

    @Test
    public void cafile_fifo_without_a_writer_is_refused_and_close_does_not_block() throws Exception {
        File fifo = new File(folder.getRoot(), "ca.fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.getPath()).inheritIO().start();
        assertTrue("mkfifo failed", mkfifo.waitFor() == 0);
        assertRefused("CAFILE", fifo, "not a regular file");
    }

    @Test
    public void keyfile_over_one_mib_is_refused_with_the_limit() throws Exception {
        File huge = folder.newFile("huge.key");
        try (RandomAccessFile file = new RandomAccessFile(huge, "rw")) {
            file.setLength(2L * 1024 * 1024);
        }
        assertRefused("KEYFILE", huge, "at most 1048576 bytes");
    }

    private void assertRefused(String option, File path, String reason) throws Exception {
        TestPki pki = TestPki.get();
        Mosquitto broker = closeLater(Mosquitto.startTls(pki));
        TestClient client = clientFor(broker);
        if (option.equals("KEYFILE")) {
            client.setOption("CERTFILE", pki.clientCert.getPath());
        }
        client.setOption(option, path.getPath());
        long rssBefore = rssKiB();
        // Read in connect(), so the error is the caller's exception.
        String error = expectEW(client::connect).getMessage();
        assertContains(option, error);
        assertContains(path.getPath(), error);
        assertContains(reason, error);
        long started = System.nanoTime();
        client.close();
        long closeMs = (System.nanoTime() - started) / 1_000_000;
        assertTrue("close() took " + closeMs + " ms", closeMs < CLOSE_LIMIT_MS);
        long growth = rssKiB() - rssBefore;
        assertTrue("RSS grew by " + growth + " KiB", growth < RSS_GROWTH_LIMIT_KIB);
    }

    private static long rssKiB() throws IOException {
        for (String line : Files.readAllLines(new File("/proc/self/status").toPath())) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS in /proc/self/status");
    }
}
