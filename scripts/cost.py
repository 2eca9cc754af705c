#!/usr/bin/env python3
"""What one stack of template.yaml costs a month at AWS list prices, counted from the template.

    python3 scripts/cost.py                                 # prints the table (Markdown)
    python3 scripts/cost.py --requests 0.2 3 50             # at other traffic (millions a month)
    python3 scripts/cost.py --check-readme docs/deploy.md   # fails if the docs' copy differs
    python3 scripts/cost.py --write-readme docs/deploy.md   # rewrites the docs' copy

The copy is the table between the cost.py:begin and cost.py:end markers of docs/deploy.md
("What a stack costs a month"); the options take any Markdown file with those markers.

Fixed costs (whatever the traffic) come from what the template declares: the custom metrics its
alarms and dashboard read in the MetricsNamespace, its alarms (each metric an alarm reads is
billed), its dashboard, the secret it creates (and whether it outlives the stack: its
DeletionPolicy). Traffic costs use the template's memory size, architecture and CORS MaxAge and the
assumptions below, each stated in its row; they are computed at each traffic level (X-Ray's
sampling is not proportional to traffic). Prices: us-east-1 list prices, without free tiers, as of
the date in PRICES_AS_OF; other regions differ by a few percent. Where each price and billing rule
comes from: docs/deploy.md, "What a stack costs a month". Needs PyYAML (the project venv has it,
through cfn-lint).
"""

from __future__ import annotations

