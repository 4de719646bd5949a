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


# ---------------------------------------------------------------------------
# cp into and out of containers with a user namespace of their own
#
# As podman 4.3 (its default --archive=true): what is copied in belongs
# to the container's user (root unless -u), as the container sees it, so
# through its maps on the host; what is copied out belongs to the caller.
# -a keeps the source's owners as the container sees them.
# ---------------------------------------------------------------------------


def _host_tree(base, uid=1234, gid=5678, mode=0o640):
    """A file (@mode) and a tree (nested dir, file, symlink) owned by
    uid:gid."""
    os.mkdir(base)
    f = os.path.join(base, "in.txt")
    with open(f, "w") as fp:
        fp.write("from host\n")
    os.chmod(f, mode)
    tree = os.path.join(base, "tree")
    os.makedirs(os.path.join(tree, "sub"))
    for rel, text in (("a", "a\n"), ("sub/b", "b\n")):
        with open(os.path.join(tree, rel), "w") as fp:
            fp.write(text)
    os.symlink("a", os.path.join(tree, "l"))
    for p in (base, f, tree, os.path.join(tree, "sub"),
              os.path.join(tree, "a"), os.path.join(tree, "sub", "b"),
              os.path.join(tree, "l")):
        os.lchown(p, uid, gid)
    return f, tree


TREE = ("/tree", "/tree/a", "/tree/sub", "/tree/sub/b", "/tree/l")


def _owners_inside(ex, *paths):
    """`stat -c %u:%g` (busybox's stat does not follow symlinks)."""
    return ex("stat", "-c", "%u:%g", *paths).split()


@pytest.mark.parametrize("driver", DRIVERS)
def test_cp_userns_auto(engine, test_tmp, driver):
    drv = ("--storage-driver", driver)
    engine.run(*drv, "run", "-d", *engine.create_opts(), "--name", "cpu",
               "--userns", "auto", IMAGE, "sh", "-c",
               "mkdir -p /made && echo made > /made/f && sleep 300")
    engine.record_pids()
    ex = lambda *a: engine.run(*drv, "exec", "cpu", *a).stdout  # noqa: E731
    umap = engine.inspect("cpu")["HostConfig"]["IDMappings"]["UidMap"]
    base = int(umap[0].split(":")[1])
    assert umap == [f"0:{base}:65536"] and base >= 2 ** 31
    pid = engine.inspect("cpu")["State"]["Pid"]
    croot = f"/proc/{pid}/root"
    f, tree = _host_tree(os.path.join(test_tmp, "h"))

    # a file: root's inside, the range's first id on the host, mode kept
    engine.run(*drv, "cp", f, "cpu:/in.txt")
    assert ex("cat", "/in.txt") == "from host\n"
    assert ex("stat", "-c", "%u:%g %a", "/in.txt") == "0:0 640\n"
    st = os.stat(os.path.join(croot, "in.txt"))
    assert (st.st_uid, st.st_gid) == (base, base)
    # into an existing directory, and a tree: every nested entry too
    engine.run(*drv, "cp", f, "cpu:/tmp")
    assert _owners_inside(ex, "/tmp/in.txt") == ["0:0"]
    engine.run(*drv, "cp", tree, "cpu:/tree")
    assert _owners_inside(ex, *TREE) == ["0:0"] * len(TREE)
    assert ex("readlink", "/tree/l") == "a\n"
    assert ex("cat", "/tree/sub/b") == "b\n"
    for rel in ("tree", "tree/sub", "tree/sub/b", "tree/l"):
        st = os.lstat(os.path.join(croot, rel))
        assert (st.st_uid, st.st_gid) == (base, base), rel

    # -a: the source's ids as the container's, so shifted on the host
    engine.run(*drv, "cp", "-a", tree, "cpu:/kept")
    assert _owners_inside(ex, "/kept", "/kept/sub/b", "/kept/l") == \
        ["1234:5678"] * 3
    st = os.lstat(os.path.join(croot, "kept", "sub", "b"))
    assert (st.st_uid, st.st_gid) == (base + 1234, base + 5678)

    # out: the caller's (root), whoever owns it in the container
    out = os.path.join(test_tmp, "out")
    os.mkdir(out)
    engine.run(*drv, "cp", "cpu:/made", out)
    engine.run(*drv, "cp", "cpu:/kept", out)
    with open(os.path.join(out, "made", "f")) as fp:
        assert fp.read() == "made\n"
    for rel in ("made", "made/f", "kept", "kept/sub/b", "kept/l"):
        st = os.lstat(os.path.join(out, rel))
        assert (st.st_uid, st.st_gid) == (0, 0), rel
    # out with -a: the owners the container sees, not the host's ids
    outa = os.path.join(test_tmp, "out-a")
    os.mkdir(outa)
    engine.run(*drv, "cp", "-a", "cpu:/kept", outa)
    engine.run(*drv, "cp", "-a", "cpu:/made", outa)
    for rel, ids in (("kept/sub/b", (1234, 5678)), ("kept/l", (1234, 5678)),
                     ("made/f", (0, 0))):
        st = os.lstat(os.path.join(outa, rel))
        assert (st.st_uid, st.st_gid) == ids, rel

    # a stopped container: the same owners, both ways
    engine.run(*drv, "stop", "-t", "0", "cpu")
    engine.run(*drv, "cp", f, "cpu:/stopped.txt")
    engine.run(*drv, "cp", "cpu:/tree/sub/b", os.path.join(out, "b"))
    with open(os.path.join(out, "b")) as fp:
        assert fp.read() == "b\n"
    assert os.stat(os.path.join(out, "b")).st_uid == 0
    engine.run(*drv, "start", "cpu")
    engine.record_pids()
    assert _owners_inside(ex, "/stopped.txt", "/in.txt") == ["0:0"] * 2
    engine.run(*drv, "rm", "-f", "cpu")


