"""Rootless operation: the runtime run by a real unprivileged user.

A throw-away user is created for this module (useradd -m, which also gives
it a range in /etc/subuid and /etc/subgid) and removed afterwards (userdel
-r; the sub-id files are put back as they were).  The runtime is run as
that user through setpriv with XDG_RUNTIME_DIR set to a directory the user
owns, on a bundle the user owns whose rootfs is a private copy of the
busybox rootfs.  The state root is the runtime's default, so it must land
in $XDG_RUNTIME_DIR/<runtime>.

Teardown force-deletes every container (as the user), kills by pid any
process still owned by the user (nothing else can own its fresh uid), and
checks that no cgroup was created at the default places: the user has no
cgroup delegated to it.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid

import pytest

from conftest import (
    BINARY,
    Runtime,
    cgroup_mounts,
    dump_state_error,
    mountinfo_mountpoints,
    pid_alive,
    proc_status_field,
    wait_for,
)

RUNTIME_NAME = os.path.basename(BINARY)
# The directory below $XDG_RUNTIME_DIR each runtime keeps its state in.
STATE_SUBDIR = {"cove-runtime": "cove"}.get(RUNTIME_NAME, RUNTIME_NAME)

SUBID_FILES = ("/etc/subuid", "/etc/subgid")


def _sysctl(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _userns_unavailable_reason():
    for tool in ("useradd", "userdel", "setpriv", "newuidmap", "newgidmap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (packages passwd, util-linux, uidmap)"
    if _sysctl("/proc/sys/user/max_user_namespaces") == 0:
        return "user namespaces are disabled (user.max_user_namespaces = 0)"
    if _sysctl("/proc/sys/kernel/unprivileged_userns_clone") == 0:
        return (
            "unprivileged user namespaces are disabled "
            "(kernel.unprivileged_userns_clone = 0)"
        )
    if _sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1:
        return (
            "unprivileged user namespaces are restricted by AppArmor "
            "(kernel.apparmor_restrict_unprivileged_userns = 1)"
        )
    return None


def _read_subids(path, user):
    """(start, count) of user's first range in path, or None."""
    try:
        with open(path) as f:
            for line in f:
                fields = line.strip().split(":")
                if len(fields) == 3 and fields[0] == user:
                    return int(fields[1]), int(fields[2])
    except OSError:
        pass
    return None


def _user_pids(uid):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{name}")
        except OSError:
            continue
        if st.st_uid == uid:
            pids.append(int(name))
    return pids


class User:
    def __init__(self, name):
        pw = pwd.getpwnam(name)
        self.name = name
        self.uid = pw.pw_uid
        self.gid = pw.pw_gid
        self.home = pw.pw_dir
        self.subuid = _read_subids("/etc/subuid", name)
        self.subgid = _read_subids("/etc/subgid", name)


@pytest.fixture(scope="module")
def rootless_user():
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
    name = f"cove-rootless-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        ["useradd", "-m", "-s", "/bin/sh", name], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot create a test user: {proc.stderr.strip()}")
    try:
        user = User(name)
        # useradd only adds sub-id ranges when it is configured to
        # (SUB_UID_COUNT in login.defs); give the user one otherwise.
        if user.subuid is None or user.subgid is None:
            start = 0x7E000000 + (os.getpid() % 256) * 65536
            subprocess.run(
                [
                    "usermod",
                    "--add-subuids",
                    f"{start}-{start + 65535}",
                    "--add-subgids",
                    f"{start}-{start + 65535}",
                    name,
                ],
                check=True,
                capture_output=True,
            )
            user = User(name)
        yield user
    finally:
        for pid in _user_pids(pwd.getpwnam(name).pw_uid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["userdel", "-r", "-f", name], capture_output=True)
        for path, content in saved.items():
            # userdel drops the user's lines itself; put the files back
            # only if something of ours is still there.
            try:
                with open(path) as f:
                    now = f.read()
            except FileNotFoundError:
                now = None
            if content is None:
                if now is not None and not now.strip():
                    os.unlink(path)
                continue
            if now != content and any(
                line.startswith(name + ":") for line in (now or "").splitlines()
            ):
                kept = [ln for ln in now.splitlines(True) if not ln.startswith(name + ":")]
                with open(path + ".cove-test", "w") as f:
                    f.write("".join(kept))
                os.chmod(path + ".cove-test", 0o644)
                os.rename(path + ".cove-test", path)


