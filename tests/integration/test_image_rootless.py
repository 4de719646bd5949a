"""The image commands run by a real unprivileged user (rootless storage).

As in test_rootless.py, throw-away users are created for this module: one
with ranges in /etc/subuid and /etc/subgid (test_rootless's fixture), one
without.  cove runs as them through setpriv with its default storage,
$XDG_DATA_HOME/cove, in a directory the user owns; it unpacks layers inside
its own user namespace (0 -> the user, 1.. -> the subordinate ids), so the
files on the host belong to those ids.  `cove bundle` then copies the
image's root file system and writes a config.json with the same maps, and
`cove-runtime run`, run by the same user, runs it.

Teardown kills by pid whatever the user left running (the pause process
that keeps cove's namespaces among it) and checks that no mount was left on
the host below the test's directory and that no cgroup was made.
"""

import gzip
import json
import os
import pwd
import shutil
import signal
import subprocess
import tarfile
import tempfile
import uuid

import pytest

from conftest import mountinfo_mountpoints
from imagelib import (BUSYBOX_NAME, COVE, RUNTIME, Image, RawRegistry,
                      busybox_archive, make_layer, need_cove,
                      write_oci_archive)
from registry import registry_plain  # noqa: F401
from test_rootless import (SUBID_FILES, User, _default_cgroups,
                           _user_pids, _userns_unavailable_reason,
                           rootless_user)  # noqa: F401

NOVERIFY = "--tls-verify=false"
TEST_NAME = "localhost/rootless-owners:1"
# The test image: busybox, and a layer with files of root and of uid 1000
# that also deletes /bin/arch (a whiteout).
OWNED_SCRIPT = ("stat -c %u:%g /data /data/of-1000 /data/of-root; "
                "test -e /bin/arch || echo arch is gone; "
                "echo hello from the rootless bundle")


# ---------------------------------------------------------------------------
# users
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nosubid_user():
    """A user with no subordinate ids at all."""
    reason = _userns_unavailable_reason()
    if reason:
        pytest.skip(reason)
    saved = {}
    for path in SUBID_FILES:
        try:
            with open(path) as f:
                saved[path] = f.read()
        except FileNotFoundError:
            saved[path] = None
    name = f"cove-nosub-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(["useradd", "-m", "-s", "/bin/sh", name],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot create a test user: {proc.stderr.strip()}")
    try:
        user = User(name)
        # useradd may have given it ranges (SUB_UID_COUNT): take them away
        args = []
        if user.subuid:
            s, n = user.subuid
            args += ["--del-subuids", f"{s}-{s + n - 1}"]
        if user.subgid:
            s, n = user.subgid
            args += ["--del-subgids", f"{s}-{s + n - 1}"]
        if args:
            subprocess.run(["usermod", *args, name], check=True,
                           capture_output=True)
        user = User(name)
        assert user.subuid is None and user.subgid is None
        yield user
    finally:
        for pid in _user_pids(pwd.getpwnam(name).pw_uid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["userdel", "-r", "-f", name], capture_output=True)
        for path, content in saved.items():
            try:
                with open(path) as f:
                    now = f.read()
            except FileNotFoundError:
                continue
            if content is not None and now != content:
                kept = [ln for ln in now.splitlines(True)
                        if not ln.startswith(name + ":")]
                with open(path + ".cove-test", "w") as f:
                    f.write("".join(kept))
                os.chmod(path + ".cove-test", 0o644)
                os.rename(path + ".cove-test", path)


