"""cove save / cove load: OCI and docker archives in both directions, with
cove itself, skopeo and podman on the other side, and hostile archives."""

import gzip
import json
import os
import shutil
import subprocess
import tarfile
import uuid

import pytest

from imagelib import (BUSYBOX_NAME, Cove, Image, busybox_archive,
                      make_layer, need_cove, tree, write_oci_archive)


@pytest.fixture
def cove(test_tmp):
    need_cove()
    return Cove(os.path.join(test_tmp, "root"))


def other(test_tmp, name="root2", driver=None):
    return Cove(os.path.join(test_tmp, name), driver=driver)


def members(path):
    with tarfile.open(path) as t:
        return {m.name.rstrip("/"): m for m in t.getmembers()}


def read_member(path, name):
    with tarfile.open(path) as t:
        return t.extractfile(name).read()


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_save_load_round_trip(cove, test_tmp, fmt):
    name = cove.load_busybox()
    before = cove.json("image", "inspect", name)[0]
    out = os.path.join(test_tmp, f"saved-{fmt}.tar")
    cove.run("save", "--format", fmt, "-o", out, name)
    assert not [f for f in os.listdir(test_tmp) if ".tmp-" in f]
    m = members(out)
    if fmt == "oci-archive":
        assert {"oci-layout", "index.json"} <= set(m)
        index = json.loads(read_member(out, "index.json"))
        entry = index["manifests"][0]
        assert entry["digest"] == before["Digest"]
        assert entry["annotations"][
            "org.opencontainers.image.ref.name"] == name
    else:
        manifest = json.loads(read_member(out, "manifest.json"))
        assert manifest[0]["RepoTags"] == [name]
        assert manifest[0]["Config"] == before["Id"] + ".json"
        layer = manifest[0]["Layers"][0]
        # docker-archive layers are uncompressed: named by their diff_id
        assert layer == before["RootFS"]["Layers"][0].split(":")[1] + ".tar"
        assert read_member(out, layer)[:2] != b"\x1f\x8b"

    c2 = other(test_tmp)
    p = c2.run("load", "-i", out)
    assert f"Loaded image: {name}" in p.stdout
    after = c2.json("image", "inspect", name)[0]
    assert after["Id"] == before["Id"]
    assert after["RootFS"] == before["RootFS"]
    assert after["Config"] == before["Config"]
    if fmt == "oci-archive":
        assert after["Digest"] == before["Digest"]
    report = c2.json("image", "fsck", "--format", "json")
    assert report["clean"], report

    # and back again: the same bytes
    out2 = os.path.join(test_tmp, f"again-{fmt}.tar")
    c2.run("save", "--format", fmt, "-o", out2, name)
    with open(out, "rb") as a, open(out2, "rb") as b:
        assert a.read() == b.read()


def test_save_several_images_by_name_and_id(cove, test_tmp):
    cove.load_busybox()
    cove.run("tag", BUSYBOX_NAME, "example.com/a/b:1", "example.com/a/b:2")
    img = Image([make_layer([("x", "file", {"data": b"x"})])])
    arch = os.path.join(test_tmp, "x.tar")
    write_oci_archive(arch, [img], name="example.com/x:1")
    cove.run("load", "-i", arch)
    image_id = img.id.split(":")[1]

    out = os.path.join(test_tmp, "multi.tar")
    cove.run("save", "--format", "oci-archive", "-o", out,
             "example.com/a/b:1", "example.com/a/b:2", image_id[:12])
    index = json.loads(read_member(out, "index.json"))
    names = [m.get("annotations", {}).get(
        "org.opencontainers.image.ref.name") for m in index["manifests"]]
    assert sorted(n or "" for n in names) == [
        "", "example.com/a/b:1", "example.com/a/b:2"]

    c2 = other(test_tmp)
    p = c2.run("load", "-i", out)
    assert "Loaded image: example.com/a/b:1" in p.stdout
    assert "Loaded image: example.com/a/b:2" in p.stdout
    assert f"Loaded image: {img.id}" in p.stdout
    assert sorted(c2.ids()) == sorted(cove.ids())

    dout = os.path.join(test_tmp, "multi-docker.tar")
    cove.run("save", "-o", dout, "example.com/a/b:1", image_id)
    manifest = json.loads(read_member(dout, "manifest.json"))
    assert len(manifest) == 2
    assert manifest[0]["RepoTags"] == ["example.com/a/b:1"]
    assert manifest[1]["RepoTags"] == []


