"""OCI runtime features beyond the basics: time namespace, seccomp notify,
events, fd passing, rootfs propagation, LSM and cgroup manager errors,
the hybrid cgroup layout, joining other containers' namespaces, user
namespaces, update, and what is left after an external kill or a failed
create."""

import array
import json
import os
import select
import signal
import socket
import subprocess
import time

import pytest

from conftest import (
    DEFAULT_TIMEOUT,
    cgroup_mounts,
    cgroup_v1_path,
    dump_state_error,
    mountinfo_mountpoints,
    pid_alive,
    proc_status_field,
    read_file,
    sleeper,
    wait_for,
)

UNIFIED = "/sys/fs/cgroup/unified"


def unified_is_cgroup2():
    return any(mp == UNIFIED and fs == "cgroup2" for mp, fs, _ in cgroup_mounts())


def all_cgroup_dirs(cgroups_path):
    """Host directories of cgroups_path in every hierarchy (existing or not)."""
    return [mp + cgroups_path for mp, _fs, _opts in cgroup_mounts()]


def procs_in_cgroup(cgroups_path):
    """Pids on the host whose /proc/PID/cgroup names cgroups_path."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = read_file(f"/proc/{entry}/cgroup")
        except OSError:
            continue
        for line in text.splitlines():
            path = line.split(":", 2)[-1]
            if path == cgroups_path or path.startswith(cgroups_path + "/"):
                found.add(int(entry))
                break
    return found


# --- time namespace ---------------------------------------------------------


DAY = 86400


def test_time_namespace_offsets(runner, bundle):
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("the kernel has no time namespaces")
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
    inside = float(out[3].split()[0])
    assert before + DAY * 2000 - 1 <= inside <= after + DAY * 2000 + 1


def test_time_offsets_without_time_namespace_rejected(rt, bundle, container_id):
    bundle.remove_namespace("time")
    bundle.linux["timeOffsets"] = {"monotonic": {"secs": 10, "nanosecs": 0}}
    bundle.set_sh("echo SHOULD-NOT-RUN")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "SHOULD-NOT-RUN" not in proc.stdout
    assert "linux.timeOffsets" in proc.stderr


# --- seccomp notify ---------------------------------------------------------


def notify_profile(listener, metadata="meta-x"):
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": listener,
        "listenerMetadata": metadata,
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    }


class SeccompAgent:
    """A listener on a unix socket receiving seccomp notify fds."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(10)

    def receive(self, timeout=10):
        """Accept one connection; return (state dict, [fds])."""
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(timeout)
            data = b""
            fds = []
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
        raise AssertionError(f"incomplete seccomp state: {data!r} (fds {fds})")

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


def check_seccomp_state(st, cid, status_ok):
    assert st["ociVersion"]
    assert st["fds"] == ["seccompFd"]
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert st["metadata"] == "meta-x"
    assert st["state"]["id"] == cid
    assert st["state"]["status"] in status_ok


def test_seccomp_notify_listener(rt, bundle, container_id, seccomp_agent, test_tmp):
    agent = seccomp_agent()
    bundle.linux["seccomp"] = notify_profile(agent.path)
    # the mkdir blocks until the agent answers or goes away
    bundle.set_sh("mkdir /tmp/x; echo rc=$?; test -d /tmp/x && echo MADE; true")
    cid = container_id()
    out_path = os.path.join(test_tmp, "notify.out")
    with open(out_path, "w+b") as out:
        rt.run("create", "--bundle", bundle.path, cid, stdout=out, stderr=out)
        st, fds = agent.receive()
        try:
            assert len(fds) == 1, fds
            check_notify_fd(fds[0])
            check_seccomp_state(st, cid, ("creating", "created"))
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
    proc = subprocess.Popen(
        [rt.binary, "--root", rt.root, "exec", cid, "sh", "-c",
         "mkdir /tmp/y; echo rc=$?"],
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
            check_seccomp_state(st2, cid, ("running",))
            assert st2["pid"] != st["pid"]
        finally:
            for fd in fds2:
                os.close(fd)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "rc=1" in stdout, (stdout, stderr)
    assert "Function not implemented" in stderr


# --- events -----------------------------------------------------------------


def test_events_stats_fields(rt, runner):
    cid, pid = runner.start_detached(
        "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; " + sleeper()[2]
    )
    time.sleep(0.2)
    ev = json.loads(rt.run("events", "--stats", cid, timeout=10).stdout)
    data = ev["data"]
    assert data["cpu"]["usage"]["total"] > 0
    assert data["memory"]["usage"]["usage"] > 0
    assert data["pids"]["current"] >= 1


def test_events_interval_streams_until_exit(rt, runner, test_tmp):
    cid, pid = runner.start_detached("sh", "-c", "sleep 1")
    out_path = os.path.join(test_tmp, "events.out")
    with open(out_path, "wb") as out:
        p = subprocess.Popen(
            [rt.binary, "--root", rt.root, "events", "--interval", "100ms", cid],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
                pytest.fail("events did not stop when the container exited")
    lines = [json.loads(l) for l in read_file(out_path).splitlines() if l.strip()]
    stats = [e for e in lines if e["type"] == "stats"]
    assert len(stats) >= 3, lines
    assert all(e["id"] == cid for e in stats)


def test_events_oom(rt, runner, bundle, test_tmp):
    limit = 16 * 1024 * 1024
    bundle.linux.setdefault("resources", {})["memory"] = {"limit": limit, "swap": limit}
    bundle.write()
    # dd's 64 MiB buffer is faulted in by the read from /dev/zero; the
    # container exits once dd was killed, which ends `events`
    cid, _st = runner.create(
        "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd-rc=$?"
    )
    out_path = os.path.join(test_tmp, "events.out")
    with open(out_path, "wb") as out:
        p = subprocess.Popen(
            [rt.binary, "--root", rt.root, "events", "--interval", "100ms", cid],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            # the first stats line shows that events is watching
            wait_for(lambda: read_file(out_path, "").strip(), what="events output")
            rt.run("start", cid)

            def seen_oom():
                text = read_file(out_path, "")
                return '"oom"' in text or p.poll() is not None

            wait_for(seen_oom, timeout=15, what="an oom event")
            # the last lines come once the container stopped
            rt.wait_status(cid, "stopped")
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    lines = [json.loads(l) for l in read_file(out_path).splitlines() if l.strip()]
    ooms = [e for e in lines if e["type"] == "oom"]
    assert ooms, lines
    assert ooms[0]["id"] == cid
