"""The engine's newer commands and run options run by a real unprivileged
user: commit, export, diff, events, update, container exists, ps --size,
and run's --device, --sysctl, --tz and --cidfile.

Every command of the user runs in the user's own user and mount namespace
(test_engine_rootless.py's `env` fixture: a throw-away user with
subordinate ids, cove run through setpriv, teardown killing the pause
process and the user's processes and checking no mount is left on the
host).  The user's namespace maps 0 to the user and 1.. to the
subordinate ids, so what container root writes belongs to the user on the
host and what uid N writes to subuid+N-1.  The commands must present the
files as the container sees them: an exported tar and a committed layer
carry 0:0 for container root's files and 1000:1000 for a file chowned to
1000 inside, never the host's ids.

Rootless containers have no cgroup of their own here (the host has cgroup
v1 controllers; nothing is delegated to the user), so `cove update`
refuses with an error naming rootless, as podman does where it cannot set
limits, and changes nothing; `commit --pause` fails for want of a
freezer and leaves no image.  Devices are bind-mounted from the host
(mknod is not allowed in a user namespace), at another path too
(`--device /dev/null:/dev/mynull`, a bind mount in the spec, as podman's).
`commit --iidfile` makes the file and writes the bare hex id (podman's).

Each storage-dependent test runs on overlay (the default) and vfs.
"""

import io
import json
import os
import re
import select
import subprocess
import tarfile
import time

import pytest

from conftest import wait_for
from imagelib import BUSYBOX_NAME
from test_engine_rootless import env  # noqa: F401
from test_rootless import rootless_user  # noqa: F401

DRIVERS = ["overlay", "vfs"]
ID_RE = re.compile(r"^[0-9a-f]{64}$")

# The edits: a tree made by container root with a file chowned to 1000, a
# changed file, a deleted file, a symlink.
EDITS = ("mkdir -p /newdir/sub && echo hello > /newdir/sub/f && "
         "echo mine > /newdir/of-1000 && chown 1000:1000 /newdir/of-1000 && "
         "echo extra >> /etc/passwd && rm /bin/ls && ln -s /etc/x /newdir/l")

DIFF = ["C /bin", "D /bin/ls", "C /etc", "C /etc/passwd", "A /newdir",
        "A /newdir/l", "A /newdir/of-1000", "A /newdir/sub",
        "A /newdir/sub/f"]


def _cove(env, driver, *args, **kw):
    return env.cove("--storage-driver", driver, *args, **kw)


def _inspect(env, driver, name):
    return json.loads(_cove(env, driver, "inspect", name).stdout)[0]


def _edited(env, driver, name="ed"):
    """A stopped container with EDITS made."""
    _cove(env, driver, "run", "--name", name, "--network", "none",
          BUSYBOX_NAME, "sh", "-c", EDITS)
    return name


def _user_file(env, name):
    """A path in a directory the user owns."""
    d = os.path.join(env.tmp, "out")
    if not os.path.isdir(d):
        os.mkdir(d, 0o755)
        os.chown(d, env.user.uid, env.user.gid)
    return os.path.join(d, name)


def _cove_bytes(env, *args):
    """cove's stdout as bytes (export, cat of a binary file)."""
    u = env.user
    p = subprocess.run(
        ["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups",
         "--reset-env", "env", f"XDG_RUNTIME_DIR={env.xdg}",
         f"XDG_DATA_HOME={env.data}", env.cove_bin, *args],
        capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
        cwd=env.tmp)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout


def _no_containers(env, driver):
    assert json.loads(_cove(env, driver, "ps", "-a", "--format",
                            "json").stdout) == []


