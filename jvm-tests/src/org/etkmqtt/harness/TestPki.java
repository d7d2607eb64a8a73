package org.etkmqtt.harness;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

/**
 * Certificates and keys made at test time with the {@code openssl} command
 * line tool (OpenSSL 3.0 here: no {@code x509 -not_before}, so the expired
 * certificate comes from {@code openssl ca -startdate/-enddate}).
 *
 * <p>Made once per JVM in a temporary directory that is deleted on exit.
 */
public final class TestPki {
    /** Password of {@link #clientKeyPkcs8Encrypted}. */
    public static final String KEY_PASSWORD = "kp-Tr0ub4dor-pw";

    public final File dir;
    /** The CA that signed the server and client certificates. */
    public final File caCert;
    /** CN=localhost, SAN DNS:localhost only: valid for "localhost", not for 127.0.0.1. */
    public final File serverCert;
    public final File serverKey;
    /** Same subject and key as {@link #serverCert}, valid only in 2020. */
    public final File expiredServerCert;
    /** A CA that signed nothing the brokers use. */
    public final File otherCaCert;
    /** Client certificate for the RSA key below, signed by {@link #caCert}. */
    public final File clientCert;
    /** The client RSA key as PKCS#1 ("BEGIN RSA PRIVATE KEY"). */
    public final File clientKeyPkcs1;
    /** The same key as PKCS#8 ("BEGIN PRIVATE KEY"). */
    public final File clientKeyPkcs8;
    /** The same key as encrypted PKCS#8 (AES-256-CBC, password {@link #KEY_PASSWORD}). */
    public final File clientKeyPkcs8Encrypted;
    /** Client certificate for the EC key below, signed by {@link #caCert}. */
    public final File clientEcCert;
    /** The client EC key (P-256) as SEC1 ("BEGIN EC PRIVATE KEY"). */
    public final File clientEcKeySec1;
    /** The same EC key with the "BEGIN EC PARAMETERS" block that ecparam writes first. */
    public final File clientEcKeySec1WithParams;

    private static TestPki instance;

    /** Returns the PKI of this JVM, making it on first use. */
    public static synchronized TestPki get() {
        if (instance == null) {
            instance = new TestPki();
        }
        return instance;
    }

    private TestPki() {
        try {
            dir = Files.createTempDirectory("etkmqtt-pki-").toFile();
        } catch (IOException e) {
            throw new IllegalStateException("cannot create a temporary directory: " + e, e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> Processes.deleteTree(dir)));

        caCert = file("ca.crt");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                "-days", "3650", "-subj", "/CN=etkmqtt test CA");
        otherCaCert = file("other-ca.crt");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out",
                "other-ca.crt", "-days", "3650", "-subj", "/CN=etkmqtt unrelated CA");

        write("server.ext", "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                + "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
        write("client.ext", "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                + "extendedKeyUsage=clientAuth\n");

        serverKey = file("server.key");
        serverCert = file("server.crt");
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                "-subj", "/CN=localhost");
        signWithCa("server.csr", "server.crt", "server.ext");

        expiredServerCert = file("server-expired.crt");
        signExpired("server.csr", "server-expired.crt");

        clientKeyPkcs1 = file("client-pkcs1.key");
        clientKeyPkcs8 = file("client-pkcs8.key");
        clientKeyPkcs8Encrypted = file("client-pkcs8-encrypted.key");
        clientCert = file("client.crt");
        openssl("genrsa", "-traditional", "-out", "client-pkcs1.key", "2048");
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", "client-pkcs1.key", "-out", "client-pkcs8.key");
        openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "client-pkcs1.key", "-out",
                "client-pkcs8-encrypted.key", "-passout", "pass:" + KEY_PASSWORD);
        openssl("req", "-new", "-key", "client-pkcs1.key", "-out", "client.csr", "-subj", "/CN=etkmqtt-client");
        signWithCa("client.csr", "client.crt", "client.ext");

        clientEcKeySec1WithParams = file("client-ec-with-params.key");
        clientEcKeySec1 = file("client-ec.key");
        clientEcCert = file("client-ec.crt");
        openssl("ecparam", "-genkey", "-name", "prime256v1", "-out", "client-ec-with-params.key");
        openssl("ec", "-in", "client-ec-with-params.key", "-out", "client-ec.key");
        openssl("req", "-new", "-key", "client-ec.key", "-out", "client-ec.csr", "-subj", "/CN=etkmqtt-ec-client");
        signWithCa("client-ec.csr", "client-ec.crt", "client.ext");

        expectFileStartsWith(clientKeyPkcs1, "-----BEGIN RSA PRIVATE KEY-----");
        expectFileStartsWith(clientKeyPkcs8, "-----BEGIN PRIVATE KEY-----");
        expectFileStartsWith(clientKeyPkcs8Encrypted, "-----BEGIN ENCRYPTED PRIVATE KEY-----");
        expectFileStartsWith(clientEcKeySec1, "-----BEGIN EC PRIVATE KEY-----");
        expectFileStartsWith(clientEcKeySec1WithParams, "-----BEGIN EC PARAMETERS-----");
    }

    /** A file in the PKI directory (for tests that write their own variants). */
    public File file(String name) {
        return new File(dir, name);
    }

    /** Writes a text file into the PKI directory. */
    public File write(String name, String text) {
        File file = file(name);
        try {
            Files.write(file.toPath(), text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + file + ": " + e, e);
        }
        return file;
    }

    private void signWithCa(String csr, String out, String extFile) {
        openssl("x509", "-req", "-in", csr, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", out, "-days", "3650", "-sha256", "-extfile", extFile);
    }

    /** {@code openssl x509 -req} cannot back-date; {@code openssl ca} can. */
    private void signExpired(String csr, String out) {
        File db = file("cadb");
        db.mkdirs();
        write("cadb/index.txt", "");
        write("cadb/serial", "1000\n");
        write("ca.cnf", "[ ca ]\ndefault_ca = testca\n"
                + "[ testca ]\ndatabase = cadb/index.txt\nserial = cadb/serial\nnew_certs_dir = cadb\n"
                + "certificate = ca.crt\nprivate_key = ca.key\ndefault_md = sha256\npolicy = anything\n"
                + "unique_subject = no\n"
                + "[ anything ]\ncommonName = supplied\n"
                + "[ server_ext ]\nsubjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                + "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
        openssl("ca", "-batch", "-config", "ca.cnf", "-in", csr, "-out", out, "-notext",
                "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", "-extensions", "server_ext");
    }

    private void openssl(String... args) {
        String[] command = new String[args.length + 1];
        command[0] = "openssl";
        System.arraycopy(args, 0, command, 1, args.length);
        Processes.run(dir, 60_000, command).check();
    }

    private static void expectFileStartsWith(File file, String prefix) {
        String text = Processes.read(file);
        if (!text.startsWith(prefix)) {
            throw new IllegalStateException(file + " should start with " + prefix + " but starts with "
                    + text.substring(0, Math.min(60, text.length())));
        }
    }
}
