#!/usr/bin/env bash
# Checks that the SAM template is clean and really builds:
#   1. cfn-lint template.yaml pipeline/bootstrap.yaml (no errors, no warnings)
#   2. sam validate --lint                         (SAM transform + cfn-lint, no matches)
#   3. cfn-guard validate                          (the rules of tests/template-rules/template.guard:
#                                                   all pass, none skipped)
#   4. tests/template-rules/broken-copies.sh       (each rule rejects a copy broken on purpose)
#      and the same two steps for pipeline/bootstrap.yaml (bootstrap.guard, bootstrap-broken-copies.sh)
#      then the IAM simulation of tests/iam-simulation/ (the deploy role cannot give any role more
#      than the permissions boundary; the functions and CodeDeploy keep what they need), and a
#      copy of the bootstrap with the escalation open, which it must refuse
#   5. sam build                                   (cargo-lambda, Zig, arm64)
#   6. both .aws-sam/build/<Function>/bootstrap are 64-bit little-endian AArch64 ELF executables,
#      built without the test-tls feature
#
# Tools come from the project venv (.venv: cfn-lint, aws-sam-cli, cargo-lambda + ziglang, and
# cfn-guard in .venv/bin; the simulator in tests/iam-simulation/node_modules), so it must exist:
# scripts/test.sh sets it up, or
#   source scripts/setup.sh && setup_python_tools && setup_cfn_guard && setup_iam_simulation
# Needs the Rust target aarch64-unknown-linux-gnu (rustup target add aarch64-unknown-linux-gnu).
# Works offline (crates already fetched), needs no AWS credentials and no Docker.
#
# Environment: VENV (default .venv), VALIDATE_REGION (default eu-west-1; only used for
# validation, nothing is deployed), SKIP_BUILD=1 to stop after the lint steps (1-4), SKIP_LINT=1
# to start at the build (5-6). scripts/test.sh runs the lint steps beside the fuzzing minute, which
# leaves one of two cores idle, and the build after it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
VALIDATE_REGION=${VALIDATE_REGION:-eu-west-1}
export SAM_CLI_TELEMETRY=0
export PATH="$ROOT/$VENV/bin:$PATH"

# Logical id of each function -> binary it must contain.
FUNCTIONS=(ListBookingsFunction:list-bookings CancelBookingFunction:cancel-booking)

fail() {
  echo "check-template: FAIL: $*" >&2
  exit 1
}
step() { printf '\n==> %s\n' "$*"; }

# The build needs no linter: the pipeline's build job (SKIP_LINT=1) installs only what it builds with.
tools=(sam cargo cargo-lambda od)
[[ "${SKIP_LINT:-0}" == 1 ]] || tools+=(cfn-lint cfn-guard)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || fail "'$tool' not found (PATH=$PATH); see the header of $0"
done
[[ -f template.yaml ]] || fail "no template.yaml in $ROOT"

if [[ "${SKIP_LINT:-0}" == 1 ]]; then
  echo "SKIP_LINT=1: not linting"
