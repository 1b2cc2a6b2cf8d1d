package io.modelpress.train.distill;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.TempFiles;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.eval.ModelSession;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ValueShape;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The teacher: the run's original model in ONNX Runtime (for hidden-state losses, a copy exposing those values). Its outputs for every training sample are computed once and
 * kept when they fit in {@link #CACHE_BYTES} (logits do; token embeddings of many long texts may not), else again for
 * each batch.
 */
final class Teacher implements AutoCloseable {
    /** Most memory the cached teacher outputs may take. */
    static final long CACHE_BYTES = 256L << 20;

    /** One output of the teacher for a batch: float values in C order and their shape. */
    record Target(float[] values, long[] shape) {
    }

    private final ModelSession session;
    private final Map<String, String> feeds;
    private final Map<String, String> outputs;
    private Map<String, float[]> cache;
    private Map<String, Integer> cachedPerSample;
    private Map<String, long[]> cachedShapes;
    /** The outputs whose axis 1 runs over the input tokens, when batches may be cut to their longest sample, else null. */
    private Set<String> tokenOutputs;

    private final Path exposed;

    private Teacher(ModelSession session, Map<String, String> feeds, Map<String, String> outputs, Path exposed) {
        this.session = session;
        this.exposed = exposed;
        this.feeds = feeds;
        this.outputs = outputs;
    }

    /**
     * Opens the teacher and pairs it with the student: inputs and outputs by name when the teacher has all the
     * student's names, else by position. Hidden values are read from a copy of the teacher that exposes them as
     * extra outputs.
     *
     * @param studentOutputs the student outputs to distill
     * @param hidden         student value -> teacher value, for hidden-state losses
     * @throws ModelPressException DATA_MISMATCH when inputs or outputs pair neither way, BAD_ARGUMENT for a hidden
     *                             value the teacher does not compute
     */
    static Teacher open(Path model, SessionSettings settings, List<ValueShape> studentInputs, List<String> studentOutputs,
                        List<String> allStudentOutputs, Map<String, String> hidden) {
        Path exposed = hidden.isEmpty() ? null : TempFiles.createDirectory("modelpress-teacher");
        ModelSession session = null;
        try {
            Set<String> added = new java.util.HashSet<>();
            Path file = exposed == null ? model : exposeHidden(model, hidden.values(), exposed.resolve("teacher.onnx"), added);
            session = ModelSession.open(file, settings);
            List<String> teacherInputs = session.inputs().stream().map(ValueShape::name).toList();
            List<String> studentInputNames = studentInputs.stream().map(ValueShape::name).toList();
            Map<String, String> feeds = new LinkedHashMap<>();
            if (studentInputNames.containsAll(teacherInputs)) {
                teacherInputs.forEach(n -> feeds.put(n, n));
            } else if (teacherInputs.size() == studentInputNames.size()) {
                for (int i = 0; i < teacherInputs.size(); i++) {
                    feeds.put(teacherInputs.get(i), studentInputNames.get(i));
                }
            } else {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "teacher " + model.getFileName(), "has inputs ("
                        + String.join(", ", teacherInputs) + ") that match the student's (" + String.join(", ", studentInputNames)
                        + ") neither by name nor by count");
            }
            List<String> teacherOutputs = session.outputs().stream().map(ValueShape::name).filter(n -> !added.contains(n)).toList();
            Map<String, String> pairs = new LinkedHashMap<>();
            if (Set.copyOf(teacherOutputs).containsAll(studentOutputs)) {
                studentOutputs.forEach(n -> pairs.put(n, n));
            } else if (teacherOutputs.size() == allStudentOutputs.size()) {
                studentOutputs.forEach(n -> pairs.put(n, teacherOutputs.get(allStudentOutputs.indexOf(n))));
            } else {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "teacher " + model.getFileName(), "has outputs ("
                        + String.join(", ", teacherOutputs) + ") that match the student's (" + String.join(", ", allStudentOutputs)
                        + ") neither by name nor by count");
            }
            pairs.putAll(hidden);
            return new Teacher(session, feeds, pairs, exposed);
        } catch (RuntimeException e) {
            if (session != null) {
                session.close();
            }
            TempFiles.deleteTree(exposed);
            throw e;
        }
    }

    /** Writes a copy of the teacher with the given values as extra graph outputs; {@code added} gets those added. */
    private static Path exposeHidden(Path model, java.util.Collection<String> values, Path copy, Set<String> added) {
        OnnxModel teacher = OnnxModel.read(model);
        GraphProto.Builder graph = teacher.graph();
        Set<String> outputs = new java.util.HashSet<>();
        graph.getOutputList().forEach(o -> outputs.add(o.getName()));
        Set<String> computed = new java.util.HashSet<>(outputs);
        graph.getNodeList().forEach(n -> computed.addAll(n.getOutputList()));
        for (String value : values) {
            if (!computed.contains(value)) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "hidden value '" + value + "'", "is not computed by the teacher");
            }
            if (!outputs.contains(value) && added.add(value)) {
                graph.addOutput(ValueInfoProto.newBuilder().setName(value));
            }
        }
        teacher.write(copy);
        return copy;
    }

    /**
     * Finds out whether batches of this text may be cut to their longest sample: the teacher runs {@code rows} once
     * more with one token less, and every output must either keep its shape or lose exactly that token on axis 1.
     * Those that lose it are cut the same way when the cached outputs are handed out.
     *
     * @param full the teacher's outputs for {@code rows} at the padded length
     * @return whether batches may be cut (false for data without tokens, a teacher with a fixed token length, or
     *         outputs that change shape otherwise)
     */
    boolean allowCutTokens(SampleSet data, int[] rows, Map<String, Target> full) {
        int padded = data.paddedTokens();
        if (padded < 2) {
            return false;
        }
        Map<String, Target> shorter;
        try {
            shorter = run(data.inputs(rows, padded - 1));
        } catch (RuntimeException e) {
            return false;
        }
        Set<String> following = new java.util.HashSet<>();
        for (var entry : full.entrySet()) {
            long[] before = entry.getValue().shape();
            long[] after = shorter.get(entry.getKey()).shape();
            if (Arrays.equals(before, after)) {
                continue;
            }
            long[] expected = before.clone();
            if (expected.length < 2 || expected[1] != padded) {
                return false;
            }
            expected[1] = padded - 1;
            if (!Arrays.equals(expected, after)) {
                return false;
            }
            following.add(entry.getKey());
        }
        tokenOutputs = following;
        return true;
    }

    /**
     * Runs the teacher over all samples (in chunks) and keeps its outputs, unless they would take more than
     * {@link #CACHE_BYTES}.
     *
     * @return whether the outputs are cached
     */
    boolean cache(SampleSet data, int chunk) {
        Map<String, float[]> kept = null;
        Map<String, Integer> perSample = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (int from = 0; from < data.size(); from += chunk) {
            int[] rows = range(from, Math.min(chunk, data.size() - from));
            Map<String, Target> batch = run(data.inputs(rows));
            if (kept == null) {
                long bytes = 0;
                for (var entry : batch.entrySet()) {
                    int n = entry.getValue().values().length / rows.length;
                    perSample.put(entry.getKey(), n);
                    shapes.put(entry.getKey(), entry.getValue().shape());
                    bytes += 4L * n * data.size();
                }
                if (bytes > CACHE_BYTES) {
                    return false;
                }
                kept = new LinkedHashMap<>();
                for (var entry : perSample.entrySet()) {
                    kept.put(entry.getKey(), new float[entry.getValue() * data.size()]);
                }
            }
            for (var entry : batch.entrySet()) {
                int n = perSample.get(entry.getKey());
                float[] values = entry.getValue().values();
                if (values.length != n * rows.length) {
                    return false;
                }
                System.arraycopy(values, 0, kept.get(entry.getKey()), from * n, values.length);
            }
        }
        cache = kept;
        cachedPerSample = perSample;
        cachedShapes = shapes;
        return true;
    }

    /** The teacher's outputs for the given samples, by student output name. */
    Map<String, Target> targets(SampleSet data, int[] rows) {
        return targets(data, rows, data.paddedTokens());
    }

    /**
     * The teacher's outputs for the given samples cut to their first {@code tokens} tokens (see {@link #allowCutTokens};
     * the padded length otherwise), by student output name.
     */
    Map<String, Target> targets(SampleSet data, int[] rows, int tokens) {
        int padded = data.paddedTokens();
        boolean cut = tokenOutputs != null && tokens < padded;
        if (cache == null) {
            return run(cut ? data.inputs(rows, tokens) : data.inputs(rows));
        }
        Map<String, Target> out = new LinkedHashMap<>();
        for (var entry : cache.entrySet()) {
            int n = cachedPerSample.get(entry.getKey());
            long[] shape = cachedShapes.get(entry.getKey()).clone();
            shape[0] = rows.length;
            // axis 1 is the token axis: a sample's first `tokens` tokens are the first values of its block
            int kept = n;
            if (cut && tokenOutputs.contains(entry.getKey())) {
                kept = (int) ((long) n / padded * tokens);
                shape[1] = tokens;
            }
            float[] values = new float[kept * rows.length];
            for (int r = 0; r < rows.length; r++) {
                System.arraycopy(entry.getValue(), rows[r] * n, values, r * kept, kept);
            }
            out.put(entry.getKey(), new Target(values, shape));
        }
        return out;
    }

    /** The teacher's outputs for a batch of student inputs, by student output name. */
    Map<String, Target> run(Map<String, HostArray> studentInputs) {
        Map<String, HostArray> teacherFeeds = new LinkedHashMap<>();
        feeds.forEach((teacherInput, studentInput) -> teacherFeeds.put(teacherInput, studentInputs.get(studentInput)));
        Map<String, HostArray> results = session.run(teacherFeeds);
        Map<String, Target> out = new LinkedHashMap<>();
        outputs.forEach((student, teacher) -> {
            HostArray value = results.get(teacher);
            out.put(student, new Target(value.toFloats(), value.shape()));
        });
        return out;
    }

    static int[] range(int from, int count) {
        int[] rows = new int[count];
        Arrays.setAll(rows, i -> from + i);
        return rows;
    }

    @Override
    public void close() {
        try {
            session.close();
        } finally {
            TempFiles.deleteTree(exposed);
        }
    }
}
