"""Runtime features beyond the basics: time namespaces, seccomp notify,
events (stats, streaming, OOM), --preserve-fds, --no-pivot,
--no-new-keyring, mount propagation, LSM and cgroup manager errors, the
hybrid cgroup layout, the pids limit, joining other containers'
namespaces, user namespaces, update, and what is left after an external
kill or a failed create.

Where runc 1.1 (COVE_RUNTIME_BINARY=/usr/sbin/runc) behaves differently
by design or lacks a feature, the test is skipped for it with the reason.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile

import pytest

from conftest import (
    BINARY,
    DEFAULT_TIMEOUT,
    cgroup_mounts,
    cgroup_v1_path,
    crun_extension,
    dump_state_error,
    pid_alive,
    proc_status_field,
    read_file,
    sleeper,
    wait_for,
)

UNIFIED = "/sys/fs/cgroup/unified"
DAY = 86400
IS_RUNC = os.path.basename(BINARY) == "runc"


def not_in_runc(reason):
    return pytest.mark.skipif(IS_RUNC, reason=f"runc 1.1: {reason}")


@pytest.fixture(scope="module")
def runtime_features():
    proc = subprocess.run([BINARY, "features"], capture_output=True, text=True)
    if proc.returncode != 0:
        return {}
    return json.loads(proc.stdout)


@pytest.fixture
def time_ns(runtime_features):
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("the kernel has no time namespaces")
    if "time" not in runtime_features.get("linux", {}).get("namespaces", []):
        pytest.skip("the runtime does not support time namespaces")


def unified_is_cgroup2():
    return any(mp == UNIFIED and fs == "cgroup2" for mp, fs, _ in cgroup_mounts())


def unified_controllers():
    return read_file(os.path.join(UNIFIED, "cgroup.controllers"), "").split()


def all_cgroup_dirs(cgroups_path):
    """Host directories of cgroups_path in every hierarchy (existing or not)."""
    return [mp + cgroups_path for mp, _fs, _opts in cgroup_mounts()]


def assert_no_cgroup_dirs(cgroups_path):
    for d in all_cgroup_dirs(cgroups_path):
        assert not os.path.exists(d), d


def procs_in_cgroup(cgroups_path):
    """Pids on the host whose /proc/PID/cgroup names cgroups_path."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        text = read_file(f"/proc/{entry}/cgroup", "")
        for line in text.splitlines():
            path = line.split(":", 2)[-1]
            if path == cgroups_path or path.startswith(cgroups_path + "/"):
                found.add(int(entry))
                break
    return found


def procs_mentioning(word):
    """Pids on the host (other than the test) whose command line has word."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            if word in read_file(f"/proc/{entry}/cmdline", "").replace("\0", " "):
                found.add(int(entry))
    return {p for p in found if pid_alive(p)}


def userns(bundle):
    bundle.set_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.write()


def add_caps(bundle, *caps):
    c = bundle.process.setdefault("capabilities", {})
    for kind in ("bounding", "effective", "permitted"):
        c[kind] = c.get(kind, []) + list(caps)
    bundle.write()


def read_events(path):
    return [json.loads(l) for l in read_file(path, "").splitlines() if l.strip()]


def popen_events(rt, out, *args):
    return subprocess.Popen(
        [rt.binary, "--root", rt.root, "events", *args],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def stop(p):
    if p.poll() is None:
        p.kill()
        p.wait()


# --- time namespace ---------------------------------------------------------


def test_time_namespace_offsets(runner, bundle, time_ns):
    bundle.set_namespace("time")
    bundle.linux["timeOffsets"] = {
        "monotonic": {"secs": DAY * 1000, "nanosecs": 0},
        "boottime": {"secs": DAY * 2000, "nanosecs": 0},
    }
    bundle.write()
    before = float(read_file("/proc/uptime").split()[0])
    out = runner.sh(
        "readlink /proc/self/ns/time; cat /proc/self/timens_offsets; cat /proc/uptime"
    ).stdout.splitlines()
    after = float(read_file("/proc/uptime").split()[0])
    assert out[0] != os.readlink("/proc/self/ns/time")
    offsets = {l.split()[0]: l.split()[1:] for l in out[1:3]}
    assert offsets == {
        "monotonic": [str(DAY * 1000), "0"],
        "boottime": [str(DAY * 2000), "0"],
    }
    # /proc/uptime is the boottime clock
    inside = float(out[3].split()[0])
    assert before + DAY * 2000 - 1 <= inside <= after + DAY * 2000 + 1


def test_time_offsets_without_time_namespace_rejected(rt, bundle, container_id, time_ns):
    bundle.remove_namespace("time")
    bundle.linux["timeOffsets"] = {"monotonic": {"secs": 10, "nanosecs": 0}}
    bundle.set_sh("echo SHOULD-NOT-RUN")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "SHOULD-NOT-RUN" not in proc.stdout
    assert "linux.timeOffsets" in proc.stderr


def test_time_namespace_exec_joins_it(rt, runner, bundle, time_ns):
    bundle.set_namespace("time")
    bundle.linux["timeOffsets"] = {"boottime": {"secs": DAY * 3000, "nanosecs": 0}}
    bundle.write()
    cid, pid = runner.start_detached(*sleeper())
    assert os.readlink(f"/proc/{pid}/ns/time") != os.readlink("/proc/self/ns/time")
    out = rt.run(
        "exec", cid, "sh", "-c", "readlink /proc/self/ns/time; cat /proc/uptime"
    ).stdout.splitlines()
    assert out[0] == os.readlink(f"/proc/{pid}/ns/time")
    host = float(read_file("/proc/uptime").split()[0])
    assert abs(float(out[1].split()[0]) - (host + DAY * 3000)) < 5


def test_join_time_namespace_of_container(rt, runner, bundle, make_bundle, time_ns):
    bundle.set_namespace("time")
    bundle.linux["timeOffsets"] = {"boottime": {"secs": DAY * 10, "nanosecs": 0}}
    bundle.write()
    _a_id, a_pid = runner.start_detached(*sleeper())
    b = make_bundle("joiner")
    b.set_namespace("time", f"/proc/{a_pid}/ns/time")
    out = runner.sh(
        "readlink /proc/self/ns/time; cat /proc/self/timens_offsets", bundle=b
    ).stdout.splitlines()
    assert out[0] == os.readlink(f"/proc/{a_pid}/ns/time")
    assert out[2].split() == ["boottime", str(DAY * 10), "0"], out


@pytest.mark.parametrize("user_ns", ["new", "joined"])
def test_time_namespace_with_user_namespace(runner, bundle, make_bundle, time_ns, user_ns):
    userns(bundle)
    if user_ns == "joined":
        _a_id, a_pid = runner.start_detached(*sleeper())
        bundle = make_bundle("joiner")
        bundle.set_namespace("user", f"/proc/{a_pid}/ns/user")
    bundle.set_namespace("time")
    bundle.linux["timeOffsets"] = {"monotonic": {"secs": 7200, "nanosecs": 500000000}}
    bundle.write()
    out = runner.sh("id -u; cat /proc/self/timens_offsets", bundle=bundle).stdout.splitlines()
    assert out[0] == "0"
    assert out[1].split() == ["monotonic", "7200", "500000000"]


# --- seccomp notify ---------------------------------------------------------


def notify_profile(listener, metadata="meta-x"):
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": listener,
        "listenerMetadata": metadata,
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    }


class SeccompAgent:
    """A seccomp agent's unix socket: receives the container process state
    and the notify fd of each process started with the profile."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(10)

    def receive(self, timeout=10):
        """Accept one connection; return (state, [fds])."""
        conn, _ = self.sock.accept()
        data = b""
        fds = []
        with conn:
            conn.settimeout(timeout)
            while True:
                msg, anc_fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
                fds.extend(anc_fds)
                if not msg:
                    break
                data += msg
                try:
                    return json.loads(data), fds
                except ValueError:
                    continue
        for fd in fds:
            os.close(fd)
        raise AssertionError(f"incomplete seccomp state: {data!r}")

    def close(self):
        self.sock.close()


