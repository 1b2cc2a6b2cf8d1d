package io.modelpress.core.quantize.weightonly;

/**
 * How a weight is split and stored: unsigned {@code bits}-wide codes, one scale (and zero point) per block of
 * {@code blockSize} consecutive values along the reduction axis. Symmetric blocks use the fixed mid-range zero point
 * 2^(bits-1), which ONNX Runtime assumes when no zero points are stored.
 */
public record BlockFormat(int bits, int blockSize, boolean symmetric) {
    public BlockFormat {
        if (bits != 4 && bits != 8) {
            throw new IllegalArgumentException("bits must be 4 or 8, not " + bits);
        }
        if (blockSize < 16 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two of at least 16, not " + blockSize);
        }
    }

    public int maxCode() {
        return (1 << bits) - 1;
    }

    public int symmetricZeroPoint() {
        return 1 << (bits - 1);
    }

    public String describe() {
        return "int" + bits + " blocks of " + blockSize + (symmetric ? " symmetric" : " asymmetric");
    }
}
