#!/bin/sh
# Removes the cradle package. Drain the node first: containers keep running under
# conmon after cradled stops. /var/lib/cradle (images, records) is kept unless
# PURGE=1, which purges the package: its state, /run/cradle, its config and the
# default CNI network.
set -eu
export DEBIAN_FRONTEND=noninteractive
if [ "${PURGE:-0}" = 1 ]; then
  apt-get purge -y -qq cradle
else
  apt-get remove -y -qq cradle
fi
echo "cradle removed${PURGE:+ (purged)}"
