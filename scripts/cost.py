#!/usr/bin/env python3
"""What one stack of template.yaml costs a month at AWS list prices, counted from the template.

    python3 scripts/cost.py                                 # prints the table (Markdown)
    python3 scripts/cost.py --check-readme docs/deploy.md   # fails if the docs' copy differs
    python3 scripts/cost.py --write-readme docs/deploy.md   # rewrites the docs' copy

The copy is the table between the cost.py:begin and cost.py:end markers of docs/deploy.md
("What a stack costs a month"); the options take any Markdown file with those markers.

Fixed costs (whatever the traffic) come from what the template declares: the custom metrics its
alarms and dashboard read in the MetricsNamespace, its alarms (each metric an alarm reads is
billed), its dashboard, the secret it creates. Per-request costs use the template's memory size
and architecture and the assumptions below (each stated in the table). Prices: us-east-1 list
prices, without free tiers, as of the date in PRICES_AS_OF; other regions differ by a few percent.
Needs PyYAML (the project venv has it, through cfn-lint).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

PRICES_AS_OF = "2025"  # the last published list prices these figures were checked against
PRICE = {
    "custom_metric_month": 0.30,  # CloudWatch, first 10,000 metrics
    "alarm_metric_month": 0.10,  # CloudWatch standard-resolution alarm, per metric it reads
    "dashboard_month": 3.00,  # CloudWatch, beyond the account's first 3 dashboards
    "secret_month": 0.40,  # Secrets Manager, per secret
    "secret_calls_per_10k": 0.05,
    "lambda_requests_per_m": 0.20,
    "lambda_gb_s_arm64": 0.0000133334,
    "lambda_gb_s_x86_64": 0.0000166667,
    "http_api_per_m": 1.00,  # API Gateway HTTP API, first 300 million, per 512 KB unit
    "ddb_rru_per_m": 0.125,  # DynamoDB on-demand read request units
    "logs_ingest_gb": 0.50,  # CloudWatch Logs, standard class
    "xray_traces_per_m": 5.00,  # X-Ray traces recorded
}
# Assumptions per request (the template cannot say these; each is printed with the table).
ASSUME = {
    "mean_duration_ms": 300,  # mostly waiting on OmniLab: see docs/performance.md's benchmark figures
    "ddb_reads_per_request": 1,  # at most one strongly consistent GetItem of the shared token (1 RRU)
    "secret_reads_per_million": 1000,  # one per new container; ~1 in 1,000 requests
    "log_bytes_per_request": 2000,  # the request's JSON log lines, its EMF document, the access log line
    "xray_sampled_share": 0.05,  # X-Ray's default rule: the first request each second, then 5 %
}
BEGIN, END = "<!-- cost.py:begin -->", "<!-- cost.py:end -->"


class Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags kept as {"!Tag": value}."""


