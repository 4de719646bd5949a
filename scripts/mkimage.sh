#!/bin/bash
# Build an OCI archive (the tar of an OCI image layout, as `cove load`,
# `podman load` and `skopeo copy oci-archive:FILE ...` read it) holding one
# image whose single layer is a directory tree:
#
#   scripts/mkimage.sh ROOTFS OUT.tar [NAME]
#
# NAME defaults to localhost/busybox:latest; the image's Cmd is ["sh"].
# The output is deterministic: entries sorted, owners root, times zero,
# gzip without a time stamp, so the same tree always gives the same
# digests.  It is written to OUT.tar.tmp and renamed into place.
set -euo pipefail

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
	echo "usage: $0 ROOTFS OUT.tar [NAME]" >&2
	exit 2
fi
rootfs=${1%/}
out=$2
name=${3:-localhost/busybox:latest}

if [ ! -d "$rootfs" ]; then
	echo "mkimage: '$rootfs' is not a directory" >&2
	exit 1
fi

/usr/bin/python3 - "$rootfs" "$out" "$name" <<'PY'
import gzip
import hashlib
import io
import json
import os
import platform
import stat
import sys
import tarfile

rootfs, out, name = sys.argv[1:4]

ARCHES = {"x86_64": ("amd64", None), "aarch64": ("arm64", None),
          "armv7l": ("arm", "v7"), "i686": ("386", None),
          "ppc64le": ("ppc64le", None), "s390x": ("s390x", None),
          "riscv64": ("riscv64", None)}
arch, variant = ARCHES.get(platform.machine(), (platform.machine(), None))


def tarinfo(path, rel):
    st = os.lstat(path)
    ti = tarfile.TarInfo(rel)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.mtime = 0
    if stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        ti.type = tarfile.REGTYPE
        ti.size = st.st_size
    else:
        return None
    return ti


def layer_tar(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def walk(d, rel):
            for entry in sorted(os.listdir(d)):
                path = os.path.join(d, entry)
                r = f"{rel}{entry}"
                ti = tarinfo(path, r)
                if ti is None:
                    continue
                if ti.type == tarfile.REGTYPE:
                    with open(path, "rb") as f:
                        t.addfile(ti, f)
                else:
                    t.addfile(ti)
                if ti.type == tarfile.DIRTYPE:
                    walk(path, r + "/")
        walk(root, "")
    return buf.getvalue()


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


tar = layer_tar(rootfs)
layer = gz(tar)
config = {
    "architecture": arch,
    "os": "linux",
    "created": "1970-01-01T00:00:00Z",
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                "/sbin:/bin"],
        "Cmd": ["sh"],
    },
    "rootfs": {"type": "layers", "diff_ids": [digest(tar)]},
    "history": [{"created": "1970-01-01T00:00:00Z",
                 "created_by": "scripts/mkimage.sh"}],
}
if variant:
    config["variant"] = variant
config_b = dumps(config)
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": digest(config_b), "size": len(config_b)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest(layer), "size": len(layer)}],
}
manifest_b = dumps(manifest)
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest(manifest_b), "size": len(manifest_b),
        "annotations": {"io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name},
    }],
}

files = [("oci-layout", dumps({"imageLayoutVersion": "1.0.0"})),
         ("index.json", dumps(index))]
for blob in (manifest_b, config_b, layer):
    files.append(("blobs/sha256/" + digest(blob)[7:], blob))

tmp = out + ".tmp"
with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as t:
    for d in ("blobs", "blobs/sha256"):
        ti = tarfile.TarInfo(d)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        ti.mtime = 0
        t.addfile(ti)
    for path, data in files:
        ti = tarfile.TarInfo(path)
        ti.size = len(data)
        ti.mode = 0o644
        ti.mtime = 0
        t.addfile(ti, io.BytesIO(data))
os.rename(tmp, out)
print(f"mkimage: {out} ready ({name}, {digest(manifest_b)})")
PY
