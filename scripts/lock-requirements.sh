#!/usr/bin/env bash
# Regenerates the hash locks of the Python tools from their lists, beside this script:
#   requirements.in         -> requirements.txt         (.venv: moto, cfn-lint, the SAM CLI, cargo-lambda + Zig)
#   requirements-deploy.in  -> requirements-deploy.txt  (.venv of the deploy job: the SAM CLI only,
#                                                        at exactly the versions of requirements.txt)
#   requirements-lint.in    -> requirements-lint.txt    (.venv-lint: the workflow linters)
#   requirements-checkov.in -> requirements-checkov.txt (.venv-checkov: checkov)
# Each lock pins every transitive dependency with the sha256 of every file PyPI has for it, and
# scripts/setup.sh installs it with `pip install --require-hashes --no-deps`: nothing unpinned or
# unhashed gets in. One universal resolution for CPython 3.11 and later (markers such as
# `python_full_version >= '3.12'` pick the right pin on each; CI's ubuntu-24.04 has 3.12).
#
#   scripts/lock-requirements.sh            after editing an .in: re-lock, keeping every pin already
#                                           in a lock that still fits
#   scripts/lock-requirements.sh --upgrade  take the newest version of every transitive dependency
#
# Needs PyPI. uv, pinned below, runs from a throwaway venv that is removed afterwards. Review the
# diff of the locks before committing it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
uv_version=0.13.10
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check "uv==$uv_version"
uv=("$tools/venv/bin/uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes
    --no-strip-markers --custom-compile-command "scripts/lock-requirements.sh" "$@")

"${uv[@]}" requirements.in -o requirements.txt
# The deploy job's SAM CLI resolves within what requirements.txt holds (its pins, not its hashes,
# as constraints), so the deploy runs the very versions the tests and the build ran.
grep -E '^[A-Za-z0-9]' requirements.txt | sed 's/ *\\$//' >"$tools/tested.txt"
"${uv[@]}" requirements-deploy.in -c "$tools/tested.txt" -o requirements-deploy.txt
# The annotations name the constraints file: name the lock it came from, not a temporary path.
sed -i "s|-c $tools/tested.txt|-c requirements.txt (its pins)|" requirements-deploy.txt
"${uv[@]}" requirements-lint.in -o requirements-lint.txt
"${uv[@]}" requirements-checkov.in -o requirements-checkov.txt
echo "lock-requirements: requirements.txt, requirements-deploy.txt, requirements-lint.txt, requirements-checkov.txt"