@pytest.fixture
def seccomp_agent(test_tmp):
    agents = []

    def make():
        a = SeccompAgent(os.path.join(test_tmp, f"seccomp-{len(agents)}.sock"))
        agents.append(a)
        return a

    yield make
    for a in agents:
        a.close()


def check_notify_fd(fd):
    target = os.readlink(f"/proc/self/fd/{fd}")
    assert "seccomp" in target or "anon_inode" in target, target


def check_seccomp_state(st, cid, bundle, statuses):
    assert st["ociVersion"]
    assert st["fds"] == ["seccompFd"]
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert st["metadata"] == "meta-x"
    assert st["state"]["id"] == cid
    assert st["state"]["status"] in statuses
    assert os.path.realpath(st["state"]["bundle"]) == os.path.realpath(bundle.path)


def test_seccomp_notify_listener(rt, bundle, container_id, seccomp_agent, test_tmp):
    agent = seccomp_agent()
    bundle.linux["seccomp"] = notify_profile(agent.path)
    # the mkdir waits until the agent answers or goes away
    bundle.set_sh("mkdir /tmp/x; echo rc=$?; test -d /tmp/x && echo MADE; true")
    cid = container_id()
    out_path = os.path.join(test_tmp, "notify.out")
    with open(out_path, "w+b") as out:
        rt.run("create", "--bundle", bundle.path, cid, stdout=out, stderr=out)
        st, fds = agent.receive()
        try:
            assert len(fds) == 1, fds
            check_notify_fd(fds[0])
            check_seccomp_state(st, cid, bundle, ("creating", "created"))
            assert st["pid"] == rt.state(cid)["pid"]
        finally:
            for fd in fds:
                os.close(fd)
        # with no listener left, the notified syscall fails with ENOSYS
        rt.run("start", cid)
        rt.wait_status(cid, "stopped")
    out = read_file(out_path)
    assert "rc=1" in out, out
    assert "Function not implemented" in out
    assert "MADE" not in out
    rt.run("delete", cid)


def test_seccomp_notify_with_run(rt, bundle, container_id, seccomp_agent):
    # `run` stays around while the container runs: it must not keep a copy
    # of the listener, or the notified syscall would wait forever
    agent = seccomp_agent()
    bundle.linux["seccomp"] = notify_profile(agent.path)
    bundle.set_sh("mkdir /tmp/x; echo rc=$?")
    cmd = [rt.binary, "--root", rt.root, "run", "--bundle", bundle.path, container_id()]
    p = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        st, fds = agent.receive()
        for fd in fds:
            os.close(fd)
        assert st["metadata"] == "meta-x"
        stdout, stderr = p.communicate(timeout=10)
    finally:
        stop(p)
    assert p.returncode == 0, stderr
    assert stdout == "rc=1\n"
    assert "Function not implemented" in stderr