import argparse
import json
import math
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
    "data_transfer_out_gb": 0.09,  # to the internet, first 10 TB a month
}
# How AWS counts (each printed with the table; the sources are in docs/deploy.md).
MONTH_SECONDS = 730 * 3600  # AWS prices a month as 730 hours
HTTP_API_UNIT_BYTES = 512 * 1024  # HTTP APIs meter requests in 512 KB increments
XRAY_RESERVOIR_PER_S = 1  # X-Ray's default sampling rule: the first request each second...
XRAY_FIXED_RATE = 0.05  # ...then 5 % of the others
# Assumptions (the template cannot say these; each is printed with the table).
ASSUME = {
    "requests_millions": (1, 10),  # the traffic levels of the table (--requests)
    "mean_duration_ms": 300,  # mostly waiting on OmniLab: see docs/performance.md's benchmark figures
    "ddb_reads_per_request": 1,  # at most one strongly consistent GetItem of the shared token (1 RRU)
    "secret_reads_per_million": 1000,  # one per new container; ~1 in 1,000 requests
    "log_bytes_per_request": 2000,  # the request's JSON log lines, its EMF document, the access log line
    "log_bytes_per_preflight": 450,  # a preflight's access log line, if API Gateway logs it
    # Every call comes from the brand's page, cross-origin and with an Authorization header (not a
    # "simple" request), so the browser sends a preflight first; it caches the answer MaxAge seconds
    # per URL, and list queries and cancel URLs differ from call to call: about one per request.
    "preflights_per_request": 1.0,
    "answer_bytes": 36_000,  # a page of bookings (docs/performance.md's benchmark answer)
    "large_answer_share": 0.001,  # answers of all=true at the cap, up to the 6 MB a Lambda can return
    "large_answer_bytes": 6_291_456 - 16 * 1024,  # MAX_BODY_BYTES in shared/src/view/json.rs
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
    apis = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Serverless::HttpApi"]
    cors = [a["CorsConfiguration"] for a in apis if isinstance(a.get("CorsConfiguration"), dict)]
    return {
        "custom_metrics": len(custom),
        "alarms": len(alarms),
        "alarm_metrics": alarm_metrics,
        "dashboards": len(dashboards),
        "secrets": len(secrets),
        "secrets_retained": sum(1 for s in secrets if s.get("DeletionPolicy") == "Retain"),
        "cors": bool(cors),
        "cors_max_age": int(cors[0].get("MaxAge", 0)) if cors else 0,
        "memory_mb": int(fn.get("MemorySize", 128)),
        "arch": (fn.get("Architectures") or ["x86_64"])[0],
    }


def xray_sampled_share(requests: float) -> float:
    """The share of a month's requests X-Ray's default rule samples, when they arrive at random
    (Poisson) at the month's mean rate: the reservoir takes the first of each second that has one,
    the fixed rate a share of the rest."""
    rate = requests / MONTH_SECONDS
    if rate == 0:
        return 0.0
    first = 1 - math.exp(-rate)  # seconds with at least one request (reservoir of one a second)
    assert XRAY_RESERVOIR_PER_S == 1, "the formula above is for a reservoir of one a second"
    return (first + XRAY_FIXED_RATE * (rate - first)) / rate


def money(v: float) -> str:
    return f"{v:,.2f}"


def table(c: dict, levels_m=None) -> str:
    levels = [m * 1_000_000 for m in (levels_m or ASSUME["requests_millions"])]
    columns = [0, *levels]
    retained = c["secrets_retained"]
    secret_note = "; DeletionPolicy Retain: it outlives the stack, see the last row" if retained else ""
    fixed = [
        (f"CloudWatch alarms: {c['alarms']}, reading {c['alarm_metrics']} metrics",
         lambda n: c["alarm_metrics"] * PRICE["alarm_metric_month"]),
        (f"CloudWatch dashboards: {c['dashboards']} (free if among the account's first 3)",
         lambda n: c["dashboards"] * PRICE["dashboard_month"]),
        (f"Secrets Manager: {c['secrets']} secret (when the stack creates it{secret_note})",
         lambda n: c["secrets"] * PRICE["secret_month"]),
        # Billed per metric that receives data in the month (prorated by the hour): none without
        # traffic, all of them once every route, endpoint and failure kind occurs every hour.
        (f"CloudWatch custom metrics: up to {c['custom_metrics']} (those the alarms and the dashboard "
         f"read), billed in the hours they get data: none without traffic, all of them with",
         lambda n: c["custom_metrics"] * PRICE["custom_metric_month"] if n else 0.0),
    ]
    gb_s = c["memory_mb"] / 1024 * ASSUME["mean_duration_ms"] / 1000
    large, share = ASSUME["large_answer_bytes"], ASSUME["large_answer_share"]
    units_large = math.ceil(large / HTTP_API_UNIT_BYTES)
    units_small = math.ceil(ASSUME["answer_bytes"] / HTTP_API_UNIT_BYTES)
    units = (1 - share) * units_small + share * units_large
    preflights = ASSUME["preflights_per_request"] if c["cors"] else 0.0
    answer_bytes = (1 - share) * ASSUME["answer_bytes"] + share * large
    shares = ", ".join(f"{xray_sampled_share(n):.0%} at {n / 1e6:,g} million" for n in levels)
    traffic = [
        ("Lambda requests", lambda n: n / 1e6 * PRICE["lambda_requests_per_m"]),
        (f"Lambda duration: {c['memory_mb']} MB {c['arch']}, {ASSUME['mean_duration_ms']} ms mean",
         lambda n: n * gb_s * PRICE[f"lambda_gb_s_{c['arch']}"]),
        (f"API Gateway HTTP API requests, metered per 512 KB: {share:.1%} of answers at the "
         f"{large / 1024 / 1024:.0f} MB cap, {units_large} requests each",
         lambda n: n * units / 1e6 * PRICE["http_api_per_m"]),
        (f"API Gateway HTTP API: CORS preflights, {preflights:g} per request (API Gateway answers them "
         f"itself; a browser reuses one for {c['cors_max_age']} s, for the same URL only)",
         lambda n: n * preflights / 1e6 * PRICE["http_api_per_m"]),
        (f"DynamoDB on demand: {ASSUME['ddb_reads_per_request']} read unit per request at most",
         lambda n: n * ASSUME["ddb_reads_per_request"] / 1e6 * PRICE["ddb_rru_per_m"]),
        (f"Secrets Manager calls: {ASSUME['secret_reads_per_million']:,} per million requests (new containers)",
         lambda n: n / 1e6 * ASSUME["secret_reads_per_million"] / 10_000 * PRICE["secret_calls_per_10k"]),
        (f"CloudWatch Logs ingestion: {ASSUME['log_bytes_per_request']:,} bytes per request, "
         f"{ASSUME['log_bytes_per_preflight']} per preflight (its access log line)",
         lambda n: n * (ASSUME["log_bytes_per_request"] + preflights * ASSUME["log_bytes_per_preflight"])
         / 1e9 * PRICE["logs_ingest_gb"]),
        (f"X-Ray traces: the default rule (the first request each second, then "
         f"{XRAY_FIXED_RATE:.0%}), requests at random at the month's mean rate: sampled {shares}",
         lambda n: n * xray_sampled_share(n) / 1e6 * PRICE["xray_traces_per_m"]),
        (f"Data transfer out: {ASSUME['answer_bytes'] / 1000:.0f} KB answers, {share:.1%} of them "
         f"{large / 1024 / 1024:.0f} MB (mean {answer_bytes / 1000:,.0f} KB)",
         lambda n: n * answer_bytes / 1e9 * PRICE["data_transfer_out_gb"]),
    ]
    rows = fixed + traffic
    totals = [sum(f(n) for _, f in rows) for n in columns]
    head = " | ".join(["no traffic", *(f"{n / 1e6:,g} million requests" for n in levels)])
    lines = [
        f"| One stack, a month (USD, us-east-1 list prices {PRICES_AS_OF}, no free tier) | {head} |",
        "| --- |" + " ---: |" * len(columns),
        *(f"| {label} | " + " | ".join(money(f(n)) for n in columns) + " |" for label, f in rows),
        "| **Total** | " + " | ".join(f"**{money(v)}**" for v in totals) + " |",
    ]
    if retained:
        after = retained * PRICE["secret_month"]
        lines.append(f"| **Left after `sam delete`**: the retained secret, until you delete it | "
                     + " | ".join(f"**{money(after)}**" for _ in columns) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--template", default=str(Path(__file__).resolve().parent.parent / "template.yaml"))
    ap.add_argument("--requests", metavar="MILLIONS", type=float, nargs="+",
                    help="requests a month, in millions, one column each (default: %s)"
                    % " ".join(map(str, ASSUME["requests_millions"])))
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--check-readme", metavar="MARKDOWN")
    group.add_argument("--write-readme", metavar="MARKDOWN")
    args = ap.parse_args()
    c = count(yaml.load(Path(args.template).read_text(), Loader=Loader))
    readme = args.check_readme or args.write_readme
    if readme and args.requests:
        ap.error("--requests changes the table: the docs' copy is at the default traffic")
    out = table(c, args.requests)
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
