package io.modelpress.core;

/**
 * Stable, machine-readable error codes. They travel in CLI JSON output and pipeline StageResults, so existing names
 * must never change meaning. {@link #permanent} says whether retrying the same input can ever succeed.
 */
public enum ErrorCode {
    /** The file is empty. */
    EMPTY_FILE(true),
    /** The bytes are not an ONNX ModelProto. */
    NOT_ONNX(true),
    /** The file ends in the middle of a protobuf message. */
    TRUNCATED(true),
    /** IR version outside what ONNX Runtime and this tool support. */
    UNSUPPORTED_IR_VERSION(true),
    /** Operator-set version outside the supported range, or an operator domain we cannot handle. */
    UNSUPPORTED_OPSET(true),
    /** An operator that the requested pass cannot handle. */
    UNSUPPORTED_OPERATOR(true),
    /** Tensor data whose size does not match its declared shape and type. */
    TENSOR_SHAPE_MISMATCH(true),
    /** A graph that is structurally broken (dangling inputs, duplicate outputs, cycles). */
    INVALID_GRAPH(true),
    /** A configured safety limit (file size, node count, tensor bytes) was exceeded. */
    LIMIT_EXCEEDED(true),
    /** An external-data location that escapes the model's folder (absolute path, "..", symlink). */
    UNSAFE_EXTERNAL_DATA(true),
    /** An external-data file that is missing or shorter than the tensor needs. */
    MISSING_EXTERNAL_DATA(true),
    /** Evaluation or calibration data that does not match the model's inputs. */
    DATA_MISMATCH(true),
    /** A data file that cannot be parsed (npy/npz/IDX/JSONL). */
    BAD_DATA(true),
    /** A recipe that does not validate. */
    BAD_RECIPE(true),
    /** A command-line or API argument that is not acceptable. */
    BAD_ARGUMENT(true),
    /** ONNX Runtime refused to load or run the model. */
    RUNTIME_ERROR(true),
    /** A result fell below a configured quality gate. */
    GATE_FAILED(true),
    /** An I/O failure that may go away on retry (disk, network). */
    IO_ERROR(false),
    /** Anything else: a bug in ModelPress. */
    INTERNAL(false);

    private final boolean permanent;

    ErrorCode(boolean permanent) {
        this.permanent = permanent;
    }

    public boolean permanent() {
        return permanent;
    }
}
