package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * A streaming reader of IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed. Only unsigned-byte
 * data (type 0x08) is supported, which is what those datasets use. Read record by record so memory stays flat.
 */
public final class IdxFile implements AutoCloseable {
    private final DataInputStream in;
    private final int[] dims;
    private final int recordSize;
    private int recordsRead;
    private final String name;

    private IdxFile(Path file) throws IOException {
        this.name = file.getFileName().toString();
        InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        if (name.endsWith(".gz")) {
            raw = new GZIPInputStream(raw, 1 << 16);
        }
        this.in = new DataInputStream(raw);
        try {
            int magic = in.readInt();
            if ((magic >>> 16) != 0 || ((magic >>> 8) & 0xff) != 0x08) {
                throw bad("is not an unsigned-byte IDX file (magic 0x" + Integer.toHexString(magic) + ")");
            }
            int rank = magic & 0xff;
            if (rank < 1 || rank > 4) {
                throw bad("declares " + rank + " dimensions (IDX files have 1 to 4)");
            }
            dims = new int[rank];
            long size = 1;
            for (int i = 0; i < rank; i++) {
                dims[i] = in.readInt();
                if (dims[i] < 0) {
                    throw bad("has a negative dimension");
                }
                if (i > 0) {
                    size *= dims[i];
                }
            }
            if (size > 64L << 20) {
                throw bad("records of " + size + " bytes are implausibly large");
            }
            recordSize = (int) size;
        } catch (EOFException e) {
            throw bad("ends before its header is complete");
        }
    }

    public static IdxFile open(Path file) {
        try {
            return new IdxFile(file);
        } catch (ModelPressException e) {
            throw e;
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.BAD_DATA, "file " + file.getFileName(), "cannot be read as IDX: " + e.getMessage(), e);
        }
    }

    private ModelPressException bad(String why) {
        return new ModelPressException(ErrorCode.BAD_DATA, "file " + name, why);
    }

    /** Number of records (the first dimension). */
    public int count() {
        return dims[0];
    }

    /** Shape of one record, e.g. [28, 28] for images, [] for labels. */
    public int[] recordShape() {
        return Arrays.copyOfRange(dims, 1, dims.length);
    }

    public int recordSize() {
        return recordSize;
    }

    public boolean hasNext() {
        return recordsRead < dims[0];
    }

    /** Reads the next record's unsigned bytes into {@code into} (length >= recordSize). */
    public void next(byte[] into) {
        if (!hasNext()) {
            throw new IllegalStateException("no more records");
        }
        try {
            in.readFully(into, 0, recordSize);
            recordsRead++;
        } catch (EOFException e) {
            throw bad("is truncated: header declares " + dims[0] + " records, data ends after " + recordsRead);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "file " + name, e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException ignored) {
            // read-only stream
        }
    }
}
