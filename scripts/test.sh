#!/bin/sh
# Command 2 of the README: set everything up, then run the whole test suite with
# node's test runner (unit, integration and the CRI conformance suite).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec env -u NODE_EXTRA_CA_CERTS npm test --silent -- "$@"
