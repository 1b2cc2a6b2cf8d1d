package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ValueShape;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.modelpress.core.data.NumpyDatasetTest.failure;
import static io.modelpress.core.data.NumpyDatasetTest.input;
import static io.modelpress.core.data.NumpyDatasetTest.readAll;
import static org.assertj.core.api.Assertions.assertThat;

class TextDatasetTest {
    static Path tokenizer;

    @TempDir
    Path dir;

    @BeforeAll
    static void tokenizer() {
        tokenizer = ReferenceModels.minilmTokenizer();
    }

    static final List<ValueShape> BERT = List.of(input("input_ids", DataType.INT64, -1, -1),
            input("attention_mask", DataType.INT64, -1, -1), input("token_type_ids", DataType.INT64, -1, -1));

    Path jsonl(String... lines) throws IOException {
        Path file = dir.resolve("text.jsonl");
        Files.write(file, List.of(lines));
        return file;
    }

    @Test
    void tokenizesPadsToTheLongestInTheBatchAndKeepsLabels() throws IOException {
        Path file = jsonl("{\"text\": \"Short one.\", \"label\": 1}", "",
                "{\"text\": \"A noticeably longer sentence with quite a few more words in it.\", \"label\": 0}",
                "{\"text\": \"Third.\", \"label\": 2}");
        assertThat(Datasets.formatOf(file)).isEqualTo(Datasets.Format.JSONL);
        try (Dataset data = Datasets.open(file, BERT, DataOptions.DEFAULT.withTokenizer(tokenizer))) {
            assertThat(data.hasLabels()).isTrue();
            Batch first = data.next(2);
            assertThat(first.size()).isEqualTo(2);
            assertThat(first.labels()).containsExactly(1, 0);
            HostArray ids = first.inputs().get("input_ids");
            HostArray mask = first.inputs().get("attention_mask");
            assertThat(first.inputs().keySet()).containsExactly("input_ids", "attention_mask", "token_type_ids");
            long length = ids.dim(1);
            assertThat(ids.shape()).containsExactly(2, length);
            assertThat(ids.getLong(0)).as("[CLS]").isEqualTo(101);
            long realShort = 0;
            long realLong = 0;
            for (int t = 0; t < length; t++) {
                realShort += mask.getLong(t);
                realLong += mask.getLong((int) length + t);
            }
            assertThat(realLong).as("the longest text sets the length").isEqualTo(length);
            assertThat(realShort).isLessThan(length).isGreaterThanOrEqualTo(4);
            assertThat(ids.getLong((int) length - 1)).as("padding").isZero();
            assertThat(first.attentionMask()).isNotNull();

            Batch second = data.next(2);
            assertThat(second.size()).isEqualTo(1);
            assertThat(second.labels()).containsExactly(2);
            assertThat(second.inputs().get("input_ids").dim(1)).as("a batch of one short text is short").isLessThan(length);
            assertThat(data.next(2)).isNull();
        }
    }

    @Test
    void truncatesAtMaxTokensProducesOnlyWhatTheModelNamesAndHonoursInt32() throws IOException {
        Path file = jsonl("{\"text\": \"" + "word ".repeat(300) + "\"}");
        List<ValueShape> inputs = List.of(input("input_ids", DataType.INT32, -1, -1), input("position_ids", DataType.INT64, -1, -1));
        try (Dataset data = Datasets.open(file, inputs, DataOptions.DEFAULT.withTokenizer(tokenizer).withMaxTokens(16))) {
            assertThat(data.hasLabels()).isFalse();
            Batch batch = data.next(8);
            assertThat(batch.inputs().keySet()).containsExactly("input_ids", "position_ids");
            assertThat(batch.inputs().get("input_ids").type()).isEqualTo(DataType.INT32);
            assertThat(batch.inputs().get("input_ids").shape()).containsExactly(1, 16);
            assertThat(batch.inputs().get("input_ids").getLong(15)).as("[SEP] survives truncation").isEqualTo(102);
            assertThat(batch.inputs().get("position_ids").getLong(15)).isEqualTo(15);
            assertThat(batch.labels()).isNull();
            assertThat(batch.attentionMask().shape()).containsExactly(1, 16);
        }
    }

    @Test
    void aFixedSequenceLengthInTheModelIsPaddedTo() throws IOException {
        Path file = jsonl("{\"text\": \"Tiny.\"}");
        try (Dataset data = Datasets.open(file, List.of(input("input_ids", DataType.INT64, -1, 24)), DataOptions.DEFAULT.withTokenizer(tokenizer))) {
            assertThat(data.next(4).inputs().get("input_ids").shape()).containsExactly(1, 24);
        }
    }

    @Test
    void badLinesNameTheirLineNumber() throws IOException {
        DataOptions options = DataOptions.DEFAULT.withTokenizer(tokenizer);
        List<String[]> cases = List.of(
                new String[] {"{\"text\": \"fine\"}", "{\"text\": \"broken\""},
                new String[] {"{\"text\": \"fine\"}", "[1, 2]"},
                new String[] {"{\"text\": \"fine\"}", "{\"txt\": \"typo\"}"},
                new String[] {"{\"text\": \"fine\"}", "{\"text\": 42}"},
                new String[] {"{\"text\": \"fine\", \"label\": 1}", "{\"text\": \"unlabelled\"}"},
                new String[] {"{\"text\": \"fine\"}", "{\"text\": \"labelled\", \"label\": 1}"},
                new String[] {"{\"text\": \"fine\", \"label\": 1}", "{\"text\": \"x\", \"label\": \"positive\"}"},
                new String[] {"{\"text\": \"fine\", \"label\": 1}", "{\"text\": \"x\", \"label\": 1.5}"});
        for (String[] lines : cases) {
            Path file = jsonl(lines[0], "", lines[1]);
            ModelPressException e = failure(() -> {
                try (Dataset data = Datasets.open(file, BERT, options)) {
                    readAll(data, 8);
                }
            });
            assertThat(e.code()).as(lines[1]).isEqualTo(ErrorCode.BAD_DATA);
            assertThat(e.getMessage()).as(lines[1]).startsWith("line 3 of text.jsonl");
        }
    }

    @Test
    void inputsTextCannotFeedAndMissingTokenizerAreReported() throws IOException {
        Path file = jsonl("{\"text\": \"fine\"}");
        ModelPressException e = failure(() -> Datasets.open(file, List.of(input("pixel_values", DataType.FLOAT, -1, 3)),
                DataOptions.DEFAULT.withTokenizer(tokenizer)));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("input_ids").contains("pixel_values");

        e = failure(() -> Datasets.open(file, List.of(input("input_ids", DataType.INT64, -1, -1), input("past_key_values", DataType.FLOAT, -1, -1)),
                DataOptions.DEFAULT.withTokenizer(tokenizer)));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("past_key_values");

        e = failure(() -> Datasets.open(file, BERT, DataOptions.DEFAULT));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(e.getMessage()).contains("tokenizer");

        e = failure(() -> Datasets.open(file, BERT, DataOptions.DEFAULT.withTokenizer(dir.resolve("missing.json"))));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);

        Path notATokenizer = dir.resolve("tokenizer.json");
        Files.writeString(notATokenizer, "{\"version\": 1}");
        e = failure(() -> Datasets.open(file, BERT, DataOptions.DEFAULT.withTokenizer(notATokenizer)));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_DATA);
        assertThat(e.getMessage()).contains("tokenizer");
    }
}
