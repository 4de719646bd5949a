"""`cove diff`, `cove export` and `cove commit` (also in the `container`
group) with real containers of the busybox image, on overlay (the `engine`
fixture) and on vfs (a root of its own, `--storage-driver vfs`).

What is checked is what lands on disk: the change list against the
container's actual edits, the exported tar read back with tarfile, and the
committed image run again, inspected, its new layer read out of a `cove
save` archive (whiteouts, diff_id and digest recomputed) and round-tripped
through save/load.  A hostile container's symlinks (to the host's paths,
and a directory symlink with a file written through it) must be archived
as symlinks and never read through.
"""

import gzip
import hashlib
import io
import json
import os
import pty
import re
import subprocess
import tarfile

import pytest

from conftest import COVE_BINARY, Engine
from imagelib import busybox_archive

IMAGE = "localhost/busybox"
ID_RE = re.compile(r"^[0-9a-f]{64}$")

# The edits every diff test makes: a new tree with a chowned file, a
# changed file, a deleted file, a symlink out of the rootfs, and a
# directory removed and made again (opaque on overlay).
EDITS = (
    "mkdir -p /newdir/sub && echo hello > /newdir/sub/f && "
    "chown 1234:5678 /newdir/sub/f && "
    "echo extra >> /etc/passwd && "
    "rm /bin/ls && "
    "ln -s /../../host /etc/x && "
    "rm -rf /usr && mkdir /usr && echo z > /usr/z"
)

# podman's lines for EDITS: parents of changes are "C"; overlay reports
# the re-made /usr as deleted (opaque) with its new content added, vfs
# compares it entry by entry
DIFF_OVERLAY = [
    "C /bin",
    "D /bin/ls",
    "C /etc",
    "C /etc/passwd",
    "A /etc/x",
    "A /newdir",
    "A /newdir/sub",
    "A /newdir/sub/f",
    "D /usr",
    "A /usr/z",
]
DIFF_VFS = [
    "C /bin",
    "D /bin/ls",
    "C /etc",
    "C /etc/passwd",
    "A /etc/x",
    "A /newdir",
    "A /newdir/sub",
    "A /newdir/sub/f",
    "C /usr",
    "D /usr/bin",
    "D /usr/sbin",
    "A /usr/z",
]


class VfsEngine(Engine):
    """An Engine whose every command runs with --storage-driver vfs."""

    def cmd(self, *args):
        return [
            COVE_BINARY,
            "--root",
            self.root,
            "--runroot",
            self.runroot,
            "--storage-driver",
            "vfs",
        ] + [str(a) for a in args]


@pytest.fixture
def vfs_engine(engine_template, test_tmp, cgroup_parent):
    e = VfsEngine(
        test_tmp, os.path.join(test_tmp, "vroot"), os.path.join(test_tmp, "vrun"), cgroup_parent
    )
    e.run("load", "-i", busybox_archive())
    yield e
    problems = e.teardown()
    if problems:
        pytest.fail("engine teardown: " + "\n".join(problems))


def edited(engine, script=EDITS, name="ed"):
    """A container (exited) that ran @script; returns its name."""
    engine.run_ctr("--name", name, IMAGE, "sh", "-c", script)
    return name


def diff_lines(engine, name, *args):
    return engine.run("diff", *args, name).stdout.splitlines()


def read_tar(path_or_bytes):
    data = path_or_bytes
    if isinstance(data, str):
        with open(data, "rb") as f:
            data = f.read()
    t = tarfile.open(fileobj=io.BytesIO(data))
    members = {m.name.rstrip("/"): m for m in t.getmembers()}
    return t, members


def content(t, m):
    return t.extractfile(m).read()


def saved_layers(engine, image):
    """(config, [layer blob bytes]) of @image, out of a `cove save`."""
    out = os.path.join(engine.tmp, "saved.tar")
    engine.run("save", "--format", "oci-archive", "-o", out, image)
    with tarfile.open(out) as t:

        def blob(digest):
            algo, hexd = digest.split(":")
            return t.extractfile(f"blobs/{algo}/{hexd}").read()

        index = json.loads(t.extractfile("index.json").read())
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        layers = []
        for d in manifest["layers"]:
            data = blob(d["digest"])
            assert hashlib.sha256(data).hexdigest() == d["digest"].split(":")[1]
            assert len(data) == d["size"]
            layers.append((d, data))
    os.unlink(out)
    return manifest, config, layers


