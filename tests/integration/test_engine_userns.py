"""`cove run --userns`: podman's modes beyond host and auto
(test_engine_resources.py tests auto).

- keep-id[:uid=U,gid=G] (rootless only): a nested user namespace in which
  the user's own uid/gid are the same ids inside, the process runs as the
  user, and the user is added to the container's /etc/passwd and
  /etc/group when the image lacks them;
- nomap (rootless only): the user's own id is not mapped at all; root in
  the container is the first subordinate id;
- ns:PATH: join an existing user namespace.

In every mode the image's files keep their owners as the container sees
them.  Rootless runs cove as test_rootless's throw-away user
(test_engine_rootless's `env` fixture: its teardown kills the user's
processes and checks that no mount is left); as root the conftest `engine`
fixture checks that nothing of the containers is left.  Holder processes
of the ns:PATH tests are the tests' own and killed by pid.
"""

import json
import os
import subprocess

import pytest

from conftest import proc_status_field, wait_for
from imagelib import BUSYBOX_NAME
from test_engine import IMAGE
from test_engine_failures import ctr_dirs
from test_engine_rootless import env  # noqa: F401
from test_rootless import rootless_user  # noqa: F401

DRIVERS = ["overlay", "vfs"]


def map_lines(text):
    """uid_map/gid_map text -> [(inside, outside, count), ...]"""
    return [tuple(int(x) for x in ln.split()) for ln in text.splitlines()
            if ln.strip()]


def maps_to(lines, inside):
    """The outside id of @inside through @lines, or None."""
    for c, h, n in lines:
        if c <= inside < c + n:
            return h + inside - c
    return None


def subid_total(path, user):
    """How many subordinate ids @user has in @path (every range)."""
    n = 0
    with open(path) as f:
        for line in f:
            fields = line.strip().split(":")
            if len(fields) == 3 and fields[0] == user:
                n += int(fields[2])
    return n


# ---------------------------------------------------------------------------
# as root
# ---------------------------------------------------------------------------


def test_keep_id_and_nomap_refused_as_root(engine):
    """podman: "keep-id is only supported in rootless mode"; said before
    anything is done, even for an image that is not there."""
    for mode in ("keep-id", "keep-id:uid=5,gid=6", "nomap"):
        for image in (IMAGE, "localhost/no-such-image"):
            p = engine.fail("run", *engine.create_opts(), "--userns", mode,
                            image, "true")
            assert p.returncode == 125, p.stderr
            word = mode.split(":")[0]
            assert f"{word} is only supported in rootless mode" in p.stderr
            assert "no-such-image" not in p.stderr, p.stderr
    p = engine.fail("create", *engine.create_opts(), "--userns", "keep-id",
                    IMAGE, "true")
    assert p.returncode == 125
    assert engine.ids() == []
    assert ctr_dirs(engine) == []


def test_invalid_userns_lists_the_modes(engine):
    for mode in ("bogus", "nomap:x", "keep-id:foo=1", "keep-id:uid=x",
                 "ns:", "ns:relative/path", "private"):
        p = engine.fail("run", *engine.create_opts(), "--userns", mode, IMAGE,
                        "true")
        assert p.returncode == 125, (mode, p.stderr)
        assert f"--userns '{mode}'" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
    p = engine.fail("run", *engine.create_opts(), "--userns", "bogus", IMAGE,
                    "true")
    for m in ("host", "auto", "keep-id", "nomap", "ns:PATH"):
        assert m in p.stderr, p.stderr
    assert engine.ids() == []
    assert ctr_dirs(engine) == []


class Holder:
    """A process of ours in a user namespace of its own whose maps put
    container 0..65535 at host BASE.. (root writes them)."""

    BASE = 0x60000000

    def __init__(self):
        self.proc = subprocess.Popen(["unshare", "-U", "sleep", "1000"])
        own = os.readlink("/proc/self/ns/user")
        wait_for(lambda: os.readlink(f"/proc/{self.proc.pid}/ns/user") != own,
                 what="the holder's user namespace")
        for f in ("uid_map", "gid_map"):
            with open(f"/proc/{self.proc.pid}/{f}", "w") as fp:
                fp.write(f"0 {self.BASE} 65536\n")
        self.path = f"/proc/{self.proc.pid}/ns/user"
        self.ns = os.readlink(self.path)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def holder():
    h = Holder()
    try:
        yield h
    finally:
        h.stop()


