"""Helpers for the image tests: the `cove` binary, images built in Python
(layers, configs, manifests, indexes), OCI and docker archives, and a
minimal distribution-spec client to put hostile content into a registry
(blobs are uploaded as given; manifests are PUT as given).

Nothing here needs more than the Python standard library."""

import base64
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import urllib.error
import urllib.request

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(os.path.dirname(TESTS_DIR))

COVE = os.path.abspath(
    os.environ.get("COVE_BINARY") or os.path.join(REPO_DIR, "build", "cove")
)
RUNTIME = os.path.abspath(
    os.environ.get("COVE_RUNTIME_BINARY")
    or os.path.join(REPO_DIR, "build", "cove-runtime")
)
BUSYBOX_OCI = os.path.join(REPO_DIR, "build", "busybox-oci.tar")
BUSYBOX_NAME = "localhost/busybox:latest"

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def need_cove():
    if not os.access(COVE, os.X_OK):
        pytest.skip(f"cove binary {COVE} not found (run make)")


def busybox_archive():
    """build/busybox-oci.tar, made now with scripts/mkimage.sh if missing."""
    if os.path.exists(BUSYBOX_OCI):
        return BUSYBOX_OCI
    rootfs = os.path.join(REPO_DIR, "build", "busybox-bundle", "rootfs")
    if not os.path.isdir(rootfs):
        pytest.skip("build/busybox-bundle is missing (run make)")
    subprocess.run([os.path.join(REPO_DIR, "scripts", "mkimage.sh"), rootfs,
                    BUSYBOX_OCI, BUSYBOX_NAME], check=True,
                   capture_output=True)
    return BUSYBOX_OCI