class CoveUser:
    """cove and cove-runtime as the user: default storage in
    $XDG_DATA_HOME/cove, runtime state in $XDG_RUNTIME_DIR."""

    def __init__(self, user, tmp):
        self.user = user
        self.tmp = tmp
        self.data = self._user_dir("data")
        self.xdg = self._user_dir("xdg", 0o700)
        self.work = self._user_dir("work")
        # The checkout may not be reachable by other users: copies.
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir, 0o755)
        self.cove_bin = os.path.join(bindir, "cove")
        self.runtime_bin = os.path.join(bindir, os.path.basename(RUNTIME))
        for src, dst in ((COVE, self.cove_bin), (RUNTIME, self.runtime_bin)):
            shutil.copy2(src, dst)
            os.chmod(dst, 0o755)
        self.busybox = os.path.join(bindir, "busybox-oci.tar")
        shutil.copy2(busybox_archive(), self.busybox)
        os.chmod(self.busybox, 0o644)
        self.ids = []

    def _user_dir(self, name, mode=0o755):
        d = os.path.join(self.tmp, name)
        os.mkdir(d, mode)
        os.chown(d, self.user.uid, self.user.gid)
        return d

    @property
    def root(self):
        return os.path.join(self.data, "cove")

    def _run(self, argv, check=True, timeout=120):
        cmd = ["setpriv", f"--reuid={self.user.uid}",
               f"--regid={self.user.gid}", "--init-groups", "--reset-env",
               "env", f"XDG_RUNTIME_DIR={self.xdg}",
               f"XDG_DATA_HOME={self.data}", *argv]
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL,
                           cwd=self.tmp)
        if check and p.returncode != 0:
            pytest.fail(f"command failed ({p.returncode}): {' '.join(argv)}"
                        f"\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
        return p

    def cove(self, *args, **kw):
        return self._run([self.cove_bin, *map(str, args)], **kw)

    def runtime(self, *args, **kw):
        return self._run([self.runtime_bin, *map(str, args)], **kw)

    def load_busybox(self):
        p = self.cove("load", "-i", self.busybox)
        assert f"Loaded image: {BUSYBOX_NAME}" in p.stdout, p.stdout
        return p

    def bundle_and_run(self, image, *cmd, driver=None):
        bundle = os.path.join(self.work, "b-" + uuid.uuid4().hex[:8])
        drv = ["--storage-driver", driver] if driver else []
        self.cove(*drv, "bundle", image, bundle, *cmd)
        cid = "rl-img-" + uuid.uuid4().hex[:8]
        self.ids.append(cid)
        p = self.runtime("run", "--bundle", bundle, cid, check=False,
                         timeout=60)
        return bundle, p


@pytest.fixture
def tmp_dir():
    d = tempfile.mkdtemp(prefix="cove-it-imgrl-")
    os.chmod(d, 0o755)
    yield d
    leftovers = [m for m in mountinfo_mountpoints()
                 if m == d or m.startswith(d + "/")]
    for m in sorted(leftovers, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)
    # rootless mounts live in cove's own mount namespace, never here
    assert not leftovers, f"mounts left on the host: {leftovers}"


def _env(user, tmp_dir):
    need_cove()
    env = CoveUser(user, tmp_dir)
    yield env
    for cid in env.ids:
        env.runtime("delete", "-f", cid, check=False, timeout=20)
    for pid in _user_pids(user.uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    made = _default_cgroups(env.ids)
    for d in sorted(made, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass
    assert not made, f"cgroups were created: {made}"


@pytest.fixture
def sub(rootless_user, tmp_dir):  # noqa: F811
    """The user with subordinate ids, with ranges big enough for uid 1000."""
    u = rootless_user
    if u.subuid is None or u.subgid is None:
        pytest.skip(f"{u.name} has no /etc/subuid or /etc/subgid range")
    if min(u.subuid[1], u.subgid[1]) < 1000:
        pytest.skip(f"the sub-id ranges of {u.name} are too small")
    yield from _env(u, tmp_dir)


@pytest.fixture
def single(nosubid_user, tmp_dir):
    yield from _env(nosubid_user, tmp_dir)


# ---------------------------------------------------------------------------
# the test image
# ---------------------------------------------------------------------------


def _busybox_layer():
    """The (uncompressed) layer tar of build/busybox-oci.tar."""
    with tarfile.open(busybox_archive()) as t:
        index = json.load(t.extractfile("index.json"))
        digest = index["manifests"][0]["digest"]
        manifest = json.load(t.extractfile("blobs/sha256/" + digest[7:]))
        assert len(manifest["layers"]) == 1
        blob = t.extractfile(
            "blobs/sha256/" + manifest["layers"][0]["digest"][7:]).read()
    return gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob


def owners_image():
    """busybox plus a layer with /data (root), /data/of-root (0:0) and
    /data/of-1000 (1000:1000), without /bin/arch."""
    extra = make_layer([
        ("data", "dir", {"mode": 0o755}),
        ("data/of-root", "file", {"data": b"root\n"}),
        ("data/of-1000", "file", {"data": b"user\n", "uid": 1000,
                                  "gid": 1000, "mode": 0o640}),
        ("bin/.wh.arch", "file", {}),
    ])
    return Image([_busybox_layer(), extra], cmd=("sh",))


def _snapshot_file(root, rel):
    """The file @rel in whichever unpacked snapshot has it (overlay: one
    layer per snapshot; vfs: flattened)."""
    found = []
    for driver in ("overlay", "vfs"):
        base = os.path.join(root, driver)
        if not os.path.isdir(base):
            continue
        for chain in os.listdir(base):
            p = os.path.join(base, chain, "diff", rel)
            if os.path.lexists(p):
                found.append(p)
    assert found, f"{rel} is in no snapshot under {root}"
    return found


def _owner(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def _check_host_owners(paths_of, user, single_id=False):
    """/data/of-root is the user's, /data/of-1000 subordinate id 999."""
    if single_id:
        want_1000 = (user.uid, user.gid)
    else:
        want_1000 = (user.subuid[0] + 999, user.subgid[0] + 999)
    for p in paths_of("data/of-root"):
        assert _owner(p) == (user.uid, user.gid), p
    for p in paths_of("data/of-1000"):
        assert _owner(p) == want_1000, p
        assert os.lstat(p).st_mode & 0o777 == 0o640, p


def _load_owners_image(env):
    img = owners_image()
    archive = os.path.join(env.tmp, "owners.tar")
    write_oci_archive(archive, [img], name=TEST_NAME)
    os.chmod(archive, 0o644)
    p = env.cove("load", "-i", archive)
    assert f"Loaded image: {TEST_NAME}" in p.stdout, p.stdout
    return img


def _check_run(env, p, container_owner_1000="1000:1000"):
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr}"
    lines = p.stdout.splitlines()
    assert lines == ["0:0", container_owner_1000, "0:0", "arch is gone",
                     "hello from the rootless bundle"], p.stdout


# ---------------------------------------------------------------------------


def test_load_then_images(sub):
    sub.load_busybox()
    p = sub.cove("images")
    assert "localhost/busybox" in p.stdout and "latest" in p.stdout
    listed = json.loads(sub.cove("images", "--format", "json").stdout)
    assert [i["Names"] for i in listed] == [[BUSYBOX_NAME]]
    # default storage, the user's own (as container root)
    assert os.path.isdir(sub.root)
    assert _owner(sub.root) == (sub.user.uid, sub.user.gid)
    # unpacked at load time: busybox's files are root's, i.e. the user's
    for p in _snapshot_file(sub.root, "bin/busybox"):
        assert _owner(p) == (sub.user.uid, sub.user.gid)


@pytest.mark.parametrize("driver", ["overlay", "vfs"])
def test_unpacked_owners_are_subordinate_ids(sub, driver):
    img = owners_image()
    archive = os.path.join(sub.tmp, "owners.tar")
    write_oci_archive(archive, [img], name=TEST_NAME)
    os.chmod(archive, 0o644)
    p = sub.cove("--storage-driver", driver, "load", "-i", archive)
    assert f"Loaded image: {TEST_NAME}" in p.stdout
    assert "warning" not in p.stderr, p.stderr
    assert os.path.isdir(os.path.join(sub.root, driver))
    _check_host_owners(lambda rel: _snapshot_file(sub.root, rel), sub.user)


@pytest.mark.parametrize("driver", ["overlay", "vfs"])
def test_bundle_then_runtime_run(sub, driver):
    _load_owners_image(sub)
    bundle, p = sub.bundle_and_run(TEST_NAME, "sh", "-c", OWNED_SCRIPT,
                                   driver=driver)
    _check_run(sub, p)
    # a copy, not a mount, with the owners of the snapshots
    rootfs = os.path.join(bundle, "rootfs")
    assert rootfs not in mountinfo_mountpoints()
    _check_host_owners(lambda rel: [os.path.join(rootfs, rel)], sub.user)
    assert _owner(os.path.join(rootfs, "bin", "busybox")) == (
        sub.user.uid, sub.user.gid)
    assert not os.path.lexists(os.path.join(rootfs, "bin", "arch"))
    assert not os.path.lexists(os.path.join(rootfs, "bin", ".wh.arch"))
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    u = sub.user
    assert cfg["linux"]["uidMappings"] == [
        {"containerID": 0, "hostID": u.uid, "size": 1},
        {"containerID": 1, "hostID": u.subuid[0], "size": u.subuid[1]},
    ]
    assert cfg["linux"]["gidMappings"] == [
        {"containerID": 0, "hostID": u.gid, "size": 1},
        {"containerID": 1, "hostID": u.subgid[0], "size": u.subgid[1]},
    ]
    assert "user" in {n["type"] for n in cfg["linux"]["namespaces"]}


def test_image_mount_in_the_users_mount_namespace(sub):
    """`cove image mount` mounts in the mount namespace the user's pause
    process keeps: the next command (cove unshare) sees it, the host
    never does."""
    sub.load_busybox()
    p = sub.cove("image", "mount", BUSYBOX_NAME)
    path = p.stdout.strip()
    assert p.stdout == path + "\n" and path.startswith(sub.root + "/"), \
        p.stdout
    assert path not in mountinfo_mountpoints()
    # mounting again: the same path
    assert sub.cove("image", "mount", BUSYBOX_NAME).stdout == p.stdout
    unshare = sub.cove("unshare", "--help", check=False)
    if unshare.returncode == 0:
        p = sub.cove("unshare", "cat", "/proc/self/mountinfo")
        assert path in [ln.split()[4] for ln in p.stdout.splitlines()]
        p = sub.cove("unshare", "ls", path + "/bin/busybox")
        assert p.stdout.strip() == path + "/bin/busybox"
    # unmounted in that namespace too
    sub.cove("image", "unmount", BUSYBOX_NAME)
    if unshare.returncode == 0:
        p = sub.cove("unshare", "cat", "/proc/self/mountinfo")
        assert path not in p.stdout
    assert path not in mountinfo_mountpoints()


def test_pull_from_registry(sub, registry_plain):  # noqa: F811
    img = owners_image()
    ref = f"{registry_plain.host}/cove/rootless:v1"
    RawRegistry(registry_plain).push_image("cove/rootless", "v1", img)
    p = sub.cove("pull", NOVERIFY, ref)
    assert p.stdout.strip() == img.id.split(":")[1]
    listed = json.loads(sub.cove("images", "--format", "json").stdout)
    assert [i["Names"] for i in listed] == [[ref]]
    _check_host_owners(lambda rel: _snapshot_file(sub.root, rel), sub.user)
    _, p = sub.bundle_and_run(ref, "sh", "-c", OWNED_SCRIPT)
    _check_run(sub, p)
    # the image is the user's to remove, snapshots included
    sub.cove("rmi", ref)
    assert json.loads(sub.cove("images", "--format", "json").stdout) == []
    left = [n for n in os.listdir(os.path.join(sub.root, "overlay"))
            if len(n) == 64]
    assert left == []


def test_no_subordinate_ids_single_mapping(single):
    p = single.load_busybox()
    assert "single id" in p.stderr and "/etc/subuid" in p.stderr, p.stderr
    p = single.cove("images")
    assert "localhost/busybox" in p.stdout
    _load_owners_image(single)
    # every owner squashed to the user (container root)
    _check_host_owners(lambda rel: _snapshot_file(single.root, rel),
                       single.user, single_id=True)
    bundle, p = single.bundle_and_run(TEST_NAME, "sh", "-c", OWNED_SCRIPT)
    _check_run(single, p, container_owner_1000="0:0")
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["linux"]["uidMappings"] == [
        {"containerID": 0, "hostID": single.user.uid, "size": 1}]
    assert cfg["linux"]["gidMappings"] == [
        {"containerID": 0, "hostID": single.user.gid, "size": 1}]