@pytest.mark.parametrize("driver", DRIVERS)
def test_ns_path_joins_the_namespace(engine, holder, driver):
    drv = ("--storage-driver", driver)
    p = engine.run(*drv, "run", "-d", *engine.create_opts(), "--name", "nsj",
                   "--userns", f"ns:{holder.path}", IMAGE, "sh", "-c",
                   "touch /made && sleep 300")
    cid = p.stdout.strip()
    engine.record_pids()
    info = engine.inspect("nsj")
    assert info["HostConfig"]["UsernsMode"] == f"ns:{holder.path}"
    assert info["HostConfig"]["IDMappings"]["UidMap"] == [
        f"0:{Holder.BASE}:65536"]
    pid = info["State"]["Pid"]
    # the holder's namespace, not a new one
    assert os.readlink(f"/proc/{pid}/ns/user") == holder.ns
    assert proc_status_field(pid, "Uid").split()[0] == str(Holder.BASE)
    out = engine.run(*drv, "exec", "nsj", "cat", "/proc/self/uid_map").stdout
    assert map_lines(out) == [(0, Holder.BASE, 65536)]
    # the image's files with their owners, what the container writes its own
    p = engine.run(*drv, "exec", "nsj", "stat", "-c", "%u:%g",
                   "/bin/busybox", "/etc/passwd", "/made")
    assert p.stdout.split() == ["0:0"] * 3, p.stdout
    assert engine.run(*drv, "exec", "nsj", "id", "-u").stdout == "0\n"
    # a restart joins it again
    engine.run(*drv, "stop", "-t", "0", "nsj")
    engine.run(*drv, "start", "nsj")
    engine.record_pids()
    pid = engine.inspect("nsj")["State"]["Pid"]
    assert os.readlink(f"/proc/{pid}/ns/user") == holder.ns
    engine.run(*drv, "rm", "-f", "nsj")
    assert cid not in " ".join(ctr_dirs(engine))
    layers = os.path.join(engine.root, driver)
    # the shared layers kept the image's own owners
    for d in os.listdir(layers):
        busybox = os.path.join(layers, d, "diff", "bin", "busybox")
        if os.path.exists(busybox):
            assert os.stat(busybox).st_uid == 0


def test_ns_path_bad_paths(engine, test_tmp):
    regular = os.path.join(test_tmp, "not-a-namespace")
    with open(regular, "w") as f:
        f.write("x")
    cases = [
        (regular, "is not a namespace"),
        ("/proc/self/ns/net", "is a network namespace, not a user namespace"),
        (f"/proc/{os.getpid()}/ns/mnt", "is a mount namespace"),
        (os.path.join(test_tmp, "missing"), "cannot open"),
        ("/proc/self/ns/user", "own user namespace"),
    ]
    for path, what in cases:
        for cmd in ("run", "create"):
            p = engine.fail(cmd, *engine.create_opts(), "--userns",
                            f"ns:{path}", IMAGE, "true")
            assert p.returncode == 125, p.stderr
            assert path in p.stderr and what in p.stderr, p.stderr
    assert engine.ids() == []
    assert ctr_dirs(engine) == []
    assert engine.run("ps", "-a", "-q").stdout == ""


def test_ns_path_gone_at_start(engine):
    """A holder that went away: start fails naming the path, and the
    container can still be removed."""
    h = Holder()
    try:
        engine.create_ctr("--name", "nsg", "--userns", f"ns:{h.path}", IMAGE,
                          "true")
    finally:
        h.stop()
    p = engine.fail("start", "nsg")
    assert h.path in p.stderr, p.stderr
    engine.run("rm", "-f", "nsg")
    assert engine.ids() == []


# ---------------------------------------------------------------------------
# rootless
# ---------------------------------------------------------------------------


def _cove(env, driver, *args, **kw):
    return env.cove("--storage-driver", driver, *args, **kw)


def _pid(env, driver, name):
    return json.loads(_cove(env, driver, "inspect", name).stdout)[0][
        "State"]["Pid"]


def _ns_size(env):
    """Ids of the user's namespace (rootless.h): 0 is the user, then every
    subordinate range."""
    u = env.user
    return (1 + subid_total("/etc/subuid", u.name),
            1 + subid_total("/etc/subgid", u.name))


