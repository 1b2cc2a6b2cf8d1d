package io.modelpress.core.quantize.dynamic;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.eval.Similarity;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Mean-pooled (attention-mask weighted) sentence embeddings from an encoder's first output, with plain ORT calls. */
final class Embeddings {
    private Embeddings() {
    }

    record Fidelity(double mean, double min) {
    }

    static OrtSession session(Path model, int threads) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            return OrtEnvironment.getEnvironment().createSession(model.toString(), options);
        }
    }

    static List<float[]> embed(Path model, List<Sentences.Batch> batches) {
        try (OrtSession session = session(model, 1)) {
            return embed(session, batches);
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed on " + model + ": " + e.getMessage(), e);
        }
    }

    static List<float[]> embed(OrtSession session, List<Sentences.Batch> batches) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<float[]> out = new ArrayList<>();
        for (Sentences.Batch batch : batches) {
            Map<String, OnnxTensor> feeds = batch.feeds(env, session.getInputNames());
            try (OrtSession.Result result = session.run(feeds)) {
                OnnxTensor hidden = (OnnxTensor) result.get(0);
                long[] shape = hidden.getInfo().getShape();
                int tokens = (int) shape[1];
                int dim = (int) shape[2];
                FloatBuffer values = hidden.getFloatBuffer();
                for (int b = 0; b < batch.size(); b++) {
                    float[] pooled = new float[dim];
                    float count = 0;
                    for (int t = 0; t < tokens; t++) {
                        long m = batch.mask()[b][t];
                        if (m == 0) {
                            continue;
                        }
                        count += m;
                        int base = (b * tokens + t) * dim;
                        for (int d = 0; d < dim; d++) {
                            pooled[d] += values.get(base + d) * m;
                        }
                    }
                    for (int d = 0; d < dim; d++) {
                        pooled[d] /= Math.max(count, 1e-9f);
                    }
                    out.add(pooled);
                }
            } finally {
                feeds.values().forEach(OnnxTensor::close);
            }
        }
        return out;
    }

    static Fidelity compare(List<float[]> reference, List<float[]> candidate) {
        double sum = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < reference.size(); i++) {
            double c = Similarity.cosine(reference.get(i), candidate.get(i));
            sum += c;
            min = Math.min(min, c);
        }
        return new Fidelity(sum / reference.size(), min);
    }
}
