package org.etkmqtt.reliability;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads and damages the durable store's segment files
 * ({@code <STOREDIR>/<escaped MqttId>/seg-<16 hex>.log}). A record is
 * {@code 0xE1, type (u8), body length (u32 LE), id (u64 LE), body, CRC-32}.
 */
public final class StoreFiles {
    private static final int HEADER_LEN = 14;
    private static final int CRC_LEN = 4;

    /** Where one record lies in its file. */
    public static final class Record {
        public final int offset;
        public final int length;
        public final int type;

        Record(int offset, int length, int type) {
            this.offset = offset;
            this.length = length;
            this.type = type;
        }
    }

    private StoreFiles() {
    }

    /** The segment files under {@code storeDir} (any client), sorted by name. */
    public static List<File> segments(File storeDir) {
        List<File> segments = new ArrayList<>();
        File[] clients = storeDir.listFiles(File::isDirectory);
        if (clients != null) {
            for (File client : clients) {
                File[] files = client.listFiles((d, name) -> name.startsWith("seg-") && name.endsWith(".log"));
                if (files != null) {
                    segments.addAll(Arrays.asList(files));
                }
            }
        }
        segments.sort(null);
        return segments;
    }

    /** The only segment file; fails if there are none or several. */
    public static File onlySegment(File storeDir) {
        List<File> segments = segments(storeDir);
        if (segments.size() != 1) {
            throw new IllegalStateException("expected one segment in " + storeDir + ", found " + segments);
        }
        return segments.get(0);
    }

    /** The records of a well-formed segment, in file order. */
    public static List<Record> records(File segment) throws IOException {
        byte[] data = Files.readAllBytes(segment.toPath());
        ByteBuffer buffer = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        List<Record> records = new ArrayList<>();
        int offset = 0;
        while (offset + HEADER_LEN <= data.length) {
            if ((data[offset] & 0xFF) != 0xE1) {
                throw new IllegalStateException("no record magic at offset " + offset + " of " + segment);
            }
            int bodyLength = buffer.getInt(offset + 2);
            int length = HEADER_LEN + bodyLength + CRC_LEN;
            records.add(new Record(offset, length, data[offset + 1] & 0xFF));
            offset += length;
        }
        if (offset != data.length) {
            throw new IllegalStateException(segment + " ends inside a record");
        }
        return records;
    }

    /** Cuts the file in the middle of {@code record} (as a crash while writing it would). */
    public static void truncateInside(File segment, Record record) throws IOException {
        byte[] data = Files.readAllBytes(segment.toPath());
        Files.write(segment.toPath(), Arrays.copyOf(data, record.offset + record.length / 2));
    }

    /** Inverts one byte in the middle of {@code record}'s body (a bit rot / disk error). */
    public static void flipByteInside(File segment, Record record) throws IOException {
        byte[] data = Files.readAllBytes(segment.toPath());
        int at = record.offset + HEADER_LEN + (record.length - HEADER_LEN - CRC_LEN) / 2;
        data[at] = (byte) ~data[at];
        Files.write(segment.toPath(), data);
    }
}