@pytest.mark.parametrize("driver", DRIVERS)
def test_rootless_keep_id(env, driver):  # noqa: F811
    env.load_busybox()
    u = env.user
    n_uids, n_gids = _ns_size(env)
    share = os.path.join(env.tmp, "share")
    os.mkdir(share, 0o755)
    os.chown(share, u.uid, u.gid)
    _cove(env, driver, "run", "-d", "--name", "k", "--network", "none",
          "--userns", "keep-id", "-v", f"{share}:/share", BUSYBOX_NAME,
          "sh", "-c", "touch /share/made; sleep 300")
    try:
        ex = lambda *a: _cove(env, driver, "exec", "k", *a).stdout  # noqa
        assert ex("id", "-u") == f"{u.uid}\n"
        assert ex("id", "-g") == f"{u.gid}\n"
        # the 3-line mapping, in the ids of the user's namespace
        assert map_lines(ex("cat", "/proc/self/uid_map")) == [
            (0, 1, u.uid), (u.uid, 0, 1),
            (u.uid + 1, u.uid + 1, n_uids - 1 - u.uid)]
        assert map_lines(ex("cat", "/proc/self/gid_map")) == [
            (0, 1, u.gid), (u.gid, 0, 1),
            (u.gid + 1, u.gid + 1, n_gids - 1 - u.gid)]
        # seen from the host: the user's uid is the user's
        pid = _pid(env, driver, "k")
        with open(f"/proc/{pid}/uid_map") as f:
            host = map_lines(f.read())
        assert maps_to(host, u.uid) == u.uid
        assert maps_to(host, 0) == u.subuid[0]
        assert proc_status_field(pid, "Uid").split()[0] == str(u.uid)
        # what it writes to a bind mount is the user's on the host
        made = os.path.join(share, "made")
        wait_for(lambda: os.path.exists(made), what="/share/made")
        st = os.stat(made)
        assert (st.st_uid, st.st_gid) == (u.uid, u.gid)
        # a passwd entry for the user (the image has none), HOME set
        assert ex("whoami") == f"{u.name}\n"
        line = [ln for ln in ex("cat", "/etc/passwd").splitlines()
                if ln.split(":")[2:4] == [str(u.uid), str(u.gid)]]
        assert len(line) == 1 and line[0].startswith(f"{u.name}:"), line
        assert ex("sh", "-c", "echo $HOME") == "/\n"
        assert f":{u.gid}:" in ex("cat", "/etc/group")
        # the image's files are still root's inside
        assert ex("stat", "-c", "%u:%g", "/bin/busybox", "/etc") == \
            "0:0\n0:0\n"
        # a restart rebuilds the same namespace
        _cove(env, driver, "stop", "-t", "0", "k")
        _cove(env, driver, "start", "k")
        assert ex("id", "-u") == f"{u.uid}\n"
        assert ex("stat", "-c", "%u", "/bin/busybox") == "0\n"
    finally:
        _cove(env, driver, "rm", "-f", "k")
    assert json.loads(_cove(env, driver, "ps", "-a", "--format",
                            "json").stdout) == []
    # the private copy (overlay) or the vfs copy is gone with it
    root = env.root
    for sub in ("containers", f"{driver}-containers"):
        d = os.path.join(root, sub)
        assert not os.path.isdir(d) or os.listdir(d) == [], sub


def test_rootless_keep_id_options(env):  # noqa: F811
    env.load_busybox()
    p = env.cove("run", "--rm", "--network", "none", "--userns",
                 "keep-id:uid=5,gid=6", BUSYBOX_NAME, "sh", "-c",
                 "id -u; id -g; grep ^5: /etc/passwd; whoami; "
                 "stat -c %u /bin/busybox")
    lines = p.stdout.splitlines()
    assert lines[:2] == ["5", "6"], p.stdout
    assert lines[2].startswith("5:*:5:6:"), p.stdout
    assert lines[3:] == ["5", "0"], p.stdout
    # -u wins over keep-id's default user
    p = env.cove("run", "--rm", "--network", "none", "--userns", "keep-id",
                 "-u", "0", BUSYBOX_NAME, "id", "-u")
    assert p.stdout == "0\n"
    # auto stays root's
    p = env.cove("run", "--rm", "--network", "none", "--userns", "auto",
                 BUSYBOX_NAME, "true", check=False)
    assert p.returncode == 125 and "root" in p.stderr, p.stderr


@pytest.mark.parametrize("driver", DRIVERS)
def test_rootless_nomap(env, driver):  # noqa: F811
    env.load_busybox()
    u = env.user
    n_uids, _ = _ns_size(env)
    _cove(env, driver, "run", "-d", "--name", "nm", "--network", "none",
          "--userns", "nomap", BUSYBOX_NAME, "sh", "-c",
          "touch /made; sleep 300")
    try:
        ex = lambda *a: _cove(env, driver, "exec", "nm", *a).stdout  # noqa
        inside = map_lines(ex("cat", "/proc/self/uid_map"))
        # the user (id 0 of the user's namespace) is not mapped
        assert inside == [(0, 1, n_uids - 1)]
        assert ex("id", "-u") == "0\n"
        pid = _pid(env, driver, "nm")
        with open(f"/proc/{pid}/uid_map") as f:
            host = map_lines(f.read())
        assert all(not (h <= u.uid < h + n) for _c, h, n in host), host
        # root of the container is the first subordinate id on the host
        assert proc_status_field(pid, "Uid").split()[0] == str(u.subuid[0])
        assert ex("stat", "-c", "%u", "/bin/busybox", "/made") == "0\n0\n"
    finally:
        _cove(env, driver, "rm", "-f", "nm")
    assert json.loads(_cove(env, driver, "ps", "-a", "--format",
                            "json").stdout) == []
