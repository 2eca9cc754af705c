#!/usr/bin/env bash
# Lints the GitHub Actions workflows offline (nothing here can reach GitHub, and nothing runs them):
#   1. zizmor --offline          (security audits: pinned actions, permissions, credentials, injection)
#   2. check-jsonschema          (GitHub's workflow schema, as check-jsonschema vendors it)
#   3. actionlint (kjanat build) (expressions, job graph, reusable-workflow calls, shell)
# Tools from .venv-lint (scripts/setup.sh: setup_lint_tools). A few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lint_venv=${LINT_VENV:-.venv-lint}
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
((${#workflows[@]} > 0)) || { echo "lint-workflows: no workflows found" >&2; exit 1; }

echo "== zizmor --offline ($("$lint_venv/bin/zizmor" --version))"
"$lint_venv/bin/zizmor" --offline --no-progress .github/workflows
echo "== check-jsonschema --builtin-schema vendor.github-workflows"
"$lint_venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
echo "== actionlint ($("$lint_venv/bin/actionlint" -version | head -n1))"
"$lint_venv/bin/actionlint" "${workflows[@]}"
echo "lint-workflows: ${#workflows[@]} workflows clean"
