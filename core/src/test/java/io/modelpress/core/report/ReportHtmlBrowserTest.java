package io.modelpress.core.report;

import io.modelpress.core.compress.Compressor;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.quantize.qdq.TestCnns;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * report.html of a real run that tuned, opened in headless Chromium (Debian package {@code chromium}; skipped without
 * it, after the checks that need no browser): it renders a page of more than one colour, its DOM holds the charts, and
 * it requests nothing. With {@code -Dmodelpress.reportScreenshot=FILE} the screenshot is also copied to FILE (how
 * docs/images/report.png is made).
 */
class ReportHtmlBrowserTest {
    @TempDir
    Path dir;

    @Test
    void aTunedRunsReportRendersInHeadlessChromium() throws Exception {
        Path model = dir.resolve("cnn.onnx");
        OnnxModel.of(TestCnns.fashionLike(8, 16, 32, false, 5)).write(model);
        Path data = dir.resolve("cnn.npz");
        NpyWriter.writeNpz(data, Map.of("input", HostArray.of(TestCnns.randomInputs(7, 128 * 28 * 28), 128, 1, 28, 28)), false);
        // static INT8 that clips at the 90th percentile misses the gate; the search keeps the most sensitive nodes in float
        String recipe = "name: int8-static\nstages:\n  - quantize: { mode: static, calibration: percentile, percentile: 90 }\n"
                + "  - eval: { metrics: [cosine, latency], gate: { min_cosine: 0.9 } }\n"
                + "tuning: { on_gate_failure: tune, strategy: search, max_attempts: 5 }\n";
        Path out = dir.resolve("out");
        Compressor.Result result = Compressor.run(new Compressor.Request(model, RecipeParser.parse(recipe, "recipe.yaml"),
                List.of(data), null, out, 1), RunReportTest.SILENT);
        Path page = out.resolve(RunReports.HTML_FILE);
        String html = Files.readString(page);
        int candidates = result.report().tuning().candidates().size();
        assertThat(candidates).isGreaterThan(1);
        assertThat(html).contains("<svg id=\"quality-chart\"").contains("<svg id=\"stage-chart\"").contains("<svg id=\"candidate-chart\"")
                .contains("<polyline class=\"pareto\"").contains("<details><summary>report.json");
        ReportHtmlTest.assertNothingIsFetched(html);

        String chromium = chromium();
        assumeTrue(chromium != null, "chromium absent (apt-get install chromium): the page is not opened in a browser");
        Path png = dir.resolve("report.png");
        Run shot = run(chromium, "--screenshot=" + png, "--window-size=1200,1800", "--hide-scrollbars", page.toUri().toString());
        assertThat(shot.exit).as(shot.err).isZero();
        assertThat(png).exists();
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(1200);
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < image.getHeight(); y += 7) {
            for (int x = 0; x < image.getWidth(); x += 7) {
                colours.add(image.getRGB(x, y));
            }
        }
        assertThat(colours).as("distinct colours in the screenshot").hasSizeGreaterThan(20);

        Run dom = run(chromium, "--dump-dom", "--enable-logging=stderr", "--v=0", page.toUri().toString());
        assertThat(dom.exit).as(dom.err).isZero();
        assertThat(dom.out).contains("<svg id=\"quality-chart\"").contains("<svg id=\"stage-chart\"")
                .contains("<polyline class=\"pareto\"").contains("</details>");
        assertThat(dom.out.split("<circle ", -1)).hasSize(candidates + 1);
        assertThat(dom.err).as("nothing failed to load").doesNotContain("net::ERR_").doesNotContain("Failed to load");

        String copy = System.getProperty("modelpress.reportScreenshot");
        if (copy != null) {
            Files.copy(png, Path.of(copy), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private record Run(int exit, String out, String err) {
    }

    private Run run(String chromium, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + dir.resolve("profile")));
        command.addAll(List.of(args));
        Path stdout = dir.resolve("chromium.out");
        Path stderr = dir.resolve("chromium.err");
        Process process = new ProcessBuilder(command).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("chromium did not finish in 120 s: " + command);
        }
        return new Run(process.exitValue(), Files.readString(stdout, StandardCharsets.UTF_8), Files.readString(stderr, StandardCharsets.UTF_8));
    }

    /** The chromium binary on the PATH, or null. */
    private static String chromium() {
        for (String name : List.of("chromium", "chromium-browser")) {
            for (String folder : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
                if (!folder.isEmpty() && Files.isExecutable(Path.of(folder, name))) {
                    return Path.of(folder, name).toString();
                }
            }
        }
        return null;
    }
}