# ---------------------------------------------------------------------------
# diff, export, commit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_rootless_diff(env, driver):  # noqa: F811
    env.load_busybox()
    _cove(env, driver, "create", "--name", "fresh", "--network", "none",
          BUSYBOX_NAME, "true")
    assert _cove(env, driver, "diff", "fresh").stdout == ""
    _edited(env, driver)
    p = _cove(env, driver, "diff", "ed")
    assert p.stdout.splitlines() == DIFF, p.stdout
    j = json.loads(_cove(env, driver, "diff", "--format", "json",
                         "ed").stdout)
    assert sorted(j["added"]) == ["/newdir", "/newdir/l", "/newdir/of-1000",
                                  "/newdir/sub", "/newdir/sub/f"], j
    assert j["deleted"] == ["/bin/ls"], j
    # the container group's spelling, on a running container
    _cove(env, driver, "run", "-d", "--name", "live", "--network", "none",
          BUSYBOX_NAME, "sh", "-c", "touch /made; sleep 300")
    wait_for(lambda: "A /made" in _cove(env, driver, "container", "diff",
                                        "live").stdout,
             what="/made in the diff")
    _cove(env, driver, "rm", "-f", "fresh", "ed", "live")
    _no_containers(env, driver)


def _tar_members(path):
    with tarfile.open(path) as t:
        return {m.name.lstrip("./").rstrip("/"): m for m in t.getmembers()}


@pytest.mark.parametrize("driver", DRIVERS)
def test_rootless_export_owners(env, driver):  # noqa: F811
    env.load_busybox()
    u = env.user
    _edited(env, driver)
    out = _user_file(env, "ed.tar")
    _cove(env, driver, "export", "-o", out, "ed")
    st = os.stat(out)
    assert (st.st_uid, st.st_gid) == (u.uid, u.gid)
    m = _tar_members(out)
    # owners as the container sees them, not the host's ids
    for name in ("bin/busybox", "etc/passwd", "newdir", "newdir/sub/f"):
        assert (m[name].uid, m[name].gid) == (0, 0), name
    assert (m["newdir/of-1000"].uid, m["newdir/of-1000"].gid) == \
        (1000, 1000)
    assert m["newdir/l"].issym() and m["newdir/l"].linkname == "/etc/x"
    assert "bin/ls" not in m
    with tarfile.open(out) as t:
        f = t.extractfile([x for x in t.getmembers()
                           if x.name.lstrip("./") == "newdir/sub/f"][0])
        assert f.read() == b"hello\n"
    # to stdout too, the same members and owners
    data = _cove_bytes(env, "--storage-driver", driver, "export", "ed")
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        m2 = {x.name.lstrip("./").rstrip("/"): x for x in t.getmembers()}
    assert sorted(m2) == sorted(m)
    assert (m2["newdir/of-1000"].uid, m2["bin/busybox"].uid) == (1000, 0)
    _cove(env, driver, "rm", "ed")
    _no_containers(env, driver)


@pytest.mark.parametrize("driver", DRIVERS)
def test_rootless_export_keep_id(env, driver):  # noqa: F811
    """keep-id: the user's files are the user's uid as the container sees
    them."""
    env.load_busybox()
    u = env.user
    _cove(env, driver, "run", "--name", "k", "--network", "none",
          "--userns", "keep-id", BUSYBOX_NAME, "sh", "-c",
          "echo x > /tmp/mine")
    out = _user_file(env, "k.tar")
    _cove(env, driver, "export", "-o", out, "k")
    m = _tar_members(out)
    assert (m["tmp/mine"].uid, m["tmp/mine"].gid) == (u.uid, u.gid)
    assert (m["bin/busybox"].uid, m["bin/busybox"].gid) == (0, 0)
    _cove(env, driver, "rm", "k")
    _no_containers(env, driver)


