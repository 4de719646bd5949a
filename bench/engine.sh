#!/bin/sh
# Engine benchmark: `cove run` vs `podman run` (Debian's podman with crun).
#
#   bench/engine.sh [N_RUNS] [N_DENSITY]     (defaults 50 and 500)
#
# Times `run --rm --network none localhost/busybox true` with each engine,
# interleaved in a rotating order, then starts N_DENSITY detached `sleep`
# containers with each and reports time and memory per container,
# monitor included (cove's monitor process, podman's conmon).
#
# crun 1.8 refuses this machine's hybrid cgroup layout, so both engines
# run in a private mount namespace where the cgroup2 mount at
# /sys/fs/cgroup/unified is hidden (as in bench/runtime.sh).  Each engine
# keeps its storage in a temporary directory; the machine's podman state
# is not touched.  Their cgroups go under /cove-bench/<pid>, removed at the
# end.  Needs root, podman, crun, conmon and GNU time, and a built tree.
set -eu
cd "$(dirname "$0")/.."
[ -x build/cove ] || make
[ -f build/busybox-oci.tar ] || make build/busybox-oci.tar
COVE_BENCH_ID=$$
export COVE_BENCH_ID
rc=0
unshare -m sh -c '
	mount --make-rprivate /
	umount /sys/fs/cgroup/unified 2>/dev/null || true
	exec /usr/bin/python3 bench/engine.py "$@"' bench "$@" || rc=$?
# What the namespace could not see (the cgroup2 hierarchy).
for d in /sys/fs/cgroup/*/cove-bench/"$COVE_BENCH_ID"; do
	[ -d "$d" ] || continue
	find "$d" -depth -type d -exec rmdir {} + 2>/dev/null ||
		echo "bench/engine: cannot remove $d" >&2
	rmdir "$(dirname "$d")" 2>/dev/null || true
done
exit $rc
