package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.NodeProto;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Which nodes a pass may touch: include/exclude lists of node names, operator types, and name patterns (regular
 * expressions matched against the whole node name). Exclusion wins. An empty include list means "all".
 */
public record NodeSelector(List<String> includeNames, List<String> includeOps, List<Pattern> includePatterns,
                           List<String> excludeNames, List<String> excludeOps, List<Pattern> excludePatterns) {
    public static final NodeSelector ALL = new NodeSelector(List.of(), List.of(), List.of(), List.of(), List.of(), List.of());

    public NodeSelector {
        includeNames = List.copyOf(includeNames);
        includeOps = List.copyOf(includeOps);
        includePatterns = List.copyOf(includePatterns);
        excludeNames = List.copyOf(excludeNames);
        excludeOps = List.copyOf(excludeOps);
        excludePatterns = List.copyOf(excludePatterns);
    }

    public boolean selects(NodeProto node) {
        if (matches(node, excludeNames, excludeOps, excludePatterns)) {
            return false;
        }
        boolean noIncludes = includeNames.isEmpty() && includeOps.isEmpty() && includePatterns.isEmpty();
        return noIncludes || matches(node, includeNames, includeOps, includePatterns);
    }

    /** Why a node is not selected, for reports; null when it is. */
    public String exclusionReason(NodeProto node) {
        if (matches(node, excludeNames, excludeOps, excludePatterns)) {
            return "excluded by the recipe";
        }
        return selects(node) ? null : "not in the recipe's include list";
    }

    private static boolean matches(NodeProto node, List<String> names, List<String> ops, List<Pattern> patterns) {
        if (names.contains(node.getName()) || ops.contains(node.getOpType())) {
            return true;
        }
        for (Pattern p : patterns) {
            if (p.matcher(node.getName()).matches()) {
                return true;
            }
        }
        return false;
    }
}
