"""podman's everyday flags of the container commands: -a/--all and
-l/--latest (stop, kill, rm, restart, pause, unpause, start, inspect, logs,
port, wait, exec), stop/rm --ignore, rm --depend/--time and the order of
dependents, wait --condition/--interval, ps --last/--latest/--no-trunc/
--sort/--size and its filters, logs of several containers.

Each test uses the conftest `engine` (its own root and runroot, every
container under the test's cgroup parent, --network none) and checks the
containers' real states through inspect.
"""

import json
import os
import re
import subprocess
import time

from conftest import cgroup_v1_path, read_file, wait_for

IMAGE = "localhost/busybox"
SLEEP = ["sleep", "1000"]
SHORT_ID_RE = re.compile(r"^[0-9a-f]{12}$")


def names(engine, *args):
    p = engine.run("ps", "--format", "{{.Names}}", *args)
    return p.stdout.split()


def cid(engine, name):
    return engine.inspect(name)["Id"]


def states(engine, *ctrs):
    return [c["State"]["Status"] for c in engine.inspect(*ctrs)] if len(ctrs) > 1 else [
        engine.status(ctrs[0])
    ]


# ---------------------------------------------------------------------------
# --all / --latest / --ignore
# ---------------------------------------------------------------------------


def test_stop_all_only_running_prints_ids(engine):
    a = engine.run_d("--name", "a", IMAGE, *SLEEP)
    b = engine.run_d("--name", "b", IMAGE, *SLEEP)
    engine.create_ctr("--name", "c", IMAGE, "true")
    p = engine.run("stop", "-a", "-t", "0")
    assert sorted(p.stdout.split()) == sorted([a, b])
    assert states(engine, "a", "b", "c") == ["exited", "exited", "created"]
    # nothing left to stop: no output, no error
    assert engine.run("stop", "--all").stdout == ""


def test_stop_latest_and_ignore(engine):
    engine.run_d("--name", "old", IMAGE, *SLEEP)
    new = engine.run_d("--name", "new", IMAGE, *SLEEP)
    p = engine.run("stop", "-l", "-t", "0")
    assert p.stdout.split() == [new]
    assert states(engine, "old", "new") == ["running", "exited"]
    # -i: a missing container is no error, the others are stopped
    p = engine.run("stop", "-i", "-t", "0", "nosuch", "old")
    assert p.stdout.split() == ["old"]
    assert engine.status("old") == "exited"
    p = engine.fail("stop", "nosuch")
    assert "nosuch" in p.stderr


def test_selection_conflicts(engine):
    p = engine.fail("stop", "-l")
    assert "no containers" in p.stderr
    engine.create_ctr("--name", "x", IMAGE, "true")
    for args in (["stop", "-a", "x"], ["kill", "-l", "x"], ["rm", "-a", "-l"],
                 ["pause"], ["inspect", "-l", "x"], ["logs", "-l", "x"]):
        p = engine.fail(*args)
        assert p.returncode == 125, args
    assert engine.status("x") == "created"


def test_kill_all_and_latest(engine):
    engine.run_d("--name", "k1", IMAGE, *SLEEP)
    engine.run_d("--name", "k2", IMAGE, *SLEEP)
    engine.create_ctr("--name", "k3", IMAGE, "true")
    # -l: the created one is not running, so kill fails for it
    p = engine.fail("kill", "-l")
    assert "k3" in p.stderr or "running" in p.stderr
    p = engine.run("kill", "--all", "-s", "KILL")
    assert sorted(p.stdout.split()) == sorted([cid(engine, "k1"), cid(engine, "k2")])
    for n in ("k1", "k2"):
        engine.wait_status(n, "exited")
        assert engine.inspect(n)["State"]["ExitCode"] == 137
    assert engine.status("k3") == "created"


