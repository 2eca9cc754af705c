#!/usr/bin/env bash
# Smoke test of a deployed stack (scripts/smoke.py says what it checks):
#   scripts/smoke.sh omnilab-bookings-dev                 # SMOKE_TEST_JWT=<a test customer's token>
#   scripts/smoke.sh --api-url http://127.0.0.1:PORT/ --origin https://dev.example-brand.com
# Runs with the project venv's Python when there is one (boto3 comes with the SAM CLI), so a stack
# name works after scripts/setup.sh; with --api-url any python3 does.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${SMOKE_PYTHON:-python3}"
if [[ -z "${SMOKE_PYTHON:-}" && -x "$here/../.venv/bin/python" ]]; then
    python="$here/../.venv/bin/python"
fi
exec "$python" "$here/smoke.py" "$@"
