#!/usr/bin/env bash
# Runs every test, the way CI does (.ci/run calls this). Installs what it needs first.
#
#   scripts/test.sh            everything
#   scripts/test.sh --quick    the edit-test loop
#
# What each stage runs, what --quick leaves out, and how long a clean run takes: docs/testing.md.
# Each stage prints how long it took, and the run ends with all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

quick=false
case "${1:-}" in
    --quick) quick=true ;;
    "") ;;
    *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac

timings=()
stage_name=""
stage_started=$SECONDS
# Ends the stage under way (recording its time and how large target/ has grown: the test
# command's disk is one of its targets, docs/testing.md) and starts the one named, if any.
stage() {
    if [ -n "$stage_name" ]; then
        local took=$((SECONDS - stage_started))
        local disk
        disk=$(du -sm target 2>/dev/null | cut -f1 || true)
        timings+=("$(printf '%5d s  %6s MB in target/  %s' "$took" "${disk:-0}" "$stage_name")")
        echo "== ($stage_name: ${took} s; target/ ${disk:-0} MB)"
    fi
    stage_name="${1:-}"
    stage_started=$SECONDS
    if [ -n "$stage_name" ]; then
        echo "== $stage_name"
    fi
}

# A full disk shows up as a linker killed by SIGBUS, far from its cause: say it up front.
free_kb=$(df -Pk . | awk 'NR == 2 {print $4}')
echo "== disk: $((free_kb / 1024 / 1024)) GB free here; a clean run needs about 7 GB"
if ((free_kb < 7 * 1024 * 1024)); then
    echo "warning: less than 7 GB free; the build may fail when the disk fills" >&2
fi

if $quick; then
    if [ ! -x "$venv/bin/moto_server" ] || ! dynamodb_local_jar_dir >/dev/null \
        || [ ! -d tests/oidc-provider/node_modules/oidc-provider ]; then
        echo "--quick installs nothing: run scripts/test.sh once first" >&2
        exit 2
    fi
else
    stage "install what the tests use (Python tools, workflow linters, checkov, cfn-guard, Rust components, Chromium, DynamoDB Local, the sign-in's npm packages)"
    setup_python_tools
    setup_lint_tools
    setup_checkov_tools
    setup_cfn_guard
    setup_rust_tools
    setup_arm64_target
    setup_chromium
    setup_dynamodb_local
    setup_page_sign_in
    setup_oidc_provider
    setup_iam_simulation
fi
export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0
# A test run builds from scratch or nearly so: incremental state would only add ~1.5 GB to target/.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

if ! $quick; then
    # The shipping pieces first: they take seconds.
    stage "the GitHub Actions workflows: zizmor, the workflow schema, actionlint"
    scripts/lint-workflows.sh
    stage "checkov on template.yaml and pipeline/bootstrap.yaml, offline: no failed check, every skip with its reason"
    scripts/check-checkov.sh
    stage "the smoke test of a deployed stack, against a stand-in of API Gateway on 127.0.0.1"
    tests/smoke/test-smoke.sh
    stage "the monthly cost at list prices, from the template, and its copy in docs/deploy.md"
    "$venv/bin/python" scripts/cost.py --check-readme docs/deploy.md
fi
# Well under a second, so --quick runs it too. The self-test first: a check that cannot fail proves nothing.
stage "the README and docs/: links, anchors, cargo packages and targets, paths (scripts/check-docs.py)"
python3 scripts/check-docs.py --self-test
python3 scripts/check-docs.py

stage "format, lints and the shared crate's docs"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
# Every intra-doc link in the crate resolves, private items included: a renamed item cannot
# leave a module map pointing at nothing.
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items -p bookings

stage "build the binaries the end-to-end tests run (the Lambda functions, the dev server)"
# With --all-features, as the tests build them: every shared dependency resolves the same in
# both, so target/debug holds one build of it and the tests link against this one (tests/Cargo.toml).
cargo build --workspace --bins --all-features

stage "tests (unit, handlers against the sandbox, moto and DynamoDB Local, binaries under a Runtime API, the account page in chromium)"
start_moto
start_dynamodb_local
results=$(mktemp)
cargo test --workspace --all-features 2>&1 | tee "$results"

if ! $quick; then
    stage "the release binaries, as Lambda runs them: their EMF metrics, the shared token table, no test-only TLS trust"
    cargo build --release -p list-bookings -p cancel-booking
    BOOKINGS_BIN_PROFILE=release cargo test --workspace --all-features --test e2e -- \
        metrics:: token_store:: tls::only_test_builds_can_be_told_to_trust_another_authority 2>&1 |
        tee -a "$results"

    stage "build the fuzz target (scripts/fuzz.sh: cargo fuzz on stable, libFuzzer)"
    scripts/fuzz.sh --build

    # libFuzzer runs on one core: the template's lint steps, about as long and also on one core,
    # take the other (their output follows the fuzzer's).
    stage "fuzz the request path for a minute; beside it, the SAM template's cfn-lint, sam validate --lint and CloudFormation Guard rules"
    template_log=$(mktemp)
    SKIP_BUILD=1 scripts/check-template.sh >"$template_log" 2>&1 &
    template_checks=$!
    if ! FUZZ_SECONDS=60 scripts/fuzz.sh; then
        kill "$template_checks" 2>/dev/null || true
        exit 1
    fi
    if ! wait "$template_checks"; then
        cat "$template_log"
        echo "the template checks failed (above)" >&2
        exit 1
    fi
    cat "$template_log"

    stage "the SAM template's build for arm64 (sam build), and what it built"
    SKIP_LINT=1 scripts/check-template.sh
fi
stage

passed=$(grep -Eo '[0-9]+ passed' "$results" | awk '{n += $1} END {print n + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$results" | awk '{n += $1} END {print n + 0}')
echo "== stages"
printf '%s\n' "${timings[@]}"
if $quick; then
    echo "== all tests passed (quick: no release binaries, fuzzing or template checks)"
else
    echo "== all tests passed, and the template builds"
fi
echo "tests: $passed passed, $failed failed"
