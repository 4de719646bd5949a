"""The engine run by a real unprivileged user, across commands.

Every cove command of an unprivileged user runs in the user's own user
namespace and mount namespace; the first one makes them and leaves a pause
process (comm "cove-pause", recorded in $XDG_RUNTIME_DIR/cove-engine/
pause.pid) that keeps them alive, and every later command joins them.  So a
container started by one command can be exec'd into by the next, and what
one command mounts the next one sees.

The user is test_rootless's throw-away user (useradd -m, with ranges in
/etc/subuid and /etc/subgid; userdel -r at the end of the module).  cove
runs as that user through setpriv (test_image_rootless's CoveUser), with
$XDG_RUNTIME_DIR and $XDG_DATA_HOME in a fresh directory per test.

Teardown kills the pause processes the test made (by the pid in pause.pid)
and then, by pid, whatever else the user left running, and checks that no
mount was left on the host below the test's directory.

`cove unshare` is only tested when the cove binary has it.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import mountinfo_mountpoints
from imagelib import BUSYBOX_NAME, need_cove
from test_image_rootless import CoveUser
from test_rootless import _user_pids, rootless_user  # noqa: F401

PAUSE_COMM = "cove-pause"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _stat(pid):
    """(comm, state, start time) of @pid from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); field 22 (start time) is rest[19]
    return comm, rest[0], int(rest[19])


def _alive(pid):
    st = _stat(pid)
    return st is not None and st[1] not in ("Z", "X")


def _wait_gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def _ns(pid, ns):
    return os.readlink(f"/proc/{pid}/ns/{ns}")


class Env(CoveUser):
    """CoveUser, plus what the tests need about the pause process."""

    def __init__(self, user, tmp):
        super().__init__(user, tmp)
        self.pauses = set()

    @property
    def runroot(self):
        return os.path.join(self.xdg, "cove-engine")

    def pause(self, runroot=None):
        """The pid in pause.pid, checked against /proc: alive, our user's,
        named cove-pause, with the start time recorded."""
        path = os.path.join(runroot or self.runroot, "pause.pid")
        with open(path) as f:
            data = f.read()
        pid_s, start_s = data.rstrip("\n").split(" ")
        pid = int(pid_s)
        self.pauses.add(pid)
        comm, state, start = _stat(pid)
        assert comm == PAUSE_COMM
        assert state not in ("Z", "X")
        assert start == int(start_s)
        assert os.stat(f"/proc/{pid}").st_uid == self.user.uid
        return pid

    def has_unshare(self):
        p = self.cove("unshare", "--help", check=False)
        return p.returncode == 0 and "cove unshare" in p.stdout

    def need_unshare(self):
        if not self.has_unshare():
            pytest.skip("this cove has no `cove unshare` command yet")