def test_seccomp_notify_listener_exec(rt, bundle, container_id, seccomp_agent):
    agent = seccomp_agent()
    bundle.linux["seccomp"] = notify_profile(agent.path)
    bundle.set_args(*sleeper())
    cid = container_id()
    rt.run("create", "--bundle", bundle.path, cid)
    st, fds = agent.receive()
    for fd in fds:
        os.close(fd)
    rt.run("start", cid)
    rt.wait_status(cid, "running")
    # the exec'd process gets the container's profile, and so its own
    # listener connection
    p = subprocess.Popen(
        [rt.binary, "--root", rt.root, "exec", cid, "sh", "-c", "mkdir /tmp/y; echo rc=$?"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        st2, fds2 = agent.receive()
        try:
            assert len(fds2) == 1, fds2
            check_notify_fd(fds2[0])
            check_seccomp_state(st2, cid, bundle, ("running",))
            assert st2["pid"] != st["pid"]
        finally:
            for fd in fds2:
                os.close(fd)
        stdout, stderr = p.communicate(timeout=10)
    finally:
        stop(p)
    assert stdout == "rc=1\n", (stdout, stderr)
    assert "Function not implemented" in stderr


# --- events -----------------------------------------------------------------


def test_events_stats_fields(rt, runner):
    busy = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo > /tmp/busy-done;"
    cid, pid = runner.start_detached(*sleeper(busy))
    wait_for(lambda: os.path.exists(f"/proc/{pid}/root/tmp/busy-done"), what="the busy loop")
    ev = json.loads(rt.run("events", "--stats", cid, timeout=10).stdout)
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert data["cpu"]["usage"]["total"] > 0
    assert data["memory"]["usage"]["usage"] > 0
    assert data["pids"]["current"] >= 1


@not_in_runc("`events` keeps running after the container exited")
def test_events_interval_streams_until_exit(rt, runner, test_tmp):
    cid, pid = runner.start_detached("sh", "-c", "sleep 1")
    out_path = os.path.join(test_tmp, "events.out")
    with open(out_path, "wb") as out:
        p = popen_events(rt, out, "--interval", "100ms", cid)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("events did not stop when the container exited")
        finally:
            stop(p)
    stats = [e for e in read_events(out_path) if e["type"] == "stats"]
    assert len(stats) >= 3, stats
    assert all(e["id"] == cid for e in stats)


@not_in_runc("`events` keeps running after the container exited")
def test_events_stops_when_init_killed_externally(rt, runner, test_tmp):
    cid, pid = runner.start_detached(*sleeper())
    out_path = os.path.join(test_tmp, "events.out")
    with open(out_path, "wb") as out:
        p = popen_events(rt, out, "--interval", "100ms", cid)
        try:
            wait_for(lambda: read_events(out_path), what="the first stats line")
            os.kill(pid, signal.SIGKILL)
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("events did not stop when the container was killed")
        finally:
            stop(p)


def test_events_stats_stopped_container(rt, runner):
    cid, _st = runner.create("true")
    rt.run("start", cid)
    rt.wait_status(cid, "stopped")
    proc = rt.run("events", "--stats", cid, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip()


def test_events_oom(rt, runner, bundle, test_tmp):
    limit = 16 * 1024 * 1024
    bundle.linux.setdefault("resources", {})["memory"] = {"limit": limit, "swap": limit}
    bundle.write()
    # dd's 64 MiB buffer is faulted in by the read from /dev/zero; once dd
    # was killed the container exits
    cid, _st = runner.create("sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1")
    out_path = os.path.join(test_tmp, "events.out")
    with open(out_path, "wb") as out:
        p = popen_events(rt, out, "--interval", "100ms", cid)
        try:
            # the first stats line shows that events is watching
            wait_for(lambda: read_events(out_path), what="the first stats line")
            rt.run("start", cid)
            wait_for(
                lambda: any(e["type"] == "oom" for e in read_events(out_path))
                or p.poll() is not None,
                timeout=15,
                what="an oom event",
            )
            rt.wait_status(cid, "stopped")
        finally:
            stop(p)
    ooms = [e for e in read_events(out_path) if e["type"] == "oom"]
    assert ooms, read_file(out_path)
    assert ooms[0]["id"] == cid


# --- --preserve-fds, --no-pivot, --no-new-keyring ---------------------------------


def run_with_fd3(rt, args, fd, timeout=DEFAULT_TIMEOUT):
    """Run the runtime with `fd` as its fd 3 (through bash, since the test
    process cannot give up its own fd 3); return a CompletedProcess.

    Output goes through files: a created container keeps them open."""
    cmd = [rt.binary, "--root", rt.root] + [str(a) for a in args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(
            ["/bin/bash", "-c", f'exec "$@" 3>&{fd} {fd}>&-', "bash"] + cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            pass_fds=(fd,),
            timeout=timeout,
        )
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(
            cmd,
            p.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def with_pipe_as_fd3(rt, args, between=None):
    """Run the runtime with a pipe's write end as fd 3; after it returned,
    run between() if given, then read the pipe to its end (all the write
    ends closed).  Returns (CompletedProcess, bytes read)."""
    r, w = os.pipe()
    try:
        proc = run_with_fd3(rt, args, w)
        os.close(w)
        w = -1
        assert proc.returncode == 0, dump_state_error(proc)
        if between:
            between()
        data = b""
        while True:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    return proc, data


def test_preserve_fds(rt, bundle, container_id):
    # the shell's own fds, listed before any redirection of its own
    bundle.set_sh("ls /proc/$$/fd; echo hi-from-fd3 >&3")
    proc, data = with_pipe_as_fd3(
        rt, ["run", "--preserve-fds", "1", "--bundle", bundle.path, container_id()]
    )
    assert data == b"hi-from-fd3\n"
    assert sorted(int(x) for x in proc.stdout.split()) == [0, 1, 2, 3]


def test_without_preserve_fds_fd3_is_closed(rt, bundle, container_id):
    bundle.set_sh("ls /proc/$$/fd; echo x >&3 && echo WROTE-FD3; true")
    proc, data = with_pipe_as_fd3(rt, ["run", "--bundle", bundle.path, container_id()])
    assert data == b""
    assert "WROTE-FD3" not in proc.stdout
    assert sorted(int(x) for x in proc.stdout.split() if x.isdigit()) == [0, 1, 2]


def test_preserve_fds_kept_from_create_to_start(rt, bundle, container_id):
    bundle.set_sh("echo after-start >&3")
    cid = container_id()

    def start():
        rt.run("start", cid)
        rt.wait_status(cid, "stopped")

    _proc, data = with_pipe_as_fd3(
        rt, ["create", "--preserve-fds", "1", "--bundle", bundle.path, cid], between=start
    )
    assert data == b"after-start\n"


def test_exec_preserve_fds(rt, runner):
    cid, _pid = runner.start_detached(*sleeper())
    _proc, data = with_pipe_as_fd3(
        rt, ["exec", "--preserve-fds", "1", cid, "sh", "-c", "echo exec-fd3 >&3"]
    )
    assert data == b"exec-fd3\n"


def test_no_pivot(rt, bundle, container_id):
    bundle.set_sh("stat -c %i /; ls -a /; test -e /work && echo HOST-VISIBLE; true")
    proc = rt.run("run", "--no-pivot", "--bundle", bundle.path, container_id())
    lines = proc.stdout.split()
    assert int(lines[0]) == os.stat(bundle.rootfs).st_ino
    assert set(lines[1:]) - {".", ".."} == set(os.listdir(bundle.rootfs)) | {"tmp"}
    assert "HOST-VISIBLE" not in lines


def unmask_proc_keys(bundle):
    if not os.path.exists("/proc/keys"):
        pytest.skip("no /proc/keys on this kernel")
    masked = bundle.linux.get("maskedPaths", [])
    bundle.linux["maskedPaths"] = [p for p in masked if p != "/proc/keys"]
    bundle.write()


def test_new_session_keyring(rt, bundle, container_id):
    unmask_proc_keys(bundle)
    bundle.set_sh("cat /proc/keys")
    cid = container_id()
    out = rt.run("run", "--bundle", bundle.path, cid).stdout
    assert f"_ses.{cid}" in out, out


def test_no_new_keyring(rt, bundle, container_id):
    unmask_proc_keys(bundle)
    bundle.set_sh("cat /proc/keys; echo ran")
    cid = container_id()
    out = rt.run("run", "--no-new-keyring", "--bundle", bundle.path, cid).stdout
    assert out.splitlines()[-1] == "ran"
    assert f"_ses.{cid}" not in out, out


# --- mount propagation --------------------------------------------------------


def propagation_fields(mountinfo_line):
    """The optional fields (shared:N, master:N, ...) of a mountinfo line."""
    return mountinfo_line.split(" - ")[0].split()[6:]


def mountinfo_line(mountinfo, target):
    lines = [l for l in mountinfo.splitlines() if l.split()[4] == target]
    assert lines, f"{target} not mounted:\n{mountinfo}"
    return lines[-1]


@pytest.fixture
def shared_mount(test_tmp):
    """Factory: shared_mount(name, source=None) -> (mount point, peer group)
    of a new host mount under test_tmp in its own shared peer group (a
    tmpfs, or a read-only bind of source); unmounted afterwards."""
    made = []

    def make(name, source=None):
        target = os.path.join(test_tmp, name)
        os.mkdir(target)
        if source is None:
            cmds = [["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", target]]
        else:
            cmds = [
                ["mount", "--bind", source, target],
                ["mount", "-o", "remount,bind,ro", target],
            ]
        cmds.append(["mount", "--make-shared", target])
        for i, cmd in enumerate(cmds):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                if i == 0:
                    pytest.skip(f"cannot mount: {proc.stderr.strip()}")
                pytest.fail(f"{' '.join(cmd)}: {proc.stderr.strip()}")
            if i == 0:
                made.append(target)
        fields = propagation_fields(mountinfo_line(read_file("/proc/self/mountinfo"), target))
        group = [f.split(":")[1] for f in fields if f.startswith("shared:")]
        assert group, fields
        return target, group[0]

    yield make
    for target in reversed(made):
        subprocess.run(["umount", "-R", "-l", target], capture_output=True)


@pytest.mark.parametrize("prop", ["rprivate", "rslave"])
def test_rootfs_propagation_from_shared_source(runner, bundle, shared_mount, prop):
    rootfs, group = shared_mount("rootfs-src", bundle.rootfs)
    bundle.config["root"] = {"path": rootfs, "readonly": True}
    bundle.linux["rootfsPropagation"] = prop
    bundle.write()
    out = runner.sh("cat /proc/self/mountinfo").stdout
    fields = propagation_fields(mountinfo_line(out, "/"))
    if prop == "rprivate":
        assert fields == []
    else:
        assert fields == [f"master:{group}"]


@not_in_runc("the new root stays private (the propagation is not applied to it)")
def test_rootfs_propagation_rshared(runner, bundle):
    bundle.linux["rootfsPropagation"] = "rshared"
    bundle.write()
    out = runner.sh("cat /proc/self/mountinfo").stdout
    fields = propagation_fields(mountinfo_line(out, "/"))
    assert any(f.startswith("shared:") for f in fields), fields


@pytest.mark.parametrize("prop", ["unbindable", "runbindable"])
def test_rootfs_propagation_unbindable(runner, bundle, prop):
    bundle.linux["rootfsPropagation"] = prop
    bundle.write()
    out = runner.sh("cat /proc/self/mountinfo").stdout
    assert "unbindable" in propagation_fields(mountinfo_line(out, "/"))


@pytest.mark.parametrize("prop", ["rprivate", "rslave", "rshared"])
def test_bind_mount_propagation_option(runner, bundle, shared_mount, prop):
    src, group = shared_mount("bind-src")
    bundle.add_mount("/tmp/shared", "bind", src, ["rbind", prop])
    out = runner.sh("cat /proc/self/mountinfo").stdout
    fields = propagation_fields(mountinfo_line(out, "/tmp/shared"))
    if prop == "rprivate":
        assert fields == []
    elif prop == "rslave":
        assert fields == [f"master:{group}"]
    else:
        # a peer group of its own, and still a slave of the host's group:
        # the container's mount namespace started as a slave copy
        assert any(f.startswith("shared:") for f in fields), fields
        assert f"shared:{group}" not in fields, fields


def test_bind_mount_rslave_receives_later_host_mounts(rt, runner, bundle, shared_mount):
    src, _group = shared_mount("slave-src")
    sub = os.path.join(src, "sub")
    os.mkdir(sub)
    bundle.add_mount("/tmp/slave", "bind", src, ["rbind", "rslave"])
    bundle.add_mount("/tmp/private", "bind", src, ["rbind", "rprivate"])
    cid, _pid = runner.start_detached(*sleeper())
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", sub], check=True)
    try:
        with open(os.path.join(sub, "marker"), "w") as f:
            f.write("late\n")
        out = rt.run(
            "exec", cid, "sh", "-c", "cat /tmp/slave/sub/marker; ls /tmp/private/sub | wc -l"
        ).stdout.split()
        assert out == ["late", "0"]
    finally:
        subprocess.run(["umount", "-l", sub], capture_output=True)


# --- LSMs and cgroup managers ----------------------------------------------------


def test_apparmor_profile_rejected(rt, bundle, container_id):
    if os.path.exists("/sys/kernel/security/apparmor"):
        pytest.skip("AppArmor is enabled on this host")
    bundle.process["apparmorProfile"] = "cove-test-profile"
    bundle.set_sh("echo SHOULD-NOT-RUN")
    cid = container_id()
    proc = rt.run("create", "--bundle", bundle.path, cid, check=False)
    assert proc.returncode != 0
    assert "apparmor" in proc.stderr.lower()
    assert rt.run("state", cid, check=False).returncode != 0


def test_selinux_label_rejected(rt, bundle, container_id):
    if os.path.exists("/sys/fs/selinux/enforce"):
        pytest.skip("SELinux is enabled on this host")
    bundle.process["selinuxLabel"] = "system_u:system_r:container_t:s0"
    bundle.set_sh("echo SHOULD-NOT-RUN")
    cid = container_id()
    proc = rt.run("create", "--bundle", bundle.path, cid, check=False)
    assert proc.returncode != 0
    assert "selinux" in proc.stderr.lower()
    assert rt.run("state", cid, check=False).returncode != 0


def test_systemd_cgroup_without_systemd(rt, bundle, container_id):
    if os.path.exists("/run/systemd/system"):
        pytest.skip("systemd is running on this host")
    cid = container_id()
    bundle.linux["cgroupsPath"] = f"system.slice:cove:{cid}"
    bundle.set_sh("echo SHOULD-NOT-RUN")
    proc = rt.run(
        "run", "--bundle", bundle.path, cid, check=False, global_args=["--systemd-cgroup"]
    )
    assert proc.returncode != 0
    assert "SHOULD-NOT-RUN" not in proc.stdout
    assert "systemd" in proc.stderr.lower()


@crun_extension
def test_cgroup_manager_disabled_creates_no_cgroup(rt, bundle, container_id):
    bundle.set_args(*sleeper())
    cid = container_id()
    flags = ["--cgroup-manager", "disabled"]
    rt.run("create", "--bundle", bundle.path, cid, global_args=flags)
    pid = rt.state(cid)["pid"]
    rt.run("start", cid, global_args=flags)
    # the process stays in the cgroups of the runtime's caller
    assert read_file(f"/proc/{pid}/cgroup") == read_file("/proc/self/cgroup")
    assert_no_cgroup_dirs(bundle.cgroups_path)
    rt.run("kill", cid, "KILL", global_args=flags)
    rt.wait_status(cid, "stopped")
    rt.run("delete", cid, global_args=flags)
    assert not pid_alive(pid)


# --- hybrid cgroup layout -------------------------------------------------------


@pytest.fixture
def hybrid():
    if not unified_is_cgroup2() or cgroup_v1_path("memory", "/") is None:
        pytest.skip("not a hybrid cgroup host")


@pytest.fixture
def unified_hugetlb(hybrid):
    if "hugetlb" not in unified_controllers() or cgroup_v1_path("hugetlb", "/"):
        pytest.skip("hugetlb is not a controller of the unified hierarchy only")
    if not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no 2MB huge pages")


def test_hybrid_process_in_unified_hierarchy(rt, runner, bundle, hybrid):
    cid, pid = runner.start_detached(*sleeper())
    lines = read_file(f"/proc/{pid}/cgroup").splitlines()
    assert f"0::{bundle.cgroups_path}" in lines, lines
    udir = UNIFIED + bundle.cgroups_path
    assert str(pid) in read_file(os.path.join(udir, "cgroup.procs")).split()
    rt.run("kill", cid, "KILL")
    rt.wait_status(cid, "stopped")
    rt.run("delete", cid)
    assert not os.path.exists(udir)
    assert_no_cgroup_dirs(bundle.cgroups_path)


def test_hybrid_exec_process_in_unified_hierarchy(rt, runner, bundle, hybrid):
    cid, _pid = runner.start_detached(*sleeper())
    out = rt.run("exec", cid, "cat", "/proc/self/cgroup").stdout.splitlines()
    assert f"0::{bundle.cgroups_path}" in out, out
    assert any(l.endswith(f":memory:{bundle.cgroups_path}") for l in out), out


@not_in_runc("cannot set hugetlb limits in the unified hierarchy of a hybrid host")
def test_hybrid_hugetlb_limit_in_unified(rt, runner, bundle, unified_hugetlb):
    limit = 8 * 2 * 1024 * 1024
    bundle.linux.setdefault("resources", {})["hugepageLimits"] = [
        {"pageSize": "2MB", "limit": limit}
    ]
    bundle.write()
    cid, st = runner.create(*sleeper())
    udir = UNIFIED + bundle.cgroups_path
    assert read_file(os.path.join(udir, "hugetlb.2MB.max")).strip() == str(limit)
    # the other page sizes are left unlimited
    one_g = os.path.join(udir, "hugetlb.1GB.max")
    if os.path.exists(one_g):
        v = read_file(one_g).strip()
        assert v == "max" or int(v) >= 1 << 62, v
    assert str(st["pid"]) in read_file(os.path.join(udir, "cgroup.procs")).split()
    rt.run("delete", "-f", cid)
    assert not os.path.exists(udir)


@not_in_runc("cannot set hugetlb limits in the unified hierarchy of a hybrid host")
def test_hybrid_hugetlb_update_and_stats(rt, runner, bundle, unified_hugetlb):
    cid, _pid = runner.start_detached(*sleeper())
    limit = 4 * 2 * 1024 * 1024
    rt.run(
        "update", "-r", "-", cid,
        input=json.dumps({"hugepageLimits": [{"pageSize": "2MB", "limit": limit}]}),
    )
    udir = UNIFIED + bundle.cgroups_path
    assert read_file(os.path.join(udir, "hugetlb.2MB.max")).strip() == str(limit)
    ev = json.loads(rt.run("events", "--stats", cid).stdout)
    assert "2MB" in ev["data"].get("hugetlb", {}), ev["data"]


@not_in_runc("only the container's own cgroup is removed")
def test_delete_removes_created_intermediate_cgroups(rt, runner, bundle, cgroup_parent):
    bundle.linux["cgroupsPath"] = cgroup_parent.child("x") + "/y/z"
    bundle.write()
    cid, _pid = runner.start_detached(*sleeper())
    created = all_cgroup_dirs(cgroup_parent.child("x"))
    assert any(os.path.isdir(d) for d in created)
    rt.run("delete", "-f", cid)
    for d in created:
        assert not os.path.exists(d), d
    # the parent that existed before is left alone
    assert all(os.path.isdir(mp + cgroup_parent.path) for mp, _f, _o in cgroup_mounts())


# --- pids limit -------------------------------------------------------------------


def test_pids_limit_fork_fails_and_kill_all(rt, runner, bundle):
    pids_dir = cgroup_v1_path("pids", bundle.cgroups_path)
    if pids_dir is None:
        pytest.skip("no cgroup v1 pids hierarchy on this host")
    bundle.linux.setdefault("resources", {})["pids"] = {"limit": 10}
    bundle.write()
    # The forks run in a subshell, which dies at its first failed fork,
    # leaving the sleeps it did start.
    cid, _pid = runner.start_detached(
        *sleeper("(for i in $(seq 50); do sleep 100 & done) 2>/tmp/fork.err;")
    )
    wait_for(
        lambda: int(read_file(os.path.join(pids_dir, "pids.events")).split()[1]) > 0,
        what="a fork refused by the pids controller",
    )
    procs = [int(p) for p in read_file(os.path.join(pids_dir, "cgroup.procs")).split()]
    assert 2 <= len(procs) <= 10, procs
    err = rt.run("exec", cid, "cat", "/tmp/fork.err", check=False)
    if err.returncode == 0:  # an exec may itself be refused a fork here
        assert "can't fork" in err.stdout or "Resource temporarily" in err.stdout, err.stdout
    # the host is not limited
    assert subprocess.run(["true"]).returncode == 0
    rt.run("kill", "--all", cid, "KILL")
    rt.wait_status(cid, "stopped")
    wait_for(
        lambda: read_file(os.path.join(pids_dir, "cgroup.procs"), "").strip() == "",
        what="every process of the container to be gone",
    )
    for p in procs:
        assert not pid_alive(p), p


# --- joining the namespaces of another container ------------------------------


def test_join_net_and_ipc_namespaces_of_container(rt, runner, bundle, make_bundle):
    # The first container adds a loopback address to its lo and creates a
    # POSIX message queue in its ipc namespace.
    add_caps(bundle, "CAP_NET_ADMIN")
    _a_id, a_pid = runner.start_detached(
        *sleeper(
            "ip addr add 127.0.0.42/32 dev lo && ip link set lo up && "
            "touch /dev/mqueue/cove-q && echo ok > /tmp/ready;"
        )
    )
    wait_for(
        lambda: os.path.exists(f"/proc/{a_pid}/root/tmp/ready"),
        what="the first container to set up its namespaces",
    )
    b = make_bundle("joiner")
    b.set_namespace("network", f"/proc/{a_pid}/ns/net")
    b.set_namespace("ipc", f"/proc/{a_pid}/ns/ipc")
    out = runner.sh(
        "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; ls /dev/mqueue; "
        "ip -o addr show dev lo",
        bundle=b,
    ).stdout
    lines = out.splitlines()
    assert lines[0] == os.readlink(f"/proc/{a_pid}/ns/net")
    assert lines[1] == os.readlink(f"/proc/{a_pid}/ns/ipc")
    assert lines[2] == "cove-q", out
    assert "127.0.0.42/32" in out


def test_join_pid_namespace_of_container(rt, runner, bundle, make_bundle):
    _a_id, a_pid = runner.start_detached(*sleeper())
    b = make_bundle("joiner")
    b.set_namespace("pid", f"/proc/{a_pid}/ns/pid")
    out = runner.sh("readlink /proc/self/ns/pid; echo $$; ps -o pid,args", bundle=b).stdout
    lines = out.splitlines()
    assert lines[0] == os.readlink(f"/proc/{a_pid}/ns/pid")
    assert lines[1] != "1"
    procs = dict(l.split(None, 1) for l in lines[3:] if l.strip())
    assert "1" in procs, out
    assert "sleep 1000" in out, out


def test_join_pid_namespace_leaves_other_container_alone(rt, runner, bundle, make_bundle):
    a_id, a_pid = runner.start_detached(*sleeper())
    b = make_bundle("joiner")
    b.set_namespace("pid", f"/proc/{a_pid}/ns/pid")
    b_id, b_pid = runner.start_detached(*sleeper(), bundle=b)
    assert os.readlink(f"/proc/{b_pid}/ns/pid") == os.readlink(f"/proc/{a_pid}/ns/pid")
    # `ps` of each container lists its own processes only
    a_ps = set(rt.json("ps", "-f", "json", a_id))
    b_ps = set(rt.json("ps", "-f", "json", b_id))
    assert a_pid in a_ps and b_pid in b_ps
    assert not a_ps & b_ps
    rt.run("kill", "--all", b_id, "KILL")
    rt.wait_status(b_id, "stopped")
    rt.run("delete", b_id)
    assert pid_alive(a_pid)
    assert rt.status(a_id) == "running"


@pytest.mark.parametrize(
    "mappings",
    [
        "repeated",
        pytest.param(
            "omitted",
            marks=not_in_runc("a joined user namespace needs the mappings repeated"),
        ),
    ],
)
def test_join_user_namespace_of_container(rt, runner, bundle, make_bundle, mappings):
    userns(bundle)
    _a_id, a_pid = runner.start_detached(*sleeper())
    b = make_bundle("joiner")
    if mappings == "repeated":
        userns(b)
    b.set_namespace("user", f"/proc/{a_pid}/ns/user")
    b_id, b_pid = runner.start_detached(*sleeper(), bundle=b)
    assert os.readlink(f"/proc/{b_pid}/ns/user") == os.readlink(f"/proc/{a_pid}/ns/user")
    assert proc_status_field(b_pid, "Uid").split() == ["100000"] * 4
    out = rt.run("exec", b_id, "sh", "-c", "id -u; cat /proc/self/uid_map").stdout.split()
    assert out == ["0", "0", "100000", "65536"]


# --- user namespace as root --------------------------------------------------------


def test_userns_tmpfs_files_owned_by_container_root(runner, bundle):
    userns(bundle)
    out = runner.sh(
        "cat /proc/self/uid_map; touch /tmp/f; mkdir /tmp/d; stat -c '%u:%g' /tmp/f /tmp/d"
    ).stdout.splitlines()
    assert out[0].split() == ["0", "100000", "65536"]
    assert out[1:] == ["0:0", "0:0"]


def test_userns_uid_maps_to_host_uid(rt, runner, bundle):
    userns(bundle)
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    bundle.write()
    cid, pid = runner.start_detached(*sleeper())
    assert proc_status_field(pid, "Uid").split() == ["101000"] * 4
    assert proc_status_field(pid, "Gid").split() == ["101000"] * 4
    out = rt.run("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map").stdout.split()
    assert out == ["1000", "0", "100000", "65536"]


# --- update --------------------------------------------------------------------------


@pytest.fixture
def v1_dirs(bundle):
    """Factory: v1_dirs(*controllers) -> host directories of the bundle's
    cgroup, skipping the test without those v1 hierarchies."""

    def get(*controllers):
        dirs = [cgroup_v1_path(c, bundle.cgroups_path) for c in controllers]
        if None in dirs:
            pytest.skip(f"no cgroup v1 {'/'.join(controllers)} hierarchies on this host")
        return dirs

    return get


def test_update_pids_and_cpu(rt, runner, v1_dirs):
    pids_dir, cpu_dir = v1_dirs("pids", "cpu")
    cid, _pid = runner.start_detached(*sleeper())
    rt.run("update", "--pids-limit", "20", cid)
    assert read_file(os.path.join(pids_dir, "pids.max")).strip() == "20"
    rt.run("update", "--cpu-quota", "50000", "--cpu-period", "100000", cid)
    assert read_file(os.path.join(cpu_dir, "cpu.cfs_period_us")).strip() == "100000"
    assert read_file(os.path.join(cpu_dir, "cpu.cfs_quota_us")).strip() == "50000"
    # an update of one resource leaves the others alone
    rt.run("update", "--pids-limit", "30", cid)
    assert read_file(os.path.join(cpu_dir, "cpu.cfs_quota_us")).strip() == "50000"
    assert read_file(os.path.join(pids_dir, "pids.max")).strip() == "30"


def test_update_memory_suffix_and_unlimited_quota(rt, runner, v1_dirs):
    mem_dir, cpu_dir = v1_dirs("memory", "cpu")
    cid, _pid = runner.start_detached(*sleeper())
    rt.run("update", "--memory", "100m", cid)
    assert read_file(os.path.join(mem_dir, "memory.limit_in_bytes")).strip() == str(100 << 20)
    rt.run("update", "--cpu-quota", "20000", cid)
    assert read_file(os.path.join(cpu_dir, "cpu.cfs_quota_us")).strip() == "20000"
    rt.run("update", "--cpu-quota", "-1", cid)
    assert read_file(os.path.join(cpu_dir, "cpu.cfs_quota_us")).strip() == "-1"


def test_update_invalid_memory(rt, runner, v1_dirs):
    (mem_dir,) = v1_dirs("memory")
    cid, _pid = runner.start_detached(*sleeper())
    before = read_file(os.path.join(mem_dir, "memory.limit_in_bytes"))
    proc = rt.run("update", "--memory", "abc", cid, check=False)
    assert proc.returncode != 0
    assert "abc" in proc.stderr
    assert read_file(os.path.join(mem_dir, "memory.limit_in_bytes")) == before
    assert rt.status(cid) == "running"


def test_update_stopped_container_fails(rt, runner):
    cid, _st = runner.create("true")
    rt.run("start", cid)
    rt.wait_status(cid, "stopped")
    proc = rt.run("update", "--pids-limit", "20", cid, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip()


# --- init killed from outside ----------------------------------------------------------


def test_state_after_init_killed_externally(rt, runner, bundle):
    cid, pid = runner.start_detached(*sleeper())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), what="the init to die")
    rt.wait_status(cid, "stopped")
    st = rt.state(cid)
    assert st["status"] == "stopped"
    assert st.get("pid", 0) == 0
    rt.run("delete", cid)
    assert rt.run("state", cid, check=False).returncode != 0
    assert_no_cgroup_dirs(bundle.cgroups_path)


def test_created_container_killed_externally(rt, runner, bundle):
    cid, st = runner.create(*sleeper())
    os.kill(st["pid"], signal.SIGKILL)
    wait_for(lambda: not pid_alive(st["pid"]), what="the init to die")
    rt.wait_status(cid, "stopped")
    assert rt.run("start", cid, check=False).returncode != 0
    rt.run("delete", cid)
    assert_no_cgroup_dirs(bundle.cgroups_path)


# --- a failed create leaves nothing behind -------------------------------------------


def host_mounts():
    """(mount id, mount point) of every mount of the test's mount namespace."""
    with open("/proc/self/mountinfo") as f:
        return {(l.split()[0], l.split()[4]) for l in f}


FAILING_HOOK = {"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}


def make_create_fail(how, bundle, test_tmp, netns, request):
    if how == "prestart-hook":
        bundle.config["hooks"] = {"prestart": [FAILING_HOOK]}
    elif how == "create-runtime-hook":
        bundle.config["hooks"] = {"createRuntime": [FAILING_HOOK]}
    elif how == "mount-source":
        bundle.add_mount("/tmp/x", "bind", os.path.join(test_tmp, "missing-src"), ["bind"])
    elif how == "seccomp-listener":
        bundle.linux["seccomp"] = notify_profile(os.path.join(test_tmp, "no-agent.sock"))
    elif how == "userns-hook":
        userns(bundle)
        bundle.config["hooks"] = {"prestart": [FAILING_HOOK]}
    elif how == "timens-hook":
        request.getfixturevalue("time_ns")
        bundle.set_namespace("time")
        bundle.linux["timeOffsets"] = {"monotonic": {"secs": 100, "nanosecs": 0}}
        bundle.config["hooks"] = {"prestart": [FAILING_HOOK]}
    elif how == "joined-netns-hook":
        # the two-stage path, which joins an existing namespace first
        _name, path = netns()
        bundle.set_namespace("network", path)
        bundle.config["hooks"] = {"prestart": [FAILING_HOOK]}
    else:
        raise ValueError(how)
    bundle.set_args(*sleeper())


@pytest.mark.parametrize(
    "how",
    [
        "prestart-hook",
        "create-runtime-hook",
        "mount-source",
        "seccomp-listener",
        "userns-hook",
        "timens-hook",
        "joined-netns-hook",
    ],
)
def test_failed_create_leaves_nothing_behind(
    rt, bundle, container_id, test_tmp, netns, request, how
):
    make_create_fail(how, bundle, test_tmp, netns, request)
    mounts_before = host_mounts()
    cid = container_id()
    pid_file = os.path.join(test_tmp, "init.pid")
    proc = rt.run("create", "--pid-file", pid_file, "--bundle", bundle.path, cid, check=False)
    assert proc.returncode != 0
    # the error names what failed
    expect = {"mount-source": "missing-src", "seccomp-listener": "no-agent.sock"}
    assert expect.get(how, "hook") in proc.stderr, proc.stderr
    # no state, no pid file
    assert os.listdir(rt.root) == []
    assert not os.path.exists(pid_file)
    assert rt.run("state", cid, check=False).returncode != 0
    # no cgroup in any hierarchy, no process in one, no runtime process
    # (their command lines name the container)
    assert_no_cgroup_dirs(bundle.cgroups_path)
    assert procs_in_cgroup(bundle.cgroups_path) == set()
    assert procs_mentioning(cid) == set()
    # no new mount on the host (other sessions may mount elsewhere meanwhile)
    ours = (test_tmp, bundle.rootfs, rt.root)
    new = [m for m in host_mounts() - mounts_before if m[1].startswith(ours) or cid in m[1]]
    assert new == []
