#!/usr/bin/python3
"""Runs every PromQL query of the dashboard against a Prometheus (e.g. one scraping `./modelpress up`'s stack with
deploy/prometheus/prometheus-local.yml): each must parse and evaluate; prints how many series each returns.
Grafana itself is not needed (nor available on the build machine).

usage: deploy/grafana/check_queries.py [http://127.0.0.1:9090] [deploy/grafana/dashboards/modelpress.json]
exit code 1 when a query is rejected by Prometheus."""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

prometheus = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9090"
dashboard = sys.argv[2] if len(sys.argv) > 2 else "deploy/grafana/dashboards/modelpress.json"
failed = 0
for panel in json.load(open(dashboard))["panels"]:
    for target in panel.get("targets", []):
        expr = target["expr"].replace("$__rate_interval", "1m")
        url = prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            answer = json.load(urllib.request.urlopen(url, timeout=10))
            series = len(answer["data"]["result"])
            print(f"ok    {series:3d} series  {panel['title']}: {expr}")
        except urllib.error.HTTPError as e:
            failed += 1
            print(f"ERROR {panel['title']}: {expr}\n      {json.load(e).get('error')}")
sys.exit(1 if failed else 0)