else
  step "cfn-lint $(cfn-lint --version 2>&1)"
  # Exit status is non-zero for errors (2), warnings (4) and informational matches (8); also refuse
  # any output at all, so a future cfn-lint that prints a match with status 0 still fails.
  if ! lint_out=$(cfn-lint template.yaml 2>&1); then
    printf '%s\n' "$lint_out" >&2
    fail "cfn-lint reported problems"
  fi
  [[ -z "$lint_out" ]] || { printf '%s\n' "$lint_out" >&2; fail "cfn-lint printed output"; }
  echo "cfn-lint: no errors, no warnings"
  # The pipeline's per-stage bootstrap template: the deploy role and artifacts bucket.
  if ! lint_out=$(cfn-lint pipeline/bootstrap.yaml 2>&1) || [[ -n "$lint_out" ]]; then
    printf '%s\n' "$lint_out" >&2
    fail "cfn-lint reported problems in pipeline/bootstrap.yaml"
  fi
  echo "cfn-lint pipeline/bootstrap.yaml: no errors, no warnings"

  step "sam validate --lint ($(sam --version))"
  if ! validate_out=$(sam validate --lint --template-file template.yaml --region "$VALIDATE_REGION" 2>&1); then
    printf '%s\n' "$validate_out" >&2
    fail "sam validate --lint failed"
  fi
  printf '%s\n' "$validate_out"
  grep -q "is a valid SAM Template" <<<"$validate_out" || fail "sam validate --lint did not confirm the template"

  RULES=tests/template-rules/template.guard
  step "$(cfn-guard --version): the rules of $RULES"
  # 0: every rule passed; 19: a rule failed; anything else: the rules or the data did not load.
  # A rule whose queries select nothing is SKIPPED rather than failed: refuse that too.
  set +e
  guard_out=$(cfn-guard validate --rules "$RULES" --data template.yaml --show-summary all 2>&1)
  guard_rc=$?
  set -e
  rule_count=$(grep -c '^rule [a-z0-9_]* ' "$RULES" || true)
  passed_rules=$(grep -cE '/[a-z0-9_]+ +PASS$' <<<"$guard_out" || true)
  if [[ $guard_rc -ne 0 || $passed_rules -ne $rule_count ]]; then
    grep -Ev ' PASS$|^PASS rules$' <<<"$guard_out" >&2 || true
    # The per-clause reasons (the default report names only resources, not Globals or Parameters).
    cfn-guard validate --rules "$RULES" --data template.yaml --output-format yaml --show-summary none 2>&1 \
      | grep -E '^    name: |error_message: [^n]' >&2 || true
    fail "template rules: $passed_rules of $rule_count passed (cfn-guard exited $guard_rc)"
  fi
  echo "template rules: $passed_rules passed, 0 failed, 0 skipped ($RULES on template.yaml)"
  tests/template-rules/broken-copies.sh || fail "the template rules do not reject every broken copy"

  BOOT_RULES=tests/template-rules/bootstrap.guard
  step "$(cfn-guard --version): the rules of $BOOT_RULES (pipeline/bootstrap.yaml)"
  set +e
  guard_out=$(cfn-guard validate --rules "$BOOT_RULES" --data pipeline/bootstrap.yaml --show-summary all 2>&1)
  guard_rc=$?
  set -e
  rule_count=$(grep -c '^rule [a-z0-9_]* ' "$BOOT_RULES" || true)
  passed_rules=$(grep -cE '/[a-z0-9_]+ +PASS$' <<<"$guard_out" || true)
  if [[ $guard_rc -ne 0 || $passed_rules -ne $rule_count ]]; then
    printf '%s\n' "$guard_out" >&2
    fail "bootstrap rules: $passed_rules of $rule_count passed (cfn-guard exited $guard_rc)"
  fi
  echo "bootstrap rules: $passed_rules passed, 0 failed, 0 skipped ($BOOT_RULES on pipeline/bootstrap.yaml)"
  tests/template-rules/bootstrap-broken-copies.sh || fail "the bootstrap rules do not reject every broken copy"

  step "IAM simulation (tests/iam-simulation/)"
  [[ -d tests/iam-simulation/node_modules/@cloud-copilot/iam-simulate ]] \
    || fail "the IAM simulator is missing: source scripts/setup.sh && setup_iam_simulation"
  for variant in "" "--existing-secret --custom-domain"; do
    "$VENV/bin/python" tests/iam-simulation/policies.py $variant | node tests/iam-simulation/simulate.mjs >/dev/null \
      || fail "the IAM simulation ${variant:+($variant) }got a decision wrong (run it alone: see tests/iam-simulation/simulate.mjs)"
    echo "IAM simulation ${variant:-(the placeholder secret, no custom domain)}: every decision as expected"
  done
  # It can fail: the deploy policy of before the boundary (PutRolePolicy on any role of the stack).
  broken=$(mktemp -d)
  mkdir "$broken/pipeline"
  cp template.yaml "$broken/"
  perl -0pe 's/(                  - iam:DeleteRole\n)/$1                  - iam:PutRolePolicy\n/' pipeline/bootstrap.yaml >"$broken/pipeline/bootstrap.yaml"
  ! cmp -s pipeline/bootstrap.yaml "$broken/pipeline/bootstrap.yaml" || fail "the escalation edit no longer changes pipeline/bootstrap.yaml: update it"
  if out=$(DEPLOY_FILES_ROOT=$broken "$VENV/bin/python" tests/iam-simulation/policies.py | node tests/iam-simulation/simulate.mjs 2>&1); then
    fail "the IAM simulation accepts a deploy role that can write any policy into a function's role"
  fi
  grep -q "^FAIL write \`\*:\*\` into a function's role that has no boundary" <<<"$out" \
    || { printf '%s\n' "$out" >&2; fail "the IAM simulation refused the escalation for another reason"; }
  rm -rf "$broken"
  echo "IAM simulation: a deploy role open to the escalation is refused"