@pytest.mark.parametrize("driver", DRIVERS)
def test_rootless_commit(env, driver):  # noqa: F811
    env.load_busybox()
    _edited(env, driver)
    p = _cove(env, driver, "commit", "-c", 'CMD ["cat", "/newdir/sub/f"]',
              "ed", "rlcommit:v1")
    image_id = p.stdout.strip().splitlines()[-1]
    assert ID_RE.match(image_id), p.stdout
    new = "localhost/rlcommit:v1"
    # the committed image runs as the user, with the files and owners
    assert _cove(env, driver, "run", "--rm", "--network", "none",
                 new).stdout == "hello\n"
    out = _cove(env, driver, "run", "--rm", "--network", "none", new, "sh",
                "-c", "stat -c %u:%g /newdir/of-1000 /newdir/sub/f; "
                "readlink /newdir/l; test -e /bin/ls || echo gone; "
                "tail -n 1 /etc/passwd").stdout.split()
    assert out == ["1000:1000", "0:0", "/etc/x", "gone", "extra"], out
    img = json.loads(_cove(env, driver, "image", "inspect", new).stdout)[0]
    base = json.loads(_cove(env, driver, "image", "inspect",
                            BUSYBOX_NAME).stdout)[0]
    assert img["Id"] == image_id
    assert len(img["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    # the new layer, read out of a saved archive: owners as the container
    # saw them
    saved = _user_file(env, "c.tar")
    _cove(env, driver, "save", "-o", saved, new)
    layer = _last_layer(saved)
    assert (layer["newdir/of-1000"].uid, layer["newdir/of-1000"].gid) == \
        (1000, 1000)
    assert (layer["newdir/sub/f"].uid, layer["newdir/sub/f"].gid) == (0, 0)
    assert "bin/.wh.ls" in layer
    _cove(env, driver, "rm", "ed")
    _cove(env, driver, "rmi", new)
    _no_containers(env, driver)


def _image_ids(env, driver):
    return sorted(_cove(env, driver, "images", "-q", "--no-trunc").stdout
                  .split())


@pytest.mark.parametrize("driver", DRIVERS)
def test_rootless_commit_running(env, driver):  # noqa: F811
    """A running container: committed as it is (podman 4 does not pause
    by default); --pause needs the freezer cgroup a rootless container
    has not, so it fails clearly and leaves no image; --iidfile makes the
    file."""
    env.load_busybox()
    u = env.user
    _cove(env, driver, "run", "-d", "--name", "run1", "--network", "none",
          BUSYBOX_NAME, "sh", "-c", "echo live > /live; sleep 300")
    wait_for(lambda: _cove(env, driver, "exec", "run1", "test", "-f",
                           "/live", check=False).returncode == 0,
             what="/live")
    before = _image_ids(env, driver)
    p = _cove(env, driver, "commit", "-p", "run1", "paused:v1", check=False)
    assert p.returncode == 125, p.stderr
    assert "cgroup" in p.stderr and "freeze" in p.stderr, p.stderr
    assert _image_ids(env, driver) == before
    assert _inspect(env, driver, "run1")["State"]["Status"] == "running"
    iid = _user_file(env, "iid")
    p = _cove(env, driver, "commit", "-q", "--iidfile", iid, "run1",
              "live:v1")
    assert p.stdout == ""
    with open(iid) as f:
        image_id = f.read()
    assert ID_RE.match(image_id), image_id  # podman's: hex, no newline
    assert os.stat(iid).st_uid == u.uid
    img = json.loads(_cove(env, driver, "image", "inspect",
                           "localhost/live:v1").stdout)[0]
    assert image_id == img["Id"]
    assert _cove(env, driver, "run", "--rm", "--network", "none",
                 "localhost/live:v1", "cat", "/live").stdout == "live\n"
    # an existing --iidfile is replaced
    _cove(env, driver, "commit", "-q", "--iidfile", iid, "run1", "live:v2")
    img2 = json.loads(_cove(env, driver, "image", "inspect",
                            "localhost/live:v2").stdout)[0]
    with open(iid) as f:
        assert f.read() == img2["Id"]
    assert _inspect(env, driver, "run1")["State"]["Status"] == "running"
    # export of the running container has the file too
    data = _cove_bytes(env, "--storage-driver", driver, "export", "run1")
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        live = [m for m in t.getmembers() if m.name.lstrip("./") == "live"]
        assert live and (live[0].uid, live[0].gid) == (0, 0)
    _cove(env, driver, "rm", "-f", "run1")
    _cove(env, driver, "rmi", "localhost/live:v1", "localhost/live:v2")
    assert _image_ids(env, driver) == before
    _no_containers(env, driver)


def _last_layer(archive):
    """{name: TarInfo} of the last layer of the image in @archive (OCI
    layout or docker-archive)."""
    with tarfile.open(archive) as t:
        names = t.getnames()
        if "index.json" in names:
            index = json.load(t.extractfile("index.json"))
            digest = index["manifests"][0]["digest"]
            manifest = json.load(t.extractfile(
                "blobs/sha256/" + digest.split(":")[1]))
            blob = "blobs/sha256/" + \
                manifest["layers"][-1]["digest"].split(":")[1]
        else:
            manifest = json.load(t.extractfile("manifest.json"))
            blob = manifest[0]["Layers"][-1]
        data = t.extractfile(blob).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as lt:
        return {m.name.lstrip("./").rstrip("/"): m for m in lt.getmembers()}


# ---------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------


def test_rootless_events(env):  # noqa: F811
    env.load_busybox()
    u = env.user
    p = env.cove("run", "--name", "ev", "--network", "none", BUSYBOX_NAME,
                 "sh", "-c", "exit 3", check=False)
    assert p.returncode == 3, p.stderr
    cid = json.loads(env.cove("inspect", "ev").stdout)[0]["Id"]
    env.cove("rm", "ev")
    path = os.path.join(env.runroot, "events", "events.log")
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (u.uid, u.gid)
    assert st.st_mode & 0o077 == 0
    with open(path) as f:
        lines = [json.loads(ln) for ln in f]
    mine = [e for e in lines if e.get("ID") == cid]
    got = [e["Status"] for e in mine]
    for s in ("create", "start", "died", "remove"):
        assert s in got, got
    assert got.index("create") < got.index("start") < got.index("died") \
        < got.index("remove")
    # the image load was recorded too
    assert any(e.get("Type") == "image" for e in lines), lines
    # and cove events prints them
    p = env.cove("events", "--stream=false", "--format", "json", "--filter",
                 f"container={cid[:12]}")
    evs = [json.loads(ln) for ln in p.stdout.splitlines()]
    assert [e["Status"] for e in evs] == got
    died = [e for e in evs if e["Status"] == "died"][0]
    assert died["ContainerExitCode"] == 3
    assert all(e["Name"] == "ev" for e in evs)
    p = env.cove("events", "--stream=false")
    assert f"container create {cid}" in p.stdout, p.stdout
    assert f"container remove {cid}" in p.stdout, p.stdout


def _read_until(proc, buf, want, timeout=20):
    """Lines of @proc's stdout up to and including @want (read from the
    fd itself: a buffered reader would hide lines from select); what
    follows stays in @buf."""
    seen = []
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while not seen or seen[-1] != want:
        if b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            seen.append(line.decode().strip())
            continue
        left = deadline - time.monotonic()
        assert left > 0, seen
        r, _, _ = select.select([fd], [], [], left)
        assert r, seen
        data = os.read(fd, 4096)
        assert data, (seen, proc.stderr.read())
        buf += data
    return seen


def test_rootless_events_stream(env):  # noqa: F811
    """A streaming `cove events` of the user: with --since the recorded
    events first, then a container run after it, as it happens."""
    env.load_busybox()
    u = env.user
    run = ("run", "--rm", "--name", "st", "--network", "none", BUSYBOX_NAME,
           "true")
    env.cove(*run)
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--init-groups",
         "--reset-env", "env", f"XDG_RUNTIME_DIR={env.xdg}",
         f"XDG_DATA_HOME={env.data}", env.cove_bin, "events", "--since",
         "10m", "--format", "{{.Status}} {{.Name}}", "--filter",
         "container=st"],
        cwd=env.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    buf = bytearray()
    try:
        for _ in range(2):
            seen = _read_until(proc, buf, "remove st")
            assert seen[0] == "create st", seen
            assert "start st" in seen and "died st" in seen, seen
            if _ == 0:
                env.cove(*run)  # now the stream is following the file
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------
# update, exists, ps --size
# ---------------------------------------------------------------------------


def test_rootless_update_refused(env):  # noqa: F811
    env.load_busybox()
    env.cove("run", "-d", "--name", "up", "--network", "none", BUSYBOX_NAME,
             "sleep", "300")
    before = json.loads(env.cove("inspect", "up").stdout)[0]
    for args in (("--memory", "64m"), ("--cpus", "0.5"),
                 ("--pids-limit", "50")):
        p = env.cove("update", *args, "up", check=False)
        assert p.returncode == 125, p.stderr
        assert "rootless" in p.stderr and "up" in p.stderr, p.stderr
    p = env.cove("container", "update", "--memory", "64m", "up", check=False)
    assert p.returncode == 125 and "rootless" in p.stderr, p.stderr
    after = json.loads(env.cove("inspect", "up").stdout)[0]
    for key in ("Memory", "NanoCpus", "PidsLimit"):
        assert after["HostConfig"].get(key) == \
            before["HostConfig"].get(key), key
    assert after["State"]["Running"] is True
    # a stopped one: the same
    env.cove("stop", "-t", "0", "up")
    p = env.cove("update", "--memory", "64m", "up", check=False)
    assert p.returncode == 125 and "rootless" in p.stderr, p.stderr
    env.cove("rm", "up")


def test_rootless_run_limits_warned(env):  # noqa: F811
    """Limits a rootless container cannot have are said to be ignored,
    as podman warns on cgroup v1; the default pids limit is not."""
    env.load_busybox()
    p = env.cove("run", "--rm", "--network", "none", "--memory", "64m",
                 "--pids-limit", "50", BUSYBOX_NAME, "echo", "ran")
    assert p.stdout == "ran\n"
    assert "resource limits are ignored" in p.stderr, p.stderr
    p = env.cove("run", "--rm", "--network", "none", BUSYBOX_NAME, "true")
    assert "resource limits" not in p.stderr, p.stderr


def test_rootless_container_exists(env):  # noqa: F811
    env.load_busybox()
    env.cove("create", "--name", "ex", "--network", "none", BUSYBOX_NAME,
             "true")
    cid = json.loads(env.cove("inspect", "ex").stdout)[0]["Id"]
    for ref in ("ex", cid, cid[:12]):
        p = env.cove("container", "exists", ref, check=False)
        assert p.returncode == 0 and p.stdout == "", (ref, p.stderr)
    p = env.cove("container", "exists", "no-such", check=False)
    assert p.returncode == 1 and p.stdout == "", p.stderr
    env.cove("rm", "ex")
    p = env.cove("container", "exists", "ex", check=False)
    assert p.returncode == 1, p.stderr


@pytest.mark.parametrize("driver", DRIVERS)
def test_rootless_ps_size(env, driver):  # noqa: F811
    env.load_busybox()
    _cove(env, driver, "run", "-d", "--name", "sz", "--network", "none",
          BUSYBOX_NAME, "sh", "-c",
          "head -c 50000 /dev/zero > /big; chown 1000 /big; sleep 300")
    wait_for(lambda: _cove(env, driver, "exec", "sz", "test", "-O", "/big",
                           "-o", "-f", "/big", check=False).returncode == 0,
             what="/big")
    wait_for(lambda: _cove(env, driver, "exec", "sz", "stat", "-c", "%u",
                           "/big").stdout == "1000\n", what="the chown")
    # on the host /big is the subordinate id of uid 1000 (what export and
    # commit translate back)
    pid = _inspect(env, driver, "sz")["State"]["Pid"]
    assert os.stat(f"/proc/{pid}/root/big").st_uid == \
        env.user.subuid[0] + 999
    j = json.loads(_cove(env, driver, "ps", "-s", "--format",
                         "json").stdout)
    assert len(j) == 1
    rw, rootfs = j[0]["Size"]["rwSize"], j[0]["Size"]["rootFsSize"]
    assert rw >= 50000, j[0]["Size"]
    assert rootfs >= rw
    if driver == "overlay":  # the writable layer only
        assert rw < 500000 and rootfs > rw + 500000, j[0]["Size"]
    table = _cove(env, driver, "ps", "--size").stdout.splitlines()
    assert "SIZE" in table[0] and "(virtual" in table[1], table
    # a container never started: nothing written, the image's size
    _cove(env, driver, "create", "--name", "cr", "--network", "none",
          BUSYBOX_NAME, "true")
    j = {c["Names"][0] if isinstance(c["Names"], list) else c["Names"]: c
         for c in json.loads(_cove(env, driver, "ps", "-a", "-s",
                                   "--format", "json").stdout)}
    size = j["cr"]["Size"]
    assert size["rootFsSize"] > 500000, size
    if driver == "overlay":
        assert size["rwSize"] == 0, size
    _cove(env, driver, "rm", "-f", "sz", "cr")
    _no_containers(env, driver)


# ---------------------------------------------------------------------------
# run options
# ---------------------------------------------------------------------------


def _run(env, *args, **kw):
    return env.cove("run", "--rm", "--network", "none", *args, **kw)


def test_rootless_device_is_bound(env):  # noqa: F811
    env.load_busybox()
    p = _run(env, "--device", "/dev/null:/dev/mynull", BUSYBOX_NAME, "sh",
             "-c", "stat -c '%t:%T %F' /dev/mynull; echo x > /dev/mynull && "
             "echo written; cat /dev/mynull | wc -c; "
             "grep ' /dev/mynull ' /proc/self/mountinfo | wc -l")
    lines = p.stdout.splitlines()
    assert lines[0] == "1:3 character special file", p.stdout
    assert lines[1:3] == ["written", "0"], p.stdout
    assert lines[3] == "1", p.stdout  # a bind mount, not a node made
    # the host path alone: the same path inside
    p = _run(env, "--device", "/dev/zero", BUSYBOX_NAME, "sh", "-c",
             "head -c 5 /dev/zero | wc -c")
    assert p.stdout == "5\n"
    # without w: a read-only bind (as podman's; a read-only mount does
    # not stop writes to a device node, only changes to the node itself)
    p = _run(env, "--device", "/dev/zero:/dev/rozero:r", BUSYBOX_NAME, "sh",
             "-c", "stat -c %t:%T /dev/rozero; head -c 3 /dev/rozero | "
             "wc -c; grep ' /dev/rozero ' /proc/self/mountinfo; "
             "chmod 600 /dev/rozero || echo refused", check=False)
    lines = p.stdout.splitlines()
    assert lines[:2] == ["1:5", "3"] and lines[-1] == "refused", p.stdout
    assert "ro" in lines[2].split()[5].split(","), lines[2]
    assert "Read-only file system" in p.stderr, p.stderr
    # a detached container: exec sees it, and a restart binds it again
    env.cove("run", "-d", "--name", "dv", "--network", "none", "--device",
             "/dev/null:/dev/sub/mynull", BUSYBOX_NAME, "sleep", "300")
    ex = "stat -c %t:%T /dev/sub/mynull && echo y > /dev/sub/mynull"
    assert env.cove("exec", "dv", "sh", "-c", ex).stdout == "1:3\n"
    env.cove("restart", "-t", "0", "dv")
    assert env.cove("exec", "dv", "sh", "-c", ex).stdout == "1:3\n"
    env.cove("rm", "-f", "dv")
    # a missing device: refused before anything runs
    p = _run(env, "--device", "/dev/no-such-dev", BUSYBOX_NAME, "true",
             check=False)
    assert p.returncode != 0 and "/dev/no-such-dev" in p.stderr, p.stderr
    _no_containers(env, "overlay")


def test_rootless_sysctl_net(env):  # noqa: F811
    """With --network none the container has a network namespace of its
    own (owned by the user's user namespace): its net.* sysctls are set,
    the host's stay as they were."""
    env.load_busybox()
    path = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
    with open(path) as f:
        host = f.read()
    value = "81" if host.strip() != "81" else "82"
    p = _run(env, "--sysctl", f"net.ipv4.ip_unprivileged_port_start={value}",
             "--sysctl", "net.ipv4.ping_group_range=0 2000", BUSYBOX_NAME,
             "cat", path, "/proc/sys/net/ipv4/ping_group_range")
    assert p.stdout.split() == [value, "0", "2000"], p.stdout
    with open(path) as f:
        assert f.read() == host
    # without --sysctl: the kernel's default for a new namespace
    p = _run(env, BUSYBOX_NAME, "cat", path)
    assert p.stdout == "1024\n"
    # a net.* sysctl with the host's network: refused, nothing made
    p = env.cove("run", "--rm", "--network", "host", "--sysctl",
                 "net.ipv4.ip_forward=1", BUSYBOX_NAME, "true", check=False)
    assert p.returncode == 125, p.stderr
    assert "net.ipv4.ip_forward" in p.stderr, p.stderr
    _no_containers(env, "overlay")


def test_rootless_tz(env):  # noqa: F811
    zone = "/usr/share/zoneinfo/Asia/Tokyo"
    if not os.path.exists(zone):
        pytest.skip(f"no {zone} on the host")
    env.load_busybox()
    p = _run(env, "--tz", "Asia/Tokyo", BUSYBOX_NAME, "date", "+%Z%z")
    assert p.stdout == "JST+0900\n", p.stdout
    with open(zone, "rb") as f:
        tokyo = f.read()
    assert _cove_bytes(env, "run", "--rm", "--network", "none", "--tz",
                       "Asia/Tokyo", BUSYBOX_NAME, "cat",
                       "/etc/localtime") == tokyo
    # local: the host's zone
    p = _run(env, "--tz", "local", BUSYBOX_NAME, "date", "+%z")
    assert p.stdout.strip() == time.strftime("%z"), p.stdout
    # on a detached container too, and kept over a restart
    env.cove("run", "-d", "--name", "tz", "--network", "none", "--tz",
             "Asia/Tokyo", BUSYBOX_NAME, "sleep", "300")
    assert env.cove("exec", "tz", "date", "+%Z").stdout == "JST\n"
    env.cove("restart", "-t", "0", "tz")
    assert env.cove("exec", "tz", "date", "+%Z").stdout == "JST\n"
    env.cove("rm", "-f", "tz")
    p = _run(env, "--tz", "No/Such_Zone", BUSYBOX_NAME, "true", check=False)
    assert p.returncode == 125 and "No/Such_Zone" in p.stderr, p.stderr
    _no_containers(env, "overlay")


def test_rootless_cidfile(env):  # noqa: F811
    env.load_busybox()
    u = env.user
    cidfile = _user_file(env, "cid")
    p = env.cove("run", "-d", "--cidfile", cidfile, "--network", "none",
                 BUSYBOX_NAME, "sleep", "300")
    cid = p.stdout.strip()
    with open(cidfile) as f:
        assert f.read().strip() == cid
    st = os.stat(cidfile)
    assert (st.st_uid, st.st_gid) == (u.uid, u.gid)
    # an existing file: refused, nothing made
    p = env.cove("create", "--cidfile", cidfile, "--network", "none",
                 BUSYBOX_NAME, "true", check=False)
    assert p.returncode == 125 and cidfile in p.stderr, p.stderr
    listed = json.loads(env.cove("ps", "-a", "--format", "json").stdout)
    assert [c["Id"] for c in listed] == [cid]
    # a place the user cannot write: refused, nothing made
    p = env.cove("create", "--cidfile", "/etc/cove-no-cid", "--network",
                 "none", BUSYBOX_NAME, "true", check=False)
    assert p.returncode == 125 and "/etc/cove-no-cid" in p.stderr, p.stderr
    assert not os.path.exists("/etc/cove-no-cid")
    listed = json.loads(env.cove("ps", "-a", "--format", "json").stdout)
    assert [c["Id"] for c in listed] == [cid]
    # create writes it too
    cid2file = _user_file(env, "cid2")
    p = env.cove("create", "--cidfile", cid2file, "--network", "none",
                 BUSYBOX_NAME, "true")
    with open(cid2file) as f:
        assert f.read().strip() == p.stdout.strip()
    env.cove("rm", "-f", cid, p.stdout.strip())
    _no_containers(env, "overlay")
