package io.modelpress.pipeline.worker;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.cache.StageKey;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.Stage;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.StoredObject;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The result cache the workers share, in the artifact store under {@value #PREFIX}: one folder per {@link StageKey}
 * (computed from the request's artifact SHA-256s, so a hit downloads nothing) with the stage's model (none for a stage
 * that passes its input through, like eval), its report ({@value #ENTRY}, written last: an entry without it does not
 * exist) and a {@value #USED} marker rewritten on every hit. After each store the least recently used entries are
 * deleted until the cache holds at most its bound. Best effort: a cache that cannot be read or written costs time,
 * never a run.
 */
final class ResultCache {
    static final String PREFIX = "cache/";
    static final String ENTRY = "entry.json";
    static final String USED = "used";
    private static final System.Logger LOG = System.getLogger(ResultCache.class.getName());

    /** A stored result: pass-through (no model of its own), the stage's report, why its gate failed (or null). */
    record Cached(boolean passthrough, JsonNode report, String gateFailure) {
    }

    private final ArtifactStore store;
    private final long maxBytes;

    ResultCache(ArtifactStore store, long maxBytes) {
        this.store = store;
        this.maxBytes = maxBytes;
    }

    /** The request's key, or null when an artifact lacks its SHA-256 (then the stage is computed and not kept). */
    static String key(StageRequest request, StageSpec spec, Stage implementation) {
        ArtifactRef original = request.original() == null ? request.input() : request.original();
        List<ArtifactRef> refs = new ArrayList<>(List.of(request.input(), original));
        refs.addAll(request.data());
        if (request.tokenizer() != null) {
            refs.add(request.tokenizer());
        }
        if (refs.stream().map(ArtifactRef::sha256).anyMatch(Objects::isNull)) {
            return null;
        }
        return StageKey.ofHashes(spec, implementation.getClass(), request.input().sha256(), original.sha256(),
                request.data().stream().map(ArtifactRef::sha256).toList(),
                request.tokenizer() == null ? null : request.tokenizer().sha256(), InputHints.NONE);
    }

    Optional<Cached> get(String key) {
        Optional<Cached> cached = store.getJson(PREFIX + key + "/" + ENTRY, Cached.class);
        if (cached.isPresent()) {
            try {
                store.putBytes(PREFIX + key + "/" + USED, Instant.now().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        "text/plain");
            } catch (ModelPressException e) {
                LOG.log(System.Logger.Level.DEBUG, "result cache: cannot mark {0} as used: {1}", key, e.getMessage());
            }
        }
        return cached;
    }

    /** Copies the cached model of a key to {@code targetKey} on the server. */
    ArtifactRef copyModel(String key, String targetKey) {
        return store.copy(PREFIX + key + "/" + StageWorker.MODEL_ONNX, targetKey);
    }

    /** Keeps a stage's result: its model copied on the server (null: pass-through), then its entry, then evicts. */
    void put(String key, ArtifactRef model, JsonNode report, String gateFailure) {
        try {
            if (store.exists(PREFIX + key + "/" + ENTRY)) {
                return;
            }
            if (model != null) {
                store.copy(model.key(), PREFIX + key + "/" + StageWorker.MODEL_ONNX);
            }
            store.putJson(PREFIX + key + "/" + ENTRY, new Cached(model == null, report, gateFailure));
            evict(key);
        } catch (ModelPressException e) {
            LOG.log(System.Logger.Level.WARNING, "result cache: cannot keep {0}: {1}", key, e.getMessage());
        }
    }

    /** Deletes whole entries, least recently stored or used first, until the cache is within its bound. */
    private void evict(String keep) {
        record Entry(String key, long bytes, Instant used, List<String> objects) {
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        long total = 0;
        for (StoredObject object : store.list(PREFIX)) {
            String rest = object.key().substring(PREFIX.length());
            int slash = rest.indexOf('/');
            String key = slash < 0 ? rest : rest.substring(0, slash);
            Instant modified = object.lastModified() == null ? Instant.EPOCH : object.lastModified();
            Entry before = entries.get(key);
            List<String> objects = before == null ? new ArrayList<>() : before.objects();
            objects.add(object.key());
            entries.put(key, new Entry(key, (before == null ? 0 : before.bytes()) + object.bytes(),
                    before == null || modified.isAfter(before.used()) ? modified : before.used(), objects));
            total += object.bytes();
        }
        List<Entry> oldestFirst = entries.values().stream().sorted(Comparator.comparing(Entry::used)).toList();
        for (Entry entry : oldestFirst) {
            if (total <= maxBytes) {
                break;
            }
            if (!entry.key().equals(keep)) {
                // the entry file first: a half-deleted entry is then no entry at all
                List<String> objects = new ArrayList<>(entry.objects());
                objects.sort(Comparator.comparing((String k) -> !k.endsWith("/" + ENTRY)));
                objects.forEach(store::delete);
                total -= entry.bytes();
            }
        }
    }
}
