#!/usr/bin/env bash
# The RUSTC_WRAPPER of scripts/fuzz.sh's build: libFuzzer's coverage instrumentation for our own
# crates only. Cargo runs it as `fuzz-rustc.sh <rustc> <args>...` for every crate it compiles.
#
# `cargo fuzz build` puts its flags in RUSTFLAGS, and RUSTFLAGS reach every crate alike: the AWS
# SDK, rustls, tokio, hyper and the ~170 other libraries got sanitizer coverage (an 8-bit counter
# per edge, a PC table, a hook on every comparison, stack depth), with branch folding off and one
# codegen unit each. Time and disk spent on code this project does not own, and a run that spent
# most of its time in serde_json's and hyper's comparison hooks. So for a crate whose manifest is
# outside this repository (the registry's), this drops
#   -Cpasses=sancov-module and the -sanitizer-coverage-* LLVM arguments: no counters, no hooks;
#   -Cllvm-args=-simplifycfg-branch-fold-threshold=0: it keeps branches apart for the counters,
#       which are not there;
#   -Ccodegen-units=1: cargo fuzz forces one unit because sancov stops ThinLTO from importing
#       across units; without sancov that does not apply, and fuzz/Cargo.toml's 16 units do.
# It keeps, for every crate, the flags that change behaviour rather than cost:
#   --cfg fuzzing: crates read it (encoding_rs leaves out debug assertions that would panic on
#       inputs a fuzzer makes; tokio, h2 and rustls expose hooks for fuzzing), and all crates of
#       one build should see the same cfgs;
#   -Cdebug-assertions (with the overflow checks it implies): a dependency's debug_assert! is how
#       a misuse by our code becomes a crash.
# Our crates (bookings in shared/, omnilab-sandbox in sandbox/, the fuzz target in fuzz/) get all
# that cargo fuzz asks. Dependency code the compiler inlines or instantiates into them (generics,
# #[inline] functions) is instrumented with them; the rest is not, so libFuzzer's `cov:` and `ft:`
# count paths through our code, not through serde_json's parser. Debug info is the profile's
# business (fuzz/Cargo.toml). Build scripts and proc macros get no RUSTFLAGS (cargo fuzz passes
# --target), so for them this changes nothing.
#
# Cargo does not fingerprint the wrapper: scripts/fuzz.sh rebuilds when this file changes.
set -euo pipefail

rustc="$1"
shift
# Both paths resolved (pwd -P), so that a checkout reached through a symlink still matches. Were
# our crates not to match, libFuzzer would only warn and fuzz blind: scripts/fuzz.sh checks that
# the binary has counters.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
manifest_dir="$repo"
if [ -n "${CARGO_MANIFEST_DIR:-}" ]; then
    manifest_dir="$(cd "$CARGO_MANIFEST_DIR" && pwd -P)"
fi

# Ours, or not a crate at all (cargo's `rustc -vV` and target-info probes): as cargo fuzz asks.
case "$manifest_dir/" in
    "$repo"/*) exec "$rustc" "$@" ;;
esac

args=()
while [ $# -gt 0 ]; do
    arg="$1"
    shift
    # Codegen options come as `-C key=value` (cargo's, from the profile) or `-Ckey=value`
    # (RUSTFLAGS'): read both the same way.
    option=""
    if [ "$arg" = "-C" ] && [ $# -gt 0 ]; then
        option="$1"
        shift
    elif [[ "$arg" == -C?* ]]; then
        option="${arg#-C}"
    fi
    if [ -z "$option" ]; then
        args+=("$arg")
        continue
    fi
    case "$option" in
        passes=sancov-module) ;;
        llvm-args=-sanitizer-coverage-*) ;;
        llvm-args=-simplifycfg-branch-fold-threshold=*) ;;
        # cargo fuzz's, after the profile's `-C codegen-units=16`, which then applies.
        codegen-units=1) ;;
        *) args+=("-C$option") ;;
    esac
done
exec "$rustc" "${args[@]}"
