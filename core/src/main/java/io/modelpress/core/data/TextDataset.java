package io.modelpress.core.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Text samples from a JSON Lines file, one object per line: {@code {"text": "...", "label": 3}} (label optional, but
 * on every line or none). Texts are tokenized with a HuggingFace {@code tokenizer.json} (DJL, offline), truncated to
 * the maximum length and padded to the longest text of each batch (or to the model's fixed sequence length). The
 * model inputs produced are those the model names: {@code input_ids}, {@code attention_mask},
 * {@code token_type_ids}, {@code position_ids}, each as int64 or int32 as declared.
 */
final class TextDataset implements Dataset {
    static final String INPUT_IDS = "input_ids";
    static final String ATTENTION_MASK = "attention_mask";
    static final String TOKEN_TYPE_IDS = "token_type_ids";
    static final String POSITION_IDS = "position_ids";
    private static final Set<String> PRODUCIBLE = Set.of(INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS, POSITION_IDS);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One parsed line. */
    private record Sample(String text, Long label) {
    }

    private final String fileName;
    private final BufferedReader reader;
    private final HuggingFaceTokenizer tokenizer;
    private final List<ValueShape> modelInputs;
    private final boolean hasLabels;
    private Sample pending;
    private int lineNumber;
    /** Line number of the first sample, to name it when later lines disagree about labels. */
    private final int firstLine;

    private TextDataset(String fileName, BufferedReader reader, HuggingFaceTokenizer tokenizer, List<ValueShape> modelInputs) {
        this.fileName = fileName;
        this.reader = reader;
        this.tokenizer = tokenizer;
        this.modelInputs = modelInputs;
        this.pending = readSample(null);
        this.firstLine = lineNumber;
        this.hasLabels = pending != null && pending.label() != null;
    }

    static Dataset open(Path file, List<ValueShape> modelInputs, Path tokenizerFile, int maxTokens) {
        String fileName = file.getFileName().toString();
        if (modelInputs.stream().noneMatch(i -> i.name().equals(INPUT_IDS))) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "file " + fileName, "is text, but the model has no '" + INPUT_IDS
                    + "' input to feed token ids to (its inputs: " + ModelInputs.names(modelInputs) + ")");
        }
        for (ValueShape input : modelInputs) {
            if (!PRODUCIBLE.contains(input.name())) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model input '" + input.name() + "'",
                        "cannot be produced from text; text data provides " + String.join(", ", List.of(INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS, POSITION_IDS)));
            }
            DataType type = ModelInputs.elementType(input);
            if (type != DataType.INT64 && type != DataType.INT32) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model input '" + input.name() + "'",
                        "has element type " + type.displayName() + "; token inputs must be int64 or int32");
            }
            if (input.rankKnown() && input.dims().size() != 2) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model input '" + input.name() + "'",
                        "has shape " + ModelInputs.dims(input.dims()) + "; token inputs must be [batch, sequence]");
            }
        }
        if (tokenizerFile == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "file " + fileName,
                    "is text and needs a tokenizer: pass a HuggingFace tokenizer.json (or put one beside the model)");
        }
        long fixedLength = fixedSequenceLength(modelInputs);
        HuggingFaceTokenizer tokenizer = loadTokenizer(tokenizerFile, fixedLength > 0 ? (int) fixedLength : maxTokens, fixedLength > 0);
        try {
            BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8);
            try {
                return new TextDataset(fileName, reader, tokenizer, modelInputs);
            } catch (RuntimeException e) {
                reader.close();
                throw e;
            }
        } catch (IOException e) {
            tokenizer.close();
            throw new ModelPressException(ErrorCode.IO_ERROR, "file " + fileName, "cannot be read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /** The sequence length the model fixes for its token inputs, or -1 when it accepts any. */
    private static long fixedSequenceLength(List<ValueShape> modelInputs) {
        for (ValueShape input : modelInputs) {
            if (input.rankKnown() && input.dims().size() == 2 && input.dims().get(1).isFixed()) {
                return input.dims().get(1).value();
            }
        }
        return -1;
    }

    private static HuggingFaceTokenizer loadTokenizer(Path file, int maxTokens, boolean padToMaxLength) {
        if (!Files.isRegularFile(file)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "tokenizer " + file, "does not exist");
        }
        // DJL otherwise contacts an AWS metadata endpoint when a tokenizer is created; ModelPress works offline.
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        Map<String, String> options = Map.of(
                "truncation", "true",
                "padding", padToMaxLength ? "max_length" : "true",
                "maxLength", Integer.toString(maxTokens),
                "modelMaxLength", Integer.toString(maxTokens),
                "addSpecialTokens", "true");
        try {
            return HuggingFaceTokenizer.newInstance(file, options);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "tokenizer " + file.getFileName(), "cannot be read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new ModelPressException(ErrorCode.BAD_DATA, "tokenizer " + file.getFileName(),
                    "is not a usable HuggingFace tokenizer.json: " + e.getMessage(), e);
        }
    }

    /** Reads lines until the next sample; null at the end of the file. */
    private Sample readSample(Boolean labelsExpected) {
        try {
            String line;
            while ((line = reader.readLine()) != null) {
                lineNumber++;
                if (line.isBlank()) {
                    continue;
                }
                return parse(line, labelsExpected);
            }
            return null;
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, where(), "cannot be read: " + e.getMessage(), e);
        }
    }

    private Sample parse(String line, Boolean labelsExpected) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw bad("is not valid JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            throw bad("is not a JSON object; each line must look like {\"text\": \"...\", \"label\": 0}");
        }
        JsonNode text = node.get("text");
        if (text == null || !text.isTextual()) {
            throw bad("has no \"text\" string");
        }
        JsonNode label = node.get("label");
        Long labelValue = null;
        if (label != null && !label.isNull()) {
            if (!label.isIntegralNumber() || !label.canConvertToLong() || label.asLong() < 0) {
                throw bad("has a \"label\" that is not a non-negative integer class index: " + label);
            }
            labelValue = label.asLong();
        }
        if (labelsExpected != null && labelsExpected != (labelValue != null)) {
            throw bad(labelValue == null ? "has no \"label\" but line " + firstLine + " has one; label every line or none"
                    : "has a \"label\" but line " + firstLine + " has none; label every line or none");
        }
        return new Sample(text.asText(), labelValue);
    }

    private String where() {
        return "file " + fileName;
    }

    private ModelPressException bad(String why) {
        return new ModelPressException(ErrorCode.BAD_DATA, "line " + lineNumber + " of " + fileName, why);
    }

    @Override
    public boolean hasLabels() {
        return hasLabels;
    }

    @Override
    public Batch next(int maxRows) {
        List<Sample> samples = new ArrayList<>(maxRows);
        while (samples.size() < maxRows && pending != null) {
            samples.add(pending);
            pending = readSample(hasLabels);
        }
        if (samples.isEmpty()) {
            return null;
        }
        Encoding[] encodings = tokenizer.batchEncode(samples.stream().map(Sample::text).toArray(String[]::new));
        int rows = encodings.length;
        int length = encodings[0].getIds().length;
        HostArray ids = HostArray.zeros(DataType.INT64, rows, length);
        HostArray mask = HostArray.zeros(DataType.INT64, rows, length);
        HostArray types = HostArray.zeros(DataType.INT64, rows, length);
        HostArray positions = HostArray.zeros(DataType.INT64, rows, length);
        for (int r = 0; r < rows; r++) {
            long[] rowIds = encodings[r].getIds();
            long[] rowMask = encodings[r].getAttentionMask();
            long[] rowTypes = encodings[r].getTypeIds();
            if (rowIds.length != length) {
                throw new ModelPressException(ErrorCode.INTERNAL, where(), "tokenizer returned rows of different lengths");
            }
            for (int t = 0; t < length; t++) {
                int i = r * length + t;
                ids.setLong(i, rowIds[t]);
                mask.setLong(i, rowMask[t]);
                types.setLong(i, rowTypes[t]);
                positions.setLong(i, t);
            }
        }
        Map<String, HostArray> produced = Map.of(INPUT_IDS, ids, ATTENTION_MASK, mask, TOKEN_TYPE_IDS, types, POSITION_IDS, positions);
        Map<String, HostArray> inputs = new LinkedHashMap<>();
        for (ValueShape input : modelInputs) {
            inputs.put(input.name(), produced.get(input.name()).convertTo(input.type()));
        }
        long[] labels = hasLabels ? samples.stream().mapToLong(Sample::label).toArray() : null;
        return new Batch(rows, inputs, labels, mask);
    }

    @Override
    public void close() {
        tokenizer.close();
        try {
            reader.close();
        } catch (IOException ignored) {
            // read-only
        }
    }
}
