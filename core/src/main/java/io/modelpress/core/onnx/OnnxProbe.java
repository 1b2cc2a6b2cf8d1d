package io.modelpress.core.onnx;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A cheap look at the first bytes of a file to reject what plainly is not an ONNX model (text, zip, npz, JSON,
 * images) before it is uploaded or handed to a worker (the orchestrator's upload API, {@code modelpress submit}).
 * It reads the protobuf wire format of an ONNX ModelProto: the first field must be one of ModelProto's fields with
 * its wire type, and the fields that start within the prefix must be well formed and fit the file. Passing is no
 * proof: the first worker stage still parses the whole model.
 */
public final class OnnxProbe {
    /** How many leading bytes are examined. */
    public static final int PREFIX_BYTES = 64 * 1024;

    private static final int VARINT = 0;
    private static final int FIXED64 = 1;
    private static final int LENGTH_DELIMITED = 2;
    private static final int FIXED32 = 5;

    /** ModelProto's fields (onnx.proto) and their wire types. */
    private static final Map<Integer, Integer> MODEL_FIELDS = Map.ofEntries(
            Map.entry(1, VARINT),            // ir_version
            Map.entry(2, LENGTH_DELIMITED),  // producer_name
            Map.entry(3, LENGTH_DELIMITED),  // producer_version
            Map.entry(4, LENGTH_DELIMITED),  // domain
            Map.entry(5, VARINT),            // model_version
            Map.entry(6, LENGTH_DELIMITED),  // doc_string
            Map.entry(7, LENGTH_DELIMITED),  // graph
            Map.entry(8, LENGTH_DELIMITED),  // opset_import
            Map.entry(14, LENGTH_DELIMITED), // metadata_props
            Map.entry(20, LENGTH_DELIMITED), // training_info
            Map.entry(25, LENGTH_DELIMITED), // functions
            Map.entry(26, LENGTH_DELIMITED)  // configuration
    );

    private OnnxProbe() {
    }

    /** Checks the first {@link #PREFIX_BYTES} of {@code file}; {@code where} names it in the message. */
    public static void check(Path file, String where) {
        try (InputStream in = Files.newInputStream(file)) {
            check(in.readNBytes(PREFIX_BYTES), Files.size(file), where);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, where, "cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * @param head  the file's first bytes (up to {@link #PREFIX_BYTES})
     * @param size  the whole file's size
     * @param where the file's name for the message
     */
    public static void check(byte[] head, long size, String where) {
        if (size == 0) {
            throw new ModelPressException(ErrorCode.EMPTY_FILE, where, "is empty; expected an ONNX model");
        }
        int pos = 0;
        int fields = 0;
        while (pos < head.length) {
            int start = pos;
            long tag = varint(head, pos);
            if (tag < 0) {
                if (fields > 0 && head.length < size) {
                    return; // a tag cut off by the end of the prefix
                }
                throw notOnnx(where, "the bytes at offset " + start + " are not a protobuf field", head);
            }
            pos += varintLength(head, pos);
            int field = (int) (tag >>> 3);
            int wireType = (int) (tag & 7);
            Integer expected = MODEL_FIELDS.get(field);
            if (fields == 0 && (expected == null || expected != wireType)) {
                throw notOnnx(where, "it does not start like an ONNX ModelProto", head);
            }
            if (expected != null && expected != wireType) {
                throw notOnnx(where, "field " + field + " at offset " + start + " has the wrong wire type", head);
            }
            switch (wireType) {
                case VARINT -> {
                    if (varint(head, pos) < 0) {
                        ensureCutOff(pos, head, size, where);
                        return;
                    }
                    pos += varintLength(head, pos);
                }
                case FIXED64 -> pos += 8;
                case FIXED32 -> pos += 4;
                case LENGTH_DELIMITED -> {
                    long length = varint(head, pos);
                    if (length < 0) {
                        ensureCutOff(pos, head, size, where);
                        return;
                    }
                    pos += varintLength(head, pos);
                    if (pos + length > size) {
                        throw notOnnx(where, "field " + field + " at offset " + start + " claims " + length
                                + " bytes but the file has only " + size, head);
                    }
                    if (pos + length > head.length) {
                        return; // the rest lies beyond the examined prefix
                    }
                    pos += (int) length;
                }
                default -> throw notOnnx(where, "the bytes at offset " + start + " are not a protobuf field", head);
            }
            fields++;
        }
        if (pos > size) {
            throw notOnnx(where, "the file ends inside a field", head);
        }
    }

    private static void ensureCutOff(int pos, byte[] head, long size, String where) {
        if (head.length >= size) {
            throw notOnnx(where, "the file ends inside a field at offset " + pos, head);
        }
    }

    private static ModelPressException notOnnx(String where, String why, byte[] head) {
        return new ModelPressException(ErrorCode.NOT_ONNX, where, "is not an ONNX model: " + why + describe(head));
    }

    /** Names common look-alikes so the user knows what was uploaded instead. */
    private static String describe(byte[] head) {
        if (head.length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
            return " (it is a zip archive, e.g. an .npz or a PyTorch checkpoint; export the model to ONNX first)";
        }
        if (head.length >= 6 && head[0] == (byte) 0x93 && head[1] == 'N' && head[2] == 'U' && head[3] == 'M') {
            return " (it is a NumPy .npy array)";
        }
        if (head.length >= 1 && (head[0] == '{' || head[0] == '[')) {
            return " (it looks like JSON)";
        }
        if (head.length >= 2 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5) {
            return " (it is a Python pickle, e.g. a PyTorch checkpoint; export the model to ONNX first)";
        }
        int printable = 0;
        int n = Math.min(head.length, 512);
        for (int i = 0; i < n; i++) {
            int b = head[i] & 0xff;
            if (b == '\n' || b == '\r' || b == '\t' || (b >= 0x20 && b < 0x7f)) {
                printable++;
            }
        }
        return n > 0 && printable == n ? " (it is plain text)" : "";
    }

    /** The varint at {@code pos}, or -1 when it runs past the end of {@code bytes} or is longer than 10 bytes. */
    private static long varint(byte[] bytes, int pos) {
        long value = 0;
        for (int i = 0; i < 10; i++) {
            if (pos + i >= bytes.length) {
                return -1;
            }
            int b = bytes[pos + i] & 0xff;
            value |= (long) (b & 0x7f) << (7 * i);
            if (b < 0x80) {
                return value < 0 ? -1 : value;
            }
        }
        return -1;
    }

    private static int varintLength(byte[] bytes, int pos) {
        int i = 0;
        while ((bytes[pos + i] & 0x80) != 0) {
            i++;
        }
        return i + 1;
    }
}
