"""The engine's container lifecycle: `cove run/create/start/stop/restart/
kill/wait/rm/ps/logs/inspect/pause/unpause/rename/exec/container prune`
with real containers of the busybox image.

Every test gets an `engine` (conftest.py): its own --root (a copy of a
template root with localhost/busybox loaded) and --runroot, and every
container goes below the test's /cove-test/<uuid> cgroup parent with
--network none.  Teardown removes all containers with `rm -f` and fails the
test if a mount, a process (State.Pid, State.ConmonPid), a process in the
test's cgroups or a runtime state directory is left.

Resource limits, privileges, the process options and mounts/volumes are in
test_engine_resources.py.
"""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import COVE_BINARY, cgroup_mounts, cgroup_v1_path, pid_alive, read_file, wait_for

IMAGE = "localhost/busybox"
ID_RE = re.compile(r"^[0-9a-f]{64}$")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) ")
# pid 1 of a pid namespace ignores SIGTERM unless it has a handler: busybox
# sh as pid 1 has none, so only SIGKILL stops this one
IGNORES_TERM = "while :; do sleep 0.1; done"
TRAPS_TERM = 'trap "exit 0" TERM; while :; do sleep 0.1; done'


def cove_commands():
    p = subprocess.run([COVE_BINARY, "--help"], capture_output=True, text=True, timeout=10)
    cmds = set()
    in_cmds = False
    for line in p.stdout.splitlines():
        if line.strip() == "COMMANDS:":
            in_cmds = True
        elif in_cmds and line.strip() and not line.startswith("   "):
            in_cmds = False
        elif in_cmds and line.strip():
            cmds.add(line.split()[0])
    return cmds


def ctr_cgroup_dir(engine, cid, controller):
    """Host directory of the container's cgroup for controller (v1), or
    of its cgroup2 directory."""
    path = f"{engine.cgparent}/{cid}"
    d = cgroup_v1_path(controller, path)
    if d and os.path.isdir(d):
        return d
    for mountpoint, fstype, _opts in cgroup_mounts():
        if fstype == "cgroup2" and os.path.isdir(mountpoint + path):
            return mountpoint + path
    return None


def cap_eff(text):
    for line in text.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no CapEff in {text!r}")


CAP_CHOWN, CAP_NET_RAW, CAP_SYS_ADMIN, CAP_SYS_TIME = 0, 13, 21, 25


def log_lines(engine, name, *args):
    p = engine.run("logs", *args, name)
    return p.stdout.splitlines(), p.stderr.splitlines()


# ---------------------------------------------------------------------------
# the foreground
# ---------------------------------------------------------------------------


def test_run_foreground_output_and_exit_code(engine):
    p = engine.run_ctr(IMAGE, "sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 3",
                       check=False)
    assert p.returncode == 3, p.stderr
    assert p.stdout == "out1\nout2\n"
    assert p.stderr == "err1\n"
    p = engine.run_ctr(IMAGE, "sh", "-c", "exit 0", check=False)
    assert p.returncode == 0
    p = engine.run_ctr(IMAGE, "sh", "-c", "exit 255", check=False)
    assert p.returncode == 255


