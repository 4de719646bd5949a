"""Driver of bench/pull.sh (see there)."""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
COVE = os.environ.get("COVE_BINARY", os.path.join(REPO, "build", "cove"))
CACHE = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp/cove-bench-bookworm"


def apt_mirror():
    """The Debian mirror apt uses here (so the repo names no host)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            for line in open(path):
                parts = line.split()
                if parts[:1] == ["URIs:"]:
                    return parts[1]
                if parts[:1] == ["deb"]:
                    return [p for p in parts[1:] if "://" in p][0]
        except OSError:
            pass
    raise SystemExit("bench/pull: no Debian mirror found in apt's sources")


def build_rootfs():
    if os.path.isdir(os.path.join(CACHE, "usr")):
        return
    print("building %s with debootstrap (once)..." % CACHE, flush=True)
    subprocess.run(["debootstrap", "bookworm", CACHE, apt_mirror()], check=True,
                   stdout=subprocess.DEVNULL)


def add_tree(tf, root, rel):
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, rel)):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            arc = os.path.relpath(full, root)
            tf.add(full, arcname=arc, recursive=False)
    # the directory itself
    return tf


def make_layer(root, parts, out_dir):
    """One gzip layer with the given top-level entries; returns descriptor."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for p in parts:
            full = os.path.join(root, p)
            if not os.path.lexists(full):
                continue
            tf.add(full, arcname=p, recursive=False)
            if os.path.isdir(full) and not os.path.islink(full):
                add_tree(tf, root, p)
    data = raw.getvalue()
    diff_id = "sha256:" + hashlib.sha256(data).hexdigest()
    comp = gzip.compress(data, compresslevel=6, mtime=0)
    digest = hashlib.sha256(comp).hexdigest()
    with open(os.path.join(out_dir, "blobs", "sha256", digest), "wb") as f:
        f.write(comp)
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": "sha256:" + digest, "size": len(comp)}, diff_id, len(data)


def make_oci(root, out_dir):
    os.makedirs(os.path.join(out_dir, "blobs", "sha256"), exist_ok=True)
    top = sorted(os.listdir(root))
    groups = [["usr"], ["var"], ["etc", "opt", "srv", "home", "root"],
              [t for t in top if t not in ("usr", "var", "etc", "opt", "srv", "home", "root")]]
    layers, diff_ids, total = [], [], 0
    for g in groups:
        d, diff, size = make_layer(root, g, out_dir)
        layers.append(d)
        diff_ids.append(diff)
        total += size
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/bash"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cdig = hashlib.sha256(config).hexdigest()
    open(os.path.join(out_dir, "blobs", "sha256", cdig), "wb").write(config)
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": "sha256:" + cdig, "size": len(config)},
                           "layers": layers}).encode()
    mdig = hashlib.sha256(manifest).hexdigest()
    open(os.path.join(out_dir, "blobs", "sha256", mdig), "wb").write(manifest)
    json.dump({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:" + mdig, "size": len(manifest),
         "annotations": {"org.opencontainers.image.ref.name": "bookworm"}}]},
        open(os.path.join(out_dir, "index.json"), "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out_dir, "oci-layout"), "w"))
    return layers, total


def timed(argv, **kw):
    with tempfile.NamedTemporaryFile() as f:
        t0 = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-o", f.name, "-f", "%M"] + argv, check=True,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, **kw)
        dt = time.perf_counter() - t0
        return dt, int(open(f.name).read().split()[-1])


def main():
    import registry as reg  # tests/integration/registry.py
    build_rootfs()
    # COVE_BENCH_TMP=/dev/shm measures without disk writeback noise.
    tmp = tempfile.mkdtemp(prefix="cove-bench-pull-",
                           dir=os.environ.get("COVE_BENCH_TMP", "/var/tmp"))
    try:
        oci = os.path.join(tmp, "oci")
        layers, unpacked = make_oci(CACHE, oci)
        comp = sum(l["size"] for l in layers)
        print("image: %d layers, %.1f MB compressed, %.1f MB unpacked" % (
            len(layers), comp / 1e6, unpacked / 1e6), flush=True)
        os.makedirs(os.path.join(tmp, "reg"))
        with reg.Registry(os.path.join(tmp, "reg")) as r:
            ref = "%s/bench/deb:bookworm" % r.host
            subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "oci:%s:bookworm" % oci,
                            "docker://" + ref], check=True, stdout=subprocess.DEVNULL)
            res = {}
            for rnd in range(2):
                # cove pull downloads, verifies and (as root) unpacks every
                # layer into its snapshot before recording the image: that
                # is the pull+unpack figure.  bundle then only mounts.
                root = os.path.join(tmp, "cove-%d" % rnd)
                t1, rss1 = timed([COVE, "--root", root, "pull", "-q", "--tls-verify=false", ref])
                bdir = os.path.join(tmp, "cove-bundle-%d" % rnd)
                t2, rss2 = timed([COVE, "--root", root, "bundle", ref, bdir])
                subprocess.run(["umount", os.path.join(bdir, "rootfs")])
                res.setdefault("cove pull+unpack", []).append(t1)
                res.setdefault("cove bundle (mount)", []).append(t2)
                res.setdefault("cove peak RSS KiB", []).append(max(rss1, rss2))
                # skopeo + umoci
                d = os.path.join(tmp, "skopeo-%d" % rnd)
                t3, _ = timed(["skopeo", "copy", "--src-tls-verify=false", "docker://" + ref,
                               "oci:%s:bookworm" % d])
                t4, _ = timed(["umoci", "unpack", "--image", "%s:bookworm" % d,
                               os.path.join(tmp, "umoci-bundle-%d" % rnd)])
                res.setdefault("skopeo copy", []).append(t3)
                res.setdefault("umoci unpack", []).append(t4)
                res.setdefault("skopeo+umoci", []).append(t3 + t4)
                # physical references on the same blobs
                blobs = [os.path.join(oci, "blobs", "sha256", l["digest"].split(":")[1]) for l in layers]
                t5, _ = timed(["sh", "-c", "for b in \"$@\"; do gzip -dc \"$b\"; done > /dev/null", "x"] + blobs)
                t6, _ = timed(["sha256sum"] + blobs)
                out = os.path.join(tmp, "tar-%d" % rnd)
                os.makedirs(out)
                t7, _ = timed(["sh", "-c", "for b in \"$@\"; do tar -xzf \"$b\" -C \"$0\"; done", out] + blobs)
                res.setdefault("gzip -dc", []).append(t5)
                res.setdefault("sha256sum", []).append(t6)
                res.setdefault("tar -xzf", []).append(t7)
            print("%-20s %s" % ("", "best of 2"))
            for k, v in res.items():
                if k.endswith("KiB"):
                    print("%-20s %8d KiB" % (k, max(v)))
                else:
                    print("%-20s %8.2f s" % (k, min(v)))
            cove = min(res["cove pull+unpack"])
            print("skopeo+umoci / cove pull+unpack: %.2fx faster" % (min(res["skopeo+umoci"]) / cove))
            print("cove pull+unpack / tar -xzf: %.2fx" % (cove / min(res["tar -xzf"])))
    finally:
        subprocess.run(["sh", "-c", "grep -o ' %s[^ ]*' /proc/self/mountinfo | xargs -r -n1 umount -l" % tmp])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
