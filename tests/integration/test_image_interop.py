"""cove against the ecosystem's own image tools, through a local registry:
skopeo pushes and cove pulls and runs; cove pushes and skopeo + umoci
unpack, and the two root file systems must agree file by file."""

import json
import os
import shutil
import subprocess

import pytest

from imagelib import (BUSYBOX_NAME, Cove, Image, busybox_archive,
                      make_layer, need_cove, tree, write_oci_archive)
from registry import registry_plain  # noqa: F401
from test_image_registry import bundle_and_run

NOVERIFY = "--tls-verify=false"


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed (scripts/install-deps.sh)")


@pytest.fixture
def cove(test_tmp):
    need_cove()
    return Cove(os.path.join(test_tmp, "root"))


def skopeo(*args):
    p = subprocess.run(["skopeo", *args], capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, f"skopeo {' '.join(args)}:\n{p.stderr}"
    return p


def test_skopeo_push_cove_pull_run(cove, test_tmp, cgroup_parent,
                                   registry_plain):
    need("skopeo")
    dest = f"{registry_plain.host}/skopeo/busybox:1"
    skopeo("copy", "-q", "--dest-tls-verify=false",
           f"oci-archive:{busybox_archive()}", f"docker://{dest}")
    cove.run("pull", NOVERIFY, dest)
    got = cove.json("image", "inspect", dest)[0]
    assert got["Config"]["Cmd"] == ["sh"]
    p = bundle_and_run(cove, test_tmp, cgroup_parent, dest, "sh", "-c",
                       "echo hello via skopeo")
    assert p.returncode == 0, p.stderr
    assert "hello via skopeo" in p.stdout


def rich_image():
    """Two layers with what tends to go wrong: owners, modes (setuid,
    sticky), symlinks, hard links, whiteouts and an opaque directory."""
    base = make_layer([
        ("etc", "dir", {}),
        ("etc/passwd", "file", {"data": b"root:x:0:0::/root:/bin/sh\n"}),
        ("usr", "dir", {}),
        ("usr/bin", "dir", {}),
        ("usr/bin/tool", "file", {"data": b"#!/bin/sh\necho tool\n",
                                  "mode": 0o755}),
        ("usr/bin/suid", "file", {"data": b"suid", "mode": 0o4755}),
        ("usr/bin/link", "symlink", {"target": "tool"}),
        ("usr/bin/abs", "symlink", {"target": "/etc/passwd"}),
        ("usr/bin/hard", "hardlink", {"target": "usr/bin/tool"}),
        ("var", "dir", {}),
        ("var/lib", "dir", {}),
        ("var/lib/app", "dir", {"uid": 1000, "gid": 1000, "mode": 0o750}),
        ("var/lib/app/owned", "file", {"data": b"x", "uid": 1234,
                                       "gid": 5678, "mode": 0o600}),
        ("tmp", "dir", {"mode": 0o1777}),
        ("data", "dir", {}),
        ("data/keep", "file", {"data": b"keep"}),
        ("data/gone", "file", {"data": b"gone"}),
        ("data/gonedir", "dir", {}),
        ("data/gonedir/inner", "file", {"data": b"inner"}),
        ("opaque", "dir", {}),
        ("opaque/a", "file", {"data": b"a"}),
        ("opaque/b", "file", {"data": b"b"}),
        ("empty", "dir", {"mode": 0o700}),
    ])
    top = make_layer([
        ("data", "dir", {}),
        ("data/.wh.gone", "file", {}),
        ("data/.wh.gonedir", "file", {}),
        ("opaque", "dir", {}),
        ("opaque/.wh..wh..opq", "file", {}),
        ("opaque/c", "file", {"data": b"c"}),
        ("etc", "dir", {}),
        ("etc/passwd", "file", {"data": b"root:x:0:0::/root:/bin/sh\n"
                                         b"app:x:1000:1000::/:/bin/sh\n"}),
        ("var", "dir", {}),
        ("var/lib", "dir", {}),
        ("var/lib/app", "dir", {"uid": 1000, "gid": 1000, "mode": 0o750}),
        ("var/lib/app/state", "file", {"data": b"s", "uid": 1000,
                                       "gid": 1000}),
        ("usr/bin/new", "file", {"data": b"new", "mode": 0o700}),
        ("usr/bin/new2", "hardlink", {"target": "usr/bin/new"}),
    ])
    return Image([base, top])


def test_cove_push_skopeo_umoci_unpack_agree(cove, test_tmp, registry_plain):
    need("skopeo")
    need("umoci")
    img = rich_image()
    archive = os.path.join(test_tmp, "rich.tar")
    write_oci_archive(archive, [img], name="example.com/rich:1")
    cove.run("load", "-i", archive)
    dest = f"{registry_plain.host}/cove/rich:1"
    cove.run("push", NOVERIFY, "example.com/rich:1", dest)

    layout = os.path.join(test_tmp, "layout")
    skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{dest}",
           f"oci:{layout}:rich")
    ubundle = os.path.join(test_tmp, "umoci-bundle")
    p = subprocess.run(["umoci", "unpack", "--image", f"{layout}:rich",
                        ubundle], capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, p.stderr
    expected = tree(os.path.join(ubundle, "rootfs"))
    # what the whiteouts did, as a sanity check of the reference itself
    assert "data/gone" not in expected and "data/keep" in expected
    assert sorted(k for k in expected if k.startswith("opaque/")) == [
        "opaque/c"]
    assert expected["usr/bin/suid"][1] == 0o4755
    assert expected["var/lib/app/owned"][2:4] == (1234, 5678)

    # cove's copy (vfs) and its overlay mount must show the same tree
    vfs_bundle = os.path.join(test_tmp, "vfs-bundle")
    Cove(cove.root, "vfs").run("bundle", "example.com/rich:1", vfs_bundle)
    assert tree(os.path.join(vfs_bundle, "rootfs")) == expected
    ov_bundle = os.path.join(test_tmp, "ov-bundle")
    cove.run("bundle", "example.com/rich:1", ov_bundle)
    try:
        assert tree(os.path.join(ov_bundle, "rootfs")) == expected
    finally:
        subprocess.run(["umount", os.path.join(ov_bundle, "rootfs")],
                       capture_output=True)

    # and cove pulls back what it pushed, digest for digest
    c2 = Cove(os.path.join(test_tmp, "root2"))
    c2.run("pull", NOVERIFY, dest)
    assert c2.json("image", "inspect", dest)[0]["Digest"] == img.digest

    # skopeo reads the registry copy as cove wrote it
    p = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{dest}")
    assert json.loads(p.stdout) == img.manifest_obj


def _overlay_vs_vfs(cove, test_tmp, img):
    archive = os.path.join(test_tmp, "img.tar")
    write_oci_archive(archive, [img], name="example.com/edge:1")
    cove.run("load", "-i", archive)
    vfs_bundle = os.path.join(test_tmp, "vfs-bundle")
    Cove(cove.root, "vfs").run("bundle", "example.com/edge:1", vfs_bundle)
    ov_bundle = os.path.join(test_tmp, "ov-bundle")
    cove.run("bundle", "example.com/edge:1", ov_bundle)
    try:
        assert tree(os.path.join(ov_bundle, "rootfs")) == tree(
            os.path.join(vfs_bundle, "rootfs"))
    finally:
        subprocess.run(["umount", os.path.join(ov_bundle, "rootfs")],
                       capture_output=True)


def test_overlay_implicit_parent_directories(cove, test_tmp):
    base = make_layer([("app", "dir", {"uid": 1000, "gid": 1000,
                                       "mode": 0o750})])
    top = make_layer([("app/state", "file", {"data": b"s"})])
    _overlay_vs_vfs(cove, test_tmp, Image([base, top]))


def test_overlay_hardlink_to_lower_layer(cove, test_tmp):
    base = make_layer([("f", "file", {"data": b"f"})])
    top = make_layer([("g", "hardlink", {"target": "f"})])
    _overlay_vs_vfs(cove, test_tmp, Image([base, top]))


def test_umoci_layout_from_cove_archive(cove, test_tmp):
    """cove's oci-archive, unpacked as a plain OCI layout, is one umoci
    accepts too."""
    need("umoci")
    cove.load_busybox()
    saved = os.path.join(test_tmp, "saved.tar")
    cove.run("save", "--format", "oci-archive", "-o", saved, BUSYBOX_NAME)
    layout = os.path.join(test_tmp, "layout")
    os.mkdir(layout)
    subprocess.run(["tar", "-xf", saved, "-C", layout], check=True)
    ubundle = os.path.join(test_tmp, "u")
    p = subprocess.run(["umoci", "unpack", "--image",
                        f"{layout}:{BUSYBOX_NAME}", ubundle],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    vfs_bundle = os.path.join(test_tmp, "v")
    Cove(cove.root, "vfs").run("bundle", BUSYBOX_NAME, vfs_bundle)
    assert tree(os.path.join(ubundle, "rootfs")) == tree(
        os.path.join(vfs_bundle, "rootfs"))