def test_pause_unpause_all(engine):
    p1 = engine.run_d("--name", "p1", IMAGE, *SLEEP)
    p2 = engine.run_d("--name", "p2", IMAGE, *SLEEP)
    engine.create_ctr("--name", "p3", IMAGE, "true")
    p = engine.run("pause", "-a")
    assert sorted(p.stdout.split()) == sorted([p1, p2])
    assert states(engine, "p1", "p2", "p3") == ["paused", "paused", "created"]
    # the freezer says so (cgroup v1 freezer, or cgroup2's cgroup.freeze)
    for i in (p1, p2):
        v1 = cgroup_v1_path("freezer", f"{engine.cgparent}/{i}")
        if v1 and os.path.isdir(v1):
            assert read_file(os.path.join(v1, "freezer.state")).strip() == "FROZEN"
    p = engine.run("unpause", "--all")
    assert sorted(p.stdout.split()) == sorted([p1, p2])
    assert states(engine, "p1", "p2") == ["running", "running"]
    # unpause -l: the latest (p3) is not paused
    engine.fail("unpause", "-l")
    engine.run("pause", "p2")
    p = engine.run("unpause", "-a")
    assert p.stdout.split() == [p2]


def test_start_all_and_attach_short_flag(engine):
    engine.create_ctr("--name", "s1", IMAGE, *SLEEP)
    engine.create_ctr("--name", "s2", IMAGE, *SLEEP)
    p = engine.run("start", "--all")
    assert len(p.stdout.split()) == 2
    engine.record_pids()
    assert states(engine, "s1", "s2") == ["running", "running"]
    # -a is still --attach (podman's), not --all
    engine.create_ctr("--name", "s3", IMAGE, "sh", "-c", "echo hello; exit 4")
    p = engine.run("start", "-a", "s3", check=False)
    assert p.returncode == 4
    assert p.stdout == "hello\n"
    engine.fail("start", "-a", "--all")
    # -l: the latest (s3, exited) runs again
    p = engine.run("start", "-l")
    assert p.stdout.split() == [cid(engine, "s3")]
    engine.wait_status("s3", "exited")
    assert engine.run("logs", "s3").stdout == "hello\nhello\n"


def test_restart_all_running_latest(engine):
    engine.run_d("--name", "r1", IMAGE, *SLEEP)
    engine.create_ctr("--name", "r2", IMAGE, *SLEEP)
    pid1 = engine.inspect("r1")["State"]["Pid"]
    p = engine.run("restart", "--running", "-t", "0")
    assert p.stdout.split() == [cid(engine, "r1")]
    engine.record_pids()
    assert engine.inspect("r1")["State"]["Pid"] != pid1
    assert engine.status("r2") == "created"
    p = engine.run("restart", "-l", "-t", "0")
    assert p.stdout.split() == [cid(engine, "r2")]
    engine.record_pids()
    assert engine.status("r2") == "running"
    engine.run("restart", "-a", "-t", "0")
    engine.record_pids()
    assert states(engine, "r1", "r2") == ["running", "running"]


# ---------------------------------------------------------------------------
# rm
# ---------------------------------------------------------------------------


def test_rm_latest_all_ignore(engine):
    engine.create_ctr("--name", "x1", IMAGE, "true")
    x2 = engine.create_ctr("--name", "x2", IMAGE, "true").stdout.strip()
    p = engine.run("rm", "-l")
    assert p.stdout.split() == [x2]
    assert engine.run("container", "exists", "x2", check=False).returncode == 1
    p = engine.run("rm", "-i", "nosuch")
    assert p.returncode == 0 and p.stdout == "" and p.stderr == ""
    engine.fail("rm", "nosuch")
    engine.run_d("--name", "x3", IMAGE, *SLEEP)
    # without -f the running one is refused, the other removed
    p = engine.fail("rm", "-a")
    assert "x3" in p.stderr
    assert engine.ids() == [cid(engine, "x3")]
    engine.run("rm", "-a", "-f")
    assert engine.ids() == []


def test_rm_dependents_first_in_any_order(engine):
    engine.run_d("--name", "tgt", IMAGE, *SLEEP)
    engine.create_ctr("--name", "dep", "--pid", "container:tgt", IMAGE, "true")
    p = engine.fail("rm", "-f", "tgt")
    assert "dependent" in p.stderr and "dep" in p.stderr
    # both named: the dependent goes first whatever the order
    tgt, dep = cid(engine, "tgt"), cid(engine, "dep")
    p = engine.run("rm", "-f", "tgt", "dep")
    assert p.stdout.split() == [dep, tgt]
    assert engine.ids() == []


