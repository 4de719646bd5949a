#!/bin/sh
# Runtime benchmark: cove-runtime vs crun vs runc, interleaved, in one run.
#
#   bench/runtime.sh [N_RUNS] [N_DENSITY]     (defaults 100 and 200)
#
# crun 1.8 refuses this machine's hybrid cgroup layout, so every runtime
# runs in a private mount namespace where the cgroup2 mount at
# /sys/fs/cgroup/unified is hidden: the same conditions for all three.
# Needs root, crun and runc (Debian packages) and a built tree (make).
set -eu
cd "$(dirname "$0")/.."
[ -x build/cove-runtime ] || make
[ -f build/busybox-bundle/config.json ] || make bundle
exec unshare -m sh -c '
	mount --make-rprivate /
	umount /sys/fs/cgroup/unified 2>/dev/null || true
	exec /usr/bin/python3 bench/runtime.py "$@"' bench "$@"
