# Sourced by the scripts beside it: installs what they need on a fresh machine, once.
# - Python tools (moto, cfn-lint, the SAM CLI, cargo-lambda with its Zig) into ./.venv
# - the Rust pieces: rustfmt, clippy, the aarch64 target that Lambda's arm64 needs
# - cfn-guard (AWS CloudFormation Guard, pinned) into ./.venv/bin, for the template rules
# - Debian's Chromium and chromedriver, for the account page's browser tests
# Re-running is cheap: each step checks before it installs.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv"

setup_python_tools() {
    local stamp="$venv/.requirements"
    if [ -x "$venv/bin/python" ] && cmp -s "$repo_root/scripts/requirements.txt" "$stamp"; then
        return
    fi
    echo "setup: installing Python tools into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo_root/scripts/requirements.txt"
    cp "$repo_root/scripts/requirements.txt" "$stamp"
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

# Debian's chromium and chromedriver (tests/account_page.rs drives the page through WebDriver).
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

# Starts moto's Secrets Manager on a free loopback port and points the AWS SDK at it with the
# SDK's standard variables. Stopped when the calling script exits.
start_moto() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/moto-$port.log" 2>&1 &
    moto_pid=$!
    trap 'kill $moto_pid 2>/dev/null || true' EXIT
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
