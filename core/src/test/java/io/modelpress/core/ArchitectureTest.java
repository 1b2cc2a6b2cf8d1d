package io.modelpress.core;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The layering of core's main code (docs/architecture.md, "core packages"): core is the library every service and the
 * CLI share, so it knows nothing of how models travel (Kafka, S3, Quarkus, the pipeline module); the pass layer
 * ({@code graph}, {@code transform}) sits under the passes that use it; and no two core packages depend on each other.
 */
@AnalyzeClasses(packages = "io.modelpress.core", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
    @ArchTest
    static final ArchRule coreKnowsNoOtherModule = noClasses().that().resideInAPackage("io.modelpress.core..")
            .should().dependOnClassesThat(resideInAPackage("io.modelpress..").and(not(resideInAPackage("io.modelpress.core.."))))
            .because("core is what the pipeline, the workers and the CLI build on");

    @ArchTest
    static final ArchRule coreKnowsNoMessagingNorServices = noClasses().that().resideInAPackage("io.modelpress.core..")
            .should().dependOnClassesThat().resideInAnyPackage("io.quarkus..", "jakarta..", "org.apache.kafka..", "io.minio..",
                    "io.smallrye..", "org.eclipse.microprofile..")
            .because("core runs in-process from the CLI as well as inside the services");

    /**
     * DJL is the training module's engine, not core's. The one exception is DJL's HuggingFace tokenizers: text datasets
     * (JSONL + tokenizer.json) turn sentences into the token ids a transformer reads, and that is the tokenizer library
     * the models' own tokenizer.json files are written for.
     */
    @ArchTest
    static final ArchRule coreUsesNoDjlButItsTokenizers = noClasses().that().resideInAPackage("io.modelpress.core..")
            .should().dependOnClassesThat(djlOtherThanTokenizers());

    @ArchTest
    static final ArchRule passLayerDoesNotKnowQuantization = noClasses()
            .that().resideInAnyPackage("io.modelpress.core.graph..", "io.modelpress.core.transform..")
            .should().dependOnClassesThat().resideInAPackage("io.modelpress.core.quantize..")
            .because("quantization builds on the general rewrites, never the reverse");

    @ArchTest
    static final ArchRule noCyclesBetweenCorePackages = slices().matching("io.modelpress.core.(*)..").should().beFreeOfCycles();

    private static com.tngtech.archunit.base.DescribedPredicate<JavaClass> djlOtherThanTokenizers() {
        return resideInAnyPackage("ai.djl..").and(not(resideInAPackage("ai.djl.huggingface.tokenizers..")))
                .as("DJL classes other than ai.djl.huggingface.tokenizers");
    }
}
