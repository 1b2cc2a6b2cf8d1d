package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A mutable ONNX model: the protobuf builder plus where its external data lives. Passes edit {@link #graph()} in
 * place; everything they do not touch (subgraphs, metadata, unknown fields) is carried through unchanged.
 */
public final class OnnxModel {
    private final ModelProto.Builder proto;
    private final ExternalData externalData;
    /** External-data layout as read: location -> tensor refs. Lets the writer copy untouched data files verbatim. */
    private final Map<String, Set<ExternalData.Ref>> sourceLayout;

    OnnxModel(ModelProto.Builder proto, ExternalData externalData, Map<String, Set<ExternalData.Ref>> sourceLayout) {
        this.proto = proto;
        this.externalData = externalData;
        this.sourceLayout = Map.copyOf(sourceLayout);
    }

    /** Reads and validates a model with the default {@link ModelLimits}. */
    public static OnnxModel read(Path file) {
        return ModelReader.read(file, ModelLimits.DEFAULT);
    }

    public static OnnxModel read(Path file, ModelLimits limits) {
        return ModelReader.read(file, limits);
    }

    /** Wraps an in-memory model (which cannot reference external data). */
    public static OnnxModel of(ModelProto model) {
        return new OnnxModel(model.toBuilder(), new ExternalData(null), Map.of());
    }

    /** An independent copy that still resolves the same external data. */
    public OnnxModel copy() {
        return new OnnxModel(proto.build().toBuilder(), externalData, sourceLayout);
    }

    public ModelProto.Builder proto() {
        return proto;
    }

    public GraphProto.Builder graph() {
        return proto.getGraphBuilder();
    }

    public ModelProto build() {
        return proto.build();
    }

    public ExternalData externalData() {
        return externalData;
    }

    Map<String, Set<ExternalData.Ref>> sourceLayout() {
        return sourceLayout;
    }

    /** Writes with the default policy (see {@link ModelWriter}); atomic: a failed write leaves no partial file. */
    public void write(Path file) {
        ModelWriter.write(this, file, ModelWriter.Options.DEFAULT);
    }

    public void write(Path file, ModelWriter.Options options) {
        ModelWriter.write(this, file, options);
    }

    /** The external data files the model's tensors live in (resolved safely), in first-use order. */
    public Set<Path> externalFiles() {
        Set<Path> files = new LinkedHashSet<>();
        Graphs.forEachTensor(proto.getGraph(), (path, owner, tensor) -> {
            if (ExternalData.isExternal(tensor)) {
                files.add(externalData.resolve(ExternalData.refOf(tensor).location(), tensor.getName()));
            }
        });
        return files;
    }

    /** Bytes on disk of a model file plus its external data files. */
    public static long fileBytes(Path model) {
        long total = 0;
        try {
            total += Files.size(model);
            for (Path f : read(model).externalFiles()) {
                total += Files.size(f);
            }
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "file " + model.getFileName(), "cannot be read: " + e.getMessage(), e);
        }
        return total;
    }

    /** The graph's real inputs (initializers listed as inputs by old exporters excluded), with declared shapes. */
    public List<ValueShape> inputs() {
        Set<String> initializers = new HashSet<>();
        graph().getInitializerList().forEach(t -> initializers.add(t.getName()));
        return graph().getInputList().stream().filter(v -> !initializers.contains(v.getName())).map(ValueShape::of).toList();
    }

    public List<ValueShape> outputs() {
        return graph().getOutputList().stream().map(ValueShape::of).toList();
    }

    /** Opset version imported for a domain ("" and "ai.onnx" are the same), or 0 when not imported. */
    public long opset(String domain) {
        for (OperatorSetIdProto opset : proto.getOpsetImportList()) {
            if (opset.getDomain().equals(domain)
                    || (ModelValidator.isDefaultDomain(domain) && ModelValidator.isDefaultDomain(opset.getDomain()))) {
                return opset.getVersion();
            }
        }
        return 0;
    }

    /** Imports a domain at a version, or changes the version of an existing import. */
    public void setOpset(String domain, long version) {
        for (int i = 0; i < proto.getOpsetImportCount(); i++) {
            String d = proto.getOpsetImport(i).getDomain();
            if (d.equals(domain) || (ModelValidator.isDefaultDomain(domain) && ModelValidator.isDefaultDomain(d))) {
                proto.setOpsetImport(i, proto.getOpsetImport(i).toBuilder().setVersion(version));
                return;
            }
        }
        proto.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(domain).setVersion(version));
    }

    // ------------------------------------------------------------ typed access to tensors (inline or external)

    public ByteBuffer bytes(TensorProto tensor) {
        return Tensors.bytes(tensor, externalData);
    }

    public float[] floats(TensorProto tensor) {
        return Tensors.toFloats(tensor, externalData);
    }

    public long[] longs(TensorProto tensor) {
        return Tensors.toLongs(tensor, externalData);
    }

    /** A constant value by name: an initializer of the main graph or the output of a Constant node. */
    public Optional<TensorProto> constant(String valueName) {
        return Weights.find(this, valueName);
    }
}