def test_cp_goes_to_the_containers_user(engine, test_tmp):
    """podman chowns what is copied in to the container's user (-u or the
    image's User), not to root: with and without a user namespace."""
    f, tree = _host_tree(os.path.join(test_tmp, "h"))
    engine.run_d("--name", "cpp", "-u", "1000:1001", IMAGE, "sleep", "300")
    engine.run_d("--name", "cpn", "--userns", "auto", "-u", "nobody", IMAGE,
                 "sleep", "300")
    base = int(engine.inspect("cpn")["HostConfig"]["IDMappings"]["UidMap"][0]
               .split(":")[1])
    for name, inside, host in (("cpp", "1000:1001", (1000, 1001)),
                               ("cpn", "65534:65534",
                                (base + 65534, base + 65534))):
        ex = lambda *a: engine.run("exec", name, *a).stdout  # noqa: E731
        engine.run("cp", f, f"{name}:/tmp/in.txt")
        engine.run("cp", tree, f"{name}:/tmp/tree")
        assert _owners_inside(ex, "/tmp/in.txt", "/tmp/tree",
                              "/tmp/tree/sub/b") == [inside] * 3
        pid = engine.inspect(name)["State"]["Pid"]
        st = os.stat(f"/proc/{pid}/root/tmp/tree/sub/b")
        assert (st.st_uid, st.st_gid) == host
        # the user can change what was copied in for it
        assert engine.run("exec", name, "sh", "-c",
                          "echo more >> /tmp/in.txt && cat /tmp/in.txt"
                          ).stdout == "from host\nmore\n"
    engine.run("rm", "-f", "cpp", "cpn")


@pytest.mark.parametrize("driver", DRIVERS)
def test_rootless_cp_keep_id(env, driver):  # noqa: F811
    """keep-id: the container's user is the user, so what is copied in is
    the user's on the host too; out, the caller's (the user)."""
    env.load_busybox()
    u = env.user
    # the user's own files (others' would be nobody's to cove)
    f, tree = _host_tree(os.path.join(env.tmp, "h"), u.uid, u.gid, 0o644)
    out = os.path.join(env.tmp, "out")
    os.mkdir(out)
    os.chown(out, u.uid, u.gid)
    _cove(env, driver, "run", "-d", "--name", "kc", "--network", "none",
          "--userns", "keep-id", BUSYBOX_NAME, "sh", "-c",
          "mkdir -p /tmp/made && echo made > /tmp/made/f && sleep 300")
    try:
        ex = lambda *a: _cove(env, driver, "exec", "kc", *a).stdout  # noqa
        _cove(env, driver, "cp", f, "kc:/tmp/in.txt")
        _cove(env, driver, "cp", tree, "kc:/tmp/tree")
        own = f"{u.uid}:{u.gid}"
        assert _owners_inside(ex, "/tmp/in.txt", "/tmp/tree",
                              "/tmp/tree/sub/b", "/tmp/tree/l") == [own] * 4
        pid = _pid(env, driver, "kc")
        for rel in ("tmp/in.txt", "tmp/tree/sub/b"):
            st = os.stat(f"/proc/{pid}/root/{rel}")
            assert (st.st_uid, st.st_gid) == (u.uid, u.gid), rel
        assert ex("sh", "-c", "echo more >> /tmp/in.txt && cat /tmp/in.txt"
                  ) == "from host\nmore\n"
        # -a: the source's ids, as cove's namespace sees them (the user
        # is its root), taken as the container's ids
        _cove(env, driver, "cp", "-a", f, "kc:/tmp/kept.txt")
        assert _owners_inside(ex, "/tmp/kept.txt") == ["0:0"]
        st = os.stat(f"/proc/{pid}/root/tmp/kept.txt")
        assert st.st_uid == u.subuid[0]
        # out: the user's
        _cove(env, driver, "cp", "kc:/tmp/made", out)
        _cove(env, driver, "cp", "kc:/etc/passwd", out)
        for rel in ("made", "made/f", "passwd"):
            st = os.lstat(os.path.join(out, rel))
            assert (st.st_uid, st.st_gid) == (u.uid, u.gid), rel
        # a stopped container: the same
        _cove(env, driver, "stop", "-t", "0", "kc")
        _cove(env, driver, "cp", f, "kc:/tmp/stopped.txt")
        _cove(env, driver, "start", "kc")
        assert _owners_inside(ex, "/tmp/stopped.txt") == [own]
    finally:
        _cove(env, driver, "rm", "-f", "kc")


def test_rootless_keep_id_supplementary_group(env):  # noqa: F811
    """keep-id's default user also has the user's gid as a supplementary
    group (podman's additionalGids); not a user -u names.  The user has
    subordinate gids here: with none, setgroups is denied and cove leaves
    it out (docs/engine.md)."""
    env.load_busybox()
    u = env.user
    assert _ns_size(env)[1] > 1
    p = env.cove("run", "--rm", "--network", "none", "--userns", "keep-id",
                 BUSYBOX_NAME, "sh", "-c",
                 "id -G; grep ^Groups: /proc/self/status")
    ids, groups = p.stdout.splitlines()
    assert str(u.gid) in ids.split(), p.stdout
    assert groups.split()[1:] == [str(u.gid)], p.stdout
    # -u: that user's groups only, as before
    p = env.cove("run", "--rm", "--network", "none", "--userns", "keep-id",
                 "-u", "0", BUSYBOX_NAME, "grep", "^Groups:",
                 "/proc/self/status")
    assert str(u.gid) not in p.stdout.split()[1:], p.stdout
