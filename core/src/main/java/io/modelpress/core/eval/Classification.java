package io.modelpress.core.eval;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.HostArray;

/**
 * Top-1 accuracy against labels and agreement with a reference, from one "class" output: either scores per class
 * ([batch, classes], or any shape whose per-sample values all lie on the last axis; prediction = argmax) or one integer
 * class index per sample. Counts only, so memory stays flat.
 */
final class Classification {
    private final String output;
    private final String referenceOutput;
    private final boolean chosenByUser;
    private boolean applicable = true;
    private String whyNot;
    private boolean sawLabels;
    private long labelled;
    private long correct;
    private long referenceCorrect;
    private long compared;
    private long agreeing;

    Classification(String output, String referenceOutput, boolean chosenByUser) {
        this.output = output;
        this.referenceOutput = referenceOutput;
        this.chosenByUser = chosenByUser;
    }

    String output() {
        return output;
    }

    /** Why accuracy and agreement were skipped, or null. */
    String whyNot() {
        return whyNot;
    }

    void add(HostArray modelOut, HostArray referenceOut, long[] labels, int batch) {
        sawLabels |= labels != null;
        if (!applicable) {
            return;
        }
        long[] predicted = predictions(modelOut, batch);
        long[] referencePredicted = referenceOut == null ? null : predictions(referenceOut, batch);
        if (predicted == null || (referenceOut != null && referencePredicted == null)) {
            String reason = "output '" + (predicted == null ? output : referenceOutput) + "' of shape "
                    + HostArray.shapeString((predicted == null ? modelOut : referenceOut).shape())
                    + " holds neither class scores [batch, classes] nor one class index per sample";
            if (chosenByUser) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "accuracy output", reason);
            }
            applicable = false;
            whyNot = "no accuracy or agreement: " + reason;
            return;
        }
        if (labels != null) {
            long classes = classes(modelOut);
            for (int s = 0; s < batch; s++) {
                if (classes > 0 && (labels[s] < 0 || labels[s] >= classes)) {
                    throw new ModelPressException(ErrorCode.DATA_MISMATCH, "label of sample " + (labelled + s),
                            "is " + labels[s] + ", not one of the " + classes + " classes of output '" + output + "'");
                }
                correct += predicted[s] == labels[s] ? 1 : 0;
                if (referencePredicted != null) {
                    referenceCorrect += referencePredicted[s] == labels[s] ? 1 : 0;
                }
            }
            labelled += batch;
        }
        if (referencePredicted != null) {
            for (int s = 0; s < batch; s++) {
                agreeing += predicted[s] == referencePredicted[s] ? 1 : 0;
            }
            compared += batch;
        }
    }

    /** Number of classes of a score output, or 0 for an output of class indices. */
    private static long classes(HostArray out) {
        return out.type().isFloatingPoint() ? out.dim(out.rank() - 1) : 0;
    }

    /** One predicted class per sample, or null when the output does not hold classes. */
    static long[] predictions(HostArray out, int batch) {
        if (out.rank() == 0 || out.dim(0) != batch) {
            return null;
        }
        int perSample = out.elementCount() / batch;
        long[] predicted = new long[batch];
        if (!out.type().isFloatingPoint()) {
            if (perSample != 1) {
                return null;
            }
            for (int s = 0; s < batch; s++) {
                predicted[s] = out.getLong(s);
            }
            return predicted;
        }
        if (out.rank() < 2 || perSample != out.dim(out.rank() - 1) || perSample < 2) {
            return null;
        }
        for (int s = 0; s < batch; s++) {
            int best = 0;
            double bestValue = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < perSample; c++) {
                double v = out.get(s * perSample + c);
                if (v > bestValue) {
                    bestValue = v;
                    best = c;
                }
            }
            predicted[s] = best;
        }
        return predicted;
    }

    /** True when labels were seen (accuracy was asked for, whether or not it could be computed). */
    boolean labelled() {
        return sawLabels;
    }

    Double accuracy() {
        return applicable && labelled > 0 ? (double) correct / labelled : null;
    }

    Double referenceAccuracy() {
        return applicable && labelled > 0 && compared > 0 ? (double) referenceCorrect / labelled : null;
    }

    Double agreement() {
        return applicable && compared > 0 ? (double) agreeing / compared : null;
    }
}
