#!/usr/bin/env bash
# The benchmark (docs/performance.md): release binaries under a local Lambda Runtime API,
# against the OmniLab sandbox, moto's Secrets Manager and DynamoDB Local (the shared token
# table). Prints a table of figures and targets: wall times, CPU time (all threads, what Lambda
# bills), and the same figures with each memory size's CPU share (scripts/cpu-share.sh, which
# the benchmark wraps around the function processes; it needs root, else those rows say skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_python_tools
setup_dynamodb_local

# The HTTPS rows need the same release code able to trust the sandbox's authority: the
# test-tls build, kept beside the deployed one (only `bookings` and the binaries rebuild).
cargo build --release -p list-bookings -p cancel-booking --features bookings/test-tls
mkdir -p target/release/test-tls
cp target/release/list-bookings target/release/cancel-booking target/release/test-tls/
cargo build --release -p list-bookings -p cancel-booking
start_moto
start_dynamodb_local
BOOKINGS_BIN_PROFILE=release cargo run --release -q -p bookings-tests --bin bench