# ---------------------------------------------------------------------------
# diff
# ---------------------------------------------------------------------------


def test_diff_fresh_container_is_empty(engine):
    engine.create_ctr("--name", "fresh", IMAGE, "true")
    assert engine.run("diff", "fresh").stdout == ""
    assert json.loads(engine.run("diff", "--format", "json", "fresh").stdout) == {}


def test_diff_overlay(engine):
    name = edited(engine)
    assert diff_lines(engine, name) == DIFF_OVERLAY
    # the group spelling, and the JSON lists by kind (sorted too)
    assert diff_lines(engine, name) == engine.run("container", "diff", name).stdout.splitlines()
    j = json.loads(engine.run("diff", "--format", "json", name).stdout)
    assert j == {
        "changed": ["/bin", "/etc", "/etc/passwd"],
        "added": ["/etc/x", "/newdir", "/newdir/sub", "/newdir/sub/f", "/usr/z"],
        "deleted": ["/bin/ls", "/usr"],
    }
    # it is the upper dir that says so: the opaque mark is really there
    ctr_id = engine.inspect(name)["Id"]
    upper = os.path.join(engine.root, "overlay-containers", ctr_id, "upper")
    assert os.getxattr(os.path.join(upper, "usr"), "trusted.overlay.opaque") == b"y"
    st = os.lstat(os.path.join(upper, "bin", "ls"))
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0


def test_diff_vfs(vfs_engine):
    e = vfs_engine
    e.create_ctr("--name", "fresh", IMAGE, "true")
    assert e.run("diff", "fresh").stdout == ""
    name = edited(e)
    assert diff_lines(e, name) == DIFF_VFS
    # a change of mode alone, and of a symlink's target, are changes too
    e.run_ctr("--name", "meta", IMAGE, "sh", "-c", "chmod 600 /etc/group && ln -sfn busybox /sbin")
    assert diff_lines(e, "meta") == ["C /etc", "C /etc/group", "C /sbin"]


def test_diff_bad_args(engine):
    p = engine.fail("diff", "no-such-ctr")
    assert "no-such-ctr" in p.stderr
    engine.create_ctr("--name", "c", IMAGE, "true")
    p = engine.fail("diff", "--format", "yaml", "c")
    assert "yaml" in p.stderr


# ---------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------


def check_export(members, t):
    f = members["newdir/sub/f"]
    assert f.isreg() and (f.uid, f.gid) == (1234, 5678)
    assert content(t, f) == b"hello\n"
    x = members["etc/x"]
    assert x.issym() and x.linkname == "/../../host"
    assert "bin/ls" not in members and "usr/bin" not in members
    assert content(t, members["usr/z"]) == b"z\n"
    assert content(t, members["etc/passwd"]).endswith(b"extra\n")
    bb = members["bin/busybox"]
    assert bb.isreg() and bb.mode & 0o111 and bb.size > 100000
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert members["root"].isdir() and members["root"].mode & 0o777 == 0o700


