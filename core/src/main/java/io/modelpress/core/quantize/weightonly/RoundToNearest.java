package io.modelpress.core.quantize.weightonly;

/**
 * Round-to-nearest per block. Every value rounds to its nearest code; what is chosen per block is the range the codes
 * cover. The full range (min..max, or +-absmax when symmetric) wastes resolution on a block's one or two largest
 * values, so by default a few narrower ranges are tried as well and the one with the least squared error wins
 * (clipping search, as llama.cpp and AWQ do). The search needs no data and the result stays a plain RTN encoding.
 */
public final class RoundToNearest implements BlockRounding {
    /** Fractions of the full range that are tried. */
    private static final float[] RANGE_FRACTIONS = rangeFractions();

    private final boolean searchRange;

    /** Round-to-nearest with the clipping search. */
    public RoundToNearest() {
        this(true);
    }

    /** @param searchRange false for the plain min/max range */
    public RoundToNearest(boolean searchRange) {
        this.searchRange = searchRange;
    }

    private static float[] rangeFractions() {
        float[] f = new float[21];
        for (int i = 0; i < f.length; i++) {
            f[i] = 1f - 0.02f * i; // 1.00 down to 0.60
        }
        return f;
    }

    @Override
    public BlockQuantized quantize(String weightName, float[] values, int lines, int lineLength, BlockFormat format) {
        int blockSize = format.blockSize();
        int blocks = BlockQuantized.blocksPerLine(lineLength, blockSize);
        byte[] codes = new byte[Math.multiplyExact(lines * blocks, blockSize)];
        float[] scales = new float[lines * blocks];
        byte[] zeroPoints = new byte[lines * blocks];
        float[] block = new float[blockSize];
        int[] best = new int[blockSize];
        int[] trial = new int[blockSize];
        for (int line = 0; line < lines; line++) {
            for (int b = 0; b < blocks; b++) {
                int start = b * blockSize;
                int n = Math.min(blockSize, lineLength - start);
                System.arraycopy(values, line * lineLength + start, block, 0, n);
                int index = line * blocks + b;
                float bestError = Float.POSITIVE_INFINITY;
                int fractions = searchRange ? RANGE_FRACTIONS.length : 1;
                for (int f = 0; f < fractions; f++) {
                    Params p = params(block, n, RANGE_FRACTIONS[f], format);
                    float error = round(block, n, p, format, trial);
                    if (error < bestError) {
                        bestError = error;
                        scales[index] = p.scale;
                        zeroPoints[index] = (byte) p.zeroPoint;
                        System.arraycopy(trial, 0, best, 0, n);
                    }
                }
                int base = index * blockSize;
                for (int i = 0; i < blockSize; i++) {
                    // padding decodes to exactly zero
                    codes[base + i] = (byte) (i < n ? best[i] : zeroPoints[index]);
                }
            }
        }
        return new BlockQuantized(format, lines, lineLength, codes, scales, zeroPoints);
    }

    private record Params(float scale, int zeroPoint) {
    }

    private static Params params(float[] block, int n, float fraction, BlockFormat format) {
        float min = 0;
        float max = 0;
        for (int i = 0; i < n; i++) {
            min = Math.min(min, block[i]);
            max = Math.max(max, block[i]);
        }
        min *= fraction;
        max *= fraction;
        if (format.symmetric()) {
            float absMax = Math.max(-min, max);
            int limit = format.symmetricZeroPoint() - 1;
            return new Params(absMax == 0 ? 1f : absMax / limit, format.symmetricZeroPoint());
        }
        float span = max - min;
        if (span == 0) {
            return new Params(1f, 0);
        }
        float scale = span / format.maxCode();
        int zeroPoint = Math.max(0, Math.min(format.maxCode(), Math.round(-min / scale)));
        return new Params(scale, zeroPoint);
    }

    /** Codes for the block and their squared error. */
    private static float round(float[] block, int n, Params p, BlockFormat format, int[] codes) {
        float error = 0;
        float inverse = 1f / p.scale;
        for (int i = 0; i < n; i++) {
            int q = Math.max(0, Math.min(format.maxCode(), Math.round(block[i] * inverse) + p.zeroPoint));
            codes[i] = q;
            float d = block[i] - (q - p.zeroPoint) * p.scale;
            error += d * d;
        }
        return error;
    }

    @Override
    public String name() {
        return searchRange ? "rtn with clipping search" : "rtn";
    }
}
