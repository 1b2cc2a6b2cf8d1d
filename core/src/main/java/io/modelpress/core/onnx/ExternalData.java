package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Tensor data kept outside the .onnx file. Locations are resolved against the model's folder and must stay inside it:
 * absolute paths, ".." segments and symbolic links that lead out of the folder are refused, because a model is
 * untrusted input and must not make us read (or later overwrite) arbitrary files.
 */
public final class ExternalData {
    /** A tensor's external reference; length is -1 when the file's remainder holds the data. */
    public record Ref(String location, long offset, long length) {
    }

    private final Path baseDir;

    /** @param baseDir the folder holding the .onnx file; null for models that have no folder (in memory). */
    public ExternalData(Path baseDir) {
        this.baseDir = baseDir == null ? null : baseDir.toAbsolutePath().normalize();
    }

    public Path baseDir() {
        return baseDir;
    }

    public static boolean isExternal(TensorProto tensor) {
        return tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
    }

    public static Ref refOf(TensorProto tensor) {
        String location = null;
        long offset = 0;
        long length = -1;
        for (StringStringEntryProto entry : tensor.getExternalDataList()) {
            switch (entry.getKey()) {
                case "location" -> location = entry.getValue();
                case "offset" -> offset = parseNonNegative(tensor, "offset", entry.getValue());
                case "length" -> length = parseNonNegative(tensor, "length", entry.getValue());
                default -> {
                    // "checksum" and unknown keys carry no layout information
                }
            }
        }
        if (location == null || location.isEmpty()) {
            throw new ModelPressException(ErrorCode.MISSING_EXTERNAL_DATA, "tensor '" + tensor.getName() + "'",
                    "stored externally but has no 'location'");
        }
        return new Ref(location, offset, length);
    }

    private static long parseNonNegative(TensorProto tensor, String key, String value) {
        try {
            long parsed = Long.parseLong(value.trim());
            if (parsed >= 0) {
                return parsed;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new ModelPressException(ErrorCode.MISSING_EXTERNAL_DATA, "tensor '" + tensor.getName() + "'",
                "external data " + key + " '" + value + "' is not a non-negative integer");
    }

    /** Resolves a location safely, or throws {@link ErrorCode#UNSAFE_EXTERNAL_DATA}. The file must exist. */
    public Path resolve(String location, String tensorName) {
        String where = "tensor '" + tensorName + "'";
        if (baseDir == null) {
            throw new ModelPressException(ErrorCode.MISSING_EXTERNAL_DATA, where,
                    "external data '" + location + "' cannot be resolved for a model that was not read from a file");
        }
        if (location.indexOf('\0') >= 0 || location.contains("\\") || location.matches("^[A-Za-z]:.*")) {
            throw unsafe(where, location, "contains a backslash, NUL or drive letter");
        }
        Path relative;
        try {
            relative = Path.of(location);
        } catch (RuntimeException e) {
            throw unsafe(where, location, "is not a valid path");
        }
        if (relative.isAbsolute()) {
            throw unsafe(where, location, "is an absolute path");
        }
        for (Path part : relative) {
            if (part.toString().equals("..")) {
                throw unsafe(where, location, "contains '..'");
            }
        }
        Path candidate = baseDir.resolve(relative).normalize();
        if (!Files.exists(candidate, LinkOption.NOFOLLOW_LINKS) && !Files.exists(candidate)) {
            throw new ModelPressException(ErrorCode.MISSING_EXTERNAL_DATA, where,
                    "external data file '" + location + "' does not exist next to the model");
        }
        try {
            Path realBase = baseDir.toRealPath();
            Path real = candidate.toRealPath();
            if (!real.startsWith(realBase)) {
                throw unsafe(where, location, "leads outside the model's folder (symbolic link)");
            }
            if (!Files.isRegularFile(real)) {
                throw unsafe(where, location, "is not a regular file");
            }
            return real;
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.MISSING_EXTERNAL_DATA, where,
                    "external data file '" + location + "' cannot be read: " + e.getMessage(), e);
        }
    }

    private static ModelPressException unsafe(String where, String location, String why) {
        return new ModelPressException(ErrorCode.UNSAFE_EXTERNAL_DATA, where,
                "external data location '" + location + "' " + why + "; locations must be relative paths inside the model's folder");
    }

    /**
     * Checks that the tensor's external bytes exist and have the expected size, without reading them.
     *
     * @param expectedBytes the size implied by the tensor's type and shape
     */
    public void check(TensorProto tensor, long expectedBytes) {
        Ref ref = refOf(tensor);
        Path file = resolve(ref.location(), tensor.getName());
        long fileSize = sizeOf(file, tensor.getName());
        long length = ref.length() >= 0 ? ref.length() : fileSize - ref.offset();
        String where = "tensor '" + tensor.getName() + "'";
        if (ref.offset() > fileSize || length > fileSize - ref.offset()) {
            throw new ModelPressException(ErrorCode.MISSING_EXTERNAL_DATA, where, "external data '" + ref.location()
                    + "' is " + fileSize + " bytes, too short for offset " + ref.offset() + " + length " + length);
        }
        if (expectedBytes >= 0 && length != expectedBytes) {
            throw new ModelPressException(ErrorCode.TENSOR_SHAPE_MISMATCH, where, "external data holds " + length
                    + " bytes but the declared type and shape need " + expectedBytes);
        }
    }

    /** Maps the tensor's bytes read-only, little-endian. */
    public ByteBuffer read(TensorProto tensor, long expectedBytes) {
        check(tensor, expectedBytes);
        Ref ref = refOf(tensor);
        Path file = resolve(ref.location(), tensor.getName());
        long length = ref.length() >= 0 ? ref.length() : sizeOf(file, tensor.getName()) - ref.offset();
        if (length > Integer.MAX_VALUE) {
            throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, "tensor '" + tensor.getName() + "'",
                    "a single tensor of " + length + " bytes is larger than 2 GiB, which this JVM cannot address");
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return channel.map(FileChannel.MapMode.READ_ONLY, ref.offset(), length).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "tensor '" + tensor.getName() + "'",
                    "cannot read external data '" + ref.location() + "': " + e.getMessage(), e);
        }
    }

    private static long sizeOf(Path file, String tensorName) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "tensor '" + tensorName + "'",
                    "cannot read external data file " + file.getFileName() + ": " + e.getMessage(), e);
        }
    }
}