def test_export_overlay(engine):
    name = edited(engine)
    # an xattr of the container's file (set on its upper copy) is kept;
    # overlay's own (the opaque mark of /usr) are not the file system's
    upper = os.path.join(engine.root, "overlay-containers", engine.inspect(name)["Id"], "upper")
    try:
        os.setxattr(os.path.join(upper, "newdir", "sub", "f"), "user.cove-test", b"v1")
    except OSError:
        pytest.skip("no user xattrs on the test file system")
    out = os.path.join(engine.tmp, "out.tar")
    engine.run("export", "-o", out, name)
    t, members = read_tar(out)
    check_export(members, t)
    assert members["newdir/sub/f"].pax_headers.get("SCHILY.xattr.user.cove-test") == "v1"
    assert not any("overlay" in k for m in members.values() for k in m.pax_headers)
    # to stdout, and through the group: the same entries
    p = subprocess.run(engine.cmd("container", "export", name), capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    _, members2 = read_tar(p.stdout)
    assert sorted(members2) == sorted(members)
    # the rootfs mounted for the export is unmounted again
    assert engine.mounts() == []


def test_export_vfs(vfs_engine):
    name = edited(vfs_engine)
    p = subprocess.run(vfs_engine.cmd("export", name), capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    t, members = read_tar(p.stdout)
    check_export(members, t)


def test_export_running_container(engine):
    engine.run_d(
        "--name", "live", IMAGE, "sh", "-c", "echo live > /livefile; exec sleep 1000"
    )
    engine.wait_status("live", "running")

    def has_file():
        p = subprocess.run(engine.cmd("export", "live"), capture_output=True, timeout=30)
        return p.returncode == 0 and "livefile" in read_tar(p.stdout)[1]

    from conftest import wait_for

    wait_for(has_file, timeout=10, what="livefile in the export")
    # still running, its rootfs still mounted
    assert engine.status("live") == "running"
    engine.run("exec", "live", "cat", "/livefile")


def test_export_refuses_terminal(engine):
    engine.create_ctr("--name", "c", IMAGE, "true")
    master, slave = pty.openpty()
    try:
        p = subprocess.run(
            engine.cmd("export", "c"), stdout=slave, stderr=subprocess.PIPE, timeout=30
        )
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 125
    assert b"terminal" in p.stderr


# ---------------------------------------------------------------------------
# commit
# ---------------------------------------------------------------------------


def test_commit_image_runs(engine):
    name = edited(engine)
    p = engine.run(
        "commit",
        "-a",
        "Jane Doe <jane@example.org>",
        "-m",
        "a test commit",
        "-c",
        'CMD ["cat", "/newdir/sub/f"]',
        "-c",
        "ENV FOO=bar",
        name,
        "committed:v1",
    )
    image_id = p.stdout.strip()
    assert ID_RE.match(image_id), p.stdout
    new = "localhost/committed:v1"
    # its CMD, and the file written in the container
    assert engine.run_ctr("--rm", new).stdout == "hello\n"
    out = engine.run_ctr(
        "--rm",
        new,
        "sh",
        "-c",
        "echo $FOO; stat -c '%u:%g' /newdir/sub/f; readlink /etc/x; "
        "ls /usr; test -e /bin/ls || echo gone; test -e /usr/bin || echo usrbin-gone",
    ).stdout.split()
    assert out == ["bar", "1234:5678", "/../../host", "z", "gone", "usrbin-gone"]
    # inspect: author, history, config, one more layer
    img = json.loads(engine.run("image", "inspect", new).stdout)[0]
    base = json.loads(engine.run("image", "inspect", IMAGE).stdout)[0]
    assert img["Id"] == image_id
    assert img["Author"] == "Jane Doe <jane@example.org>"
    h = img["History"][-1]
    assert h["author"] == "Jane Doe <jane@example.org>"
    assert h["comment"] == "a test commit"
    assert img["Config"]["Cmd"] == ["cat", "/newdir/sub/f"]
    assert "FOO=bar" in img["Config"]["Env"]
    assert len(img["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    assert img["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    # the store is consistent (every blob matches its digest)
    fsck = engine.run("image", "fsck")
    assert "consistent" in fsck.stdout
    # save / rmi / load round trip, and it still runs
    out_tar = os.path.join(engine.tmp, "rt.tar")
    engine.run("save", "-o", out_tar, new)
    engine.run("rmi", new)
    engine.run("load", "-i", out_tar)
    assert engine.run_ctr("--rm", new).stdout == "hello\n"
    img2 = json.loads(engine.run("image", "inspect", new).stdout)[0]
    assert img2["Id"] == image_id


def test_commit_layer_content(engine):
    name = edited(engine)
    engine.run("commit", "-q", name, "layer:t")
    manifest, config, layers = saved_layers(engine, "localhost/layer:t")
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    desc, blob = layers[-1]
    assert desc["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    raw = gzip.decompress(blob)
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == config["rootfs"]["diff_ids"][-1]
    t, members = read_tar(raw)
    # deletions are whiteouts, the re-made /usr is opaque, nothing else
    # of the image is carried
    assert members["bin/.wh.ls"].isreg() and members["bin/.wh.ls"].size == 0
    assert "usr/.wh..wh..opq" in members
    assert members["etc/x"].issym() and members["etc/x"].linkname == "/../../host"
    assert "bin/busybox" not in members and "bin/sh" not in members
    assert set(members) == {
        "bin",
        "bin/.wh.ls",
        "etc",
        "etc/passwd",
        "etc/x",
        "newdir",
        "newdir/sub",
        "newdir/sub/f",
        "usr",
        "usr/.wh..wh..opq",
        "usr/z",
    }


def test_commit_vfs(vfs_engine):
    e = vfs_engine
    name = edited(e)
    image_id = e.run("commit", "-c", "CMD cat /usr/z", name).stdout.strip()
    assert ID_RE.match(image_id)
    # unnamed: found by id, listed without a name
    assert e.run_ctr("--rm", image_id).stdout == "z\n"
    out = e.run_ctr(
        "--rm", image_id, "sh", "-c", "cat /newdir/sub/f; test -e /bin/ls || echo gone; ls /usr"
    ).stdout.split()
    assert out == ["hello", "gone", "z"]
    _, config, layers = saved_layers(e, image_id)
    assert config["config"]["Cmd"] == ["/bin/sh", "-c", "cat /usr/z"]
    t, members = read_tar(gzip.decompress(layers[-1][1]))
    assert {"bin/.wh.ls", "usr/.wh.bin", "usr/.wh.sbin", "usr/z"} <= set(members)


def test_commit_running_with_pause(engine):
    engine.run_d("--name", "busy", IMAGE, "sh", "-c", "echo made > /made; exec sleep 1000")
    engine.wait_status("busy", "running")
    from conftest import wait_for

    wait_for(lambda: "A /made" in diff_lines(engine, "busy"), what="/made in the diff")
    image_id = engine.run("container", "commit", "-p", "busy", "snap:1").stdout.strip()
    assert ID_RE.match(image_id)
    # thawed again, and still running
    assert engine.status("busy") == "running"
    engine.run("exec", "busy", "true")
    assert engine.run_ctr("--rm", "localhost/snap:1", "cat", "/made").stdout == "made\n"
    # the short name finds localhost's image, as podman resolves it
    assert engine.run_ctr("--rm", "snap:1", "cat", "/made").stdout == "made\n"
    # the container's command is the image's now, as podman carries it
    img = json.loads(engine.run("image", "inspect", "localhost/snap:1").stdout)[0]
    assert img["Config"]["Cmd"][-1] == "echo made > /made; exec sleep 1000"


def test_commit_changes(engine):
    engine.run_ctr("--name", "c", IMAGE, "true")
    engine.run(
        "commit",
        "-c",
        "ENTRYPOINT /bin/echo",
        "-c",
        "EXPOSE 8080 53/udp",
        "-c",
        "LABEL team=core tier=db",
        "-c",
        "USER=1:2",
        "-c",
        "WORKDIR /tmp",
        "-c",
        "STOPSIGNAL SIGINT",
        "-c",
        'VOLUME ["/data"]',
        "c",
        "changes:1",
    )
    cfg = json.loads(engine.run("image", "inspect", "localhost/changes:1").stdout)[0]["Config"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "/bin/echo"]
    assert set(cfg["ExposedPorts"]) == {"8080/tcp", "53/udp"}
    assert cfg["Labels"] == {"team": "core", "tier": "db"}
    assert cfg["User"] == "1:2" and cfg["WorkingDir"] == "/tmp"
    assert cfg["StopSignal"] == "SIGINT" and cfg["Volumes"] == {"/data": {}}
    assert engine.run_ctr("--rm", "--entrypoint", "pwd", "localhost/changes:1").stdout == "/tmp\n"


def test_commit_failures_leave_no_image(engine):
    before = engine.run("images", "-q", "--no-trunc").stdout.split()
    engine.run_ctr("--name", "c", IMAGE, "sh", "-c", "touch /.wh.sneaky /ok")
    # a bad instruction: refused before anything is written
    p = engine.fail("commit", "-c", "FROB x", "c", "bad:1")
    assert "FROB" in p.stderr
    # a name the layer format reserves, found part-way through the layer
    p = engine.fail("commit", "c", "bad:2")
    assert ".wh." in p.stderr
    p = engine.fail("commit", "--format", "docker", "c")
    assert "oci" in p.stderr
    p = engine.fail("commit", "c", "Bad:Name")
    assert "lowercase" in p.stderr
    assert engine.run("images", "-q", "--no-trunc").stdout.split() == before
    assert "consistent" in engine.run("image", "fsck").stdout
    ingest = os.path.join(engine.root, "ingest")
    assert not os.path.isdir(ingest) or os.listdir(ingest) == []


# ---------------------------------------------------------------------------
# a hostile container
# ---------------------------------------------------------------------------


def test_hostile_symlinks_are_not_followed(engine):
    secret_dir = os.path.join(engine.tmp, "host-secret")
    os.makedirs(secret_dir)
    with open(os.path.join(secret_dir, "secret.txt"), "w") as f:
        f.write("TOPSECRET-HOST-DATA\n")
    # symlinks to the host's paths (absolute, and climbing out with ..),
    # a directory symlink with a file written through it, a symlink
    # replacing a directory of the image
    script = (
        f"ln -s {secret_dir} /etc/hostdir && "
        f"ln -s /../../..{secret_dir}/secret.txt /etc/x && "
        "mkdir /real && ln -s /real /data && echo inside > /data/file && "
        f"rm -rf /root && ln -s {secret_dir} /root"
    )
    engine.run_ctr("--name", "evil", IMAGE, "sh", "-c", script)
    out = os.path.join(engine.tmp, "evil.tar")
    engine.run("export", "-o", out, "evil")
    engine.run("commit", "-q", "evil", "evil:1")
    _, _, layers = saved_layers(engine, "localhost/evil:1")
    layer = gzip.decompress(layers[-1][1])
    with open(out, "rb") as f:
        exported = f.read()
    for data in (exported, layer):
        assert b"TOPSECRET" not in data
        t, members = read_tar(data)
        assert members["etc/hostdir"].issym()
        assert members["etc/hostdir"].linkname == secret_dir
        assert members["etc/x"].issym()
        assert members["data"].issym() and members["data"].linkname == "/real"
        assert members["root"].issym()
        assert content(t, members["real/file"]) == b"inside\n"
        assert not any(n.startswith(("data/", "root/", "etc/hostdir/")) for n in members)
        assert not any("secret.txt" in n for n in members)
    # the committed image keeps them as dangling symlinks
    p = engine.run_ctr("--rm", "localhost/evil:1", "sh", "-c", "readlink /etc/hostdir; cat /data/file")
    assert p.stdout.split() == [secret_dir, "inside"]


def test_kill_during_commit_leaves_no_half_image(engine):
    """kill -9 at a random moment of a commit (while the layer is written,
    hashed, stored or recorded) leaves a store fsck finds consistent and
    no image, or, killed after the record, the whole image; the next
    commit works."""
    import random
    import signal
    import time

    from conftest import wait_for

    engine.run_d("--name", "big", IMAGE, "sh", "-c",
                 "dd if=/dev/urandom of=/big bs=1M count=40 2>/dev/null; "
                 "touch /done; exec sleep 1000")
    wait_for(lambda: engine.run("exec", "big", "test", "-e", "/done",
                                check=False).returncode == 0,
             timeout=60, what="the 40 MB file in the container")

    def images():
        return set(engine.run("images", "-q", "--no-trunc").stdout.split())

    before = images()
    start = time.monotonic()
    engine.run("commit", "-q", "big", "localhost/full:1")
    full = time.monotonic() - start
    engine.run("rmi", "localhost/full:1")

    kills = 0
    for _ in range(10):
        proc = subprocess.Popen(engine.cmd("commit", "-q", "big", "localhost/k:1"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(random.uniform(0.05, 0.95) * full)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            new = images() - before
            # nothing recorded, or (killed after the record) the image
            assert len(new) <= 1, new
            if new:
                img = json.loads(engine.run("image", "inspect", new.pop()).stdout)[0]
                assert "localhost/k:1" in img["RepoTags"], img["RepoTags"]
                engine.run("rmi", "localhost/k:1")
            p = engine.run("image", "fsck")
            assert "store is consistent" in p.stdout, p.stdout
        else:
            proc.wait()
            engine.run("rmi", "localhost/k:1", check=False)
        if kills >= 4:
            break
    assert kills > 0, f"the commit always finished before the kill ({full}s)"

    engine.run("commit", "-q", "big", "localhost/k:2")
    assert engine.run_ctr("--rm", "localhost/k:2", "sh", "-c",
                          "test -e /done && wc -c < /big").stdout.strip() == str(40 << 20)
    report = json.loads(engine.run("image", "fsck", "--format", "json").stdout)
    assert report["clean"], report
