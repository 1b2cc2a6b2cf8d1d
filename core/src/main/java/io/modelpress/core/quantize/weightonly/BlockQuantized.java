package io.modelpress.core.quantize.weightonly;

/**
 * A block-quantized weight: {@code lines} rows of {@code lineLength} values, each line cut into blocks of
 * {@code format.blockSize()} values along its length (the last block padded). Codes are unsigned; a value is
 * {@code (code - zeroPoint) * scale} of its block.
 *
 * @param codes      lines x blocksPerLine x blockSize unsigned codes (padding holds the block's zero point)
 * @param scales     lines x blocksPerLine
 * @param zeroPoints lines x blocksPerLine unsigned zero points
 */
public record BlockQuantized(BlockFormat format, int lines, int lineLength, byte[] codes, float[] scales, byte[] zeroPoints) {
    public BlockQuantized {
        int blocks = blocksPerLine(lineLength, format.blockSize());
        if (codes.length != (long) lines * blocks * format.blockSize() || scales.length != lines * blocks
                || zeroPoints.length != scales.length) {
            throw new IllegalArgumentException("inconsistent block-quantized sizes");
        }
    }

    public static int blocksPerLine(int lineLength, int blockSize) {
        return (lineLength + blockSize - 1) / blockSize;
    }

    public int blocksPerLine() {
        return blocksPerLine(lineLength, format.blockSize());
    }

    public int code(int line, int index) {
        return codes[paddedIndex(line, index)] & 0xff;
    }

    public float dequantized(int line, int index) {
        int block = line * blocksPerLine() + index / format.blockSize();
        return (code(line, index) - (zeroPoints[block] & 0xff)) * scales[block];
    }

    private int paddedIndex(int line, int index) {
        return line * blocksPerLine() * format.blockSize() + index;
    }

    /**
     * Codes packed {@code bits} at a time, low bits first, line after line. With {@code padded}, every line holds
     * whole blocks (MatMulNBits' B: [lines, blocks, blockSize * bits / 8]); without, exactly {@code lineLength}
     * codes (GatherBlockQuantized's data: [lines, lineLength * bits / 8]).
     */
    public byte[] packedCodes(boolean padded) {
        int perLine = padded ? blocksPerLine() * format.blockSize() : lineLength;
        return pack(lines, perLine, (line, i) -> code(line, i));
    }

    /** Zero points packed like the codes: [lines, ceil(blocksPerLine * bits / 8)]. */
    public byte[] packedZeroPoints() {
        int blocks = blocksPerLine();
        return pack(lines, blocks, (line, b) -> zeroPoints[line * blocks + b] & 0xff);
    }

    private interface Code {
        int at(int line, int index);
    }

    private byte[] pack(int lineCount, int perLine, Code code) {
        int bits = format.bits();
        int bytesPerLine = (perLine * bits + 7) / 8;
        byte[] out = new byte[lineCount * bytesPerLine];
        for (int line = 0; line < lineCount; line++) {
            for (int i = 0; i < perLine; i++) {
                int v = code.at(line, i);
                int at = line * bytesPerLine;
                if (bits == 8) {
                    out[at + i] = (byte) v;
                } else {
                    out[at + i / 2] |= (byte) (i % 2 == 0 ? v : v << 4);
                }
            }
        }
        return out;
    }
}