class UserRuntime(Runtime):
    """Runtime run as the test user, with the default state root."""

    def run(self, *args, root=False, **kw):
        return super().run(*args, root=root, **kw)


class RootlessEnv:
    def __init__(self, user, tmp):
        self.user = user
        self.tmp = tmp
        self.xdg = os.path.join(tmp, "xdg")
        os.mkdir(self.xdg, 0o700)
        os.chown(self.xdg, user.uid, user.gid)
        # The checkout may not be reachable by other users (a CI clone in
        # a private directory): run a copy of the binary.
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir, 0o755)
        self.binary = os.path.join(bindir, RUNTIME_NAME)
        shutil.copy2(BINARY, self.binary)
        os.chmod(self.binary, 0o755)
        self.wrapper = os.path.join(bindir, "as-user")
        with open(self.wrapper, "w") as f:
            f.write(
                "#!/bin/sh\n"
                f"exec setpriv --reuid={user.uid} --regid={user.gid} "
                "--init-groups --reset-env "
                f"env XDG_RUNTIME_DIR={self.xdg} {self.binary} \"$@\"\n"
            )
        os.chmod(self.wrapper, 0o755)
        io_dir = os.path.join(tmp, "io")
        os.mkdir(io_dir, 0o755)
        self.rt = UserRuntime(self.wrapper, self.default_root, io_dir)
        self.ids = []

    @property
    def default_root(self):
        return os.path.join(self.xdg, STATE_SUBDIR)

    def new_id(self):
        cid = f"rl-{uuid.uuid4().hex[:8]}"
        self.ids.append(cid)
        return cid

    def bundle(self, name="bundle", shared_rootfs=None):
        """A bundle owned by the user, config from `spec --rootless`."""
        path = os.path.join(self.tmp, name)
        os.mkdir(path, 0o755)
        subprocess.run(
            ["cp", "-a", shared_rootfs, os.path.join(path, "rootfs")], check=True
        )
        subprocess.run(
            ["chown", "-R", f"{self.user.uid}:{self.user.gid}", path], check=True
        )
        self.rt.run("spec", "--rootless", cwd=path)
        cfg_path = os.path.join(path, "config.json")
        assert os.stat(cfg_path).st_uid == self.user.uid
        return RootlessBundle(path, self)


class RootlessBundle:
    def __init__(self, path, env):
        self.path = path
        self.env = env
        with open(self.config_path) as f:
            self.config = json.load(f)
        # Not a terminal (the tests have none).  No cgroupsPath: as in the
        # generated spec (runc refuses an explicit one it cannot create),
        # and the user cannot create cgroups anyway; the fixture checks
        # that none was made at the default places.
        self.config["process"]["terminal"] = False
        self.write()

    @property
    def config_path(self):
        return os.path.join(self.path, "config.json")

    def write(self):
        # Rewritten in place, so the file stays the user's.
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        return self

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        return self.write()

    def drop_cgroup_mount(self):
        """Remove the /sys/fs/cgroup mount of the default rootless config.

        See test_run_default_rootless_spec: cove cannot set that mount up
        when it could not create the container's cgroup.  The other tests
        drop it so they check the rest of rootless operation."""
        self.config["mounts"] = [
            m for m in self.config["mounts"] if m.get("destination") != "/sys/fs/cgroup"
        ]
        return self.write()

    def add_tmpfs(self, destination="/tmp"):
        self.config["mounts"].append(
            {
                "destination": destination,
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=1777", "size=16m"],
            }
        )
        return self.write()


