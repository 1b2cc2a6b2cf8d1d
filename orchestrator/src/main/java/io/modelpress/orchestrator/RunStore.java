package io.modelpress.orchestrator;

import io.modelpress.pipeline.events.RunState;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The orchestrator's in-memory view of every run: the latest state per run id, rebuilt from the runs topic at
 * start-up. Changes to one run are made under that run's lock ({@link #lock}), so a result, a cancel and a deadline
 * never interleave on the same run, while different runs proceed independently.
 */
@ApplicationScoped
public class RunStore {
    private final Map<String, RunState> runs = new ConcurrentHashMap<>();
    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    private final Map<String, List<Consumer<RunState>>> watchers = new ConcurrentHashMap<>();
    private volatile boolean restored;

    public Optional<RunState> get(String runId) {
        return Optional.ofNullable(runs.get(runId));
    }

    /** Runs, newest first, optionally only those in one state. */
    public List<RunState> list(RunState.State state) {
        return runs.values().stream()
                .filter(r -> state == null || r.state() == state)
                .sorted(Comparator.comparing(RunState::createdAt).thenComparing(RunState::runId).reversed())
                .toList();
    }

    public Collection<RunState> all() {
        return List.copyOf(runs.values());
    }

    /** The monitor that serialises changes to one run. */
    public Object lock(String runId) {
        return locks.computeIfAbsent(runId, id -> new Object());
    }

    /** Records a run's new state and tells its watchers. Call under {@link #lock} after the state was persisted. */
    void put(RunState run) {
        runs.put(run.runId(), run);
        List<Consumer<RunState>> runWatchers = watchers.get(run.runId());
        if (runWatchers != null) {
            runWatchers.forEach(w -> w.accept(run));
        }
    }

    /** Start-up: the states read back from the runs topic. */
    void restore(Collection<RunState> states) {
        states.forEach(s -> runs.put(s.runId(), s));
        restored = true;
    }

    /** Whether the state has been rebuilt from the runs topic (the API and consumers wait for it). */
    public boolean restored() {
        return restored;
    }

    /**
     * Calls {@code watcher} with the run's current state and then with every change, in order, until the returned
     * handle is run. Registering and the first call happen under the run's lock, so no change is missed or seen twice.
     */
    Runnable watch(String runId, Consumer<RunState> watcher) {
        synchronized (lock(runId)) {
            watchers.computeIfAbsent(runId, id -> new CopyOnWriteArrayList<>()).add(watcher);
            RunState current = runs.get(runId);
            if (current != null) {
                watcher.accept(current);
            }
        }
        return () -> watchers.computeIfPresent(runId, (id, list) -> {
            list.remove(watcher);
            return list.isEmpty() ? null : list;
        });
    }
}
