package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Writes arrays as NumPy .npy files and .npz archives (format 1.0, little-endian, C order), readable by numpy. */
public final class NpyWriter {
    private NpyWriter() {
    }

    public static void writeNpy(Path file, HostArray array) {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            out.write(encode(array));
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "file " + file.getFileName(), "cannot be written: " + e.getMessage(), e);
        }
    }

    /** Writes a .npz archive; {@code compressed} chooses deflate (np.savez_compressed) over stored (np.savez). */
    public static void writeNpz(Path file, Map<String, HostArray> arrays, boolean compressed) {
        try (ZipOutputStream zip = new ZipOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16))) {
            for (Map.Entry<String, HostArray> entry : arrays.entrySet()) {
                byte[] bytes = encode(entry.getValue());
                ZipEntry zipEntry = new ZipEntry(entry.getKey() + ".npy");
                if (compressed) {
                    zipEntry.setMethod(ZipEntry.DEFLATED);
                } else {
                    CRC32 crc = new CRC32();
                    crc.update(bytes);
                    zipEntry.setMethod(ZipEntry.STORED);
                    zipEntry.setSize(bytes.length);
                    zipEntry.setCompressedSize(bytes.length);
                    zipEntry.setCrc(crc.getValue());
                }
                zip.putNextEntry(zipEntry);
                zip.write(bytes);
                zip.closeEntry();
            }
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "file " + file.getFileName(), "cannot be written: " + e.getMessage(), e);
        }
    }

    /** The complete .npy encoding of an array. */
    public static byte[] encode(HostArray array) {
        byte[] header = header(descr(array), array.shape());
        int width = (int) array.type().byteSize(1);
        ByteBuffer out = ByteBuffer.allocate(header.length + array.elementCount() * width).order(ByteOrder.LITTLE_ENDIAN);
        out.put(header);
        for (int i = 0; i < array.elementCount(); i++) {
            switch (array.type()) {
                case FLOAT -> out.putFloat((float) array.get(i));
                case DOUBLE -> out.putDouble(array.get(i));
                case FLOAT16 -> out.putShort(((java.nio.ShortBuffer) array.buffer()).get(i));
                case INT64 -> out.putLong(array.getLong(i));
                case INT32 -> out.putInt((int) array.getLong(i));
                case INT8, UINT8, BOOL -> out.put(((ByteBuffer) array.buffer()).get(i));
                default -> throw new IllegalStateException();
            }
        }
        return out.array();
    }

    /** A version 1.0 header for a C-order array, padded so the data starts at a multiple of 64 bytes. */
    public static byte[] header(String descr, long[] shape) {
        String dims = Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", "));
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + (shape.length == 1 ? "," : "") + "), }";
        int unpadded = 10 + dict.length() + 1;
        int padding = (64 - unpadded % 64) % 64;
        String text = dict + " ".repeat(padding) + "\n";
        ByteBuffer out = ByteBuffer.allocate(10 + text.length()).order(ByteOrder.LITTLE_ENDIAN);
        out.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        out.putShort((short) text.length());
        out.put(text.getBytes(StandardCharsets.US_ASCII));
        return out.array();
    }

    private static String descr(HostArray array) {
        return switch (array.type()) {
            case FLOAT -> "<f4";
            case DOUBLE -> "<f8";
            case FLOAT16 -> "<f2";
            case INT64 -> "<i8";
            case INT32 -> "<i4";
            case INT8 -> "|i1";
            case UINT8 -> "|u1";
            case BOOL -> "|b1";
            default -> throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "array " + array,
                    "has a type NumPy files cannot hold here (" + array.type().displayName() + ")");
        };
    }
}