@pytest.fixture
def rootless(rootless_user):
    tmp = tempfile.mkdtemp(prefix="cove-it-rootless-")
    os.chmod(tmp, 0o755)
    env = RootlessEnv(rootless_user, tmp)
    yield env
    for cid in env.ids:
        env.rt.run("delete", "-f", cid, check=False, timeout=20)
    for pid in _user_pids(rootless_user.uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    leftovers = [m for m in mountinfo_mountpoints() if m == tmp or m.startswith(tmp + "/")]
    for m in sorted(leftovers, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)
    made = _default_cgroups(env.ids)
    for d in sorted(made, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass
    assert not made, f"the rootless runtime created cgroups: {made}"


def _default_cgroups(ids):
    """Existing cgroups where a runtime puts a container with no
    cgroupsPath: /cove/<id> (cove), or <id> below the caller's own cgroup
    (runc)."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                own[c.replace("name=", "")] = path
    found = []
    for mountpoint, fstype, opts in cgroup_mounts():
        if fstype == "cgroup2":
            base = own.get("", "/")
        else:
            base = next((own[o] for o in opts if o in own), "/")
            if "name=systemd" in opts:
                base = own.get("systemd", "/")
        for cid in ids:
            for d in (f"{mountpoint}/cove/{cid}", f"{mountpoint}{base.rstrip('/')}/{cid}"):
                if os.path.isdir(d):
                    found.append(d)
    return found


@pytest.fixture
def rootfs_src(shared_bundle):
    return os.path.join(shared_bundle, "rootfs")


# ---------------------------------------------------------------------------


def test_spec_rootless_maps_root_to_the_user(rootless, rootfs_src):
    b = rootless.bundle(shared_rootfs=rootfs_src)
    linux = b.config["linux"]
    uid, gid = rootless.user.uid, rootless.user.gid
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": uid, "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": gid, "size": 1}]
    ns_types = {n["type"] for n in linux["namespaces"]}
    assert "user" in ns_types
    assert "network" not in ns_types
    assert "resources" not in linux or "devices" not in linux.get("resources", {})


ID_SCRIPT = "id -u; id -g; cat /proc/self/uid_map; exit 7"


def _check_id_output(proc, user):
    assert proc.returncode == 7, dump_state_error(proc)
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["0", "0"], dump_state_error(proc)
    assert [ln.split() for ln in lines[2:]] == [["0", str(user.uid), "1"]], dump_state_error(
        proc
    )


def test_run_default_rootless_spec(rootless, rootfs_src):
    """`spec --rootless` then `run`, nothing else changed but the command."""
    b = rootless.bundle(shared_rootfs=rootfs_src)
    b.set_args("sh", "-c", ID_SCRIPT)
    proc = rootless.rt.run("run", "--bundle", b.path, rootless.new_id(), check=False)
    _check_id_output(proc, rootless.user)


def test_run_rootless(rootless, rootfs_src):
    b = rootless.bundle(shared_rootfs=rootfs_src).drop_cgroup_mount()
    b.set_args("sh", "-c", ID_SCRIPT)
    cid = rootless.new_id()
    proc = rootless.rt.run("run", "--bundle", b.path, cid, check=False)
    _check_id_output(proc, rootless.user)
    # run removes the container: nothing left in the default root
    assert os.path.isdir(rootless.default_root)
    assert not os.path.exists(os.path.join(rootless.default_root, cid))


def test_lifecycle_rootless_default_root(rootless, rootfs_src):
    b = rootless.bundle(shared_rootfs=rootfs_src).drop_cgroup_mount().add_tmpfs()
    b.set_args("sh", "-c", 'trap "exit 143" TERM; echo up > /tmp/up; sleep 1000 & wait')
    rt = rootless.rt
    cid = rootless.new_id()
    user = rootless.user

    rt.run("create", "--bundle", b.path, cid)
    state_dir = os.path.join(rootless.default_root, cid)
    assert os.path.isdir(state_dir), f"no state in the default root {rootless.default_root}"
    assert os.stat(state_dir).st_uid == user.uid
    assert os.stat(rootless.default_root).st_uid == user.uid
    st = rt.state(cid)
    assert st["status"] == "created"
    pid = st["pid"]
    assert pid_alive(pid)
    # the init runs as the user on the host
    assert proc_status_field(pid, "Uid").split()[0] == str(user.uid)
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")

    rt.run("start", cid)
    rt.wait_status(cid, "running")
    wait_for(
        lambda: os.path.exists(f"/proc/{pid}/root/tmp/up"),
        what="the container to start its process",
    )
    listed = rt.json("list", "--format", "json")
    assert [c["id"] for c in listed] == [cid]

    proc = rt.run("exec", cid, "sh", "-c", "id -u; exit 3", check=False)
    assert proc.returncode == 3, dump_state_error(proc)
    assert proc.stdout.strip() == "0"

    rt.run("kill", cid, "TERM")
    rt.wait_status(cid, "stopped")
    assert not pid_alive(pid)
    rt.run("delete", cid)
    assert not os.path.exists(state_dir)
    assert rt.run("state", cid, check=False).returncode != 0


def test_list_owner_is_user_name(rootless, rootfs_src):
    b = rootless.bundle(shared_rootfs=rootfs_src).drop_cgroup_mount()
    b.set_args("sleep", "1000")
    cid = rootless.new_id()
    rootless.rt.run("create", "--bundle", b.path, cid)
    listed = rootless.rt.json("list", "--format", "json")
    assert [(c["id"], c["owner"]) for c in listed] == [(cid, rootless.user.name)]


def test_multi_range_mapping_via_newuidmap(rootless, rootfs_src):
    user = rootless.user
    if user.subuid is None or user.subgid is None:
        pytest.skip(f"{user.name} has no /etc/subuid or /etc/subgid range")
    sub_uid, n_uid = user.subuid
    sub_gid, n_gid = user.subgid
    size = min(n_uid, n_gid, 65536)
    if size < 1001:
        pytest.skip(f"the sub-id ranges of {user.name} are too small ({size})")
    b = rootless.bundle(shared_rootfs=rootfs_src).drop_cgroup_mount().add_tmpfs()
    b.config["linux"]["uidMappings"] = [
        {"containerID": 0, "hostID": user.uid, "size": 1},
        {"containerID": 1, "hostID": sub_uid, "size": size},
    ]
    b.config["linux"]["gidMappings"] = [
        {"containerID": 0, "hostID": user.gid, "size": 1},
        {"containerID": 1, "hostID": sub_gid, "size": size},
    ]
    caps = b.config["process"]["capabilities"]
    for kind in ("bounding", "effective", "permitted"):
        if "CAP_CHOWN" not in caps.get(kind, []):
            caps.setdefault(kind, []).append("CAP_CHOWN")
    b.set_args(
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; echo --; "
        "touch /tmp/x && chown 1000:1000 /tmp/x && stat -c %u:%g /tmp/x",
    )
    proc = rootless.rt.run("run", "--bundle", b.path, rootless.new_id(), check=False)
    assert proc.returncode == 0, dump_state_error(proc)
    maps, _, rest = proc.stdout.partition("--\n")
    rows = [ln.split() for ln in maps.splitlines()]
    assert rows == [
        ["0", str(user.uid), "1"],
        ["1", str(sub_uid), str(size)],
        ["0", str(user.gid), "1"],
        ["1", str(sub_gid), str(size)],
    ], dump_state_error(proc)
    assert rest.strip() == "1000:1000", dump_state_error(proc)


def test_rootless_cannot_use_unmapped_ids(rootless, rootfs_src):
    """With only itself mapped, a chown to another id must fail (EINVAL):
    the runtime must not have mapped more than the spec asked for."""
    b = rootless.bundle(shared_rootfs=rootfs_src).drop_cgroup_mount().add_tmpfs()
    caps = b.config["process"]["capabilities"]
    for kind in ("bounding", "effective", "permitted"):
        caps.setdefault(kind, []).append("CAP_CHOWN")
    b.set_args("sh", "-c", "touch /tmp/x; chown 1000 /tmp/x")
    proc = rootless.rt.run("run", "--bundle", b.path, rootless.new_id(), check=False)
    assert proc.returncode != 0, dump_state_error(proc)
    assert "chown" in proc.stderr or "Invalid argument" in proc.stderr
