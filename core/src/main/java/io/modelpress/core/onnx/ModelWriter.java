package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes models atomically (temp file + rename, so a crash never leaves a half-written model where a good one was).
 *
 * <p>Layout: inline when everything fits in one protobuf; otherwise tensors of at least {@code externalThresholdBytes}
 * go to {@code <file>.data}. External data files that no edit touched are copied verbatim (so an unmodified model is
 * reproduced byte for byte); tensors that changed are packed afresh, large ones aligned for memory mapping.
 */
public final class ModelWriter {
    /** Protobuf cannot serialise 2 GiB; stay well below it. */
    static final long INLINE_LIMIT_BYTES = 1_800_000_000L;
    private static final long ALIGN_THRESHOLD = 1 << 20;
    private static final long LARGE_ALIGNMENT = 1 << 16;
    private static final long SMALL_ALIGNMENT = 64;

    public enum Layout {
        /** External data when the model already had it or is too big to inline; inline otherwise. */
        AUTO,
        /** Everything inside the .onnx file (fails if over the protobuf limit). */
        INLINE,
        /** Tensors of at least the threshold size in {@code <file>.data}. */
        EXTERNAL
    }

    public record Options(Layout layout, long externalThresholdBytes) {
        public static final Options DEFAULT = new Options(Layout.AUTO, 1024);

        public static Options external() {
            return new Options(Layout.EXTERNAL, 1024);
        }
    }

    private ModelWriter() {
    }

    static void write(OnnxModel model, Path file, Options options) {
        Path target = file.toAbsolutePath().normalize();
        Path dir = target.getParent();
        List<Path> pending = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            ModelProto.Builder out = model.build().toBuilder();
            boolean external = switch (options.layout()) {
                case INLINE -> false;
                case EXTERNAL -> true;
                case AUTO -> !ModelReader.layoutOf(out.build()).isEmpty() || inlineBytes(out.build()) > INLINE_LIMIT_BYTES;
            };
            if (external) {
                writeExternal(model, out, target, options.externalThresholdBytes(), pending);
            } else {
                internalize(model, out);
            }
            Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
            pending.add(tmp);
            readableByAll(tmp);
            try (OutputStream stream = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                out.build().writeTo(stream);
            }
            // data files first, the model last: a reader never sees a model whose data is missing
            for (Path data : pending.subList(0, pending.size() - 1)) {
                movePending(data);
            }
            move(tmp, target);
            pending.clear();
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "file " + file.getFileName(), "cannot be written: " + e.getMessage(), e);
        } finally {
            for (Path leftover : pending) {
                try {
                    Files.deleteIfExists(leftover);
                } catch (IOException ignored) {
                    // best effort: the original files were never touched
                }
            }
        }
    }

    /** Temp files are created private (0600); a model is an ordinary file that other users and services may read. */
    private static void readableByAll(Path file) throws IOException {
        if (Files.getFileStore(file).supportsFileAttributeView(java.nio.file.attribute.PosixFileAttributeView.class)) {
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        }
    }

    private static long inlineBytes(ModelProto proto) {
        long[] total = {0};
        Graphs.forEachTensor(proto.getGraph(), (p, o, t) -> total[0] += Math.max(0, Tensors.expectedBytes(t)));
        return total[0];
    }

    private static void internalize(OnnxModel model, ModelProto.Builder out) {
        long total = inlineBytes(out.build());
        if (total > INLINE_LIMIT_BYTES) {
            throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, "model", "its tensors (" + total
                    + " bytes) cannot be stored inside one .onnx file (2 GiB protobuf limit); write it with external data");
        }
        Graphs.rewriteTensors(out.getGraphBuilder(), t -> {
            if (!ExternalData.isExternal(t)) {
                return t;
            }
            ByteBuffer data = model.bytes(t);
            return t.toBuilder().clearExternalData().clearDataLocation()
                    .setRawData(com.google.protobuf.ByteString.copyFrom(data)).build();
        });
    }

    /** Pending data files carry a suffix so that the final rename is the last step. */
    private static final String PENDING = ".pending";

    private static void writeExternal(OnnxModel model, ModelProto.Builder out, Path target, long threshold, List<Path> pending)
            throws IOException {
        Path dir = target.getParent();
        String dataName = target.getFileName() + ".data";
        Map<String, Set<ExternalData.Ref>> current = ModelReader.layoutOf(out.build());
        Set<String> intact = new HashSet<>();
        for (var entry : current.entrySet()) {
            String location = entry.getKey();
            if (entry.getValue().equals(model.sourceLayout().get(location)) && !location.equals(dataName)) {
                intact.add(location);
            }
        }
        Path sourceDir = model.externalData().baseDir();
        for (String location : intact) {
            Path source = model.externalData().resolve(location, location);
            Path copy = dir.resolve(location).normalize();
            if (sourceDir != null && !source.equals(copy.toAbsolutePath())) {
                Files.createDirectories(copy.getParent());
                Path tmp = copy.resolveSibling(copy.getFileName() + PENDING);
                Files.copy(source, tmp, StandardCopyOption.REPLACE_EXISTING);
                pending.add(tmp);
            }
        }
        Path dataTmp = dir.resolve(dataName + PENDING);
        pending.add(dataTmp);
        boolean[] used = {false};
        try (FileChannel channel = FileChannel.open(dataTmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            Graphs.rewriteTensors(out.getGraphBuilder(), t -> {
                if (ExternalData.isExternal(t) && intact.contains(ExternalData.refOf(t).location())) {
                    return t;
                }
                long size = Tensors.expectedBytes(t);
                if (DataType.of(t) == DataType.STRING || (!ExternalData.isExternal(t) && size < threshold)) {
                    return t;
                }
                used[0] = true;
                return append(model, channel, t, dataName);
            });
        }
        if (!used[0]) {
            pending.remove(dataTmp);
            Files.deleteIfExists(dataTmp);
        }
    }

    private static TensorProto append(OnnxModel model, FileChannel channel, TensorProto tensor, String dataName) {
        try {
            ByteBuffer data = model.bytes(tensor).duplicate();
            long length = data.remaining();
            long alignment = length >= ALIGN_THRESHOLD ? LARGE_ALIGNMENT : SMALL_ALIGNMENT;
            long offset = (channel.size() + alignment - 1) / alignment * alignment;
            long position = offset;
            while (data.hasRemaining()) {
                position += channel.write(data, position);
            }
            return tensor.toBuilder().clearRawData().clearFloatData().clearInt32Data().clearInt64Data()
                    .clearDoubleData().clearUint64Data().clearExternalData()
                    .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                    .addExternalData(entry("location", dataName))
                    .addExternalData(entry("offset", Long.toString(offset)))
                    .addExternalData(entry("length", Long.toString(length)))
                    .build();
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "tensor '" + tensor.getName() + "'",
                    "cannot be written to " + dataName + ": " + e.getMessage(), e);
        }
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    private static void movePending(Path pendingFile) throws IOException {
        String name = pendingFile.getFileName().toString();
        move(pendingFile, pendingFile.resolveSibling(name.substring(0, name.length() - PENDING.length())));
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

}
