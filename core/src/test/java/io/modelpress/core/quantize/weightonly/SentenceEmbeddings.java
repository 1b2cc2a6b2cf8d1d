package io.modelpress.core.quantize.weightonly;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.Similarity;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Mean-pooled sentence embeddings from a MiniLM-shaped ONNX model (inputs input_ids, attention_mask, token_type_ids;
 * first output the token states), with plain ONNX Runtime - the independent judge of what a pass did to the model.
 */
public final class SentenceEmbeddings implements AutoCloseable {
    public static final Path EVAL_SENTENCES = Path.of("../examples/data/sentences-eval.jsonl");

    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final HuggingFaceTokenizer tokenizer;

    public SentenceEmbeddings(Path model) throws OrtException, IOException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            session = env.createSession(model.toString(), options);
        }
        tokenizer = HuggingFaceTokenizer.newInstance(ReferenceModels.minilmTokenizer());
    }

    public static List<String> sentences(int limit) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<String> out = new ArrayList<>();
        try (BufferedReader reader = Files.newBufferedReader(EVAL_SENTENCES)) {
            for (String line = reader.readLine(); line != null && out.size() < limit; line = reader.readLine()) {
                if (!line.isBlank()) {
                    out.add(json.readTree(line).get("text").asText());
                }
            }
        }
        return out;
    }

    /** One embedding per sentence, computed in batches padded to their longest sentence. */
    public float[][] embed(List<String> sentences, int batch) throws OrtException {
        float[][] out = new float[sentences.size()][];
        for (int start = 0; start < sentences.size(); start += batch) {
            List<String> part = sentences.subList(start, Math.min(sentences.size(), start + batch));
            Encoding[] encodings = part.stream().map(tokenizer::encode).toArray(Encoding[]::new);
            int length = Arrays.stream(encodings).mapToInt(e -> e.getIds().length).max().orElse(1);
            long[] ids = new long[part.size() * length];
            long[] mask = new long[ids.length];
            for (int i = 0; i < part.size(); i++) {
                long[] e = encodings[i].getIds();
                System.arraycopy(e, 0, ids, i * length, e.length);
                Arrays.fill(mask, i * length, i * length + e.length, 1L);
            }
            float[][] pooled = meanPooled(ids, mask, part.size(), length);
            System.arraycopy(pooled, 0, out, start, pooled.length);
        }
        return out;
    }

    private float[][] meanPooled(long[] ids, long[] mask, int batch, int length) throws OrtException {
        long[] shape = {batch, length};
        Map<String, OnnxTensor> feeds = new HashMap<>();
        try {
            feeds.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
            feeds.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
            feeds.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape));
            try (OrtSession.Result result = session.run(feeds)) {
                OnnxTensor states = (OnnxTensor) result.get(0);
                long[] dims = states.getInfo().getShape();
                int hidden = (int) dims[2];
                FloatBuffer data = states.getFloatBuffer();
                float[][] pooled = new float[batch][hidden];
                for (int b = 0; b < batch; b++) {
                    int count = 0;
                    for (int t = 0; t < length; t++) {
                        if (mask[b * length + t] == 0) {
                            continue;
                        }
                        count++;
                        int base = (b * length + t) * hidden;
                        for (int h = 0; h < hidden; h++) {
                            pooled[b][h] += data.get(base + h);
                        }
                    }
                    for (int h = 0; h < hidden; h++) {
                        pooled[b][h] /= Math.max(1, count);
                    }
                }
                return pooled;
            }
        } finally {
            feeds.values().forEach(OnnxTensor::close);
        }
    }

    /** Median milliseconds of one run at {@code batch} x {@code tokens} (all tokens real), after warm-up. */
    public double latencyMillis(int batch, int tokens, int runs) throws OrtException {
        long[] ids = new long[batch * tokens];
        long[] mask = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 1000 + (i * 7919L) % 20000;
            mask[i] = 1;
        }
        double[] times = new double[runs];
        meanPooled(ids, mask, batch, tokens);
        for (int r = 0; r < runs; r++) {
            long t0 = System.nanoTime();
            meanPooled(ids, mask, batch, tokens);
            times[r] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(times);
        return times[runs / 2];
    }

    /** Mean and minimum cosine between matching rows. */
    public static double[] cosines(float[][] reference, float[][] candidate) {
        double sum = 0;
        double min = 1;
        for (int i = 0; i < reference.length; i++) {
            double c = Similarity.cosine(reference[i], candidate[i]);
            sum += c;
            min = Math.min(min, c);
        }
        return new double[] {sum / reference.length, min};
    }

    @Override
    public void close() throws OrtException {
        tokenizer.close();
        session.close();
    }
}
