package org.etkmqtt.reliability;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads and damages the durable store's segment files
 * ({@code <STOREDIR>/<escaped MqttId>/seg-<16 hex>.v2.log}, format 2 of
 * rust/core/src/store/mod.rs): 4096-byte blocks of chunks, each
 * {@code 0xE2, kind (u8: 1 whole, 2 first, 3 middle, 4 last), data length
 * (u16 LE), data CRC-32, header CRC-32, data}; a block with under 29 bytes
 * left is zero padding. A record's data starts with its type (u8).
 */
public final class StoreFiles {
    private static final int BLOCK = 4096;
    private static final int CHUNK_HEADER = 12;
    private static final int MIN_CHUNK = CHUNK_HEADER + 17;

    /** Where one record lies in its file. */
    public static final class Record {
        public final int offset;
        /** From its first chunk's header to the end of its last chunk. */
        public final int length;
        public final int type;
        /** Data bytes in its first chunk. */
        final int firstChunkData;

        Record(int offset, int length, int type, int firstChunkData) {
            this.offset = offset;
            this.length = length;
            this.type = type;
            this.firstChunkData = firstChunkData;
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
        int start = -1;
        int firstData = 0;
        while (offset < data.length) {
            int room = BLOCK - offset % BLOCK;
            if (room < MIN_CHUNK) {
                offset += room;
                continue;
            }
            if (offset + CHUNK_HEADER > data.length || (data[offset] & 0xFF) != 0xE2) {
                throw new IllegalStateException("no chunk at offset " + offset + " of " + segment);
            }
            int kind = data[offset + 1] & 0xFF;
            int length = buffer.getShort(offset + 2) & 0xFFFF;
            int end = offset + CHUNK_HEADER + length;
            if (kind == 1 || kind == 2) {
                start = offset;
                firstData = length;
            }
            if (kind == 1 || kind == 4) {
                records.add(new Record(start, end - start, data[start + CHUNK_HEADER] & 0xFF, firstData));
            }
            offset = end;
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

    /** Inverts one byte in the middle of {@code record}'s first chunk data (a bit rot / disk error). */
    public static void flipByteInside(File segment, Record record) throws IOException {
        byte[] data = Files.readAllBytes(segment.toPath());
        int at = record.offset + CHUNK_HEADER + record.firstChunkData / 2;
        data[at] = (byte) ~data[at];
        Files.write(segment.toPath(), data);
    }

    /**
     * Inverts the first byte the store wrote at or after {@code from}: the
     * start of the record written there, whatever padding came before it.
     * Returns its offset.
     */
    public static int damageRecordStartingFrom(File segment, long from) throws IOException {
        byte[] data = Files.readAllBytes(segment.toPath());
        for (int at = (int) from; at < data.length; at++) {
            if (data[at] != 0) {
                data[at] = (byte) ~data[at];
                Files.write(segment.toPath(), data);
                return at;
            }
        }
        throw new IllegalStateException("nothing written after offset " + from + " of " + segment);
    }

    /** The file mode of {@code path}, as in {@code ls -l} ("rw-------"). */
    public static String mode(File path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path.toPath()));
    }
}
