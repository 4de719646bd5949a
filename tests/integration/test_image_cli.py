"""The image commands' command line: help texts, listing formats, tags,
removal, prune and fsck, on a store filled with `cove load`."""

import json
import os
import subprocess

import pytest

from imagelib import (BUSYBOX_NAME, COVE, Cove, Image, make_layer,
                      need_cove, write_oci_archive)

COMMANDS = [
    ["pull"], ["push"], ["images"], ["tag"], ["rmi"], ["save"], ["load"],
    ["login"], ["logout"], ["bundle"],
    ["image", "pull"], ["image", "push"], ["image", "ls"],
    ["image", "list"], ["image", "tag"], ["image", "rm"],
    ["image", "inspect"], ["image", "prune"], ["image", "fsck"],
    ["image", "save"], ["image", "load"], ["image", "mount"],
    ["image", "unmount"], ["image", "bundle"],
]


@pytest.fixture
def cove(test_tmp):
    need_cove()
    return Cove(os.path.join(test_tmp, "root"))


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: "-".join(c))
def test_help(cmd):
    need_cove()
    p = subprocess.run([COVE, *cmd, "--help"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("NAME:\n"), p.stdout
    assert "OPTIONS:" in p.stdout
    assert "--help" in p.stdout


def test_group_help_and_unknowns(cove):
    p = cove.run("image", "--help")
    for sub in ("inspect", "prune", "fsck", "mount", "unmount"):
        assert sub in p.stdout
    p = cove.fail("image", "frobnicate")
    assert "unknown command 'image frobnicate'" in p.stderr
    p = cove.fail("pull", "--frobnicate", "x")
    assert "--frobnicate" in p.stderr
    p = cove.fail("pull", "--tls-verify=maybe", "x")
    assert "true or false" in p.stderr
    p = cove.fail("pull")
    assert "exactly one image" in p.stderr
    p = cove.fail("save", "--format", "zip", "-o", "/dev/null", "x")
    assert "unknown archive format 'zip'" in p.stderr


def test_images_tag_inspect(cove):
    cove.load_busybox()
    image_id = cove.ids()[0].split(":")[1]
    cove.run("tag", BUSYBOX_NAME, "example.com/one:1", "two")
    lines = cove.run("images").stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID",
                                "CREATED", "SIZE"]
    rows = sorted(tuple(line.split()[:3]) for line in lines[1:])
    assert rows == sorted([
        ("docker.io/library/two", "latest", image_id[:12]),
        ("example.com/one", "1", image_id[:12]),
        ("localhost/busybox", "latest", image_id[:12]),
    ])
    assert cove.run("images", "-q").stdout.split() == [image_id[:12]]
    assert cove.run("images", "-q", "--no-trunc").stdout.split() == [
        "sha256:" + image_id]
    out = cove.run("images", "--format",
                   "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert f"example.com/one:1 {image_id[:12]}" in out.splitlines()
    js = cove.json("images", "--format", "json")
    assert len(js) == 1 and js[0]["Id"] == image_id
    assert sorted(js[0]["Names"]) == sorted([
        "docker.io/library/two:latest", "example.com/one:1", BUSYBOX_NAME])

    info = cove.json("image", "inspect", "two")[0]
    for key in ("Id", "Digest", "RepoTags", "RepoDigests", "Created",
                "Architecture", "Os", "Config", "RootFS", "Size"):
        assert key in info, key
    assert info["Id"] == image_id
    assert info["Os"] == "linux"
    assert info["RootFS"]["Type"] == "layers"
    assert all(d.startswith(("localhost/busybox@", "example.com/one@",
                             "docker.io/library/two@"))
               for d in info["RepoDigests"])
    # by id prefix, and with a template
    out = cove.run("image", "inspect", "--format", "{{.Id}} {{.Os}}",
                   image_id[:8]).stdout
    assert out == f"{image_id} linux\n"
    out = cove.run("image", "inspect", "--format",
                   "{{json .RootFS.Layers}}", image_id).stdout
    assert json.loads(out) == info["RootFS"]["Layers"]
    p = cove.fail("image", "inspect", "nosuchimage")
    assert "nosuchimage" in p.stderr

    # rmi of one of several names only untags
    p = cove.run("rmi", "two")
    assert "Untagged: docker.io/library/two:latest" in p.stdout
    assert cove.ids() == ["sha256:" + image_id]
    # by id with several names: refused without --force
    p = cove.fail("rmi", image_id[:12])
    assert "several names" in p.stderr
    p = cove.run("rmi", "-f", image_id[:12])
    assert f"Deleted: {image_id}" in p.stdout
    assert cove.ids() == []


def test_prune(cove, test_tmp):
    cove.load_busybox()
    img = Image([make_layer([("x", "file", {"data": b"x"})])])
    path = os.path.join(test_tmp, "x.tar")
    write_oci_archive(path, [img])  # no name: a dangling image
    cove.run("load", "-i", path)
    assert len(cove.ids()) == 2
    out = cove.run("image", "prune").stdout.split()
    assert out == [img.id.split(":")[1]]
    assert len(cove.ids()) == 1
    blobs = os.path.join(cove.root, "blobs", "sha256")
    assert img.id.split(":")[1] not in os.listdir(blobs)
    cove.run("image", "prune", "-a", "-f")
    assert cove.ids() == []
    assert os.listdir(blobs) == []
    assert [f for f in os.listdir(os.path.join(cove.root, "overlay"))
            if not f.startswith(".")] == []


def test_fsck_finds_and_repairs(cove):
    cove.load_busybox()
    info = cove.json("image", "inspect", BUSYBOX_NAME)[0]
    p = cove.run("image", "fsck")
    assert "store is consistent" in p.stdout
    # corrupt the config blob
    path = os.path.join(cove.root, "blobs", "sha256", info["Id"])
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        data = f.read()
        f.seek(0)
        f.write(bytes([data[0] ^ 1]) + data[1:])
    p = cove.run("image", "fsck", check=False)
    assert p.returncode == 1
    assert f"corrupt: sha256:{info['Id']}" in p.stdout
    p = cove.run("image", "fsck", "--repair", check=False)
    assert p.returncode == 1
    assert "corrupt blobs removed: 1" in p.stdout
    p = cove.run("image", "fsck", "--format", "json", check=False)
    report = json.loads(p.stdout)
    assert f"sha256:{info['Id']}" in report["dangling"]
    assert not report["clean"]
    # loading the image again heals the store
    cove.load_busybox()
    assert cove.json("image", "fsck", "--format", "json")["clean"]


def test_bundle_options(cove, test_tmp):
    cove.load_busybox()
    b = os.path.join(test_tmp, "b")
    vfs = Cove(cove.root, "vfs")
    vfs.run("bundle", "--env", "A=b", "--hostname", "box", "--read-only",
            BUSYBOX_NAME, b, "sh", "-c", "echo -n hi")
    with open(os.path.join(b, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["process"]["args"] == ["sh", "-c", "echo -n hi"]
    assert "A=b" in cfg["process"]["env"]
    assert cfg["hostname"] == "box"
    assert cfg["root"] == {"path": "rootfs", "readonly": True}
    assert os.path.isfile(os.path.join(b, "rootfs", "bin", "busybox"))
    p = vfs.fail("bundle", BUSYBOX_NAME, b)
    assert "already exists" in p.stderr


def test_rmi_keeps_layers_of_a_mounted_bundle(cove, test_tmp):
    """A `cove bundle` overlay uses snapshots the store does not track:
    removing the image must not pull them from under the mount."""
    cove.load_busybox()
    b = os.path.join(test_tmp, "b")
    cove.run("bundle", BUSYBOX_NAME, b)
    rootfs = os.path.join(b, "rootfs")
    try:
        cove.run("rmi", BUSYBOX_NAME)
        assert cove.ids() == []
        assert os.path.isfile(os.path.join(rootfs, "bin", "busybox"))
        with open(os.path.join(rootfs, "etc", "passwd")) as f:
            assert "root" in f.read()
    finally:
        subprocess.run(["umount", rootfs], capture_output=True)
    cove.run("image", "prune")
    assert [f for f in os.listdir(os.path.join(cove.root, "overlay"))
            if not f.startswith(".")] == []
