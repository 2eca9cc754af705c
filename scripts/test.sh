#!/usr/bin/env bash
# Runs every test, the way CI does (.ci/run calls this). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# A full disk shows up as a linker killed by SIGBUS, far from its cause: say it up front.
free_kb=$(df -Pk . | awk 'NR == 2 {print $4}')
echo "== disk: $((free_kb / 1024 / 1024)) GB free here; a clean run needs about 7 GB"
if ((free_kb < 7 * 1024 * 1024)); then
    echo "warning: less than 7 GB free; the build may fail when the disk fills" >&2
fi

setup_python_tools
setup_lint_tools
setup_cfn_guard
setup_rust_tools
setup_arm64_target
setup_chromium
setup_dynamodb_local
export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0
# A test run builds from scratch or nearly so: incremental state would only add ~1.5 GB to target/.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Issue 18's shipping pieces first: they take seconds.
echo "== the GitHub Actions workflows: zizmor, the workflow schema, actionlint"
scripts/lint-workflows.sh
echo "== the smoke test of a deployed stack, against a stand-in of API Gateway on 127.0.0.1"
tests/smoke/test-smoke.sh
echo "== the monthly cost at list prices, from the template, and the README's copy of it"
"$venv/bin/python" scripts/cost.py --check-readme README.md

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "== build the binaries the end-to-end tests run (the Lambda functions, the dev server)"
cargo build --workspace --bins

echo "== tests (unit, handlers against the sandbox, moto and DynamoDB Local, binaries under a Runtime API, the account page in chromium)"
start_moto
start_dynamodb_local
results=$(mktemp)
cargo test --workspace --all-features 2>&1 | tee "$results"

echo "== the release binaries, as Lambda runs them: their EMF metrics and the shared token table"
cargo build --release -p list-bookings -p cancel-booking
BOOKINGS_BIN_PROFILE=release cargo test --workspace --all-features --test metrics --test token_store 2>&1 |
    tee -a "$results"

echo "== fuzz the request path for a minute (scripts/fuzz.sh: cargo fuzz on stable, libFuzzer)"
FUZZ_SECONDS=60 scripts/fuzz.sh

echo "== the SAM template: cfn-lint, sam validate --lint, sam build for arm64"
scripts/check-template.sh

passed=$(grep -Eo '[0-9]+ passed' "$results" | awk '{n += $1} END {print n + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$results" | awk '{n += $1} END {print n + 0}')
echo "== all tests passed, and the template builds"
echo "tests: $passed passed, $failed failed"
