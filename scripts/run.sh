#!/bin/sh
# Command 1 of the README: set everything up, then run cradled with its embedded
# defaults (socket /run/cradle/cradle.sock). Extra arguments go to cradled.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec bin/cradled "$@"