class Cove:
    """Runs `cove --root ROOT ...` for one test."""

    def __init__(self, root, driver=None):
        self.root = root
        self.driver = driver

    def cmd(self, *args):
        c = [COVE, "--root", self.root]
        if self.driver:
            c += ["--storage-driver", self.driver]
        return c + [str(a) for a in args]

    def run(self, *args, check=True, input=None, timeout=120, env=None):
        p = subprocess.run(self.cmd(*args), input=input, capture_output=True,
                           text=True, timeout=timeout, env=env)
        if check and p.returncode != 0:
            pytest.fail(f"command failed ({p.returncode}): "
                        f"{' '.join(self.cmd(*args))}\n"
                        f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
        return p

    def fail(self, *args, **kw):
        p = self.run(*args, check=False, **kw)
        assert p.returncode != 0, (
            f"expected failure: {' '.join(self.cmd(*args))}\n{p.stdout}")
        return p

    def json(self, *args):
        return json.loads(self.run(*args).stdout)

    def ids(self):
        out = self.run("images", "-q", "--no-trunc").stdout.split()
        return sorted(set(out))

    def load_busybox(self):
        out = self.run("load", "-i", busybox_archive()).stdout
        assert f"Loaded image: {BUSYBOX_NAME}" in out, out
        return BUSYBOX_NAME


# ---------------------------------------------------------------------------
# images built here
# ---------------------------------------------------------------------------


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def make_layer(entries):
    """A tar from [(path, kind, **attrs)]: kind "file" (data=bytes,
    mode), "dir" (mode), "symlink" (target), "hardlink" (target).
    Owners default to root; times to 0."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            path, kind = e[0], e[1]
            a = e[2] if len(e) > 2 else {}
            ti = tarfile.TarInfo(path)
            ti.uid = a.get("uid", 0)
            ti.gid = a.get("gid", 0)
            ti.mtime = a.get("mtime", 0)
            data = None
            if kind == "file":
                data = a.get("data", b"")
                ti.size = len(data)
                ti.mode = a.get("mode", 0o644)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = a.get("mode", 0o755)
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = a["target"]
                ti.mode = 0o777
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = a["target"]
            else:
                raise ValueError(kind)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0,
                       compresslevel=1) as g:
        g.write(data)
    return buf.getvalue()


class Image:
    """One image: layer tars (compressed as asked), config, manifest."""

    def __init__(self, layers, arch="amd64", os_="linux", variant=None,
                 cmd=("sh",), compress=True, config_extra=None):
        self.tars = list(layers)
        self.blobs = {}
        descs = []
        for tar in self.tars:
            blob = gz(tar) if compress else tar
            self.blobs[sha256(blob)] = blob
            descs.append({"mediaType": MT_OCI_LAYER_GZIP if compress
                          else MT_OCI_LAYER,
                          "digest": sha256(blob), "size": len(blob)})
        config = {
            "architecture": arch,
            "os": os_,
            "created": "2024-01-02T03:04:05Z",
            "config": {"Cmd": list(cmd),
                       "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers",
                       "diff_ids": [sha256(t) for t in self.tars]},
        }
        if variant:
            config["variant"] = variant
        if config_extra:
            config.update(config_extra)
        self.config = dumps(config)
        self.blobs[sha256(self.config)] = self.config
        self.manifest_obj = {
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": {"mediaType": MT_OCI_CONFIG,
                       "digest": sha256(self.config),
                       "size": len(self.config)},
            "layers": descs,
        }
        self.set_manifest(self.manifest_obj)
        self.platform = {"architecture": arch, "os": os_}
        if variant:
            self.platform["variant"] = variant

    def set_manifest(self, obj):
        self.manifest_obj = obj
        self.manifest = dumps(obj)

    @property
    def id(self):
        return sha256(self.config)

    @property
    def digest(self):
        return sha256(self.manifest)

    def descriptor(self, name=None):
        d = {"mediaType": MT_OCI_MANIFEST, "digest": self.digest,
             "size": len(self.manifest), "platform": self.platform}
        if name:
            d["annotations"] = {"org.opencontainers.image.ref.name": name}
        return d


def make_index(images):
    return dumps({"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
                  "manifests": [i.descriptor() for i in images]})


def _add(t, path, data):
    ti = tarfile.TarInfo(path)
    ti.size = len(data)
    ti.mode = 0o644
    t.addfile(ti, io.BytesIO(data))


def write_oci_archive(path, images, name=None, index=False):
    """An OCI archive of @images: one index.json entry each, or with
    index=True one entry for an image index of them all."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        _add(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        seen = set()
        for img in images:
            for d, b in list(img.blobs.items()) + [(img.digest,
                                                    img.manifest)]:
                if d not in seen:
                    seen.add(d)
                    _add(t, "blobs/sha256/" + d[7:], b)
        if index:
            idx = make_index(images)
            _add(t, "blobs/sha256/" + sha256(idx)[7:], idx)
            entry = {"mediaType": MT_OCI_INDEX, "digest": sha256(idx),
                     "size": len(idx)}
            if name:
                entry["annotations"] = {
                    "org.opencontainers.image.ref.name": name}
            top = [entry]
        else:
            top = [i.descriptor(name) for i in images]
        _add(t, "index.json", dumps({"schemaVersion": 2,
                                     "mediaType": MT_OCI_INDEX,
                                     "manifests": top}))


# ---------------------------------------------------------------------------
# a raw registry client
# ---------------------------------------------------------------------------


class RawRegistry:
    """Monolithic blob uploads and manifest PUTs, to put exactly these
    bytes into a registry (test.registry.Registry instance)."""

    def __init__(self, reg):
        self.reg = reg
        self.headers = {}
        if reg.user:
            tok = base64.b64encode(
                f"{reg.user}:{reg.password}".encode()).decode()
            self.headers["Authorization"] = "Basic " + tok

    def _req(self, method, url, data=None, headers=None):
        if not url.startswith("http"):
            url = self.reg.url + url
        h = dict(self.headers)
        h.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method,
                                     headers=h)
        return urllib.request.urlopen(req, timeout=60,
                                      context=self.reg.ssl_context())

    def push_blob(self, repo, data):
        digest = sha256(data)
        try:
            self._req("HEAD", f"/v2/{repo}/blobs/{digest}")
            return digest
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
        with self._req("POST", f"/v2/{repo}/blobs/uploads/",
                       data=b"") as r:
            loc = r.headers["Location"]
        sep = "&" if "?" in loc else "?"
        if not loc.startswith("http"):
            loc = self.reg.url + loc
        self._req("PUT", f"{loc}{sep}digest={digest}", data=data,
                  headers={"Content-Type": "application/octet-stream"})
        return digest

    def push_manifest(self, repo, ref, data, media_type=MT_OCI_MANIFEST):
        self._req("PUT", f"/v2/{repo}/manifests/{ref}", data=data,
                  headers={"Content-Type": media_type})
        return sha256(data)

    def push_image(self, repo, tag, img):
        for b in img.blobs.values():
            self.push_blob(repo, b)
        return self.push_manifest(repo, tag, img.manifest)

    def push_index(self, repo, tag, images):
        for img in images:
            for b in img.blobs.values():
                self.push_blob(repo, b)
            self.push_manifest(repo, img.digest, img.manifest)
        idx = make_index(images)
        return self.push_manifest(repo, tag, idx, MT_OCI_INDEX)

    def blob_data_path(self, digest):
        """Where docker-registry keeps a blob's bytes (to tamper with)."""
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.reg.dir, "storage", "docker", "registry",
                            "v2", "blobs", "sha256", hexd[:2], hexd,
                            "data")


# ---------------------------------------------------------------------------
# trees
# ---------------------------------------------------------------------------


def tree(root, skip=()):
    """{relative path: (kind, mode, uid, gid, content or link target)} of a
    directory tree, not following symlinks."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            if rel.split("/")[0] in skip:
                continue
            st = os.lstat(p)
            mode = st.st_mode & 0o7777
            if os.path.islink(p):
                out[rel] = ("l", None, st.st_uid, st.st_gid, os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("d", mode, st.st_uid, st.st_gid, None)
            else:
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
                out[rel] = ("f", mode, st.st_uid, st.st_gid, h)
    return out