def test_load_from_stdin_and_compressed(cove, test_tmp):
    gzpath = os.path.join(test_tmp, "busybox.tar.gz")
    with open(busybox_archive(), "rb") as f, gzip.open(gzpath, "wb") as g:
        shutil.copyfileobj(f, g)
    with open(gzpath, "rb") as f:
        p = subprocess.run(cove.cmd("load"), stdin=f, capture_output=True,
                           text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert f"Loaded image: {BUSYBOX_NAME}" in p.stdout

    out = os.path.join(test_tmp, "stdout.tar")
    with open(out, "wb") as f:
        p = subprocess.run(cove.cmd("save", BUSYBOX_NAME), stdout=f,
                           stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "manifest.json" in members(out)


def test_load_multiarch_index(cove, test_tmp):
    imgs = [Image([make_layer([("arch", "file", {"data": a.encode()})])],
                  arch=a) for a in ("amd64", "arm64")]
    arch = os.path.join(test_tmp, "multi.tar")
    write_oci_archive(arch, imgs, name="example.com/multi:1", index=True)
    cove.run("load", "--platform", "linux/arm64", "-i", arch)
    got = cove.json("image", "inspect", "example.com/multi:1")[0]
    assert got["Architecture"] == "arm64"
    assert cove.ids() == [imgs[1].id]


def test_load_hostile_archives(cove, test_tmp):
    # a layer that climbs out with ".."
    tag = uuid.uuid4().hex
    evil = Image([make_layer([
        ("ok", "file", {"data": b"ok"}),
        (f"../../../../../../tmp/cove-escape-{tag}", "file",
         {"data": b"escaped"}),
    ])])
    path = os.path.join(test_tmp, "evil.tar")
    write_oci_archive(path, [evil], name="example.com/evil:1")
    p = cove.fail("load", "-i", path)
    assert ".." in p.stderr
    assert cove.ids() == []
    assert not os.path.exists(f"/tmp/cove-escape-{tag}")

    # a blob whose content is not its name
    img = Image([make_layer([("f", "file", {"data": b"real"})])])
    layer_digest = img.manifest_obj["layers"][0]["digest"]
    blob = bytearray(img.blobs[layer_digest])
    blob[len(blob) // 2] ^= 0xff
    img.blobs[layer_digest] = bytes(blob)
    path = os.path.join(test_tmp, "corrupt.tar")
    write_oci_archive(path, [img], name="example.com/corrupt:1")
    p = cove.fail("load", "-i", path)
    assert "digest mismatch" in p.stderr
    assert cove.ids() == []

    # a manifest that names a blob the archive lacks
    img = Image([make_layer([("f", "file", {"data": b"real"})])])
    del img.blobs[img.manifest_obj["layers"][0]["digest"]]
    path = os.path.join(test_tmp, "missing.tar")
    write_oci_archive(path, [img], name="example.com/missing:1")
    p = cove.fail("load", "-i", path)
    assert "not in the store" in p.stderr
    assert cove.ids() == []

    # a diff_id that does not match the layer
    good = make_layer([("f", "file", {"data": b"one"})])
    img = Image([good], config_extra={"rootfs": {
        "type": "layers",
        "diff_ids": ["sha256:" + "ab" * 32]}})
    path = os.path.join(test_tmp, "diffid.tar")
    write_oci_archive(path, [img], name="example.com/diffid:1")
    p = cove.fail("load", "-i", path)
    assert "diff_id" in p.stderr
    assert cove.ids() == []

    # not an archive at all
    path = os.path.join(test_tmp, "junk.tar")
    with open(path, "wb") as f:
        f.write(os.urandom(4096))
    p = cove.fail("load", "-i", path)
    assert "junk.tar" in p.stderr

    # an archive with neither index.json nor manifest.json
    path = os.path.join(test_tmp, "empty.tar")
    with tarfile.open(path, "w"):
        pass
    p = cove.fail("load", "-i", path)
    assert "neither an OCI archive" in p.stderr


def test_vfs_and_overlay_trees_agree(cove, test_tmp):
    cove.load_busybox()
    b1 = os.path.join(test_tmp, "b-overlay")
    cove.run("bundle", BUSYBOX_NAME, b1)
    vfs = Cove(cove.root, driver="vfs")
    b2 = os.path.join(test_tmp, "b-vfs")
    vfs.run("bundle", BUSYBOX_NAME, b2)
    try:
        assert tree(os.path.join(b1, "rootfs")) == tree(
            os.path.join(b2, "rootfs"))
        mnt = cove.run("image", "mount", BUSYBOX_NAME).stdout.strip()
        assert tree(mnt) == tree(os.path.join(b2, "rootfs"))
        assert cove.run("image", "mount",
                        BUSYBOX_NAME).stdout.strip() == mnt
        p = cove.fail("rmi", BUSYBOX_NAME)
        assert "mounted" in p.stderr
        cove.run("image", "unmount", BUSYBOX_NAME)
        assert not os.path.exists(mnt)
    finally:
        subprocess.run(["umount", os.path.join(b1, "rootfs")],
                       capture_output=True)


# ---------------------------------------------------------------------------
# other tools
# ---------------------------------------------------------------------------


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed (scripts/install-deps.sh)")


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_skopeo_reads_and_writes_cove_archives(cove, test_tmp, fmt):
    need("skopeo")
    cove.load_busybox()
    before = cove.json("image", "inspect", BUSYBOX_NAME)[0]
    saved = os.path.join(test_tmp, "cove.tar")
    cove.run("save", "--format", fmt, "-o", saved, BUSYBOX_NAME)

    # skopeo reads cove's archive and writes the other format
    other_fmt = ("docker-archive" if fmt == "oci-archive"
                 else "oci-archive")
    converted = os.path.join(test_tmp, "skopeo.tar")
    ref = (f"{converted}:example.com/conv:1" if other_fmt == "docker-archive"
           else f"{converted}:example.com/conv:1")
    p = subprocess.run(["skopeo", "copy", "-q", f"{fmt}:{saved}",
                        f"{other_fmt}:{ref}"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr

    c2 = other(test_tmp)
    p = c2.run("load", "-i", converted)
    assert "Loaded image: example.com/conv:1" in p.stdout
    after = c2.json("image", "inspect", "example.com/conv:1")[0]
    assert after["RootFS"]["Layers"] == before["RootFS"]["Layers"]
    assert after["Config"]["Cmd"] == before["Config"]["Cmd"]
    b1 = os.path.join(test_tmp, "b1")
    b2 = os.path.join(test_tmp, "b2")
    Cove(cove.root, "vfs").run("bundle", BUSYBOX_NAME, b1)
    Cove(c2.root, "vfs").run("bundle", "example.com/conv:1", b2)
    assert tree(os.path.join(b1, "rootfs")) == tree(os.path.join(b2,
                                                                 "rootfs"))


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_podman_save_load(cove, test_tmp, fmt):
    need("podman")
    proot = os.path.join(test_tmp, "podman")
    podman = ["podman", "--root", os.path.join(proot, "root"), "--runroot",
              os.path.join(proot, "run"), "--storage-driver", "vfs",
              "--cgroup-manager", "cgroupfs", "--events-backend", "none"]

    def pm(*args):
        p = subprocess.run(podman + list(args), capture_output=True,
                           text=True, timeout=180)
        if p.returncode != 0 and "cannot" in p.stderr and not os.path.isdir(
                proot):
            pytest.skip(f"podman does not work here: {p.stderr}")
        assert p.returncode == 0, p.stderr
        return p

    cove.load_busybox()
    image_id = cove.ids()[0].split(":")[1]
    saved = os.path.join(test_tmp, "cove.tar")
    cove.run("save", "--format", fmt, "-o", saved, BUSYBOX_NAME)
    pm("load", "-i", saved)
    p = pm("images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}",
           "--no-trunc")
    assert f"{image_id} {BUSYBOX_NAME}" in p.stdout.replace("sha256:", "")

    pm("tag", BUSYBOX_NAME, "example.com/from/podman:1")
    back = os.path.join(test_tmp, "podman.tar")
    pm("save", "--format", fmt, "-o", back, "example.com/from/podman:1")
    c2 = other(test_tmp)
    p = c2.run("load", "-i", back)
    assert "Loaded image: example.com/from/podman:1" in p.stdout
    assert c2.ids() == cove.ids()
