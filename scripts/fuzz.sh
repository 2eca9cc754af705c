#!/usr/bin/env bash
# Fuzzes the whole request path (API Gateway event JSON -> lambda_http -> App::handle, against the
# sandbox OmniLab on loopback) with libFuzzer, for a bounded time, and fails on any crash, panic,
# broken contract or timeout. The target and its oracles: fuzz/fuzz_targets/handle.rs.
#
#   FUZZ_SECONDS=60 scripts/fuzz.sh        # default 60 seconds of fuzzing (the build comes first)
#   HANDLE_FUZZ_STATS=1 scripts/fuzz.sh    # also print what the inputs came to (ok, rejected...)
#   scripts/fuzz.sh --build                # only the build (scripts/test.sh: it runs the template
#                                          # checks beside the fuzzing, not beside this build)
#
# On the stable toolchain. `cargo fuzz` needs nightly only for what it passes as -Z flags: a
# sanitizer (-Zsanitizer=address is its default) and -Zbuild-std. `--sanitizer none` drops both;
# everything else it passes is stable (-Cpasses=sancov-module, the -sanitizer-coverage-* LLVM
# arguments, --cfg fuzzing, -Cdebug-assertions), so no RUSTC_BOOTSTRAP is needed. AddressSanitizer
# adds little here: neither our crate nor the sandbox has any unsafe code; a crash is a panic.
#
# A minute's smoke run does not need the world instrumented: libFuzzer's coverage is for our crates
# only (scripts/fuzz-rustc.sh, the compiler wrapper), and the dependencies go without debug info,
# or without optimization where a run never executes them (fuzz/Cargo.toml). Measured back to back
# on 2026-12-04: a clean build in 164 s instead of 377 s, target/fuzz 0.64 GB instead of 1.1 GB.
#
# The seeds in fuzz/corpus/handle are read, never written: the corpus libFuzzer grows lives in
# target/fuzz/corpus/handle (kept between runs), a crash input in fuzz/artifacts/handle/ (kept
# out of git). Replay one with
#   HANDLE_FUZZ_PRINT=1 target/fuzz/x86_64-unknown-linux-gnu/release/handle fuzz/artifacts/handle/<file>
# which also prints it as event JSON: save that line (from its `0` or `1`) as a file in
# fuzz/regressions/handle/, and tests/e2e/oversized.rs replays it through App::handle from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=false
case "${1:-}" in
    --build) build_only=true ;;
    "") ;;
    *) echo "usage: scripts/fuzz.sh [--build]" >&2; exit 2 ;;
esac
seconds="${FUZZ_SECONDS:-60}"
target=handle
cargo_fuzz_version=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
    echo "fuzz: installing cargo-fuzz $cargo_fuzz_version from crates.io"
    cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

# The same flags for the build and the run, so that the run does not rebuild.
flags=(--sanitizer none --debug-assertions --target-dir target/fuzz)
corpus="target/fuzz/corpus/$target"
mkdir -p "$corpus"

# libFuzzer's instrumentation for our crates only, not for the AWS SDK, tokio, hyper and the other
# dependencies: see the wrapper, and fuzz/Cargo.toml for the rest of what the build leaves out.
export RUSTC_WRAPPER="$PWD/scripts/fuzz-rustc.sh"
# Cargo's fingerprints include RUSTFLAGS but not the wrapper, so it would reuse crates built
# under another version of it (or none, before it existed) as they are. Start the build over when
# the wrapper changes; the corpus, in target/fuzz/corpus, stays.
build_dir="target/fuzz/$(rustc -vV | sed -n 's/^host: //p')"
wrapper_sum="$(sha256sum scripts/fuzz-rustc.sh | cut -d' ' -f1)"
stamp=target/fuzz/rustc-wrapper.sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$wrapper_sum" ]; then
    if [ -d "$build_dir" ]; then
        echo "fuzz: scripts/fuzz-rustc.sh changed: rebuilding $build_dir from scratch"
        rm -rf "$build_dir"
    fi
    echo "$wrapper_sum" > "$stamp"
fi

echo "fuzz: $(rustc --version), $(cargo fuzz --version)"
started=$SECONDS
cargo fuzz build "$target" "${flags[@]}"
# Instrumented objects put their counters in this section; libFuzzer's own code does not name it.
# Without it (the wrapper took none of our crates for ours) libFuzzer would only warn.
if ! grep -qa __sancov_cntrs "$build_dir/release/$target"; then
    echo "fuzz: $build_dir/release/$target has no coverage counters (see scripts/fuzz-rustc.sh)" >&2
    exit 1
fi
if $build_only; then
    echo "fuzz: built in $((SECONDS - started)) s"
    exit 0
fi
echo "fuzz: built in $((SECONDS - started)) s; fuzzing for $seconds s"

# -timeout: an input that takes over 10 s is a failure (the app's budget here is 5 s).
# -max_len: events of up to 16 KiB (the seeds are under 1 KiB); tests/e2e/oversized.rs covers 1 MB.
cargo fuzz run "$target" "${flags[@]}" "$corpus" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" \
    -timeout=10 \
    -max_len=16384 \
    -dict="fuzz/$target.dict" \
    -print_final_stats=1
echo "fuzz: no crash in $seconds s ($(find "$corpus" -type f | wc -l) inputs in the corpus)"
