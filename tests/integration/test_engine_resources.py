"""What a container is given: resource limits (-m and the OOM kill,
--pids-limit against a fork bomb, --cpus/--cpu-shares, --ulimit clamped to
cove's own hard limit), privileges (--privileged, devices, --cap-add/-drop,
seccomp, no-new-privileges), process options (-e/--env-file/-w/-u,
--hostname/--add-host, --read-only, --entrypoint, --label) and mounts
(--tmpfs, --mount, binds, named and anonymous volumes).

The `engine` fixture (conftest.py) gives each test its own root and
runroot and checks at teardown that nothing of the containers is left; the
lifecycle commands are tested in test_engine.py.
"""

import os
import resource
import subprocess
import time

import pytest

from conftest import cgroup_mounts, cgroup_v1_path, read_file, wait_for
from test_engine import (
    CAP_CHOWN,
    CAP_NET_RAW,
    CAP_SYS_ADMIN,
    CAP_SYS_TIME,
    IMAGE,
    cap_eff,
    ctr_cgroup_dir,
    log_lines,
)


def ctr_cgroup_file(engine, cid, controller, v1_name, v2_name):
    path = f"{engine.cgparent}/{cid}"
    d = cgroup_v1_path(controller, path)
    if d and os.path.exists(os.path.join(d, v1_name)):
        return os.path.join(d, v1_name)
    for mountpoint, fstype, _opts in cgroup_mounts():
        f = f"{mountpoint}{path}/{v2_name}"
        if fstype == "cgroup2" and os.path.exists(f):
            return f
    return None


# ---------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------


def test_memory_limit_oom_kill(engine):
    # doubling a shell variable allocates for real, fast
    t0 = time.monotonic()
    p = engine.run_ctr("--name", "oom", "-m", "16m", IMAGE, "sh", "-c",
                       "x=a; while :; do x=$x$x; done", check=False, timeout=30)
    assert p.returncode == 137, p.stderr
    assert time.monotonic() - t0 < 20
    c = engine.inspect("oom")
    assert c["State"]["OOMKilled"] is True
    assert c["State"]["ExitCode"] == 137
    assert c["HostConfig"]["Memory"] == 16 * 1024 * 1024


def test_memory_limit_in_cgroup(engine):
    cid = engine.run_d("--name", "m", "-m", "24m", "--memory-swap", "48m", IMAGE,
                       "sleep", "100")
    f = ctr_cgroup_file(engine, cid, "memory", "memory.limit_in_bytes", "memory.max")
    assert f, "no memory cgroup for the container"
    assert int(read_file(f)) == 24 * 1024 * 1024
    sw = ctr_cgroup_file(engine, cid, "memory", "memory.memsw.limit_in_bytes",
                         "memory.swap.max")
    if sw and sw.endswith("memsw.limit_in_bytes"):
        assert int(read_file(sw)) == 48 * 1024 * 1024
    elif sw:
        assert int(read_file(sw)) == 24 * 1024 * 1024
    assert engine.inspect("m")["State"]["OOMKilled"] is False


def test_no_oom_flag_for_normal_exit(engine):
    engine.run_ctr("--name", "ok", "-m", "64m", IMAGE, "sh", "-c", "x=$(head -c 1000000 "
                   "/dev/zero | tr '\\0' a); echo ${#x}")
    assert engine.inspect("ok")["State"]["OOMKilled"] is False


def test_memory_invalid(engine):
    p = engine.run_ctr("-m", "lots", IMAGE, "true", check=False)
    assert p.returncode == 125 and "lots" in p.stderr


# ---------------------------------------------------------------------------
# pids
# ---------------------------------------------------------------------------


def host_responsive(limit=2.0):
    t0 = time.monotonic()
    for _ in range(20):
        subprocess.run(["/bin/true"], check=True, timeout=10)
    return time.monotonic() - t0 < limit