def test_run_foreground_stdin_closed(engine):
    # without -i the container's stdin is empty (not the caller's)
    p = engine.run_ctr(IMAGE, "cat", input="should not be read\n", check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""


def test_run_interactive_stdin(engine):
    p = engine.run_ctr("-i", IMAGE, "sh", "-c", "tr a-z A-Z", input="hello\nworld\n")
    assert p.stdout == "HELLO\nWORLD\n"


def test_run_foreground_killed_is_128_plus_signal(engine):
    proc = engine.popen("run", *engine.create_opts(), "--name", "fg", IMAGE, "sleep", "100")
    try:
        wait_for(lambda: engine.ps_json("--filter", "name=fg", "--filter", "status=running"),
                 timeout=10,
                 what="the foreground container to run")
        engine.record_pids()
        engine.run("kill", "fg")
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGKILL, err
    st = engine.inspect("fg")["State"]
    assert st["Status"] == "exited"
    assert st["ExitCode"] == 137


def test_run_foreground_forwards_signals(engine):
    proc = engine.popen(
        "run", *engine.create_opts(), "--name", "fg", IMAGE,
        "sh", "-c", 'trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.05; done',
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        engine.record_pids()
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 5, err
    assert "got-term" in out
    assert elapsed < 3


def test_run_foreground_large_output(engine):
    p = engine.run_ctr(IMAGE, "seq", "1", "100000")
    assert p.stdout == "".join(f"{i}\n" for i in range(1, 100001))


def test_run_foreground_cove_killed(engine):
    # the foreground cove is the monitor: when it dies the container goes too
    proc = engine.popen("run", *engine.create_opts(), "--name", "fg", IMAGE,
                        "sh", "-c", "echo ready; exec sleep 100")
    try:
        assert proc.stdout.readline() == "ready\n"
        engine.record_pids()
        proc.kill()
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    st = wait_for(lambda: (lambda s: s if s["Status"] == "exited" else None)(
        engine.inspect("fg")["State"]), timeout=10, what="the container to be exited")
    assert st["Pid"] == 0
    assert engine.live_pids() == []


def test_rm_force_of_attached_container(engine):
    proc = engine.popen("run", *engine.create_opts(), "--name", "fg", IMAGE,
                        "sh", "-c", "echo ready; exec sleep 100")
    try:
        assert proc.stdout.readline() == "ready\n"
        engine.record_pids()
        engine.run("rm", "-f", "fg")
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 137
    assert engine.ids() == []


def test_run_missing_command_is_a_clear_error(engine):
    p = engine.run_ctr("--name", "miss", IMAGE, "nosuchcmd", check=False)
    assert p.returncode != 0
    assert "nosuchcmd" in p.stderr
    assert "not found" in p.stderr
    p = engine.run_ctr("--rm", IMAGE, "/etc/passwd", check=False)
    assert p.returncode != 0
    assert "/etc/passwd" in p.stderr and "ermission denied" in p.stderr


def test_run_missing_command_exits_127(engine):
    p = engine.run_ctr("--rm", IMAGE, "nosuchcmd", check=False)
    assert p.returncode == 127, p.stderr


def test_run_not_executable_exits_126(engine):
    p = engine.run_ctr("--rm", IMAGE, "/etc/passwd", check=False)
    assert p.returncode == 126, p.stderr


def test_failed_start_is_not_recorded_as_success(engine):
    engine.run_ctr("--name", "miss", IMAGE, "nosuchcmd", check=False)
    st = engine.inspect("miss")["State"]
    assert st["Status"] == "created" or st["ExitCode"] == 127, st


def test_failed_start_leaves_nothing_running(engine):
    engine.run_ctr("--name", "miss", IMAGE, "nosuchcmd", check=False)
    st = engine.inspect("miss")["State"]
    assert not st["Running"]
    assert st["Pid"] == 0
    assert engine.mounts() == []
    assert os.listdir(os.path.join(engine.runroot, "runtime")) == []
    # and it can be removed without --force
    engine.run("rm", "miss")
    assert engine.ids() == []


# ---------------------------------------------------------------------------
# detached, ps
# ---------------------------------------------------------------------------


def test_run_detached_and_ps(engine):
    cid = engine.run_d("--name", "web", IMAGE, "sleep", "100")
    assert ID_RE.match(cid), cid
    table = engine.run("ps").stdout.splitlines()
    assert table[0].split()[:2] == ["CONTAINER", "ID"]
    rows = [r for r in table[1:] if r.startswith(cid[:12])]
    assert len(rows) == 1, table
    assert " Up " in rows[0] and rows[0].rstrip().endswith("web"), rows[0]
    assert engine.run("ps", "-q").stdout.split() == [cid[:12]]
    assert engine.run("ps", "-q", "--no-trunc").stdout.split() == [cid]
    [c] = engine.ps_json("-a")
    assert c["Id"] == cid
    assert c["Names"] == ["web"]
    assert c["State"] == "running"
    assert c["Pid"] > 0 and os.path.exists(f"/proc/{c['Pid']}")
    # the container's init is in <cgroup-parent>/<id>
    cgroup = read_file(f"/proc/{c['Pid']}/cgroup")
    assert f"{engine.cgparent}/{cid}" in cgroup, cgroup


def test_ps_filters(engine):
    web = engine.run_d("--name", "web", "--label", "app=x", "--label", "tier=front",
                       IMAGE, "sleep", "100")
    other = engine.run_d("--name", "other", IMAGE, "sleep", "100")
    done = engine.run_d("--name", "done", "--label", "app=y", IMAGE, "true")
    engine.wait_status("done", "exited")

    def q(*filters, all_=True):
        args = ["-a"] if all_ else []
        for f in filters:
            args += ["--filter", f]
        return set(engine.run("ps", "-q", "--no-trunc", *args).stdout.split())

    assert q(all_=False) == {web, other}
    assert q() == {web, other, done}
    assert q("name=web") == {web}
    assert q("name=nosuch") == set()
    assert q("status=exited") == {done}
    assert q("status=running") == {web, other}
    assert q("label=app") == {web, done}
    assert q("label=app=x") == {web}
    assert q("label=app=z") == set()
    assert q("id=" + other[:10]) == {other}
    assert q("name=web", "status=exited") == set()
    assert q("label=app", "status=running") == {web}
    assert q("ancestor=" + IMAGE) == {web, other, done}
    assert q("ancestor=localhost/other") == set()
    made = engine.create_ctr("--name", "made", IMAGE, "true").stdout.strip()
    assert q("status=created") == {made}
    rows = {c["Id"]: c for c in engine.ps_json("-a")}
    assert rows[web]["Labels"] == {"app": "x", "tier": "front"}
    assert rows[done]["State"] == "exited"
    assert rows[done]["ExitCode"] == 0


def test_ps_filter_without_all_lists_running_only(engine):
    run = engine.run_d("--name", "run1", "--label", "k=v", IMAGE, "sleep", "100")
    done = engine.run_d("--name", "done1", "--label", "k=v", IMAGE, "true")
    engine.wait_status("done1", "exited")
    # status= asks for the state itself: every container (podman, docker)
    assert engine.run("ps", "-q", "--no-trunc", "--filter",
                      "status=exited").stdout.split() == [done]
    assert engine.run("ps", "-q", "--no-trunc", "--filter",
                      "label=k=v").stdout.split() == [run]
    assert engine.run("ps", "-q", "--filter", "name=done1").stdout.split() == []


def test_ps_bad_filter_fails(engine):
    p = engine.fail("ps", "--filter", "nokey")
    assert "filter" in p.stderr


# ---------------------------------------------------------------------------
# logs
# ---------------------------------------------------------------------------


def test_logs_after_exit(engine):
    engine.run_d("--name", "lg", IMAGE, "sh", "-c",
                 "echo out1; echo err1 >&2; echo out2; echo err2 >&2")
    assert engine.run("wait", "lg").stdout.strip() == "0"
    out, err = log_lines(engine, "lg")
    assert out == ["out1", "out2"]
    assert err == ["err1", "err2"]


def test_logs_tail_and_timestamps(engine):
    engine.run_d("--name", "lg", IMAGE, "sh", "-c", "echo a; echo b; echo c")
    engine.run("wait", "lg")
    assert log_lines(engine, "lg", "--tail", "1")[0] == ["c"]
    assert log_lines(engine, "lg", "-n", "2")[0] == ["b", "c"]
    assert log_lines(engine, "lg", "--tail", "0")[0] == []
    out, _ = log_lines(engine, "lg", "-t")
    assert len(out) == 3
    for line, want in zip(out, "abc"):
        assert RFC3339_RE.match(line), line
        assert line.endswith(" " + want)


def test_logs_follow_returns_at_exit(engine):
    engine.run_d("--name", "lg", IMAGE, "sh", "-c",
                 "for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done")
    t0 = time.monotonic()
    p = engine.run("logs", "-f", "lg", timeout=10)
    elapsed = time.monotonic() - t0
    assert p.stdout.split() == [f"line{i}" for i in range(1, 6)]
    # it followed: the container ran for ~0.5 s after logs -f began
    assert elapsed >= 0.2
    assert engine.inspect("lg")["State"]["Status"] == "exited"


def test_logs_follow_of_exited_container_returns(engine):
    engine.run_d("--name", "lg", IMAGE, "echo", "x")
    engine.run("wait", "lg")
    p = engine.run("logs", "-f", "lg", timeout=5)
    assert p.stdout == "x\n"


def test_log_rotation(engine):
    script = ('i=0; while [ $i -lt 100 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; '
              'i=$((i+1)); done')
    engine.run_d("--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
                 IMAGE, "sh", "-c", script)
    engine.run("wait", "rot")
    c = engine.inspect("rot")
    assert c["HostConfig"]["LogConfig"]["MaxSize"] == 1024
    log = c["LogPath"]
    assert os.path.exists(log + ".1"), os.listdir(os.path.dirname(log))
    assert os.path.exists(log + ".2")
    assert not os.path.exists(log + ".3")
    for f in (log, log + ".1", log + ".2"):
        assert os.path.getsize(f) <= 1024, f
    out, _ = log_lines(engine, "rot")
    # the kept lines are the last ones, in order, none missing
    assert 10 < len(out) < 100
    first = 100 - len(out)
    assert out == [f"line-{i}-xxxxxxxxxxxxxxxxxxxxxxxx" for i in range(first, 100)]


def test_logs_follow_across_rotation(engine):
    script = ('i=0; while [ $i -lt 100 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; '
              'i=$((i+1)); sleep 0.005; done')
    engine.run_d("--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=2",
                 IMAGE, "sh", "-c", script)
    p = engine.run("logs", "-f", "rot", timeout=20)
    assert p.stdout.split() == [f"line-{i}-xxxxxxxxxxxxxxxxxxxxxxxx" for i in range(100)]


def test_logs_partial_lines(engine):
    engine.run_d("--name", "lg", IMAGE, "sh", "-c",
                 "printf abc; sleep 0.1; printf def; echo; printf tail")
    engine.run("wait", "lg")
    assert engine.run("logs", "lg").stdout == "abcdef\ntail"


def test_logs_since_until(engine):
    engine.run_d("--name", "lg", IMAGE, "sh", "-c", "echo a; echo b")
    engine.run("wait", "lg")
    assert log_lines(engine, "lg", "--since", "2000-01-01T00:00:00Z")[0] == ["a", "b"]
    assert log_lines(engine, "lg", "--since", "2200-01-01T00:00:00Z")[0] == []
    assert log_lines(engine, "lg", "--until", "2000-01-01T00:00:00Z")[0] == []
    assert log_lines(engine, "lg", "--since", "10m")[0] == ["a", "b"]
    p = engine.fail("logs", "--since", "yesterday-ish", "lg")
    assert "yesterday-ish" in p.stderr


def test_logs_large_output(engine):
    engine.run_d("--name", "lg", IMAGE, "seq", "1", "50000")
    engine.run("wait", "lg")
    assert engine.run("logs", "lg").stdout == "".join(f"{i}\n" for i in range(1, 50001))


# ---------------------------------------------------------------------------
# inspect
# ---------------------------------------------------------------------------


def test_inspect(engine):
    cid = engine.run_d("--name", "insp", "-e", "A=1", "-e", "B=two words", "-m", "32m",
                       IMAGE, "sh", "-c", "sleep 0.3; exit 5")
    c = engine.inspect("insp")
    assert c["Id"] == cid
    assert c["Name"] == "insp"
    assert c["State"]["Status"] == "running"
    assert c["State"]["Running"] is True
    assert c["State"]["Pid"] > 0
    assert c["State"]["ConmonPid"] > 0
    assert "A=1" in c["Config"]["Env"]
    assert "B=two words" in c["Config"]["Env"]
    assert c["Config"]["Cmd"] == ["sh", "-c", "sleep 0.3; exit 5"]
    assert c["HostConfig"]["Memory"] == 32 * 1024 * 1024
    assert c["HostConfig"]["CgroupParent"] == engine.cgparent
    assert engine.run("wait", "insp").stdout.strip() == "5"
    st = engine.inspect(cid[:12])["State"]
    assert st["Status"] == "exited"
    assert st["Running"] is False
    assert st["ExitCode"] == 5
    assert st["OOMKilled"] is False
    assert st["FinishedAt"] >= st["StartedAt"] > "0001"


def test_inspect_missing_container(engine):
    p = engine.fail("inspect", "nosuch")
    assert "nosuch" in p.stderr


# ---------------------------------------------------------------------------
# stop, kill, wait
# ---------------------------------------------------------------------------


def test_stop_sigkill_after_timeout(engine):
    engine.run_d("--name", "st", IMAGE, "sh", "-c", IGNORES_TERM)
    t0 = time.monotonic()
    engine.run("stop", "-t", "1", "st")
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed < 5, elapsed
    st = engine.inspect("st")["State"]
    assert st["Status"] == "exited"
    assert st["ExitCode"] == 137


def test_stop_timeout_option(engine):
    engine.run_d("--name", "st", "--stop-timeout", "1", IMAGE, "sh", "-c", IGNORES_TERM)
    t0 = time.monotonic()
    engine.run("stop", "st")
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed < 5, elapsed
    assert engine.inspect("st")["State"]["ExitCode"] == 137


def test_stop_of_container_trapping_term_is_quick(engine):
    engine.run_d("--name", "st", IMAGE, "sh", "-c", TRAPS_TERM)
    t0 = time.monotonic()
    engine.run("stop", "st")
    elapsed = time.monotonic() - t0
    assert elapsed < 2, elapsed
    st = engine.inspect("st")["State"]
    assert st["Status"] == "exited"
    assert st["ExitCode"] == 0


def test_stop_signal(engine):
    engine.run_d("--name", "st", "--stop-signal", "USR1", IMAGE, "sh", "-c",
                 'trap "exit 7" USR1; trap "exit 9" TERM; while :; do sleep 0.1; done')
    assert engine.inspect("st")["Config"]["StopSignal"] in ("SIGUSR1", "USR1", 10)
    t0 = time.monotonic()
    engine.run("stop", "st")
    assert time.monotonic() - t0 < 2
    assert engine.inspect("st")["State"]["ExitCode"] == 7


def test_stop_of_exited_container_succeeds(engine):
    engine.run_d("--name", "st", IMAGE, "true")
    engine.run("wait", "st")
    engine.run("stop", "st")
    assert engine.inspect("st")["State"]["ExitCode"] == 0


def test_kill_signal(engine):
    engine.run_d("--name", "k", IMAGE, "sh", "-c",
                 'trap "exit 42" USR1; trap "exit 43" USR2; while :; do sleep 0.05; done')
    engine.run("kill", "-s", "USR1", "k")
    assert engine.run("wait", "k").stdout.strip() == "42"
    engine.run("start", "k")
    engine.record_pids()
    engine.run("kill", "--signal", "12", "k")
    assert engine.run("wait", "k").stdout.strip() == "43"
    p = engine.fail("kill", "k")
    assert "not running" in p.stderr
    p = engine.fail("kill", "-s", "NOSUCHSIG", "k")
    assert "NOSUCHSIG" in p.stderr


def test_wait_several(engine):
    engine.run_d("--name", "w1", IMAGE, "sh", "-c", "sleep 0.2; exit 3")
    engine.run_d("--name", "w2", IMAGE, "sh", "-c", "exit 4")
    p = engine.run("wait", "w1", "w2", timeout=10)
    assert p.stdout.split() == ["3", "4"]
    # an exited container: at once
    t0 = time.monotonic()
    assert engine.run("wait", "w1").stdout.strip() == "3"
    assert time.monotonic() - t0 < 2
    p = engine.fail("wait", "nosuch")
    assert "no such container" in p.stderr


# ---------------------------------------------------------------------------
# restart policies, start, restart
# ---------------------------------------------------------------------------


def test_restart_on_failure_max_retries(engine):
    engine.run_d("--name", "rp", "--restart", "on-failure:2", IMAGE,
                 "sh", "-c", "echo run; sleep 0.1; exit 1")
    # logs -f and wait both follow the container through its restarts
    follow = engine.popen("logs", "-f", "rp")
    assert engine.run("wait", "rp", timeout=15).stdout.strip() == "1"
    c = engine.inspect("rp")
    assert c["State"]["Status"] == "exited"
    assert c["RestartCount"] == 2
    assert c["State"]["ExitCode"] == 1
    assert c["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"
    assert c["HostConfig"]["RestartPolicy"]["MaximumRetryCount"] == 2
    out, _ = follow.communicate(timeout=10)
    assert out.split() == ["run"] * 3
    time.sleep(0.3)
    c = engine.inspect("rp")
    assert c["RestartCount"] == 2 and c["State"]["Status"] == "exited"
    assert log_lines(engine, "rp")[0] == ["run"] * 3


def test_restart_on_failure_not_after_success(engine):
    engine.run_d("--name", "rp", "--restart", "on-failure", IMAGE, "sh", "-c", "exit 0")
    assert engine.run("wait", "rp").stdout.strip() == "0"
    time.sleep(0.3)
    c = engine.inspect("rp")
    assert c["RestartCount"] == 0
    assert c["State"]["Status"] == "exited"


def test_restart_always_after_kill_not_after_stop(engine):
    engine.run_d("--name", "ra", "--restart", "always", IMAGE, "sleep", "100")
    pid1 = engine.inspect("ra")["State"]["Pid"]
    engine.run("kill", "ra")

    def restarted():
        c = engine.inspect("ra")
        st = c["State"]
        ok = st["Status"] == "running" and c["RestartCount"] >= 1 and st["Pid"] not in (0, pid1)
        return c if ok else None

    c = wait_for(restarted, timeout=10, what="the always container to restart after kill")
    count = c["RestartCount"]
    engine.run("stop", "-t", "1", "ra")
    st = engine.inspect("ra")["State"]
    assert st["Status"] == "exited"
    assert st["ExitCode"] == 137
    time.sleep(0.5)
    c = engine.inspect("ra")
    assert c["State"]["Status"] == "exited", "an always container restarted after stop"
    assert c["RestartCount"] == count


def test_restart_policy_invalid(engine):
    p = engine.run_ctr("--restart", "sometimes", IMAGE, "true", check=False)
    assert p.returncode == 125
    assert "sometimes" in p.stderr
    assert engine.ids() == []


def test_create_then_start(engine):
    p = engine.create_ctr("--name", "cr", IMAGE, "sh", "-c", "echo started")
    cid = p.stdout.strip()
    assert ID_RE.match(cid)
    assert engine.inspect("cr")["State"]["Status"] == "created"
    assert engine.run("ps", "-q").stdout.split() == []
    assert engine.run("ps", "-aq").stdout.split() == [cid[:12]]
    engine.run("start", "cr")
    engine.record_pids()
    assert engine.run("wait", "cr").stdout.strip() == "0"
    assert log_lines(engine, "cr")[0] == ["started"]
    # an exited container starts again; its log goes on
    engine.run("start", "cr")
    engine.run("wait", "cr")
    assert log_lines(engine, "cr")[0] == ["started", "started"]


def test_start_attach(engine):
    engine.create_ctr("--name", "cr", IMAGE, "sh", "-c", "echo attached; exit 6")
    p = engine.run("start", "-a", "cr", check=False)
    assert p.returncode == 6
    assert p.stdout == "attached\n"


def test_restart_command(engine):
    engine.run_d("--name", "rs", IMAGE, "sh", "-c", TRAPS_TERM)
    pid1 = engine.inspect("rs")["State"]["Pid"]
    t0 = time.monotonic()
    engine.run("restart", "rs")
    assert time.monotonic() - t0 < 3
    st = engine.inspect("rs")["State"]
    assert st["Status"] == "running"
    assert st["Pid"] not in (0, pid1)
    wait_for(lambda: not pid_alive(pid1), timeout=5, what="the old init to be gone")


# ---------------------------------------------------------------------------
# rm, --rm, names
# ---------------------------------------------------------------------------


def test_run_rm_foreground(engine):
    p = engine.run_ctr("--rm", "--name", "tmp", IMAGE, "sh", "-c", "echo hi; exit 2",
                       check=False)
    assert p.returncode == 2
    assert p.stdout == "hi\n"
    assert engine.ids() == []
    assert engine.fail("inspect", "tmp")


def test_run_rm_detached(engine):
    engine.run_d("--rm", "--name", "tmp", IMAGE, "sh", "-c", "sleep 0.2")
    wait_for(lambda: engine.ids() == [], timeout=10, what="the --rm container to go")
    assert not os.listdir(os.path.join(engine.root, "containers"))


def test_rm_running_needs_force(engine):
    cid = engine.run_d("--name", "r", IMAGE, "sleep", "100")
    pid = engine.inspect("r")["State"]["Pid"]
    p = engine.fail("rm", "r")
    assert "running" in p.stderr and "force" in p.stderr, p.stderr
    assert engine.status("r") == "running"
    t0 = time.monotonic()
    p = engine.run("rm", "-f", "r")
    assert time.monotonic() - t0 < 5
    assert cid in p.stdout
    assert engine.ids() == []
    assert engine.live_pids() == []
    assert not pid_alive(pid)
    assert not os.path.exists(os.path.join(engine.root, "containers", cid))
    assert not os.path.exists(os.path.join(engine.root, "overlay-containers", cid))
    assert ctr_cgroup_dir(engine, cid, "memory") is None
    p = engine.fail("rm", "r")
    assert "no such container" in p.stderr


def test_rm_paused_with_force(engine):
    engine.run_d("--name", "pz", IMAGE, "sleep", "100")
    engine.run("pause", "pz")
    engine.run("rm", "-f", "pz", timeout=10)
    assert engine.ids() == []


def test_container_prune(engine):
    keep = engine.run_d("--name", "keep", IMAGE, "sleep", "100")
    engine.run_d("--name", "gone", IMAGE, "true")
    engine.run("wait", "gone")
    engine.create_ctr("--name", "made", IMAGE, "true")
    engine.run("container", "prune", "-f", check=False)
    left = set(engine.run("ps", "-aq", "--no-trunc").stdout.split())
    assert keep in left
    assert engine.run("ps", "-aq", "--filter", "name=gone").stdout.split() == []


def test_generated_names_are_unique(engine):
    ids = [engine.run_d(IMAGE, "true") for _ in range(3)]
    names = {c["Names"][0] for c in engine.ps_json("-a")}
    assert len(names) == 3
    for n in names:
        assert re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", n), n
    assert len(set(ids)) == 3


def test_name_in_use_and_invalid(engine):
    engine.run_d("--name", "same", IMAGE, "sleep", "100")
    p = engine.run_ctr("--name", "same", IMAGE, "true", check=False)
    assert p.returncode == 125
    assert "already in use" in p.stderr
    p = engine.run_ctr("--name", "bad/name", IMAGE, "true", check=False)
    assert p.returncode == 125
    assert "bad/name" in p.stderr
    assert len(engine.ids()) == 1


def test_concurrent_runs_with_the_same_name(engine):
    for round_ in range(3):
        name = f"same{round_}"
        args = ("run", *engine.create_opts(), "-d", "--name", name, IMAGE, "sleep", "100")
        procs = [engine.popen(*args) for _ in range(2)]
        results = [(p.wait(timeout=20), *p.communicate()) for p in procs]
        ok = [r for r in results if r[0] == 0]
        bad = [r for r in results if r[0] != 0]
        assert len(ok) == 1, results
        assert len(bad) == 1, results
        assert "already in use" in bad[0][2], bad[0]
        assert ID_RE.match(ok[0][1].strip())
        rows = engine.ps_json("-a", "--filter", f"name={name}")
        assert [r["Id"] for r in rows] == [ok[0][1].strip()]
        engine.record_pids()
    assert len(engine.ids()) == 3


def test_parallel_runs_and_removes(engine):
    args = ("run", *engine.create_opts(), "-d", IMAGE, "sleep", "100")
    procs = [engine.popen(*args) for _ in range(8)]
    results = [(p.wait(timeout=30), *p.communicate()) for p in procs]
    assert all(r[0] == 0 for r in results), results
    ids = {r[1].strip() for r in results}
    assert len(ids) == 8
    engine.record_pids()
    rows = engine.ps_json()
    assert {r["Id"] for r in rows} == ids
    assert len({r["Names"][0] for r in rows}) == 8
    procs = [engine.popen("rm", "-f", i) for i in ids]
    results = [(p.wait(timeout=30), *p.communicate()) for p in procs]
    assert all(r[0] == 0 for r in results), results
    assert engine.ids() == []
    assert engine.mounts() == []


def test_concurrent_stop_and_rm(engine):
    engine.run_d("--name", "cc", IMAGE, "sh", "-c",
                 'trap "sleep 0.3; exit 0" TERM; while :; do sleep 0.05; done')
    procs = [engine.popen("stop", "cc"), engine.popen("rm", "-f", "cc"),
             engine.popen("rm", "-f", "cc")]
    results = [(p.wait(timeout=30), *p.communicate()) for p in procs]
    # each either did its work or found the container gone
    for rc, _out, err in results:
        assert rc == 0 or "no such container" in err, results
    assert engine.ids() == []


def test_rename(engine):
    cid = engine.run_d("--name", "old", IMAGE, "sleep", "100")
    engine.run_d("--name", "taken", IMAGE, "true")
    engine.run("rename", "old", "new")
    assert engine.inspect("new")["Id"] == cid
    assert engine.run("inspect", "old", check=False).returncode != 0
    [row] = engine.ps_json("--filter", "name=new")
    assert row["Names"] == ["new"]
    p = engine.fail("rename", "new", "taken")
    assert "already in use" in p.stderr
    assert engine.inspect("new")["Id"] == cid
    # the old name is free again
    engine.run_d("--name", "old", IMAGE, "true")


# ---------------------------------------------------------------------------
# pause / unpause
# ---------------------------------------------------------------------------


def test_pause_unpause(engine):
    cid = engine.run_d("--name", "pz", IMAGE, "sh", "-c",
                       "i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done")
    wait_for(lambda: len(log_lines(engine, "pz")[0]) > 2, timeout=5, what="output")
    engine.run("pause", "pz")
    c = engine.inspect("pz")
    assert c["State"]["Status"] == "paused"
    assert c["State"]["Paused"] is True
    assert "(Paused)" in engine.run("ps").stdout
    assert [r["State"] for r in engine.ps_json("--filter", "status=paused")] == ["paused"]
    freezer = ctr_cgroup_dir(engine, cid, "freezer")
    if freezer and os.path.exists(os.path.join(freezer, "freezer.state")):
        assert read_file(os.path.join(freezer, "freezer.state")).strip() == "FROZEN"
    n1 = len(log_lines(engine, "pz")[0])
    time.sleep(0.3)
    assert len(log_lines(engine, "pz")[0]) == n1, "output went on while paused"
    p = engine.fail("pause", "pz")
    assert "paused" in p.stderr
    engine.run("unpause", "pz")
    assert engine.status("pz") == "running"
    wait_for(lambda: len(log_lines(engine, "pz")[0]) > n1 + 2, timeout=5,
             what="output after unpause")
    p = engine.fail("unpause", "pz")
    assert "not paused" in p.stderr or "running" in p.stderr


def test_stop_paused_container(engine):
    engine.run_d("--name", "pz", IMAGE, "sh", "-c", TRAPS_TERM)
    engine.run("pause", "pz")
    t0 = time.monotonic()
    engine.run("stop", "-t", "2", "pz", timeout=15)
    assert time.monotonic() - t0 < 5
    assert engine.status("pz") == "exited"


def test_kill_paused_container(engine):
    engine.run_d("--name", "pz", IMAGE, "sleep", "100")
    engine.run("pause", "pz")
    p = engine.run("kill", "pz", check=False)
    if p.returncode != 0:
        assert "paused" in p.stderr
        return
    wait_for(lambda: engine.status("pz") == "exited", timeout=1.5,
             what="the killed paused container to exit")


# ---------------------------------------------------------------------------
# --init, exec
# ---------------------------------------------------------------------------


def test_init(engine):
    init = os.path.join(os.path.dirname(COVE_BINARY), "cove-init")
    if not os.access(init, os.X_OK):
        pytest.skip(f"{init} does not exist (not built yet)")
    p = engine.run_ctr("--init", IMAGE, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; "
                       "echo; echo $$")
    first, pid = p.stdout.splitlines()[:2]
    assert "init" in first
    assert pid != "1"
    # init passes stop's SIGTERM on to the command (no handler needed)
    engine.run_d("--init", "--name", "i", IMAGE, "sleep", "100")
    t0 = time.monotonic()
    engine.run("stop", "i")
    assert time.monotonic() - t0 < 3
    assert engine.inspect("i")["State"]["ExitCode"] == 143


def need_exec():
    if "exec" not in cove_commands():
        pytest.skip("`cove exec` is not a command yet")


def test_exec(engine):
    need_exec()
    engine.run_d("--name", "ex", "--hostname", "exhost", "-e", "CTRV=c", "-w", "/srv",
                 IMAGE, "sleep", "100")
    p = engine.run("exec", "ex", "sh", "-c",
                   'echo "$(hostname) $CTRV $(pwd) $(id -u)"; echo err >&2; exit 4',
                   check=False)
    assert p.returncode == 4
    assert p.stdout == "exhost c /srv 0\n"
    assert p.stderr == "err\n"
    p = engine.run("exec", "-e", "V=1", "-u", "1000:1000", "-w", "/tmp", "ex", "sh", "-c",
                   'echo "$V $CTRV $(pwd) $(id -u) $(id -g)"')
    assert p.stdout == "1 c /tmp 1000 1000\n"
    p = engine.run("exec", "-i", "ex", "tr", "a-z", "A-Z", input="hello\n")
    assert p.stdout == "HELLO\n"
    p = engine.run("exec", "ex", "nosuchcmd", check=False)
    assert p.returncode == 127 and "nosuchcmd" in p.stderr
    p = engine.run("exec", "ex", "/etc/passwd", check=False)
    assert p.returncode == 126
    p = engine.fail("exec", "nosuch", "true")
    assert "no such container" in p.stderr


def test_exec_joins_the_container(engine):
    need_exec()
    cid = engine.run_d("--name", "ex", "--cap-drop", "CHOWN", IMAGE, "sleep", "100")
    init = engine.inspect("ex")["State"]["Pid"]
    p = engine.run("exec", "ex", "sh", "-c", "cat /proc/self/status; echo pid=$$; "
                   "cat /proc/1/cmdline")
    assert not cap_eff(p.stdout) & (1 << CAP_CHOWN)
    assert "Seccomp:\t2" in p.stdout
    assert "pid=1\n" not in p.stdout
    assert p.stdout.endswith("sleep\x00100\x00")
    assert cid
    for ns in ("pid", "mnt", "uts", "ipc", "net"):
        out = engine.run("exec", "ex", "readlink", f"/proc/self/ns/{ns}").stdout.strip()
        assert out == os.readlink(f"/proc/{init}/ns/{ns}"), ns


TRAP_READY = 'trap "echo t; exit 9" TERM; echo ready; while :; do sleep 0.05; done'


def test_exec_forwards_signals_and_ends_with_the_container(engine):
    need_exec()
    engine.run_d("--name", "ex", IMAGE, "sleep", "100")
    proc = engine.popen("exec", "ex", "sh", "-c", TRAP_READY)
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.3)  # see test_exec_signal_right_after_start
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 9
    assert out == "t\n"
    proc = engine.popen("exec", "ex", "sh", "-c", "echo ready; exec sleep 100")
    try:
        assert proc.stdout.readline() == "ready\n"
        engine.run("stop", "-t", "0", "ex")
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 137
    p = engine.fail("exec", "ex", "true")
    assert "not running" in p.stderr


def test_exec_signal_right_after_start(engine):
    """The window is short: strace delays cove's recvmsg() calls (the last
    one is the process's start acknowledgement) so that the signal lands in
    it every time; signals blocked until the handlers are in place pass."""
    need_exec()
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is needed to widen the race window")
    engine.run_d("--name", "ex", IMAGE, "sleep", "100")
    codes = []
    for _ in range(2):
        proc = subprocess.Popen(
            [strace, "-o", "/dev/null", "-e", "trace=recvmsg",
             "-e", "inject=recvmsg:delay_exit=300000",
             *engine.cmd("exec", "ex", "sh", "-c", TRAP_READY)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        try:
            assert proc.stdout.readline() == "ready\n"
            children = read_file(f"/proc/{proc.pid}/task/{proc.pid}/children").split()
            os.kill(int(children[0]), signal.SIGTERM)  # cove, strace's child
            try:
                codes.append(proc.wait(timeout=5))
            except subprocess.TimeoutExpired:
                codes.append("hang")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
    assert codes == [9, 9]


def _exec_sleeper(engine, arg):
    for pid in engine.cgroup_parent.pids():
        if read_file(f"/proc/{pid}/cmdline", "").split("\0")[:2] == ["sleep", arg]:
            return pid
    return None


def test_exec_detached(engine):
    need_exec()
    cid = engine.run_d("--name", "ex", IMAGE, "sleep", "100")
    out = open(os.path.join(engine.tmp, "exec.out"), "w+")
    p = subprocess.run(engine.cmd("exec", "-d", "ex", "sleep", "77"), stdin=subprocess.DEVNULL,
                       stdout=out, stderr=subprocess.STDOUT, timeout=10)
    out.close()
    assert p.returncode == 0, read_file(os.path.join(engine.tmp, "exec.out"))
    # the detached process is in the container (and rm -f takes it along:
    # see the engine fixture's teardown)
    pid = wait_for(lambda: _exec_sleeper(engine, "77"), timeout=5, what="the exec -d process")
    assert f"{engine.cgparent}/{cid}" in read_file(f"/proc/{pid}/cgroup")


def test_exec_detached_does_not_hold_callers_output(engine):
    need_exec()
    engine.run_d("--name", "ex", IMAGE, "sleep", "100")
    proc = engine.popen("exec", "-d", "ex", "sleep", "78")
    try:
        proc.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        pytest.fail("cove exec -d: its output pipes stayed open for 2 s")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0


def test_stop_is_not_held_up_by_a_detached_exec(engine):
    """exec -d's process is reaped by a waiter of cove's, not left to the
    host's init: its zombie would hold up the pid namespace's teardown."""
    need_exec()
    engine.run_d("--name", "exd", IMAGE, "sleep", "100")
    engine.run("exec", "-d", "exd", "sleep", "100")
    t0 = time.monotonic()
    engine.run("stop", "-t", "0", "exd")
    took = time.monotonic() - t0
    assert engine.status("exd") == "exited"
    assert took < 0.8, f"stop took {took:.2f} s"


def test_container_exists_and_group_aliases(engine):
    """`cove container exists` exits 0/1/125 as podman's; the container
    group also has update."""
    assert engine.run("container", "exists", "nosuch", check=False).returncode == 1
    engine.create_ctr("--name", "ex", IMAGE, "true")
    p = engine.run("container", "exists", "ex", check=False)
    assert p.returncode == 0 and p.stdout == ""
    assert engine.run("container", "exists", check=False).returncode == 125
    engine.run("container", "update", "--pids-limit", "99", "ex")
    assert engine.inspect("ex")["HostConfig"]["PidsLimit"] == 99
