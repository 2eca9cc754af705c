#!/usr/bin/env bash
# Runs every test, the way CI does (.ci/run calls this). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

setup_python_tools
setup_rust_tools
setup_arm64_target
setup_chromium
export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "== build the binaries the end-to-end tests run (the Lambda functions, the dev server)"
cargo build --workspace --bins

echo "== tests (unit, handlers against the sandbox and moto, binaries under a Runtime API, the account page in chromium)"
start_moto
cargo test --workspace --all-features

echo "== fuzz the request path for a minute (scripts/fuzz.sh: cargo fuzz on stable, libFuzzer)"
FUZZ_SECONDS=60 scripts/fuzz.sh

echo "== the SAM template: cfn-lint, sam validate --lint, sam build for arm64"
scripts/check-template.sh

echo "== all tests passed"