def test_pids_limit_stops_fork_bomb(engine):
    # a real fork bomb; pid 1 then becomes a sleep (exec: no fork needed)
    cid = engine.run_d("--name", "fb", "--pids-limit", "50", IMAGE, "sh", "-c",
                       "b(){ b|b& }; b; exec sleep 1000")
    pmax = ctr_cgroup_file(engine, cid, "pids", "pids.max", "pids.max")
    assert pmax, "no pids cgroup for the container"
    assert read_file(pmax).strip() == "50"
    d = os.path.dirname(pmax)
    peak = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        cur = int(read_file(os.path.join(d, "pids.current"), "0"))
        peak = max(peak, cur)
        assert cur <= 50
        time.sleep(0.02)
    events = read_file(os.path.join(d, "pids.events"), "")
    hits = int(events.split()[1]) if events.startswith("max ") else None
    assert hits is None or hits > 0, f"the bomb never hit the limit: {events}"
    assert "can't fork" in "\n".join(log_lines(engine, "fb")[1]), "no fork failure seen"
    assert host_responsive(), "the host got slow during the fork bomb"
    assert engine.status("fb") == "running"
    t0 = time.monotonic()
    engine.run("rm", "-f", "fb", timeout=15)
    assert time.monotonic() - t0 < 5
    assert engine.ids() == []
    assert not os.path.isdir(d)
    assert engine.cgroup_parent.pids() == set()


def test_pids_limit_default_and_unlimited(engine):
    cid = engine.run_d("--name", "p1", IMAGE, "sleep", "100")
    assert engine.inspect("p1")["HostConfig"]["PidsLimit"] == 2048
    f = ctr_cgroup_file(engine, cid, "pids", "pids.max", "pids.max")
    assert f and read_file(f).strip() == "2048"
    cid = engine.run_d("--name", "p2", "--pids-limit", "-1", IMAGE, "sleep", "100")
    f = ctr_cgroup_file(engine, cid, "pids", "pids.max", "pids.max")
    assert f and read_file(f).strip() == "max"


# ---------------------------------------------------------------------------
# cpu
# ---------------------------------------------------------------------------