def test_rm_depend_recursive(engine):
    engine.run_d("--name", "base", IMAGE, *SLEEP)
    engine.create_ctr("--name", "mid", "--ipc", "container:base", IMAGE, "true")
    engine.create_ctr("--name", "leaf", "--uts", "container:mid", IMAGE, "true")
    engine.create_ctr("--name", "other", IMAGE, "true")
    ids = {n: cid(engine, n) for n in ("base", "mid", "leaf", "other")}
    p = engine.run("rm", "--depend", "-f", "base")
    assert p.stdout.split() == [ids["leaf"], ids["mid"], ids["base"]]
    assert engine.ids() == [ids["other"]]


def test_rm_all_with_dependents(engine):
    engine.run_d("--name", "base", IMAGE, *SLEEP)
    engine.create_ctr("--name", "dep", "--pid", "container:base", IMAGE, "true")
    engine.run("rm", "-af")
    assert engine.ids() == []


def test_rm_time_stops_before_kill(engine):
    out = os.path.join(engine.tmp, "out")
    os.makedirs(out)
    engine.run_d("--name", "t", "-v", f"{out}:/out", IMAGE, "sh", "-c",
                 'trap "echo term > /out/got; exit 0" TERM; while :; do sleep 0.1; done')
    p = engine.fail("rm", "-t", "5", "t")
    assert "--force" in p.stderr
    engine.run("rm", "-f", "-t", "10", "t")
    # the container got its stop signal (rm -f alone kills at once)
    assert open(os.path.join(out, "got")).read() == "term\n"
    assert engine.ids() == []


# ---------------------------------------------------------------------------
# wait
# ---------------------------------------------------------------------------


def test_wait_conditions(engine):
    engine.create_ctr("--name", "w", IMAGE, "sh", "-c", "sleep 1; exit 3")
    assert engine.run("wait", "--condition", "created", "w").stdout == "-1\n"
    waiter = engine.popen("wait", "--condition", "running", "-i", "20ms", "w")
    time.sleep(0.3)
    assert waiter.poll() is None  # still created: still waiting
    engine.run("start", "w")
    out, _ = waiter.communicate(timeout=20)
    assert out == "-1\n" and waiter.returncode == 0
    # exited among the conditions: the exit code
    p = engine.run("wait", "--condition", "paused", "--condition", "exited", "--interval", "50",
                   "w", timeout=30)
    assert p.stdout == "3\n"
    assert engine.run("wait", "-l").stdout == "3\n"
    p = engine.fail("wait", "--condition", "bogus", "w")
    assert "bogus" in p.stderr
    engine.fail("wait", "--interval", "1x", "w")


def test_wait_paused_and_stopped(engine):
    engine.run_d("--name", "wp", IMAGE, *SLEEP)
    engine.run("pause", "wp")
    assert engine.run("wait", "--condition", "paused", "wp").stdout == "-1\n"
    engine.run("unpause", "wp")
    engine.run("kill", "wp")
    assert engine.run("wait", "--condition", "stopped", "wp").stdout == "137\n"


# ---------------------------------------------------------------------------
# ps
# ---------------------------------------------------------------------------


def test_ps_last_latest_sort(engine):
    for n in ("b", "c", "a"):
        engine.create_ctr("--name", n, IMAGE, "true")
    # --last/--latest: every state
    assert names(engine, "-n", "2") == ["a", "c"]
    assert names(engine, "--last", "1") == names(engine, "-l") == ["a"]
    assert engine.run("ps", "-l", "-q").stdout.split() == [cid(engine, "a")[:12]]
    assert names(engine) == []  # none running
    assert names(engine, "-a") == ["a", "c", "b"]  # newest first
    assert names(engine, "-a", "--sort", "created") == ["b", "c", "a"]
    assert names(engine, "-a", "--sort", "names") == ["a", "b", "c"]
    ids = engine.run("ps", "-a", "-q", "--no-trunc", "--sort", "id").stdout.split()
    assert ids == sorted(ids)
    engine.fail("ps", "--sort", "bogus")


