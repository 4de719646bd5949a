"""The resource and bookkeeping options of cove run/create added after the
first set (test_engine_resources.py): --cpuset-cpus/--cpuset-mems,
--cpu-period/--cpu-quota, --memory-reservation, --memory-swappiness,
--oom-kill-disable, --oom-score-adj, --blkio-weight; --cidfile, --replace,
--annotation, --label-file, --health-start-period, --no-healthcheck, --tz,
--umask; and `cove update`.

Every limit is read back from the container's real cgroup files, found
through /proc/<pid>/cgroup of its process (the engine fixture puts them
below its own /cove-test/... parent), or from /proc/<pid>.
"""

import hashlib
import json
import os
import time

import pytest

from conftest import cgroup_mounts, read_file
from test_engine import IMAGE


def ctr_pid(engine, name):
    pid = engine.inspect(name)["State"]["Pid"]
    assert pid > 0, f"{name} has no process"
    return pid


def cgroup_file(pid, controller, name):
    """The file @name of @pid's cgroup in the hierarchy of @controller (v1),
    else in its cgroup2 directory; None when neither has it."""
    mounts = cgroup_mounts()
    v2 = None
    for line in read_file(f"/proc/{pid}/cgroup").splitlines():
        hid, ctrls, path = line.split(":", 2)
        if hid == "0":
            v2 = path
            continue
        if controller not in ctrls.split(","):
            continue
        for mountpoint, fstype, opts in mounts:
            if fstype == "cgroup" and controller in opts:
                f = os.path.join(mountpoint + path, name)
                if os.path.exists(f):
                    return f
    if v2 is not None:
        for mountpoint, fstype, _opts in mounts:
            f = os.path.join(mountpoint + v2, name)
            if fstype == "cgroup2" and os.path.exists(f):
                return f
    return None


def cg_read(pid, controller, *names):
    for n in names:
        f = cgroup_file(pid, controller, n)
        if f:
            return read_file(f).strip()
    pytest.fail(f"no {names} in the {controller} cgroup of {pid}")


def host_cpus():
    return read_file("/sys/devices/system/cpu/online").strip()


def memory_is_v1(pid):
    return cgroup_file(pid, "memory", "memory.oom_control") is not None


# ---------------------------------------------------------------------------
# cpu
# ---------------------------------------------------------------------------


def test_cpuset_period_quota(engine):
    cpu = "1" if os.cpu_count() >= 2 else "0"
    engine.run_d("--name", "c", "--cpuset-cpus", cpu, "--cpuset-mems", "0",
                 "--cpu-period", "50000", "--cpu-quota", "20000", IMAGE,
                 "sleep", "100")
    pid = ctr_pid(engine, "c")
    assert cg_read(pid, "cpuset", "cpuset.cpus") == cpu
    assert cg_read(pid, "cpuset", "cpuset.mems") == "0"
    assert cg_read(pid, "cpu", "cpu.cfs_period_us") == "50000"
    assert cg_read(pid, "cpu", "cpu.cfs_quota_us") == "20000"
    status = engine.run("exec", "c", "cat", "/proc/self/status").stdout
    allowed = [l for l in status.splitlines() if l.startswith("Cpus_allowed_list:")]
    assert allowed and allowed[0].split()[1] == cpu
    h = engine.inspect("c")["HostConfig"]
    assert (h["CpusetCpus"], h["CpusetMems"], h["CpuPeriod"], h["CpuQuota"]) == (
        cpu, "0", 50000, 20000)


@pytest.mark.parametrize("opt,value,msg", [
    ("--cpuset-cpus", "0-a", "0-3,5"),
    ("--cpuset-cpus", "1-0", "0-3,5"),
    ("--cpuset-cpus", "0,,1", "0-3,5"),
    ("--cpuset-cpus", "0-4095", "not available"),
    ("--cpuset-mems", "7", "not available"),
    ("--cpu-period", "500", "1000"),
    ("--cpu-quota", "10", "1000"),
    ("--memory-reservation", "1x", "1x"),
    ("--memory-swappiness", "101", "between 0 and 100"),
    ("--oom-score-adj", "1001", "between -1000 and 1000"),
    ("--blkio-weight", "5", "between 10 and 1000"),
    ("--umask", "999", "octal"),
    ("--tz", "Foo/Bar", "unknown time zone"),
    ("--tz", "../../etc/passwd", "not a time zone name"),
    ("--annotation", "novalue", "KEY=VALUE"),
    ("--health-start-period", "5x", "5x"),
])
def test_invalid_values(engine, opt, value, msg):
    p = engine.create_ctr(opt, value, IMAGE, "true", check=False)
    assert p.returncode == 125, p.stderr
    assert opt in p.stderr and value in p.stderr and msg in p.stderr, p.stderr
    assert engine.ids() == []


