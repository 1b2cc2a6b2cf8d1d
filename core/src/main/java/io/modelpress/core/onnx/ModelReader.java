package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** Parses .onnx files defensively: limits first, then protobuf, then {@link ModelValidator}. */
final class ModelReader {
    private ModelReader() {
    }

    static OnnxModel read(Path file, ModelLimits limits) {
        String where = "file " + file.getFileName();
        long size;
        try {
            if (Files.isDirectory(file)) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "is a directory, not an .onnx file");
            }
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "does not exist");
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, where, "cannot be read: " + e.getMessage(), e);
        }
        if (size == 0) {
            throw new ModelPressException(ErrorCode.EMPTY_FILE, where, "is empty (0 bytes), not an ONNX model");
        }
        if (size > limits.maxFileBytes()) {
            throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, where, "is " + size + " bytes, more than the limit of "
                    + limits.maxFileBytes() + "; models this large must keep their weights in external data files");
        }
        ModelProto proto;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            CodedInputStream coded = CodedInputStream.newInstance(in);
            // Never accept more bytes than the file has: a hostile length prefix then fails as truncated
            // instead of making protobuf allocate for it.
            coded.setSizeLimit((int) Math.min(Integer.MAX_VALUE, size));
            proto = ModelProto.parseFrom(coded);
        } catch (InvalidProtocolBufferException e) {
            throw classify(where, e);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, where, "cannot be read: " + e.getMessage(), e);
        }
        requireModelShape(where, proto);
        Path dir = file.toAbsolutePath().getParent();
        ExternalData external = new ExternalData(dir);
        ModelValidator.validate(proto, external, limits);
        return new OnnxModel(proto.toBuilder(), external, layoutOf(proto));
    }

    private static ModelPressException classify(String where, InvalidProtocolBufferException e) {
        String message = String.valueOf(e.getMessage());
        if (message.contains("ended unexpectedly") || message.contains("truncated") || message.contains("size limit")) {
            return new ModelPressException(ErrorCode.TRUNCATED, where,
                    "is truncated: the ONNX data ends in the middle of a record (incomplete upload or copy?)", e);
        }
        if (message.contains("recursion")) {
            return new ModelPressException(ErrorCode.LIMIT_EXCEEDED, where, "nests subgraphs too deeply to be parsed safely", e);
        }
        return new ModelPressException(ErrorCode.NOT_ONNX, where, "is not an ONNX model (not a valid ONNX protobuf: " + message + ")", e);
    }

    /** Random bytes occasionally parse as a protobuf of unknown fields; a real model has a graph and versions. */
    private static void requireModelShape(String where, ModelProto proto) {
        if (!proto.hasGraph() && proto.getIrVersion() == 0) {
            throw new ModelPressException(ErrorCode.NOT_ONNX, where, "is not an ONNX model (no graph and no IR version)");
        }
        if (!proto.hasGraph()) {
            throw new ModelPressException(ErrorCode.TRUNCATED, where, "has no graph: the file is incomplete or not an ONNX model");
        }
        if (proto.getOpsetImportCount() == 0) {
            throw new ModelPressException(ErrorCode.TRUNCATED, where,
                    "declares no operator sets: the file is incomplete (truncated?) or not a valid ONNX model");
        }
    }

    static Map<String, Set<ExternalData.Ref>> layoutOf(ModelProto proto) {
        Map<String, Set<ExternalData.Ref>> layout = new HashMap<>();
        Graphs.forEachTensor(proto.getGraph(), (path, owner, tensor) -> {
            if (ExternalData.isExternal(tensor)) {
                ExternalData.Ref ref = ExternalData.refOf(tensor);
                layout.computeIfAbsent(ref.location(), k -> new HashSet<>()).add(ref);
            }
        });
        return layout;
    }
}
