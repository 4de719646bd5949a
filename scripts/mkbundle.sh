#!/bin/bash
# Build a runnable OCI bundle whose rootfs is Debian's busybox-static.
#
#   scripts/mkbundle.sh OUTDIR RUNTIME_BINARY
#
# config.json comes from `RUNTIME_BINARY spec` (so the bundle exercises the
# runtime's own defaults); if that fails, from `runc spec`.  The process is
# then made non-interactive and prints "hello from cove".  The bundle is
# built in OUTDIR.tmp and renamed into place, so an interrupted run never
# leaves a half-built OUTDIR behind.
set -euo pipefail

if [ "$#" -ne 2 ]; then
	echo "usage: $0 OUTDIR RUNTIME_BINARY" >&2
	exit 2
fi
out=${1%/}
runtime=$2

busybox=
# Debian's busybox-static package installs /bin/busybox; the dynamically
# linked `busybox` package would not run inside an empty rootfs, so insist
# on the static one.
if dpkg-query -L busybox-static 2>/dev/null | grep -qx '/bin/busybox'; then
	busybox=/bin/busybox
	if [ ! -e "$busybox" ] && [ -e /usr/bin/busybox ]; then
		busybox=/usr/bin/busybox
	fi
fi
if [ -z "$busybox" ]; then
	echo "mkbundle: busybox-static is not installed (run scripts/install-deps.sh)" >&2
	exit 1
fi

tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/rootfs"
rootfs="$tmp/rootfs"

mkdir -p "$rootfs/bin"
for d in proc sys dev etc tmp root; do
	mkdir -p "$rootfs/$d"
done
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
install -m 0755 "$busybox" "$rootfs/bin/busybox"

# One symlink per applet, all in bin/ (busybox finds the applet from argv[0]).
"$rootfs/bin/busybox" --list | while read -r applet; do
	case "$applet" in
	"" | busybox | */*) continue ;;
	esac
	ln -sf busybox "$rootfs/bin/$applet"
done
# Some configs and scripts use the canonical /usr/bin and /sbin paths.
ln -sfn bin "$rootfs/sbin"
mkdir -p "$rootfs/usr"
ln -sfn ../bin "$rootfs/usr/bin"
ln -sfn ../bin "$rootfs/usr/sbin"

cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
nobody:x:65534:
GROUP
: >"$rootfs/etc/hostname"
: >"$rootfs/etc/hosts"
: >"$rootfs/etc/resolv.conf"

if ! "$runtime" spec -b "$tmp" >/dev/null 2>&1 || [ ! -s "$tmp/config.json" ]; then
	rm -f "$tmp/config.json"
	if ! command -v runc >/dev/null 2>&1; then
		echo "mkbundle: '$runtime spec' failed and runc is not installed" >&2
		exit 1
	fi
	echo "mkbundle: '$runtime spec' failed; using 'runc spec'" >&2
	runc spec -b "$tmp"
fi

/usr/bin/python3 - "$tmp/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    cfg = json.load(f)
proc = cfg.setdefault("process", {})
proc["terminal"] = False
proc["args"] = ["sh", "-c", "echo hello from cove"]
with open(path + ".new", "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
import os
os.rename(path + ".new", path)
PY

rm -rf "$out"
mv "$tmp" "$out"
echo "mkbundle: $out ready"
