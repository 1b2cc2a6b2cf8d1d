package io.modelpress.core.quantize.dynamic;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.eval.CalibrationData;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sentences from the example JSONL files, tokenized for BERT-style encoders (input_ids, attention_mask,
 * token_type_ids), in padded batches. Test and benchmark plumbing only: the project's evaluator lives elsewhere.
 */
final class Sentences {
    static final int MAX_TOKENS = 128;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One padded batch: rows of equal length. */
    record Batch(long[][] ids, long[][] mask, long[][] types) {
        int size() {
            return ids.length;
        }

        int length() {
            return ids[0].length;
        }

        /** Feeds for whichever of the three inputs the model has; the caller closes them. */
        Map<String, OnnxTensor> feeds(OrtEnvironment env, java.util.Collection<String> inputNames) throws OrtException {
            Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
            for (String name : inputNames) {
                long[][] data = switch (name) {
                    case "input_ids" -> ids;
                    case "attention_mask" -> mask;
                    case "token_type_ids" -> types;
                    default -> throw new IllegalArgumentException("model input '" + name + "' is not a BERT text input");
                };
                feeds.put(name, tensor(env, data));
            }
            return feeds;
        }

        private static OnnxTensor tensor(OrtEnvironment env, long[][] rows) throws OrtException {
            LongBuffer buffer = LongBuffer.allocate(rows.length * rows[0].length);
            for (long[] row : rows) {
                buffer.put(row);
            }
            return OnnxTensor.createTensor(env, buffer.flip(), new long[] {rows.length, rows[0].length});
        }
    }

    private Sentences() {
    }

    static Path exampleFile(String name) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir.resolve("examples/data"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("examples/data not found above " + Path.of("").toAbsolutePath());
        }
        return dir.resolve("examples/data").resolve(name);
    }

    static List<String> read(String fileName, int limit) {
        List<String> texts = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(exampleFile(fileName))) {
                if (!line.isBlank() && texts.size() < limit) {
                    texts.add(JSON.readTree(line).get("text").asText());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return texts;
    }

    static HuggingFaceTokenizer tokenizer() {
        try {
            return HuggingFaceTokenizer.builder().optTokenizerPath(ReferenceModels.minilmTokenizer())
                    .optMaxLength(MAX_TOKENS).optTruncation(true).optPadding(true).build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Batches of at most {@code batchSize} sentences, each padded to its longest sentence. */
    static List<Batch> batches(List<String> texts, int batchSize) {
        List<Batch> batches = new ArrayList<>();
        try (HuggingFaceTokenizer tokenizer = tokenizer()) {
            for (int from = 0; from < texts.size(); from += batchSize) {
                Encoding[] encodings = tokenizer.batchEncode(texts.subList(from, Math.min(texts.size(), from + batchSize)));
                long[][] ids = new long[encodings.length][];
                long[][] mask = new long[encodings.length][];
                long[][] types = new long[encodings.length][];
                for (int i = 0; i < encodings.length; i++) {
                    ids[i] = encodings[i].getIds();
                    mask[i] = encodings[i].getAttentionMask();
                    types[i] = encodings[i].getTypeIds();
                }
                batches.add(new Batch(ids, mask, types));
            }
        }
        return batches;
    }

    /** A fixed-shape batch of real tokens without padding, for latency: sentences joined until each row is full. */
    static Batch fullBatch(List<String> texts, int rows, int tokens) {
        long[][] ids = new long[rows][tokens];
        long[][] mask = new long[rows][tokens];
        long[][] types = new long[rows][tokens];
        try (HuggingFaceTokenizer tokenizer = tokenizer()) {
            int next = 0;
            for (int r = 0; r < rows; r++) {
                int filled = 0;
                while (filled < tokens) {
                    long[] sentence = tokenizer.encode(texts.get(next++ % texts.size())).getIds();
                    int n = Math.min(sentence.length, tokens - filled);
                    System.arraycopy(sentence, 0, ids[r], filled, n);
                    filled += n;
                }
                java.util.Arrays.fill(mask[r], 1);
            }
        }
        return new Batch(ids, mask, types);
    }

    /** Calibration data over pre-tokenized batches, for the model inputs given. */
    static CalibrationData calibration(List<Batch> batches, java.util.Collection<String> inputNames) {
        return (maxSamples, consumer) -> {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            int used = 0;
            for (Batch batch : batches) {
                if (used >= maxSamples) {
                    break;
                }
                Batch part = batch;
                if (used + batch.size() > maxSamples) {
                    int n = maxSamples - used;
                    part = new Batch(java.util.Arrays.copyOf(batch.ids(), n), java.util.Arrays.copyOf(batch.mask(), n),
                            java.util.Arrays.copyOf(batch.types(), n));
                }
                Map<String, OnnxTensor> feeds = null;
                try {
                    feeds = part.feeds(env, inputNames);
                    consumer.accept(feeds, part.size());
                } catch (OrtException e) {
                    throw new IllegalStateException(e);
                } finally {
                    if (feeds != null) {
                        feeds.values().forEach(OnnxTensor::close);
                    }
                }
                used += part.size();
            }
        };
    }
}
