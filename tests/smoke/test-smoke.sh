#!/usr/bin/env bash
# Tests scripts/smoke.sh against tests/smoke/standin.py (API Gateway's answers, on 127.0.0.1 only):
# it passes against a sound stand-in and fails, naming the cause, against each broken one.
# Run by scripts/test.sh; alone: tests/smoke/test-smoke.sh (any python3, nothing to install).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=$(mktemp -d)
standin_pid=
cleanup() {
    [[ -z "$standin_pid" ]] || kill "$standin_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
origin=https://dev.example-brand.com

start_standin() { # mode
    [[ -z "$standin_pid" ]] || { kill "$standin_pid" 2>/dev/null || true; wait "$standin_pid" 2>/dev/null || true; }
    rm -f "$work/port"
    python3 tests/smoke/standin.py --port-file "$work/port" --mode "$1" &
    standin_pid=$!
    for _ in $(seq 1 50); do [[ -s "$work/port" ]] && break; sleep 0.1; done
    [[ -s "$work/port" ]] || { echo "test-smoke: the stand-in did not start" >&2; exit 1; }
    url="http://127.0.0.1:$(cat "$work/port")/"
}

# case: name, stand-in mode, expected exit status, a line the output must contain, smoke's arguments...
case_() {
    local name=$1 mode=$2 want_rc=$3 want_line=$4
    shift 4
    start_standin "$mode"
    set +e
    out=$(SMOKE_PYTHON=python3 scripts/smoke.sh --api-url "$url" --origin "$origin" "$@" 2>&1)
    rc=$?
    set -e
    if [[ $rc == "$want_rc" ]] && grep -qF -- "$want_line" <<<"$out"; then
        passed=$((passed + 1))
        printf '  ok    %s\n' "$name"
    else
        failed=$((failed + 1))
        printf '  FAIL  %s: exit %s (want %s), output:\n%s\n' "$name" "$rc" "$want_rc" "$out"
    fi
}

export SMOKE_TEST_JWT=smoke-test-token
case_ 'a sound stack passes all four checks' ok 0 'smoke: 4 passed, 0 failed'
case_ 'not-configured passes, naming the fix' not-configured 0 'aws secretsmanager put-secret-value'
case_ 'not-configured fails with --require-configured' not-configured 1 '503 not-configured: put the brand' --require-configured
case_ 'a route without the authorizer fails' no-auth 1 'without a token -> 200, expected 401'
case_ 'an API that admits any origin fails' open-cors 1 'the API admits any origin'
case_ 'an origin the stack does not list fails' wrong-origin 1 'is AllowedOrigins in samconfig.toml'
SMOKE_TEST_JWT=expired case_ 'a token the authorizer refuses fails, naming issuer and audience' ok 1 'JwtIssuer and JwtAudience'
SMOKE_TEST_JWT= SMOKE_TEST_JWT_COMMAND='echo smoke-test-token' case_ 'the token from SMOKE_TEST_JWT_COMMAND' ok 0 'smoke: 4 passed, 0 failed'
SMOKE_TEST_JWT= case_ 'no token fails' ok 1 'no test token'
SMOKE_TEST_JWT= case_ '--no-token skips the authenticated check, saying so' ok 0 'SKIP  GET /bookings' --no-token

echo "smoke test of the smoke test: $passed passed, $failed failed"
[[ $failed == 0 ]]