fi

if [[ "${SKIP_BUILD:-0}" == 1 ]]; then
  echo "SKIP_BUILD=1: not building"
  exit 0
fi

step "toolchain"
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || fail "Rust target aarch64-unknown-linux-gnu missing: rustup target add aarch64-unknown-linux-gnu"
fi
python3 -c 'import ziglang' 2>/dev/null \
  || command -v zig >/dev/null 2>&1 \
  || fail "Zig not found: pip install cargo-lambda (pulls ziglang) into $VENV"
echo "$(cargo --version); $(cargo lambda --version)"

step "sam build"
rm -rf .aws-sam/build
start=$(date +%s)
# sam build runs cargo-lambda once per function (`cargo lambda build --release --arm64 --bin
# <Binary>`, its rust-cargolambda workflow), so the second function's fat-LTO link, a minute on
# one core, would wait for the first's. Built first in one cargo run, the two links share the two
# cores, and sam build's own runs, with the same flags, find both up to date.
cargo lambda build --release --arm64 --bin list-bookings --bin cancel-booking \
  || fail "cargo lambda build failed"
sam build --template-file template.yaml || fail "sam build failed"
echo "sam build took $(($(date +%s) - start)) s"

step "built artifacts"
# ELF header: bytes 0-3 magic 7f 45 4c 46, byte 4 class (02 = 64-bit), byte 5 data (01 = little
# endian), bytes 18-19 e_machine little endian (b7 00 = EM_AARCH64), bytes 16-17 e_type (02 00
# = executable, 03 00 = position-independent executable).
for entry in "${FUNCTIONS[@]}"; do
  id=${entry%%:*}
  binary=${entry#*:}
  artifact=".aws-sam/build/$id/bootstrap"
  [[ -f "$artifact" ]] || fail "$artifact missing (function $id, binary $binary)"
  [[ -x "$artifact" ]] || fail "$artifact is not executable"
  read -r -a header <<<"$(od -An -v -t x1 -N 20 "$artifact" | tr '\n' ' ')"
  [[ ${#header[@]} -eq 20 ]] || fail "$artifact is shorter than an ELF header"
  [[ "${header[*]:0:4}" == "7f 45 4c 46" ]] || fail "$artifact is not an ELF file (magic ${header[*]:0:4})"
  [[ "${header[4]}" == 02 ]] || fail "$artifact is not a 64-bit ELF (class ${header[4]})"
  [[ "${header[5]}" == 01 ]] || fail "$artifact is not little-endian (data ${header[5]})"
  [[ "${header[16]} ${header[17]}" == "02 00" || "${header[16]} ${header[17]}" == "03 00" ]] \
    || fail "$artifact is not an executable (e_type ${header[16]} ${header[17]})"
  [[ "${header[18]} ${header[19]}" == "b7 00" ]] \
    || fail "$artifact is not AArch64 (e_machine ${header[18]} ${header[19]}; b7 00 expected)"
  # provided.al2023 ships glibc 2.34: a binary that needs a newer symbol version cannot start.
  newest=
  if command -v readelf >/dev/null 2>&1; then
    newest=$(readelf -V --wide "$artifact" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1 || true)
    if [[ -n "$newest" && "$(printf '%s\n2.34\n' "$newest" | sort -V | tail -n1)" != 2.34 ]]; then
      fail "$artifact needs glibc $newest; provided.al2023 has 2.34"
    fi
  fi
  # What is deployed trusts only the Mozilla roots and DNS: no test-tls build.
  if grep -q TEST_ONLY_OMNILAB_ "$artifact"; then
    fail "$artifact was built with the test-tls feature: it must never be deployed"
  fi
  size=$(wc -c <"$artifact")
  printf '%-24s %-16s %10d bytes  aarch64 ELF ok' "$id" "$binary" "$size"
  [[ -z "${newest:-}" ]] || printf ', needs glibc %s' "$newest"
  if command -v file >/dev/null 2>&1; then
    printf '  (%s)' "$(file -b "$artifact" | cut -d, -f1-2)"
  fi
  printf '\n'
done

[[ -f .aws-sam/build/template.yaml ]] || fail ".aws-sam/build/template.yaml missing"
echo
echo "check-template: OK"
