package io.modelpress.core.prune;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.CalibrationData;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Sentences as MiniLM inputs (input_ids, attention_mask, token_type_ids), batch by batch, for data-driven choices. */
final class TextData implements CalibrationData {
    private final List<String> sentences;
    private final int batch;

    /** The calibration sentences (disjoint from the evaluation ones). */
    static TextData calibration(int batch) {
        List<String> out = new java.util.ArrayList<>();
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("../examples/data/sentences-calib.jsonl"))) {
                if (!line.isBlank()) {
                    out.add(json.readTree(line).get("text").asText());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new TextData(out, batch);
    }

    TextData(List<String> sentences, int batch) {
        this.sentences = List.copyOf(sentences);
        this.batch = batch;
    }

    @Override
    public void forEachBatch(int maxSamples, BatchConsumer consumer) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(ReferenceModels.minilmTokenizer())) {
            int limit = Math.min(maxSamples, sentences.size());
            for (int start = 0; start < limit; start += batch) {
                List<String> part = sentences.subList(start, Math.min(limit, start + batch));
                Encoding[] encodings = part.stream().map(tokenizer::encode).toArray(Encoding[]::new);
                int length = Arrays.stream(encodings).mapToInt(e -> e.getIds().length).max().orElse(1);
                long[] ids = new long[part.size() * length];
                long[] mask = new long[ids.length];
                for (int i = 0; i < part.size(); i++) {
                    long[] e = encodings[i].getIds();
                    System.arraycopy(e, 0, ids, i * length, e.length);
                    Arrays.fill(mask, i * length, i * length + e.length, 1L);
                }
                long[] shape = {part.size(), length};
                Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
                try {
                    feeds.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
                    feeds.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
                    feeds.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape));
                    consumer.accept(feeds, part.size());
                } catch (OrtException e) {
                    throw new IllegalStateException(e);
                } finally {
                    feeds.values().forEach(OnnxTensor::close);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
