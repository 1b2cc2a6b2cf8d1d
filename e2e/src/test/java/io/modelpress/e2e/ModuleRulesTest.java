package io.modelpress.e2e;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Which module may depend on which, read from the poms of the modules the root pom lists. The CLI is an application:
 * what others need of it (the local stack, the orchestrator's API client) lives in modelpress-stack, and only the
 * end-to-end tests depend on the CLI itself, to run its commands.
 */
class ModuleRulesTest {
    /** A module and the only modules allowed to depend on it, at any scope. */
    private static final Map<String, Set<String>> ONLY_FOR = Map.of("modelpress-cli", Set.of("modelpress-e2e"));

    private static final Path ROOT = Path.of(System.getProperty("modelpress.home", "..")).toAbsolutePath().normalize();

    @Test
    void onlyTheEndToEndTestsDependOnTheCli() throws Exception {
        Map<String, List<String>> dependencies = moduleDependencies();
        // the poms were read: the rule's one allowed use is seen
        assertThat(dependencies).containsKeys("modelpress-cli", "modelpress-bench", "modelpress-stack");
        assertThat(dependencies.get("modelpress-e2e")).contains("modelpress-cli");

        List<String> broken = new ArrayList<>();
        dependencies.forEach((module, uses) -> uses.stream()
                .filter(used -> ONLY_FOR.containsKey(used) && !ONLY_FOR.get(used).contains(module))
                .forEach(used -> broken.add(module + " depends on " + used + ", which only " + ONLY_FOR.get(used) + " may")));
        assertThat(broken).isEmpty();
    }

    /** Each module's artifact id and the artifact ids of its dependencies (dependencyManagement entries are none). */
    private static Map<String, List<String>> moduleDependencies() throws Exception {
        Map<String, List<String>> modules = new LinkedHashMap<>();
        for (Element module : elements(pom(ROOT.resolve("pom.xml")).getDocumentElement(), "module")) {
            Document pom = pom(ROOT.resolve(module.getTextContent().trim()).resolve("pom.xml"));
            List<String> uses = new ArrayList<>();
            for (Element dependency : elements(pom.getDocumentElement(), "dependency")) {
                if (!inside(dependency, "dependencyManagement")) {
                    uses.add(child(dependency, "artifactId"));
                }
            }
            modules.put(child(pom.getDocumentElement(), "artifactId"), uses);
        }
        return modules;
    }

    private static Document pom(Path file) throws Exception {
        assertThat(file).isRegularFile();
        try (InputStream in = Files.newInputStream(file)) {
            return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(in);
        }
    }

    private static List<Element> elements(Element root, String name) {
        NodeList nodes = root.getElementsByTagName(name);
        List<Element> elements = new ArrayList<>();
        for (int i = 0; i < nodes.getLength(); i++) {
            elements.add((Element) nodes.item(i));
        }
        return elements;
    }

    /** The text of a direct child element. */
    private static String child(Element element, String name) {
        for (Node node = element.getFirstChild(); node != null; node = node.getNextSibling()) {
            if (node instanceof Element child && child.getTagName().equals(name)) {
                return child.getTextContent().trim();
            }
        }
        throw new AssertionError("<" + element.getTagName() + "> without <" + name + ">");
    }

    private static boolean inside(Node node, String ancestor) {
        for (Node parent = node.getParentNode(); parent != null; parent = parent.getParentNode()) {
            if (parent instanceof Element element && element.getTagName().equals(ancestor)) {
                return true;
            }
        }
        return false;
    }
}
