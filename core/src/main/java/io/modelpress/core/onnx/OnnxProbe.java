package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A cheap look at the first bytes of a file to reject what plainly is not an ONNX model (text, zip, npz, JSON,
 * images) before it is uploaded or handed to a worker (the orchestrator's upload API, {@code modelpress submit}).
 * It reads the prefix as the protobuf wire format of an ONNX ModelProto, field by field with protobuf's own reader:
 * the first field must be one of ModelProto's fields (from its descriptor) with that field's wire type, and the
 * fields that start within the prefix must be well formed and fit the file. Field contents are skipped, never parsed,
 * so however large the model, no more than the prefix is read. Passing is no proof: the first worker stage still
 * parses the whole model.
 */
public final class OnnxProbe {
    /** How many leading bytes are examined. */
    public static final int PREFIX_BYTES = 64 * 1024;

    private static final Descriptor MODEL = OnnxMl.ModelProto.getDescriptor();

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
        boolean cutByPrefix = head.length < size;
        CodedInputStream in = CodedInputStream.newInstance(head);
        int fields = 0;
        try {
            while (!in.isAtEnd()) {
                int start = in.getTotalBytesRead();
                int tag = readTag(in, start, head, fields > 0 && cutByPrefix, where);
                if (tag < 0) {
                    return; // a tag cut off by the end of the prefix
                }
                int field = WireFormat.getTagFieldNumber(tag);
                int wireType = WireFormat.getTagWireType(tag);
                FieldDescriptor known = MODEL.findFieldByNumber(field);
                if (fields == 0 && (known == null || wireType(known) != wireType)) {
                    throw notOnnx(where, "it does not start like an ONNX ModelProto", head);
                }
                if (known != null && wireType(known) != wireType) {
                    throw notOnnx(where, "field " + field + " at offset " + start + " has the wrong wire type", head);
                }
                Field value = new Field(field, start, size, head, where);
                boolean examined = switch (wireType) {
                    case WireFormat.WIRETYPE_VARINT -> {
                        in.readRawVarint64();
                        yield true;
                    }
                    case WireFormat.WIRETYPE_FIXED64 -> value.skip(in, 8);
                    case WireFormat.WIRETYPE_FIXED32 -> value.skip(in, 4);
                    case WireFormat.WIRETYPE_LENGTH_DELIMITED -> value.skip(in, in.readRawVarint64());
                    default -> throw notOnnx(where, "the bytes at offset " + start + " are not a protobuf field", head);
                };
                if (!examined) {
                    return; // the rest lies beyond the examined prefix
                }
                fields++;
            }
        } catch (InvalidProtocolBufferException e) {
            // protobuf's reader stops at the end of the bytes it has (a varint cut off there) or at a malformed varint
            if (in.getTotalBytesRead() < head.length) {
                throw notOnnx(where, "the bytes at offset " + in.getTotalBytesRead() + " are not a protobuf field", head);
            }
            if (!cutByPrefix) {
                throw notOnnx(where, "the file ends inside a field", head);
            }
        } catch (IOException e) {
            throw new IllegalStateException("reading from a byte array", e);
        }
    }

    /** A field whose value is skipped: it must fit in the file; it may run past the examined prefix. */
    private record Field(int number, int start, long size, byte[] head, String where) {
        /** Skips the value's {@code length} bytes; false when they run past the examined prefix. */
        boolean skip(CodedInputStream in, long length) throws IOException {
            long end = in.getTotalBytesRead() + length;
            if (length < 0 || end > size) {
                throw notOnnx(where, "field " + number + " at offset " + start + " claims " + length
                        + " bytes but the file has only " + size, head);
            }
            if (end > head.length) {
                return false;
            }
            in.skipRawBytes((int) length);
            return true;
        }
    }

    /**
     * The next field's tag, or -1 when {@code mayBeCut} and the prefix ends inside it. Anything else that is no tag
     * (a field number 0, a varint longer than 10 bytes) is not a protobuf field.
     */
    private static int readTag(CodedInputStream in, int start, byte[] head, boolean mayBeCut, String where) throws IOException {
        try {
            return in.readTag();
        } catch (InvalidProtocolBufferException e) {
            if (mayBeCut && in.getTotalBytesRead() >= head.length) {
                return -1;
            }
            throw notOnnx(where, "the bytes at offset " + start + " are not a protobuf field", head);
        }
    }

    /** The wire type a field of ModelProto is written with (ModelProto has no packed fields). */
    private static int wireType(FieldDescriptor field) {
        return field.getLiteType().getWireType();
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
}
