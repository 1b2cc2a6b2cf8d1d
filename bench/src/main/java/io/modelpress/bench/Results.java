package io.modelpress.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** How every benchmark shows and keeps its results: printed as they come, then written as one Markdown file. */
final class Results {
    private Results() {
    }

    /** Prints a finished section at once (a long run shows progress) and adds it to the file's text. */
    static void printAndAppend(StringBuilder md, String section) {
        System.out.print(section);
        System.out.flush();
        md.append(section);
    }

    /** Writes the results file, creating its folder. */
    static void write(Path out, CharSequence md) throws IOException {
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, md);
        System.out.println("written to " + out);
    }
}