def _tagged(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


Loader.add_multi_constructor("!", _tagged)


def is_custom_namespace(ns) -> bool:
    return ns == {"!Ref": "MetricsNamespace"} or ns == "${MetricsNamespace}"


def count(template: dict) -> dict:
    resources = template["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    custom: set[tuple] = set()
    alarm_metrics = 0
    for a in alarms:
        if "MetricName" in a:  # a plain alarm reads one metric
            alarm_metrics += 1
            if is_custom_namespace(a.get("Namespace")):
                custom.add((a["MetricName"], tuple((d["Name"], str(d["Value"])) for d in a.get("Dimensions", []))))
        for m in a.get("Metrics", []):  # a metric-math alarm: each metric it reads
            if "MetricStat" in m:
                alarm_metrics += 1
                metric = m["MetricStat"]["Metric"]
                if is_custom_namespace(metric.get("Namespace")):
                    dims = tuple((d["Name"], str(d["Value"])) for d in metric.get("Dimensions", []))
                    custom.add((metric["MetricName"], dims))
    dashboards = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    for d in dashboards:
        body = d["Properties"]["DashboardBody"]
        body = body["!Sub"] if isinstance(body, dict) else body
        # ${Param} and ${Resource.Attr} stand for strings: any placeholder keeps the JSON valid.
        doc = json.loads(re.sub(r"\$\{[^}]+\}", "x", body.replace('"${MetricsNamespace}"', '"@custom"')))
        for widget in doc["widgets"]:
            for row in widget.get("properties", {}).get("metrics", []):
                if row and row[0] == "@custom":
                    parts = [p for p in row[1:] if not isinstance(p, dict)]
                    custom.add((parts[0], tuple(zip(parts[1::2], parts[2::2]))))
    secrets = [r for r in resources.values() if r["Type"] == "AWS::SecretsManager::Secret"]
    fn = template.get("Globals", {}).get("Function", {})
    return {
        "custom_metrics": len(custom),
        "alarms": len(alarms),
        "alarm_metrics": alarm_metrics,
        "dashboards": len(dashboards),
        "secrets": len(secrets),
        "memory_mb": int(fn.get("MemorySize", 128)),
        "arch": (fn.get("Architectures") or ["x86_64"])[0],
    }


def table(c: dict) -> str:
    fixed = [
        (f"CloudWatch alarms: {c['alarms']}, reading {c['alarm_metrics']} metrics",
         c["alarm_metrics"] * PRICE["alarm_metric_month"]),
        (f"CloudWatch dashboards: {c['dashboards']} (free if among the account's first 3)",
         c["dashboards"] * PRICE["dashboard_month"]),
        (f"Secrets Manager: {c['secrets']} secret", c["secrets"] * PRICE["secret_month"]),
    ]
    # Billed per metric that receives data in the month (prorated by the hour): none without
    # traffic, all of them once every route, endpoint and failure kind occurs every hour.
    metrics = (f"CloudWatch custom metrics: up to {c['custom_metrics']} (those the alarms and the dashboard read)",
               c["custom_metrics"] * PRICE["custom_metric_month"])
    gb_s = c["memory_mb"] / 1024 * ASSUME["mean_duration_ms"] / 1000 * 1_000_000
    per_m = [
        ("Lambda requests", PRICE["lambda_requests_per_m"]),
        (f"Lambda duration: {c['memory_mb']} MB {c['arch']}, {ASSUME['mean_duration_ms']} ms mean",
         gb_s * PRICE[f"lambda_gb_s_{c['arch']}"]),
        ("API Gateway HTTP API requests", PRICE["http_api_per_m"]),
        (f"DynamoDB on demand: {ASSUME['ddb_reads_per_request']} read unit per request at most",
         ASSUME["ddb_reads_per_request"] * PRICE["ddb_rru_per_m"]),
        (f"Secrets Manager calls: {ASSUME['secret_reads_per_million']:,} (new containers)",
         ASSUME["secret_reads_per_million"] / 10_000 * PRICE["secret_calls_per_10k"]),
        (f"CloudWatch Logs ingestion: {ASSUME['log_bytes_per_request']:,} bytes per request",
         ASSUME["log_bytes_per_request"] * 1_000_000 / 1e9 * PRICE["logs_ingest_gb"]),
        (f"X-Ray traces: {ASSUME['xray_sampled_share']:.0%} of requests sampled",
         ASSUME["xray_sampled_share"] * PRICE["xray_traces_per_m"]),
    ]
    fixed_total = sum(v for _, v in fixed)
    per_m_total = sum(v for _, v in per_m)
    lines = [
        f"| One stack, a month (USD, us-east-1 list prices {PRICES_AS_OF}, no free tier) | USD |",
        "| --- | ---: |",
        *(f"| {k} | {v:.2f} |" for k, v in fixed),
        f"| **Fixed, with no traffic at all** | **{fixed_total:.2f}** |",
        f"| {metrics[0]} | {metrics[1]:.2f} |",
        *(f"| {k}, per million requests | {v:.2f} |" for k, v in per_m),
        f"| **Per million requests** | **{per_m_total:.2f}** |",
        *(
            f"| **Total at {n:,} million requests a month** (every custom metric with data) | **{fixed_total + metrics[1] + n * per_m_total:.2f}** |"
            for n in (1, 10)
        ),
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--template", default=str(Path(__file__).resolve().parent.parent / "template.yaml"))
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--check-readme", metavar="MARKDOWN")
    group.add_argument("--write-readme", metavar="MARKDOWN")
    args = ap.parse_args()
    c = count(yaml.load(Path(args.template).read_text(), Loader=Loader))
    out = table(c)
    readme = args.check_readme or args.write_readme
    if not readme:
        print(out)
        return 0
    text = Path(readme).read_text()
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    if not match:
        print(f"cost.py: no {BEGIN} ... {END} block in {readme}", file=sys.stderr)
        return 1
    if args.write_readme:
        Path(readme).write_text(text[: match.start(1)] + out + text[match.end(1) :])
        print(f"cost.py: wrote the table into {readme}")
        return 0
    if match.group(1) != out:
        print(f"cost.py: {readme}'s cost table differs from the template's; run "
              f"scripts/cost.py --write-readme {readme}. Expected:\n{out}", file=sys.stderr)
        return 1
    print(f"cost.py: {readme}'s cost table matches template.yaml ({c['custom_metrics']} custom metrics, "
          f"{c['alarms']} alarms reading {c['alarm_metrics']} metrics, {c['dashboards']} dashboard)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