def test_ps_no_trunc(engine):
    long_arg = "x" * 60
    engine.create_ctr("--name", "nt", IMAGE, "echo", long_arg)
    full = cid(engine, "nt")
    out = engine.run("ps", "-a", "--no-trunc").stdout
    assert full in out and f"echo {long_arg}" in out
    out = engine.run("ps", "-a").stdout
    assert full not in out and full[:12] in out and long_arg not in out


def test_ps_size(engine):
    engine.run_d("--name", "sz", IMAGE, "sh", "-c",
                 "head -c 50000 /dev/zero > /big; sleep 1000")
    cfile = engine.inspect("sz")
    wait_for(lambda: engine.run("exec", "sz", "test", "-f", "/big", check=False).returncode == 0)
    j = engine.ps_json("-s")
    assert len(j) == 1 and cfile["Id"] == j[0]["Id"]
    rw, rootfs = j[0]["Size"]["rwSize"], j[0]["Size"]["rootFsSize"]
    assert rw >= 50000
    assert rootfs >= rw
    if rw < 1000000:  # overlay: the writable layer only, the image beside it
        assert rootfs > rw + 500000
    text = engine.run("ps", "-s", "--format", "{{.Size}}").stdout.strip()
    assert re.match(r"^\d+(\.\d+)?[kM]?B \(virtual \d+(\.\d+)?[kM]?B\)$", text), text
    table = engine.run("ps", "--size").stdout.splitlines()
    assert "SIZE" in table[0] and "(virtual" in table[1]
    # without -s, no size (it costs a walk of the layer)
    assert "Size" not in engine.ps_json()[0]


def test_ps_filters(engine):
    engine.run_ctr("--name", "e3", IMAGE, "sh", "-c", "exit 3", check=False)
    engine.run_ctr("--name", "e0", IMAGE, "true")
    engine.run_d("--name", "hc", "--health-cmd", "true", "--health-interval", "1h", IMAGE, *SLEEP)
    engine.run_d("--name", "sick", "--health-cmd", "false", "--health-retries", "1",
                 "--health-interval", "1h", IMAGE, *SLEEP)
    engine.create_ctr("--name", "vol", "-v", "fvol:/data", IMAGE, "true")
    engine.run("network", "create", "fnet")
    try:
        engine.create_ctr("--name", "net", IMAGE, "true", network="fnet")
        assert names(engine, "-a", "--filter", "exited=3") == ["e3"]
        assert names(engine, "-a", "--filter", "exited=0") == ["e0"]
        assert names(engine, "--filter", "exited=3") == []  # as podman: -a too
        assert names(engine, "-a", "--filter", "health=starting") == ["sick", "hc"]
        engine.run("healthcheck", "run", "hc")
        engine.run("healthcheck", "run", "sick", check=False)
        assert names(engine, "-a", "--filter", "health=healthy") == ["hc"]
        assert names(engine, "-a", "--filter", "health=unhealthy") == ["sick"]
        assert set(names(engine, "-a", "--filter", "health=none")) == {"e3", "e0", "vol", "net"}
        assert names(engine, "-a", "--filter", "volume=fvol") == ["vol"]
        assert names(engine, "-a", "--filter", "volume=/data") == ["vol"]
        assert names(engine, "-a", "--filter", "network=fnet") == ["net"]
        assert names(engine, "-a", "--filter", "before=e0") == ["e3"]
        assert names(engine, "-a", "--filter", "since=vol") == ["net"]
        # same key: any; different keys: all
        assert names(engine, "-a", "--filter", "name=e3", "--filter", "name=e0") == ["e0", "e3"]
        assert names(engine, "-a", "--filter", "name=e", "--filter", "exited=0") == ["e0"]
        assert names(engine, "--filter", "status=exited", "--filter", "since=e3") == ["e0"]
        p = engine.fail("ps", "--filter", "bogus=1")
        assert "bogus" in p.stderr
        engine.fail("ps", "--filter", "since=nosuch")
        engine.fail("ps", "--filter", "exited=x")
        engine.fail("ps", "--filter", "health=meh")
        # the templates still work, and JSON
        out = engine.run("ps", "-a", "--filter", "name=e3", "--format",
                         "{{.ID}} {{.Names}} {{.State}}").stdout
        assert out == f"{cid(engine, 'e3')[:12]} e3 exited\n"
        assert [c["Names"] for c in engine.ps_json("-a", "--filter", "name=e3")] == [["e3"]]
    finally:
        engine.run("rm", "-f", "net", check=False)
        engine.run("network", "rm", "fnet", check=False)


