package io.modelpress.worker;

import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.worker.StageWorker;
import io.smallrye.reactive.messaging.annotations.Blocking;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.eclipse.microprofile.reactive.messaging.Incoming;

/**
 * Takes stage requests off the channel's topics one at a time, on a worker thread (stages run for minutes), and
 * hands them to the runtime. The record is acknowledged when this returns; it throws only when no result could be
 * published at all, which fails the channel so the record is redelivered after a restart.
 */
@ApplicationScoped
public class StageRequestConsumer {
    private final StageWorker worker;

    @Inject
    public StageRequestConsumer(StageWorker worker) {
        this.worker = worker;
    }

    @Incoming("requests")
    @Blocking
    public void onRequest(ConsumerRecord<String, byte[]> record) {
        worker.handle(Topics.stageTypeOf(record.topic()), record.key(), record.value());
    }
}
