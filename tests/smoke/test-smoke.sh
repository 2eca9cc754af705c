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
case_ 'a sound stack passes all six checks' ok 0 'smoke: 6 passed, 0 failed'
case_ 'not-configured passes, naming the fix' not-configured 0 'aws secretsmanager put-secret-value'
case_ 'not-configured fails with --require-configured' not-configured 1 '503 not-configured: put the brand' --require-configured
case_ 'a route without the authorizer fails' no-auth 1 'without a token -> 200, expected 401'
case_ 'an API that admits any origin fails' open-cors 1 'the API admits any origin'
case_ 'an origin the stack does not list fails' wrong-origin 1 'is AllowedOrigins in samconfig.toml'
case_ 'a 401 the page cannot read fails' bare-401 1 'the page cannot read it'
case_ 'a stack that hides Retry-After from the page fails' hidden-headers 1 'cannot read apigw-requestid and Retry-After'
SMOKE_TEST_JWT=expired case_ 'a token the authorizer refuses fails, naming issuer and audience' ok 1 'JwtIssuer and JwtAudience'
SMOKE_TEST_JWT= SMOKE_TEST_JWT_COMMAND='echo smoke-test-token' case_ 'the token from SMOKE_TEST_JWT_COMMAND' ok 0 'smoke: 6 passed, 0 failed'
SMOKE_TEST_JWT= case_ 'no token fails' ok 1 'no test token'
SMOKE_TEST_JWT= case_ '--no-token skips the authenticated check, saying so' ok 0 'SKIP  GET /bookings' --no-token

# The stack path: ApiUrl and AllowedOrigins read with boto3 from a stack in moto's CloudFormation
# (on 127.0.0.1), whose output points at the stand-in. Needs the project venv (moto, boto3).
if [[ -x .venv/bin/moto_server ]]; then
    moto_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    .venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
    moto_pid=$!
    trap 'kill "$moto_pid" 2>/dev/null || true; cleanup' EXIT
    for _ in $(seq 1 100); do curl -fsS -m 1 "http://127.0.0.1:$moto_port/moto-api/" >/dev/null 2>&1 && break; sleep 0.1; done
    start_standin ok
    export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=eu-west-1
    # smoke.py falls back on AWS_REGION; the stack set-up below is plain boto3, which wants this one.
    export AWS_DEFAULT_REGION=eu-west-1
    unset AWS_PROFILE AWS_SESSION_TOKEN
    .venv/bin/python - "$url" <<'PY'
import sys, boto3
template = """
Parameters:
  # CommaDelimitedList in template.yaml; CloudFormation's DescribeStacks gives it back as the
  # comma-joined string either way, while moto would give a list's repr: String here.
  AllowedOrigins: {Type: String}
  ApiBase: {Type: String}
Resources:
  Placeholder: {Type: AWS::SNS::Topic}
Outputs:
  ApiUrl: {Value: !Ref ApiBase}
  SecretArn: {Value: arn:aws:secretsmanager:eu-west-1:000000000000:secret:omnilab-AbCdEf}
"""
boto3.client("cloudformation").create_stack(StackName="omnilab-bookings-smoke", TemplateBody=template, Parameters=[
    {"ParameterKey": "AllowedOrigins", "ParameterValue": "https://dev.example-brand.com,http://localhost:3000"},
    {"ParameterKey": "ApiBase", "ParameterValue": sys.argv[1]}])
PY
    set +e
    out=$(SMOKE_PYTHON=.venv/bin/python scripts/smoke.sh omnilab-bookings-smoke 2>&1)
    rc=$?
    set -e
    if [[ $rc == 0 ]] && grep -qF "smoke: ${url}bookings (allowed origin https://dev.example-brand.com)" <<<"$out" \
        && grep -qF 'smoke: 6 passed, 0 failed' <<<"$out"; then
        passed=$((passed + 1)); echo "  ok    a stack name: ApiUrl and the first allowed origin read from the stack"
    else
        failed=$((failed + 1)); printf '  FAIL  a stack name: exit %s, output:\n%s\n' "$rc" "$out"
    fi
    set +e
    out=$(SMOKE_PYTHON=.venv/bin/python scripts/smoke.sh no-such-stack 2>&1)
    rc=$?
    set -e
    if [[ $rc == 2 ]] && grep -qF 'cannot describe stack no-such-stack' <<<"$out"; then
        passed=$((passed + 1)); echo "  ok    a stack that does not exist: exit 2, said so"
    else
        failed=$((failed + 1)); printf '  FAIL  a missing stack: exit %s, output:\n%s\n' "$rc" "$out"
    fi
else
    echo "  (no .venv with moto: the stack-name cases need scripts/setup.sh's setup_python_tools)"
fi

echo "smoke test of the smoke test: $passed passed, $failed failed"
[[ $failed == 0 ]]
