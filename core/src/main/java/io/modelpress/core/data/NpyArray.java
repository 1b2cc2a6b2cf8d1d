package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Float16;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One NumPy array read from a stream (a .npy file or an entry of a .npz), entry by entry along its first axis: only
 * one entry's bytes are buffered, so arrays of any length stream in constant memory. A 0-d array (a scalar) reads as
 * one entry of one element; {@link #readAll} reads a whole array at once. Supported dtypes: f4, f8, f2, i8, i4, i1, u1, b1 (either byte order); C order only.
 */
final class NpyArray implements AutoCloseable {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int MAX_HEADER_BYTES = 1 << 20;
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /** NumPy element types this reader understands. */
    enum Dtype {
        F4(4, true), F8(8, true), F2(2, true), I8(8, false), I4(4, false), I1(1, false), U1(1, false), B1(1, false);

        final int bytes;
        final boolean floating;

        Dtype(int bytes, boolean floating) {
            this.bytes = bytes;
            this.floating = floating;
        }
    }

    private final String name;
    private final String location;
    private final DataInputStream in;
    private final Dtype dtype;
    private final ByteOrder order;
    private final long[] shape;
    private final int sampleElements;
    private final ByteBuffer sampleBytes;
    private long samplesRead;

    private NpyArray(String name, String location, InputStream stream) throws IOException {
        this.name = name;
        this.location = location;
        this.in = new DataInputStream(stream);
        byte[] magic = new byte[MAGIC.length];
        in.readFully(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            throw bad("is not a NumPy .npy array (no \\x93NUMPY signature)");
        }
        int major = in.readUnsignedByte();
        in.readUnsignedByte();
        long headerLength;
        if (major == 1) {
            headerLength = Short.toUnsignedInt(Short.reverseBytes(in.readShort()));
        } else if (major == 2 || major == 3) {
            headerLength = Integer.toUnsignedLong(Integer.reverseBytes(in.readInt()));
        } else {
            throw bad("uses .npy format version " + major + ", which is not supported (1, 2 or 3 are)");
        }
        if (headerLength > MAX_HEADER_BYTES) {
            throw bad("declares a header of " + headerLength + " bytes; this is not a sane .npy file");
        }
        byte[] headerBytes = new byte[(int) headerLength];
        in.readFully(headerBytes);
        String header = new String(headerBytes, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);

        Matcher descr = DESCR.matcher(header);
        if (!descr.find()) {
            throw bad("has a header without a simple 'descr' (structured and object arrays are not supported): " + header.trim());
        }
        String descriptor = descr.group(1);
        this.order = descriptor.startsWith(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        this.dtype = parseDtype(descriptor);
        Matcher fortran = FORTRAN.matcher(header);
        if (!fortran.find()) {
            throw bad("has a header without 'fortran_order': " + header.trim());
        }
        if (fortran.group(1).equals("True")) {
            throw bad("is stored in Fortran (column-major) order, which is not supported; "
                    + "save it in C order, e.g. np.save(f, np.ascontiguousarray(a))");
        }
        Matcher shapeMatch = SHAPE.matcher(header);
        if (!shapeMatch.find()) {
            throw bad("has a header without 'shape': " + header.trim());
        }
        this.shape = parseShape(shapeMatch.group(1));
        long elements = 1; // of one entry along axis 0 (a 0-d array is read as one entry of one element)
        for (int i = 1; i < shape.length; i++) {
            elements = Math.multiplyExact(elements, shape[i]);
        }
        if (elements * dtype.bytes > Integer.MAX_VALUE - 16) {
            throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, where(),
                    "has samples of " + elements * dtype.bytes + " bytes each, more than 2 GiB");
        }
        this.sampleElements = (int) elements;
        this.sampleBytes = ByteBuffer.allocate(sampleElements * dtype.bytes).order(order);
    }

    /**
     * Reads the header; the stream is then positioned at the first sample. The stream is closed with this array.
     *
     * @param name     the array's name (in a .npz: the entry name without ".npy")
     * @param location where the array is, for error messages: {@code file x.npy} or {@code array 'a' in x.npz}
     */
    static NpyArray open(InputStream stream, String name, String location) {
        try {
            return new NpyArray(name, location, stream);
        } catch (ModelPressException e) {
            closeQuietly(stream);
            throw e;
        } catch (EOFException e) {
            closeQuietly(stream);
            throw new ModelPressException(ErrorCode.BAD_DATA, location, "ends inside its .npy header (truncated file?)");
        } catch (IOException e) {
            closeQuietly(stream);
            throw new ModelPressException(ErrorCode.BAD_DATA, location, "cannot be read: " + e.getMessage(), e);
        } catch (ArithmeticException e) {
            closeQuietly(stream);
            throw new ModelPressException(ErrorCode.BAD_DATA, location, "declares a shape too large to exist");
        }
    }

    private Dtype parseDtype(String descriptor) {
        if (descriptor.length() >= 2 && "<>|=".indexOf(descriptor.charAt(0)) >= 0) {
            String code = descriptor.substring(1);
            for (Dtype d : Dtype.values()) {
                if (d.name().equalsIgnoreCase(code)) {
                    return d;
                }
            }
        }
        throw bad("has dtype '" + descriptor + "', which is not supported (supported: <f4 <f8 <f2 <i8 <i4 |i1 |u1 |b1)");
    }

    private long[] parseShape(String text) {
        String[] parts = text.split(",");
        long[] dims = new long[parts.length];
        int n = 0;
        for (String part : parts) {
            String p = part.trim();
            if (p.endsWith("L")) {
                p = p.substring(0, p.length() - 1);
            }
            if (p.isEmpty()) {
                continue;
            }
            try {
                dims[n] = Long.parseLong(p);
            } catch (NumberFormatException e) {
                throw bad("has an unreadable shape (" + text.trim() + ")");
            }
            if (dims[n] < 0) {
                throw bad("has a negative dimension in its shape (" + text.trim() + ")");
            }
            n++;
        }
        return Arrays.copyOf(dims, n);
    }

    String name() {
        return name;
    }

    /** Number of entries along the first axis (1 for a 0-d array). */
    long samples() {
        return shape.length == 0 ? 1 : shape[0];
    }

    /** Shape of one entry (the dimensions after the first). */
    long[] sampleShape() {
        return shape.length == 0 ? new long[0] : Arrays.copyOfRange(shape, 1, shape.length);
    }

    int rank() {
        return shape.length;
    }

    /** The whole array (what is left of it) in one host array of the given element type and the array's shape. */
    HostArray readAll(DataType type) {
        HostArray out = HostArray.zeros(type, shape);
        for (int r = 0; hasNext(); r++) {
            readSample(out, r * sampleElements);
        }
        return out;
    }

    int sampleElements() {
        return sampleElements;
    }

    long[] shape() {
        return shape.clone();
    }

    Dtype dtype() {
        return dtype;
    }

    /** Bytes this reader buffers itself (one sample), not counting the stream it reads from. */
    int bufferedBytes() {
        return sampleBytes.capacity();
    }

    boolean hasNext() {
        return samplesRead < samples();
    }

    /** Reads the next sample, converted to the destination's type, into {@code dest} starting at flat index {@code offset}. */
    void readSample(HostArray dest, int offset) {
        fillSample();
        int n = sampleElements;
        sampleBytes.rewind();
        if (dtype == Dtype.F4 && dest.type() == DataType.FLOAT) {
            ((FloatBuffer) dest.buffer()).put(offset, sampleBytes.asFloatBuffer(), 0, n);
        } else if (dtype == Dtype.I8 && dest.type() == DataType.INT64) {
            ((LongBuffer) dest.buffer()).put(offset, sampleBytes.asLongBuffer(), 0, n);
        } else if (dtype == Dtype.I4 && dest.type() == DataType.INT32) {
            ((IntBuffer) dest.buffer()).put(offset, sampleBytes.asIntBuffer(), 0, n);
        } else if (dtype.floating) {
            for (int i = 0; i < n; i++) {
                dest.set(offset + i, floatingAt(i));
            }
        } else {
            for (int i = 0; i < n; i++) {
                dest.setLong(offset + i, integerAt(i));
            }
        }
    }

    /** Reads the next sample of a label array, which holds one integer class index per sample. */
    long readLabel() {
        long index = samplesRead;
        fillSample();
        if (!dtype.floating) {
            return integerAt(0);
        }
        double value = floatingAt(0);
        if (value != Math.rint(value) || Double.isInfinite(value)) {
            throw new ModelPressException(ErrorCode.BAD_DATA, where(), "must hold integer class indices, but sample " + index + " is " + value);
        }
        return (long) value;
    }

    private void fillSample() {
        if (!hasNext()) {
            throw new IllegalStateException("no sample left in " + name);
        }
        try {
            in.readFully(sampleBytes.array(), 0, sampleBytes.capacity());
        } catch (EOFException e) {
            throw bad("is truncated: its header declares " + samples() + " samples but the data ends after " + samplesRead);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.BAD_DATA, where(), "cannot be read after sample " + samplesRead + ": " + e.getMessage(), e);
        }
        samplesRead++;
    }

    private double floatingAt(int i) {
        return switch (dtype) {
            case F4 -> sampleBytes.getFloat(i * 4);
            case F8 -> sampleBytes.getDouble(i * 8);
            case F2 -> Float16.toFloat(sampleBytes.getShort(i * 2));
            default -> integerAt(i);
        };
    }

    private long integerAt(int i) {
        return switch (dtype) {
            case I8 -> sampleBytes.getLong(i * 8);
            case I4 -> sampleBytes.getInt(i * 4);
            case I1 -> sampleBytes.get(i);
            case U1 -> sampleBytes.get(i) & 0xff;
            case B1 -> sampleBytes.get(i) != 0 ? 1 : 0;
            default -> (long) floatingAt(i);
        };
    }

    private String where() {
        return location;
    }

    private ModelPressException bad(String why) {
        return new ModelPressException(ErrorCode.BAD_DATA, where(), why);
    }

    @Override
    public void close() {
        closeQuietly(in);
    }

    private static void closeQuietly(InputStream stream) {
        try {
            stream.close();
        } catch (IOException ignored) {
            // read-only
        }
    }
}
