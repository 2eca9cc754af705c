#!/usr/bin/env bash
# Runs one command with the emulators the tests talk to: moto's Secrets Manager and Amazon's
# DynamoDB Local, each on a free loopback port, named in the AWS SDK's standard variables
# (AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_DYNAMODB), stopped when the command ends.
# For one area of the end-to-end tests, installing the two first if they are missing:
#
#   scripts/with-emulators.sh cargo test -p bookings-tests --test e2e -- token_store::
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: scripts/with-emulators.sh <command> [args...]" >&2; exit 2; }
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_python_tools
setup_dynamodb_local
start_moto
start_dynamodb_local
export PATH="$venv/bin:$PATH"
"$@"