@pytest.fixture
def env(rootless_user):  # noqa: F811
    need_cove()
    u = rootless_user
    if u.subuid is None or u.subgid is None:
        pytest.skip(f"{u.name} has no /etc/subuid or /etc/subgid range")
    d = tempfile.mkdtemp(prefix="cove-it-engrl-")
    os.chmod(d, 0o755)
    e = Env(u, d)
    try:
        yield e
    finally:
        # the pause processes first, by the pids they were recorded with
        for pid in e.pauses:
            st = _stat(pid)
            if st and st[0] == PAUSE_COMM and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        for pid in _user_pids(u.uid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        leftovers = [m for m in mountinfo_mountpoints()
                     if m == d or m.startswith(d + "/")]
        for m in sorted(leftovers, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
        # rootless mounts live in the user's mount namespace, never here
        assert not leftovers, f"mounts left on the host: {leftovers}"


def _run_detached(env, name, *cmd):
    p = env.cove("run", "-d", "--name", name, "--network", "none",
                 BUSYBOX_NAME, *cmd)
    cid = p.stdout.strip()
    assert len(cid) == 64, p.stdout
    return cid


def _container_pid(env, name):
    info = json.loads(env.cove("inspect", name).stdout)
    return info[0]["State"]["Pid"]


# ---------------------------------------------------------------------------


def test_run_exec_logs_stop_rm(env):
    env.load_busybox()
    pause = env.pause()
    # not a child of the command that made it, in a session of its own
    with open(f"/proc/{pause}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ppid, session = int(fields[1]), int(fields[3])
    assert (_stat(ppid) or ("",))[0] != "cove"  # adopted
    assert session not in (os.getsid(0), ppid)
    _run_detached(env, "r1", "sh", "-c",
                  "echo started; sleep 100; echo done")
    assert env.pause() == pause
    # the container lives in the pause process's user namespace
    cpid = _container_pid(env, "r1")
    assert _ns(cpid, "user") == _ns(pause, "user")
    assert _ns(pause, "user") != _ns("self", "user")

    p = env.cove("exec", "r1", "echo", "hi")
    assert p.stdout == "hi\n", p.stderr
    p = env.cove("exec", "r1", "sh", "-c", "exit 7", check=False)
    assert p.returncode == 7, p.stderr
    # the exec'd process is in the container: it sees the container's init
    p = env.cove("exec", "r1", "cat", "/proc/1/cmdline")
    assert p.stdout.split("\0")[:2] == ["sh", "-c"], p.stdout

    deadline = time.monotonic() + 10
    while "started" not in env.cove("logs", "r1").stdout:
        assert time.monotonic() < deadline, "no output in the log"
        time.sleep(0.05)

    env.cove("stop", "-t", "1", "r1")
    info = json.loads(env.cove("inspect", "r1").stdout)
    assert info[0]["State"]["Running"] is False
    assert not _alive(cpid) or _wait_gone(cpid)
    env.cove("rm", "r1")
    listed = json.loads(env.cove("ps", "-a", "--format", "json").stdout)
    assert [c["Names"] for c in listed] == []
    # still the same pause process, which outlives every command
    assert env.pause() == pause


def test_pause_process_is_quiet(env):
    env.cove("images")
    pause = env.pause()
    fds = sorted(int(fd) for fd in os.listdir(f"/proc/{pause}/fd"))
    assert fds == [0, 1, 2]
    for fd in fds:
        assert os.readlink(f"/proc/{pause}/fd/{fd}") == "/dev/null"
    assert os.readlink(f"/proc/{pause}/cwd") == "/"
    # signals that would end a process are ignored ...
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                signal.SIGUSR1, signal.SIGPIPE, signal.SIGALRM):
        os.kill(pause, sig)
    time.sleep(0.2)
    assert _alive(pause)
    assert env.pause() == pause
    # ... but SIGTERM ends it
    os.kill(pause, signal.SIGTERM)
    assert _wait_gone(pause)


def test_pause_killed_then_made_anew(env):
    env.load_busybox()
    _run_detached(env, "old", "sleep", "100")
    pause = env.pause()
    old_ns = _ns(pause, "user")
    os.kill(pause, signal.SIGKILL)
    assert _wait_gone(pause)

    p = env.cove("run", "--rm", "--network", "none", BUSYBOX_NAME, "echo",
                 "again")
    assert p.stdout == "again\n", p.stderr
    pause2 = env.pause()
    assert pause2 != pause
    assert _ns(pause2, "user") != old_ns
    # new namespaces: a container of the old ones cannot be joined
    # (podman's behaviour too), but it can still be removed
    p = env.cove("exec", "old", "true", check=False)
    assert p.returncode != 0
    env.cove("rm", "-f", "old")
    listed = json.loads(env.cove("ps", "-a", "--format", "json").stdout)
    assert listed == []
    # and a new container in the new namespaces is
    _run_detached(env, "new", "sleep", "100")
    assert env.cove("exec", "new", "echo", "hi").stdout == "hi\n"
    assert _ns(_container_pid(env, "new"), "user") == _ns(pause2, "user")
    env.cove("rm", "-f", "new")


def test_concurrent_first_commands_make_one_pause(env):
    procs = [subprocess.Popen(
        ["setpriv", f"--reuid={env.user.uid}", f"--regid={env.user.gid}",
         "--init-groups", "--reset-env", "env",
         f"XDG_RUNTIME_DIR={env.xdg}", f"XDG_DATA_HOME={env.data}",
         env.cove_bin, "images", "-q"],
        cwd=env.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for _ in range(6)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    pause = env.pause()
    pauses = [pid for pid in _user_pids(env.user.uid)
              if (_stat(pid) or ("",))[0] == PAUSE_COMM and _alive(pid)]
    env.pauses.update(pauses)
    assert pauses == [pause]


def test_stale_pid_file_not_joined(env):
    """pause.pid naming a live process of the user that is not a pause
    process (a pid reused), a pause process with another start time, or
    garbage: not joined, a new pause process is made."""
    os.makedirs(env.runroot, mode=0o700)
    os.chown(env.runroot, env.user.uid, env.user.gid)
    path = os.path.join(env.runroot, "pause.pid")

    def write(content):
        with open(path, "w") as f:
            f.write(content)
        os.chown(path, env.user.uid, env.user.gid)

    sleeper = subprocess.Popen(
        ["setpriv", f"--reuid={env.user.uid}", f"--regid={env.user.gid}",
         "--init-groups", "sleep", "100"])
    try:
        deadline = time.monotonic() + 10
        while (_stat(sleeper.pid) or ("",))[0] != "sleep":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        write(f"{sleeper.pid} {_stat(sleeper.pid)[2]}\n")
        env.cove("images")
        first = env.pause()
        assert first != sleeper.pid
        assert sleeper.poll() is None  # untouched
        # the pause process, but not with the start time recorded
        write(f"{first} {_stat(first)[2] + 1}\n")
        env.cove("images")
        second = env.pause()
        assert second != first
        assert _ns(second, "user") != _ns(first, "user")
        write("garbage\n")
        env.cove("images")
        third = env.pause()
        assert third not in (first, second)
        # a correct file again: joined
        env.cove("images")
        assert env.pause() == third
    finally:
        sleeper.kill()
        sleeper.wait()


def test_foreign_runroot_refused(env):
    """A run root the user does not own is not trusted."""
    foreign = os.path.join(env.tmp, "foreign")
    os.mkdir(foreign, 0o755)  # root's
    p = env.cove("--runroot", foreign, "images", check=False)
    assert p.returncode == 125
    assert foreign in p.stderr and "user" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(foreign, "pause.pid"))


def test_unshare_shares_the_namespaces(env):
    env.need_unshare()
    first = env.cove("unshare", "readlink", "/proc/self/ns/user").stdout
    pause = env.pause()
    second = env.cove("unshare", "readlink", "/proc/self/ns/user").stdout
    assert first == second == _ns(pause, "user") + "\n"
    assert first.strip() != _ns("self", "user")
    mnt = env.cove("unshare", "readlink", "/proc/self/ns/mnt").stdout
    assert mnt == _ns(pause, "mnt") + "\n"
    # root of it, with the user's maps
    assert env.cove("unshare", "id", "-u").stdout == "0\n"
    maps = env.cove("unshare", "cat", "/proc/self/uid_map").stdout.split()
    u = env.user
    assert maps == ["0", str(u.uid), "1", "1", str(u.subuid[0]),
                    str(u.subuid[1])]
    # the storage's directories in the environment; the working
    # directory kept
    p = env.cove("unshare", "sh", "-c",
                 'echo "$COVE_GRAPHROOT $COVE_RUNROOT"; pwd')
    assert p.stdout.splitlines() == [f"{env.root} {env.runroot}", env.tmp]
    # the exit code is the command's
    assert env.cove("unshare", "sh", "-c", "exit 3",
                    check=False).returncode == 3
    p = env.cove("unshare", "/nonexistent/cmd", check=False)
    assert p.returncode == 127
    assert "/nonexistent/cmd" in p.stderr
    assert env.pause() == pause


def test_unshare_sees_the_containers_mounts(env):
    env.need_unshare()
    env.load_busybox()
    cid = _run_detached(env, "m1", "sleep", "100")
    p = env.cove("unshare", "cat", "/proc/self/mountinfo")
    rootfs = [ln.split()[4] for ln in p.stdout.splitlines()
              if cid in ln.split()[4]]
    assert rootfs, p.stdout
    # not on the host
    assert not [m for m in mountinfo_mountpoints() if cid in m]
    p = env.cove("unshare", "ls", os.path.join(rootfs[0], "bin", "busybox"))
    assert p.returncode == 0
    env.cove("rm", "-f", "m1")
    p = env.cove("unshare", "cat", "/proc/self/mountinfo")
    assert cid not in p.stdout