def test_cpus_and_shares(engine):
    cid = engine.run_d("--cpus", "0.5", "--cpu-shares", "512", IMAGE, "sleep", "100")
    d = ctr_cgroup_dir(engine, cid, "cpu")
    assert d
    if os.path.exists(os.path.join(d, "cpu.cfs_quota_us")):
        assert read_file(os.path.join(d, "cpu.cfs_quota_us")).strip() == "50000"
        assert read_file(os.path.join(d, "cpu.cfs_period_us")).strip() == "100000"
        assert read_file(os.path.join(d, "cpu.shares")).strip() == "512"
    else:
        assert read_file(os.path.join(d, "cpu.max")).split() == ["50000", "100000"]
    host = engine.inspect(cid)["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["CpuShares"] == 512


# ---------------------------------------------------------------------------
# ulimits
# ---------------------------------------------------------------------------


def _no_sys_resource_prefix():
    """Run cove without CAP_SYS_RESOURCE (dropped from the bounding set),
    so that it cannot raise a hard limit above its own."""
    if not os.path.exists("/usr/bin/setpriv"):
        return None
    return ["/usr/bin/setpriv", "--bounding-set", "-sys_resource", "--"]


def test_ulimit_within_hard_limit(engine):
    p = engine.run_ctr("--ulimit", "nofile=512:4096", "--ulimit", "nproc=300", IMAGE,
                       "sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu")
    assert p.stdout.split() == ["512", "4096", "300", "300"]
    assert "warning" not in p.stderr


def test_ulimit_clamped_to_hard_limit(engine):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= 1 << 20:
        pytest.skip(f"cove's hard nofile limit is {hard}: nothing to clamp")
    prefix = _no_sys_resource_prefix()
    if prefix is None:
        pytest.skip("setpriv is missing (util-linux)")
    want = max(99999, hard + 1000)
    cmd = prefix + engine.cmd("run", *engine.create_opts(), "--rm",
                              "--ulimit", f"nofile=1024:{want}", IMAGE,
                              "sh", "-c", "ulimit -Sn; ulimit -Hn")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert "warning" in p.stderr and str(want) in p.stderr, p.stderr
    soft_in, hard_in = (int(x) for x in p.stdout.split())
    assert hard_in == hard
    assert hard_in < want
    assert soft_in == min(1024, hard)


def test_ulimit_invalid(engine):
    for bad in ("nofile", "nosuch=1", "nofile=10:5", "nofile=x"):
        p = engine.run_ctr("--ulimit", bad, IMAGE, "true", check=False)
        assert p.returncode == 125, bad
        assert bad in p.stderr, p.stderr
    assert engine.ids() == []


# ---------------------------------------------------------------------------
# --privileged
# ---------------------------------------------------------------------------


def _own_bounding_set():
    for line in read_file("/proc/self/status").splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    return 0


def test_privileged(engine):
    p = engine.run_ctr("--privileged", IMAGE, "sh", "-c",
                       "cat /proc/self/status; mknod /dev/cove-kmsg c 1 11; "
                       "(: < /dev/cove-kmsg) 2>/dev/null && echo dev-open-ok")
    assert cap_eff(p.stdout) == _own_bounding_set()
    assert "Seccomp:\t0" in p.stdout
    assert "NoNewPrivs:\t0" in p.stdout
    assert "dev-open-ok" in p.stdout


def test_default_device_access_is_restricted(engine):
    p = engine.run_ctr(IMAGE, "sh", "-c",
                       "mknod /dev/cove-kmsg c 1 11; "
                       "(: < /dev/cove-kmsg) 2>/dev/null && echo dev-open-ok; "
                       "(: < /dev/null) && echo null-ok")
    assert "dev-open-ok" not in p.stdout
    assert "null-ok" in p.stdout


# ---------------------------------------------------------------------------
# process options
# ---------------------------------------------------------------------------


def test_env_envfile_workdir_user(engine):
    env_file = os.path.join(engine.tmp, "env")
    with open(env_file, "w") as f:
        f.write("# a comment\nFROMFILE=1\nSPACED=two words\n\n")
    env = dict(os.environ, COVE_T_HOSTVAR="from-host")
    p = engine.run_ctr(
        "-e", "X=y", "-e", "COVE_T_HOSTVAR", "--env-file", env_file,
        "-w", "/work/dir", "-u", "1000:1000",
        IMAGE, "sh", "-c",
        'echo "$X|$COVE_T_HOSTVAR|$FROMFILE|$SPACED"; pwd; id -u; id -g; echo "$PATH"',
        env=env,
    )
    lines = p.stdout.splitlines()
    assert lines[0] == "y|from-host|1|two words"
    assert lines[1] == "/work/dir"
    assert lines[2:4] == ["1000", "1000"]
    assert "/bin" in lines[4]  # the image's PATH is kept
    p = engine.run_ctr("-u", "nobody", IMAGE, "id")
    assert p.stdout.startswith("uid=65534(nobody) gid=65534")
    p = engine.run_ctr("-u", "nosuchuser", IMAGE, "id", check=False)
    assert p.returncode != 0 and "nosuchuser" in p.stderr


def test_hostname_and_add_host(engine):
    cid = engine.run_d("--name", "h", IMAGE, "hostname")
    engine.run("wait", "h")
    assert log_lines(engine, "h")[0] == [cid[:12]]
    p = engine.run_ctr("--hostname", "myhost", "--add-host", "db:10.1.2.3",
                       "--add-host", "cache:10.1.2.4", IMAGE, "sh", "-c",
                       "hostname; cat /etc/hostname; cat /etc/hosts")
    lines = p.stdout.splitlines()
    assert lines[:2] == ["myhost", "myhost"]
    hosts = [line.split() for line in lines[2:]]
    assert ["10.1.2.3", "db"] in hosts
    assert ["10.1.2.4", "cache"] in hosts
    assert any(h[0] == "127.0.0.1" and "localhost" in h for h in hosts), hosts


def test_read_only_rootfs(engine):
    p = engine.run_ctr("--read-only", "--tmpfs", "/tmp", IMAGE, "sh", "-c",
                       "touch /x 2>&1; echo rc=$?; touch /tmp/x && echo tmp-ok")
    assert "Read-only file system" in p.stdout
    assert "rc=1" in p.stdout
    assert "tmp-ok" in p.stdout
    p = engine.run_ctr(IMAGE, "sh", "-c", "touch /x && echo rw-ok")
    assert p.stdout == "rw-ok\n"


def test_cap_drop_and_add(engine):
    default = cap_eff(engine.run_ctr(IMAGE, "cat", "/proc/self/status").stdout)
    assert default & (1 << CAP_CHOWN) and default & (1 << CAP_NET_RAW)
    assert not default & (1 << CAP_SYS_ADMIN)
    p = engine.run_ctr("--cap-drop", "CHOWN", "--cap-drop", "net_raw", IMAGE, "sh", "-c",
                       "cat /proc/self/status; chown 1 /tmp 2>&1; echo rc=$?")
    caps = cap_eff(p.stdout)
    assert caps == default & ~(1 << CAP_CHOWN) & ~(1 << CAP_NET_RAW)
    assert "rc=1" in p.stdout
    p = engine.run_ctr("--cap-add", "SYS_ADMIN", "--cap-add", "CAP_SYS_TIME", IMAGE,
                       "cat", "/proc/self/status")
    assert cap_eff(p.stdout) == default | (1 << CAP_SYS_ADMIN) | (1 << CAP_SYS_TIME)
    p = engine.run_ctr("--cap-drop", "ALL", IMAGE, "cat", "/proc/self/status")
    assert cap_eff(p.stdout) == 0
    p = engine.run_ctr("--cap-add", "NOSUCHCAP", IMAGE, "true", check=False)
    assert p.returncode == 125 and "NOSUCHCAP" in p.stderr.upper()


def test_seccomp_unconfined(engine):
    def seccomp(*opts):
        out = engine.run_ctr(*opts, IMAGE, "cat", "/proc/self/status").stdout
        return [line.split()[1] for line in out.splitlines() if line.startswith("Seccomp:")][0]

    assert seccomp() == "2"
    assert seccomp("--security-opt", "seccomp=unconfined") == "0"


def test_no_new_privileges(engine):
    out = engine.run_ctr("--security-opt", "no-new-privileges", IMAGE, "cat",
                         "/proc/self/status").stdout
    assert "NoNewPrivs:\t1" in out


def test_entrypoint(engine):
    p = engine.run_ctr("--entrypoint", "echo", IMAGE, "hello", "there")
    assert p.stdout == "hello there\n"
    p = engine.run_ctr("--entrypoint", '["sh","-c","echo ep-$0"]', IMAGE, "arg0")
    assert p.stdout == "ep-arg0\n"
    cid = engine.run_d("--entrypoint", "echo", IMAGE, "x")
    c = engine.inspect(cid)
    assert c["Config"]["Entrypoint"] == ["echo"]
    assert c["Config"]["Cmd"] == ["x"]
    # the image's default command (sh) runs with no command given
    p = engine.run_ctr("-i", IMAGE, input="echo from-default-cmd\n")
    assert p.stdout == "from-default-cmd\n"


def test_labels(engine):
    engine.run_d("--name", "l", "--label", "a=1", "--label", "b=x=y", "--label", "c",
                 IMAGE, "true")
    labels = engine.inspect("l")["Config"]["Labels"]
    assert labels["a"] == "1"
    assert labels["b"] == "x=y"
    assert labels.get("c") == ""


# ---------------------------------------------------------------------------
# mounts and volumes
# ---------------------------------------------------------------------------


def mount_line(out, target):
    for line in out.splitlines():
        f = line.split()
        if len(f) > 3 and f[1] == target:
            return f
    return None


def test_tmpfs_and_mount_tmpfs(engine):
    p = engine.run_ctr("--tmpfs", "/scratch:size=1m,mode=1777",
                       "--mount", "type=tmpfs,target=/mt,tmpfs-size=2m",
                       IMAGE, "sh", "-c", "cat /proc/mounts; stat -c %a /scratch; "
                       "echo x > /scratch/f && echo x > /mt/f && echo wrote")
    s = mount_line(p.stdout, "/scratch")
    m = mount_line(p.stdout, "/mt")
    assert s and s[2] == "tmpfs" and "size=1024k" in s[3], s
    assert m and m[2] == "tmpfs" and "size=2048k" in m[3], m
    assert "1777" in p.stdout.splitlines()
    assert "wrote" in p.stdout


def test_bind_mount(engine):
    host = os.path.join(engine.tmp, "hostdir")
    os.mkdir(host)
    with open(os.path.join(host, "f"), "w") as f:
        f.write("hostdata\n")
    p = engine.run_ctr("-v", f"{host}:/h", "-v", f"{host}:/hro:ro",
                       "--mount", f"type=bind,source={host},target=/hm,readonly",
                       IMAGE, "sh", "-c",
                       "cat /h/f; echo new > /h/g; echo x > /hro/x 2>/dev/null; echo ro=$?; "
                       "echo x > /hm/x 2>/dev/null; echo rom=$?")
    assert p.stdout.splitlines() == ["hostdata", "ro=1", "rom=1"]
    assert read_file(os.path.join(host, "g")) == "new\n"
    assert sorted(os.listdir(host)) == ["f", "g"]
    p = engine.run_ctr("-v", "relative/path:/x", IMAGE, "true", check=False)
    assert p.returncode != 0


def test_named_volume_survives_rm(engine):
    engine.run_ctr("--name", "w", "-v", "data1:/data", IMAGE, "sh", "-c",
                   "echo persisted > /data/p")
    engine.run("rm", "w")
    p = engine.run_ctr("--rm", "-v", "data1:/data", IMAGE, "cat", "/data/p")
    assert p.stdout == "persisted\n"
    p = engine.run_ctr("--rm", "--mount", "type=volume,source=data1,target=/d2",
                       IMAGE, "cat", "/d2/p")
    assert p.stdout == "persisted\n"


def test_named_volume_copies_image_content(engine):
    # a new volume mounted over a non-empty image directory gets its content
    p = engine.run_ctr("--rm", "-v", "etcvol:/etc", IMAGE, "cat", "/etc/passwd")
    assert "root:x:0:0" in p.stdout


def test_anonymous_volume_removed_with_rm_v(engine):
    engine.run_ctr("--name", "a1", "-v", "/anon", IMAGE, "sh", "-c", "echo a > /anon/a")
    [vol] = engine.inspect("a1")["HostConfig"]["AnonVolumes"]
    engine.run_ctr("--name", "a2", "-v", "/anon", IMAGE, "true")
    [vol2] = engine.inspect("a2")["HostConfig"]["AnonVolumes"]
    assert vol != vol2
    engine.run("rm", "-v", "a1")
    engine.run("rm", "a2")
    # a1's volume is gone: the same name now makes a new, empty volume
    p = engine.run_ctr("--rm", "-v", f"{vol}:/v", IMAGE, "ls", "-A", "/v")
    assert p.stdout == ""
    # a2's volume (rm without -v) is kept, empty as it was written
    volumes = os.path.join(engine.root, "volumes")
    if os.path.isdir(volumes):
        assert vol2 in os.listdir(volumes)


def test_anonymous_volume_removed_with_run_rm(engine):
    engine.run_ctr("--rm", "-v", "/anon", IMAGE, "sh", "-c", "echo a > /anon/a")
    volumes = os.path.join(engine.root, "volumes")
    left = os.listdir(volumes) if os.path.isdir(volumes) else []
    assert left == [], "--rm left the anonymous volume"


def test_cgroupns_default_and_private(engine):
    """podman's default on v1 and hybrid hosts: the host's cgroup namespace
    (the container sees its own cgroup path); --cgroupns private hides it."""
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    p = engine.run_ctr("--rm", IMAGE, "cat", "/proc/self/cgroup")
    assert (engine.cgparent in p.stdout) == (not v2)
    p = engine.run_ctr("--rm", "--cgroupns", "host", IMAGE, "cat",
                       "/proc/self/cgroup")
    assert engine.cgparent in p.stdout
    p = engine.run_ctr("--rm", "--cgroupns", "private", IMAGE, "cat",
                       "/proc/self/cgroup")
    assert engine.cgparent not in p.stdout
    assert engine.fail("run", "--cgroupns", "bogus", IMAGE, "true").returncode == 125


def test_userns_auto(engine):
    """--userns=auto (vfs storage here): root in the container is a host
    id of a range no other container holds; the image's files are owned
    by that range on the host."""
    vfs = ("--storage-driver", "vfs")
    ids = []
    for name in ("ua", "ub"):
        p = engine.run(*vfs, "run", "-d", *engine.create_opts(), "--name", name,
                       "--userns", "auto", IMAGE, "sh", "-c",
                       "touch /made && sleep 300")
        ids.append(p.stdout.strip())
    engine.record_pids()
    maps = [engine.run(*vfs, "exec", n, "cat", "/proc/self/uid_map").stdout.split()
            for n in ("ua", "ub")]
    assert maps[0][0] == "0" and maps[0][2] == "65536"
    assert maps[0][1] != maps[1][1]
    base = int(maps[0][1])
    assert base >= 2 ** 31
    assert engine.run(*vfs, "exec", "ua", "id", "-u").stdout.strip() == "0"
    # on the host, the container's files belong to its range
    rootfs = os.path.join(engine.root, "vfs-containers", ids[0], "rootfs")
    wait_for(lambda: os.path.exists(os.path.join(rootfs, "made")), what="/made")
    assert os.stat(os.path.join(rootfs, "made")).st_uid == base
    assert os.lstat(os.path.join(rootfs, "bin")).st_uid == base
    engine.run(*vfs, "rm", "-f", "ua", "ub")
    assert not os.path.exists(rootfs)


def test_userns_auto_overlay(engine):
    """With overlay the layers are seen through idmapped mounts: the
    container sees the image's owners, what it writes lands in its upper
    dir with its own host ids, and the shared layers stay untouched."""
    cid = engine.run_d("--name", "uo", "--userns", "auto", IMAGE, "sh", "-c",
                       "touch /made && sleep 300")
    base = int(engine.run("exec", "uo", "cat", "/proc/self/uid_map").stdout.split()[1])
    assert base >= 2 ** 31
    p = engine.run("exec", "uo", "stat", "-c", "%u", "/bin/busybox", "/made")
    assert p.stdout.split() == ["0", "0"]
    upper = os.path.join(engine.root, "overlay-containers", cid, "upper")
    wait_for(lambda: os.path.exists(os.path.join(upper, "made")), what="/made")
    assert os.stat(os.path.join(upper, "made")).st_uid == base
    layers = os.path.join(engine.root, "overlay")
    before = {d: os.listdir(os.path.join(layers, d, "diff"))
              for d in os.listdir(layers) if len(d) == 64}
    engine.run("stop", "-t", "0", "uo")
    engine.run("start", "uo")
    assert engine.run("exec", "uo", "ls", "/made").returncode == 0
    engine.run("rm", "-f", "uo")
    # the idmapped layer mounts are gone and the layers intact
    assert not [m for m in engine.mounts() if "overlay-containers" in m]
    after = {d: os.listdir(os.path.join(layers, d, "diff")) for d in before}
    assert after == before
    # a plain container still runs on the same layers
    assert engine.run_ctr("--rm", IMAGE, "echo", "ok").stdout == "ok\n"


def test_userns_auto_concurrent_creates_get_distinct_ranges(engine):
    vfs = ("--storage-driver", "vfs")
    procs = [engine.popen(*vfs, "create", *engine.create_opts(), "--name",
                          f"uc{i}", "--userns", "auto", IMAGE, "true")
             for i in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    bases = [engine.inspect(f"uc{i}")["HostConfig"]["IDMapBase"] for i in range(4)]
    assert len(set(bases)) == 4, bases
    engine.run(*vfs, "rm", *[f"uc{i}" for i in range(4)])
