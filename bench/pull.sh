#!/bin/sh
# Pull benchmark: cove pull + unpack vs skopeo copy + umoci unpack, and the
# physical references (gzip -dc, sha256sum, tar -xzf) on the same layers.
#
#   bench/pull.sh [ROOTFS_DIR]
#
# Builds (once, cached in /var/tmp/cove-bench-bookworm) a Debian bookworm
# root file system with debootstrap from the mirror apt is configured with,
# splits it into several gzip layers, serves it from Debian's docker-registry
# on 127.0.0.1, and times each tool pulling it into an empty store.
# Needs root, debootstrap, skopeo, umoci, docker-registry and GNU time.
set -eu
cd "$(dirname "$0")/.."
[ -x build/cove ] || make
exec /usr/bin/python3 bench/pull.py "$@"
