#!/usr/bin/env bash
# Static checks of the deployment files, with the tools a Debian machine offers (no Docker engine, no cluster):
#   docker-compose (v1) config, promtool check config/rules + rule unit tests, kubectl kustomize, yamllint, JSON.
# Tools that are missing are reported and skipped. Exit code 1 when a check that ran failed.
# The dashboard's queries are checked against a live Prometheus with deploy/grafana/check_queries.py (see
# docs/operations.md); nothing here proves the manifests on a real cluster.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=0
run() {
  local tool=$1; shift
  if ! command -v "$tool" >/dev/null; then echo "SKIP  $tool not installed: $*"; return; fi
  if "$tool" "$@" >/tmp/modelpress-validate.out 2>&1; then echo "ok    $tool $*"
  else echo "FAIL  $tool $*"; sed 's/^/      /' /tmp/modelpress-validate.out; failed=1; fi
}
run docker-compose -f docker-compose.yml config -q
run promtool check config deploy/prometheus/prometheus.yml
run promtool check config deploy/prometheus/prometheus-local.yml
# Debian's promtool is built without Kubernetes service discovery: prometheus-kubernetes.yml is only linted below
run promtool check rules deploy/prometheus/rules/modelpress.rules.yml
run promtool test rules deploy/prometheus/tests/modelpress.rules.test.yml
run kubectl kustomize k8s
run kubectl kustomize deploy/k8s-gpu
run yamllint -d '{extends: relaxed, rules: {line-length: disable}}' k8s deploy docker-compose.yml
run python3 -c 'import json,sys; [json.load(open(f)) for f in sys.argv[1:]]' deploy/grafana/dashboards/modelpress.json
exit $failed
