#!/usr/bin/env bash
# Checkov's CloudFormation checks over template.yaml and pipeline/bootstrap.yaml, offline:
#   - fails on any failed check and on any file checkov could not parse;
#   - refuses a run that checked nothing, or that left out either template (a scan that finds no
#     resource passes with status 0, so a renamed file or an unsupported template must not look clean);
#   - refuses a skip without its reason: each skip is a `Metadata: checkov: skip: [{id, comment}]`
#     on the resource it does not apply to, and its comment says why.
# Offline: --skip-download (no policy metadata or guidelines from the Prisma Cloud platform),
# BC_SKIP_MAPPING (no check-id mapping download) and CKV_SKIP_PACKAGE_UPDATE_CHECK (no version check
# against PyPI); no API key, so nothing is uploaded. Where `unshare -n` works (root, as here and in
# .ci/run), checkov runs in a network namespace with no network at all, which proves it.
# Tools from .venv-checkov (scripts/setup.sh: setup_checkov_tools). A few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
checkov_venv=${CHECKOV_VENV:-.venv-checkov}
templates=(template.yaml pipeline/bootstrap.yaml)
checkov="$checkov_venv/bin/checkov"
[[ -x "$checkov" ]] || { echo "check-checkov: $checkov missing: source scripts/setup.sh && setup_checkov_tools" >&2; exit 1; }

export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true
unset BC_API_KEY PRISMA_API_URL
no_network=()
if unshare -n true 2>/dev/null; then
    no_network=(unshare -n)
fi
args=(--framework cloudformation --skip-download --output json)
for template in "${templates[@]}"; do
    args+=(-f "$template")
done

echo "== checkov on ${templates[*]} (${no_network[*]:-network not cut off: offline by its flags only})"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
set +e
"${no_network[@]}" "$checkov" "${args[@]}" >"$report" 2>"$report.err"
rc=$?
set -e
# Checkov's log lines go to stderr; show them only when something went wrong.
python3 - "$report" "$rc" "${templates[@]}" <<'EOF' || { cat "$report.err" >&2; rm -f "$report.err"; exit 1; }
import json, sys

path, rc, templates = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
try:
    with open(path) as f:
        report = json.load(f)
except (OSError, ValueError) as e:
    sys.exit(f"check-checkov: FAIL: no JSON report from checkov (exit {rc}): {e}")
# One framework gives one report; several (or none) a list.
reports = report if isinstance(report, list) else [report]
reports = [r for r in reports if r.get("check_type") == "cloudformation"]
if len(reports) != 1:
    sys.exit(f"check-checkov: FAIL: expected one cloudformation report, got {len(reports)} (exit {rc})")
summary, results = reports[0]["summary"], reports[0]["results"]
problems = []
for check in results.get("failed_checks", []):
    problems.append(f"FAILED {check['check_id']} {check['resource']} ({check['file_path']}:"
                    f"{check['file_line_range'][0]}): {check['check_name']}")
for parse_error in results.get("parsing_errors", []) or []:
    problems.append(f"could not parse {parse_error}")
ran = summary["passed"] + summary["failed"]
if ran == 0:
    problems.append("0 checks ran: checkov found nothing to check")
for template in templates:
    seen = {c["file_path"].lstrip("/") for kind in ("passed_checks", "failed_checks", "skipped_checks")
            for c in results.get(kind, [])}
    if template not in seen:
        problems.append(f"no check ran on {template}")
skipped = results.get("skipped_checks", [])
for check in skipped:
    comment = (check["check_result"].get("suppress_comment") or "").strip()
    where = f"{check['check_id']} on {check['resource']} ({check['file_path'].lstrip('/')})"
    if not comment or comment == "No comment provided":
        problems.append(f"skip without a reason: {where}")
    else:
        print(f"  skipped {where}: {comment}")
if rc != 0 and not problems:
    problems.append(f"checkov exited {rc}")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(f"check-checkov: FAIL: {summary['failed']} failed, {summary['parsing_errors']} not parsed, "
             f"{ran} ran ({summary['checkov_version']})")
print(f"check-checkov: {summary['passed']} passed, 0 failed, {len(skipped)} skipped with their reasons, "
      f"on {summary['resource_count']} resources of {len(templates)} templates (checkov {summary['checkov_version']})")
EOF
rm -f "$report.err"