def test_cpus_conflicts_with_period_and_quota(engine):
    for opt in ("--cpu-period", "--cpu-quota"):
        p = engine.create_ctr("--cpus", "1", opt, "50000", IMAGE, "true", check=False)
        assert p.returncode == 125 and "--cpus" in p.stderr, p.stderr
    assert engine.ids() == []


# ---------------------------------------------------------------------------
# memory, OOM
# ---------------------------------------------------------------------------


def test_memory_reservation_swappiness_oom_kill_disable(engine):
    p = engine.run_ctr("-d", "--name", "m", "-m", "64m", "--memory-reservation", "32m",
                       "--memory-swappiness", "10", "--oom-kill-disable", IMAGE,
                       "sleep", "100")
    pid = ctr_pid(engine, "m")
    h = engine.inspect("m")["HostConfig"]
    assert h["MemoryReservation"] == 32 << 20 and h["MemorySwappiness"] == 10
    if not memory_is_v1(pid):
        assert "ignored" in p.stderr
        assert cg_read(pid, "memory", "memory.low") == str(32 << 20)
        return
    assert h["OomKillDisable"] is True
    assert cg_read(pid, "memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    assert cg_read(pid, "memory", "memory.swappiness") == "10"
    oom = dict(l.split() for l in cg_read(pid, "memory", "memory.oom_control").splitlines())
    assert oom["oom_kill_disable"] == "1"


def test_memory_reservation_above_limit(engine):
    p = engine.create_ctr("-m", "32m", "--memory-reservation", "64m", IMAGE, "true",
                          check=False)
    assert p.returncode == 125 and "--memory-reservation" in p.stderr


def test_oom_score_adj(engine):
    engine.run_d("--name", "o", "--oom-score-adj", "500", IMAGE, "sleep", "100")
    pid = ctr_pid(engine, "o")
    assert read_file(f"/proc/{pid}/oom_score_adj").strip() == "500"
    assert engine.inspect("o")["HostConfig"]["OomScoreAdj"] == 500
    out = engine.run("exec", "o", "cat", "/proc/1/oom_score_adj").stdout
    assert out.strip() == "500"


def test_oom_score_adj_lowered(engine):
    """Lowering it below cove's own needs CAP_SYS_RESOURCE, which root lacks
    here: either it is set or the run fails saying why."""
    own = int(read_file("/proc/self/oom_score_adj"))
    want = max(own - 100, -1000)
    p = engine.run_ctr("-d", "--name", "o", "--oom-score-adj", str(want), IMAGE,
                       "sleep", "100", check=False)
    if p.returncode == 0:
        pid = ctr_pid(engine, "o")
        assert read_file(f"/proc/{pid}/oom_score_adj").strip() == str(want)
    else:
        assert "oom_score_adj" in p.stderr and "CAP_SYS_RESOURCE" in p.stderr, p.stderr


# ---------------------------------------------------------------------------
# block I/O
# ---------------------------------------------------------------------------


def test_blkio_weight(engine):
    p = engine.run_ctr("-d", "--name", "b", "--blkio-weight", "300", IMAGE, "sleep",
                       "100", check=False)
    if p.returncode != 0:
        assert "blkio.weight" in p.stderr, p.stderr
        pytest.skip(f"no proportional block I/O weight here: {p.stderr.strip()}")
    pid = ctr_pid(engine, "b")
    f = cgroup_file(pid, "blkio", "blkio.weight") or cgroup_file(
        pid, "blkio", "blkio.bfq.weight") or cgroup_file(pid, "io", "io.bfq.weight")
    assert f, "no weight file in the container's blkio cgroup"
    # blkio.weight: "300"; BFQ's files: "default 300"
    assert read_file(f).split()[-1] == "300", read_file(f)
    assert engine.inspect("b")["HostConfig"]["BlkioWeight"] == 300


# ---------------------------------------------------------------------------
# cidfile, replace, annotations, label files
# ---------------------------------------------------------------------------


def test_cidfile(engine):
    f = os.path.join(engine.tmp, "cid")
    cid = engine.create_ctr("--cidfile", f, IMAGE, "true").stdout.strip()
    assert read_file(f) == cid and len(cid) == 64
    p = engine.create_ctr("--cidfile", f, IMAGE, "true", check=False)
    assert p.returncode == 125 and "exists" in p.stderr and f in p.stderr
    assert engine.ids() == [cid]
    assert read_file(f) == cid
    # a create that fails leaves no file behind
    g = os.path.join(engine.tmp, "cid2")
    p = engine.create_ctr("--cidfile", g, "--pull", "never", "localhost/nonexistent",
                          "true", check=False)
    assert p.returncode == 125
    assert not os.path.exists(g)


def test_replace(engine):
    old = engine.run_d("--name", "r", IMAGE, "sleep", "100")
    old_pid = ctr_pid(engine, "r")
    p = engine.create_ctr("--name", "r", IMAGE, "true", check=False)
    assert p.returncode == 125 and "r" in p.stderr
    new = engine.run_d("--replace", "--name", "r", IMAGE, "sleep", "100")
    assert new != old
    assert engine.ids() == [new]
    assert not os.path.exists(f"/proc/{old_pid}") or \
        read_file(f"/proc/{old_pid}/stat", "").split()[2] in ("Z", "X", "")
    # nothing to replace: a plain create
    engine.create_ctr("--replace", "--name", "fresh", IMAGE, "true")
    p = engine.create_ctr("--replace", IMAGE, "true", check=False)
    assert p.returncode == 125 and "--name" in p.stderr


def test_annotations(engine):
    engine.create_ctr("--name", "a", "--annotation", "org.example.a=b=c",
                      "--annotation", "x=", IMAGE, "true")
    c = engine.inspect("a")
    assert c["Config"]["Annotations"] == {"org.example.a": "b=c", "x": ""}
    spec = json.loads(read_file(os.path.join(c["Bundle"], "config.json")))
    assert spec["annotations"]["org.example.a"] == "b=c"
    assert spec["annotations"]["x"] == ""
    assert spec["annotations"]["io.cove.container.name"] == "a"


def test_label_file(engine):
    f = os.path.join(engine.tmp, "labels")
    with open(f, "w") as fh:
        fh.write("# a comment\nfoo=bar\n\n  indented=x y\nempty\nover=1\n")
    engine.create_ctr("--name", "l", "--label-file", f, "--label", "over=2", IMAGE,
                      "true")
    assert engine.inspect("l")["Config"]["Labels"] == {
        "foo": "bar", "indented": "x y", "empty": "", "over": "2"}
    with open(f, "a") as fh:
        fh.write("bad key=1\n")
    p = engine.create_ctr("--label-file", f, IMAGE, "true", check=False)
    assert p.returncode == 125 and f"{f}:7" in p.stderr, p.stderr
    p = engine.create_ctr("--label-file", f + ".missing", IMAGE, "true", check=False)
    assert p.returncode == 125 and "cannot open" in p.stderr


# ---------------------------------------------------------------------------
# health checks
# ---------------------------------------------------------------------------


def health(engine, name):
    return engine.inspect(name)["State"]["Health"]


def test_health_start_period(engine):
    # a failing check within the start period: logged, not counted
    engine.run_d("--name", "s", "--health-cmd", "false", "--health-retries", "1",
                 "--health-interval", "1h", "--health-start-period", "1h", IMAGE,
                 "sleep", "100")
    assert engine.inspect("s")["Config"]["Healthcheck"]["StartPeriod"] == 3600 * 10**9
    for _ in range(2):
        engine.run("healthcheck", "run", "s", check=False)
    h = health(engine, "s")
    assert h["Status"] == "starting" and h["FailingStreak"] == 0
    assert len(h["Log"]) == 2 and h["Log"][-1]["ExitCode"] == 1
    # without one, the first failure is enough (retries 1)
    engine.run_d("--name", "n", "--health-cmd", "false", "--health-retries", "1",
                 "--health-interval", "1h", IMAGE, "sleep", "100")
    engine.run("healthcheck", "run", "n", check=False)
    h = health(engine, "n")
    assert h["Status"] == "unhealthy" and h["FailingStreak"] == 1
    # a short one that is over counts again
    engine.run_d("--name", "o", "--health-cmd", "false", "--health-retries", "1",
                 "--health-interval", "1h", "--health-start-period", "10ms", IMAGE,
                 "sleep", "100")
    engine.run("healthcheck", "run", "o", check=False)
    assert health(engine, "o")["Status"] == "unhealthy"


def test_health_start_period_needs_cmd(engine):
    p = engine.create_ctr("--health-start-period", "5s", IMAGE, "true", check=False)
    assert p.returncode == 125 and "--health-cmd" in p.stderr


def test_no_healthcheck(engine):
    engine.run_d("--name", "h", "--no-healthcheck", IMAGE, "sleep", "100")
    c = engine.inspect("h")
    assert c["Config"]["Healthcheck"] == {"Test": ["NONE"]}
    assert "Health" not in c["State"]
    p = engine.run("healthcheck", "run", "h", check=False)
    assert p.returncode != 0 and "no health check" in p.stderr
    p = engine.create_ctr("--no-healthcheck", "--health-cmd", "true", IMAGE, "true",
                          check=False)
    assert p.returncode == 125 and "--no-healthcheck" in p.stderr


# ---------------------------------------------------------------------------
# time zone, umask
# ---------------------------------------------------------------------------


def test_tz_zone(engine):
    zone = "/usr/share/zoneinfo/Asia/Tokyo"
    if not os.path.exists(zone):
        pytest.skip("no tzdata on the host (/usr/share/zoneinfo/Asia/Tokyo)")
    out = engine.run_ctr("--tz", "Asia/Tokyo", IMAGE, "sh", "-c",
                         "cat /etc/localtime | md5sum; date +%Z; echo \"TZ=$TZ\"").stdout
    lines = out.splitlines()
    with open(zone, "rb") as f:
        assert lines[0].split()[0] == hashlib.md5(f.read()).hexdigest()
    assert lines[1] == "JST"
    assert lines[2] == "TZ="  # as podman: the zone file only


def test_tz_local(engine):
    host = os.path.realpath("/etc/localtime")
    if not os.path.exists(host):
        pytest.skip("the host has no /etc/localtime")
    engine.create_ctr("--name", "t", "--tz", "local", IMAGE, "true")
    c = engine.inspect("t")
    assert c["Config"]["Timezone"] == "local"
    with open(host, "rb") as f:
        want = f.read()
    with open(os.path.join(c["Bundle"], "localtime"), "rb") as f:
        assert f.read() == want
    # the container sees the host's zone
    out = engine.run_ctr("--tz", "local", IMAGE, "date", "+%Z").stdout.strip()
    if "TZ" not in os.environ:
        assert out == time.strftime("%Z")


def test_umask(engine):
    out = engine.run_ctr("--umask", "0077", IMAGE, "sh", "-c",
                         "umask; touch /tmp/f; stat -c %a /tmp/f").stdout.split()
    assert out == ["0077", "600"]
    out = engine.run_ctr("--umask", "2", IMAGE, "sh", "-c", "umask").stdout.split()
    assert out == ["0002"]
    # the default stays podman's 0022
    out = engine.run_ctr(IMAGE, "sh", "-c", "umask").stdout.split()
    assert out == ["0022"]


# ---------------------------------------------------------------------------
# cove update
# ---------------------------------------------------------------------------


def test_update_running_then_restart(engine):
    engine.run_d("--name", "u", "-m", "64m", "--cpus", "0.5", "--pids-limit", "100",
                 IMAGE, "sleep", "1000")
    pid = ctr_pid(engine, "u")
    assert cg_read(pid, "pids", "pids.max") == "100"
    p = engine.run("update", "-m", "128m", "--memory-swap", "256m", "--cpus", "1",
                   "--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "200",
                   "u")
    assert p.stdout.strip() == "u"

    def check(pid):
        assert cg_read(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(128 << 20)
        sw = cgroup_file(pid, "memory", "memory.memsw.limit_in_bytes")
        if sw:
            assert read_file(sw).strip() == str(256 << 20)
        assert cg_read(pid, "cpu", "cpu.cfs_quota_us") == "100000"
        assert cg_read(pid, "cpu", "cpu.shares") == "512"
        assert cg_read(pid, "cpuset", "cpuset.cpus") == "0"
        assert cg_read(pid, "pids", "pids.max") == "200"

    check(pid)
    h = engine.inspect("u")["HostConfig"]
    assert (h["Memory"], h["MemorySwap"], h["NanoCpus"], h["CpuShares"], h["CpusetCpus"],
            h["PidsLimit"]) == (128 << 20, 256 << 20, 10**9, 512, "0", 200)
    engine.run("restart", "-t", "0", "u")
    pid2 = ctr_pid(engine, "u")
    assert pid2 != pid
    check(pid2)


def test_update_period_quota_and_unlimited(engine):
    engine.run_d("--name", "u", "--cpus", "0.5", IMAGE, "sleep", "1000")
    pid = ctr_pid(engine, "u")
    # a quota alone keeps --cpus's period
    engine.run("update", "--cpu-quota", "30000", "u")
    assert cg_read(pid, "cpu", "cpu.cfs_period_us") == "100000"
    assert cg_read(pid, "cpu", "cpu.cfs_quota_us") == "30000"
    engine.run("update", "--cpu-period", "50000", "--cpu-quota", "-1", "--pids-limit",
               "-1", "u")
    assert cg_read(pid, "cpu", "cpu.cfs_period_us") == "50000"
    assert cg_read(pid, "cpu", "cpu.cfs_quota_us") == "-1"
    assert cg_read(pid, "pids", "pids.max") == "max"
    h = engine.inspect("u")["HostConfig"]
    assert "NanoCpus" not in h or not h["NanoCpus"]
    assert (h["CpuPeriod"], h["CpuQuota"], h["PidsLimit"]) == (50000, -1, 0)
    p = engine.run("update", "--cpus", "1", "--cpu-period", "50000", "u", check=False)
    assert p.returncode == 125 and "--cpus" in p.stderr


def test_update_blkio_weight(engine):
    p = engine.run_ctr("-d", "--name", "b", "--blkio-weight", "200", IMAGE, "sleep",
                       "100", check=False)
    if p.returncode != 0:
        pytest.skip(f"no proportional block I/O weight here: {p.stderr.strip()}")
    pid = ctr_pid(engine, "b")
    engine.run("update", "--blkio-weight", "700", "b")
    f = cgroup_file(pid, "blkio", "blkio.weight") or cgroup_file(pid, "blkio",
                                                                 "blkio.bfq.weight")
    assert f and read_file(f).split()[-1] == "700"


def test_update_created_container(engine):
    engine.create_ctr("--name", "c", IMAGE, "sleep", "1000")
    engine.run("update", "-m", "100m", "c")
    assert engine.inspect("c")["HostConfig"]["Memory"] == 100 << 20
    engine.run("start", "c")
    pid = ctr_pid(engine, "c")
    assert cg_read(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(100 << 20)


def test_update_errors(engine):
    engine.create_ctr("--name", "c", IMAGE, "true")
    p = engine.run("update", "c", check=False)
    assert p.returncode == 125 and "no limit" in p.stderr
    p = engine.run("update", "-m", "64m", "nosuch", check=False)
    assert p.returncode == 125 and "nosuch" in p.stderr
    p = engine.run("update", "--cpuset-cpus", "0-4095", "c", check=False)
    assert p.returncode == 125 and "not available" in p.stderr
    p = engine.run("update", "--help")
    assert "cove update" in p.stdout and "--cpuset-cpus" in p.stdout