# ---------------------------------------------------------------------------
# logs, and --latest of inspect, port, exec
# ---------------------------------------------------------------------------


def test_logs_several_and_latest(engine):
    engine.run_ctr("--name", "l1", IMAGE, "sh", "-c", "echo one; echo two")
    engine.run_ctr("--name", "l2", IMAGE, "sh", "-c", "echo three")
    i1, i2 = cid(engine, "l1")[:12], cid(engine, "l2")[:12]
    out = engine.run("logs", "l1", "l2").stdout.splitlines()
    assert out == [f"{i1} one", f"{i1} two", f"{i2} three"]
    out = engine.run("logs", "--names", "l1", "l2").stdout.splitlines()
    assert out == ["l1 one", "l1 two", "l2 three"]
    # one container: no prefix, with --names too (as podman)
    assert engine.run("logs", "--names", "l1").stdout == "one\ntwo\n"
    assert engine.run("logs", "-l").stdout == "three\n"
    # -n is still --tail
    assert engine.run("logs", "-n", "1", "l1").stdout == "two\n"
    p = engine.run("logs", "-t", "--names", "l1", "l2")
    assert re.match(r"^l1 \d{4}-\d\d-\d\dT\S+ one$", p.stdout.splitlines()[0])
    # --follow of several: each to its end
    out = engine.run("logs", "-f", "--names", "l1", "l2", timeout=30).stdout.splitlines()
    assert sorted(out) == ["l1 one", "l1 two", "l2 three"]
    p = engine.fail("logs", "l1", "nosuch")
    assert "nosuch" in p.stderr


def test_logs_follow_several_running(engine):
    engine.run_d("--name", "f1", IMAGE, "sh", "-c", "echo a; sleep 1; echo b")
    engine.run_d("--name", "f2", IMAGE, "sh", "-c", "echo c; sleep 1.5; echo d")
    t = time.monotonic()
    out = engine.run("logs", "-f", "--names", "f1", "f2", timeout=30).stdout.splitlines()
    assert time.monotonic() - t >= 0.5
    assert sorted(out) == ["f1 a", "f1 b", "f2 c", "f2 d"]
    assert out.index("f1 a") < out.index("f1 b") and out.index("f2 c") < out.index("f2 d")


def test_latest_inspect_port_exec(engine):
    engine.run_d("--name", "first", IMAGE, *SLEEP)
    engine.create_ctr("--name", "pub", "-p", "8080:80", IMAGE, "true")
    assert json.loads(engine.run("inspect", "-l").stdout)[0]["Name"] == "pub"
    assert engine.run("container", "inspect", "-l", "--format", "{{.Name}}").stdout == "pub\n"
    assert engine.run("port", "-l").stdout == "80/tcp -> 0.0.0.0:8080\n"
    assert engine.run("port", "-l", "80").stdout == "0.0.0.0:8080\n"
    engine.fail("port", "-a", "pub")
    # port -a: running containers only (first publishes nothing)
    assert engine.run("port", "-a").stdout == ""
    # exec -l: the latest is not running
    p = engine.fail("exec", "-l", "true")
    assert "pub" in p.stderr or "running" in p.stderr
    engine.run("rm", "pub")
    p = engine.run("exec", "-l", "cat", "/proc/1/cmdline")
    assert p.stdout.replace("\0", " ").strip() == "sleep 1000"
