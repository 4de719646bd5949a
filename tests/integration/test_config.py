"""config.json fields are applied to the container."""

import json
import os
import time

import pytest

from conftest import cgroup_v1_path, read_file, sleeper

CAPS = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_RAW": 13,
    "CAP_SYS_CHROOT": 18,
    "CAP_AUDIT_WRITE": 29,
}


def status_field(output, name):
    for line in output.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    raise AssertionError(f"{name} not in /proc/self/status output:\n{output}")


def cap_mask(names):
    mask = 0
    for n in names:
        mask |= 1 << CAPS[n]
    return mask


# --- process ---------------------------------------------------------------


def test_env(runner, bundle):
    bundle.process["env"] = ["PATH=/bin", "FOO=bar baz", "EMPTY="]
    proc = runner.sh('echo "[$FOO][$EMPTY][$PATH]"; env | sort')
    lines = proc.stdout.splitlines()
    assert lines[0] == "[bar baz][][/bin]"
    assert "FOO=bar baz" in lines


def test_cwd(runner, bundle):
    bundle.process["cwd"] = "/tmp"
    assert runner.sh("pwd").stdout == "/tmp\n"


def test_cwd_created_if_missing(runner, bundle):
    bundle.process["cwd"] = "/tmp/does/not/exist"
    assert runner.sh("pwd").stdout == "/tmp/does/not/exist\n"


def test_cwd_must_be_absolute(rt, bundle, container_id):
    bundle.process["cwd"] = "tmp"
    bundle.set_sh("pwd")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "cwd" in proc.stderr.lower()


def test_user_uid_gid_additional_gids(runner, bundle):
    bundle.process["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [10, 20]}
    out = runner.sh("id -u; id -g; id -G").stdout.split("\n")
    assert out[0] == "1000"
    assert out[1] == "1001"
    groups = set(out[2].split())
    assert {"10", "20"} <= groups
    assert "0" not in groups


def test_user_without_additional_gids_drops_host_groups(runner, bundle):
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    groups = runner.sh("id -G").stdout.split()
    assert set(groups) <= {"1000"}


def test_umask(runner, bundle):
    bundle.process["user"] = {"uid": 0, "gid": 0, "umask": 0o027}
    out = runner.sh("umask; touch /tmp/f; stat -c %a /tmp/f").stdout.split()
    assert out[0] == "0027"
    assert out[1] == "640"


def test_hostname_domainname(runner, bundle):
    bundle.config["hostname"] = "cove-host"
    bundle.config["domainname"] = "cove.example"
    out = runner.sh("hostname; cat /proc/sys/kernel/domainname").stdout.split()
    assert out == ["cove-host", "cove.example"]


def test_hostname_does_not_leak_to_host(runner, bundle):
    host = os.uname().nodename
    bundle.config["hostname"] = "cove-other"
    assert runner.sh("hostname").stdout.strip() == "cove-other"
    assert os.uname().nodename == host


def test_rlimit_nofile(runner, bundle):
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    assert runner.sh("ulimit -n").stdout.strip() == "1024"


def test_rlimit_soft_hard(runner, bundle):
    bundle.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 512},
        {"type": "RLIMIT_NPROC", "hard": 300, "soft": 200},
    ]
    out = runner.sh(
        "grep -E '^Max (open files|processes)' /proc/self/limits"
    ).stdout.splitlines()
    limits = {}
    for line in out:
        name, soft, hard = line[:26].strip(), line[26:].split()[0], line[26:].split()[1]
        limits[name] = [soft, hard]
    assert limits["Max open files"] == ["512", "2048"]
    assert limits["Max processes"] == ["200", "300"]


def test_rlimit_invalid_type(rt, bundle, container_id):
    bundle.process["rlimits"] = [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]
    bundle.set_sh("true")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "RLIMIT_BOGUS" in proc.stderr


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(runner, bundle, nnp):
    bundle.process["noNewPrivileges"] = nnp
    out = runner.sh("cat /proc/self/status").stdout
    assert status_field(out, "NoNewPrivs") == ("1" if nnp else "0")


def test_capabilities(runner, bundle):
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    bundle.process["capabilities"] = {
        "bounding": caps,
        "effective": caps,
        "permitted": caps,
        "inheritable": [],
        "ambient": [],
    }
    out = runner.sh("cat /proc/self/status").stdout
    want = cap_mask(caps)
    assert int(status_field(out, "CapEff"), 16) == want
    assert int(status_field(out, "CapPrm"), 16) == want
    assert int(status_field(out, "CapBnd"), 16) == want
    assert int(status_field(out, "CapInh"), 16) == 0


def test_capabilities_bounding_smaller_than_effective_is_honoured(runner, bundle):
    bundle.process["capabilities"] = {
        "bounding": ["CAP_KILL"],
        "effective": ["CAP_KILL"],
        "permitted": ["CAP_KILL"],
    }
    out = runner.sh("cat /proc/self/status; chown 1 /tmp 2>&1 || echo chown-denied").stdout
    assert int(status_field(out, "CapBnd"), 16) == cap_mask(["CAP_KILL"])
    assert "chown-denied" in out


def test_capabilities_unknown_name(rt, bundle, container_id):
    # runc ignores capabilities it does not know, with a warning (configs
    # written for newer kernels name newer capabilities); either way the
    # user must be told which name was the problem.
    bundle.process["capabilities"] = {"bounding": ["CAP_NOT_A_CAP"]}
    bundle.set_sh("true")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert "CAP_NOT_A_CAP" in proc.stderr


def test_oom_score_adj(runner, bundle):
    bundle.process["oomScoreAdj"] = 500
    assert runner.sh("cat /proc/self/oom_score_adj").stdout.strip() == "500"


def test_args_exec_path_lookup(runner, bundle, rt, container_id):
    bundle.process["env"] = ["PATH=/bin"]
    bundle.set_args("echo", "path", "lookup")
    proc = rt.run("run", "--bundle", bundle.path, container_id())
    assert proc.stdout == "path lookup\n"


# --- mounts ---------------------------------------------------------------


def mountinfo_line(mountinfo, target):
    for line in mountinfo.splitlines():
        if line.split()[4] == target:
            return line
    raise AssertionError(f"{target} not mounted:\n{mountinfo}")


def test_mount_tmpfs_size(runner, bundle):
    bundle.add_mount("/tmp/t", "tmpfs", "tmpfs", ["size=1m", "mode=700", "nosuid"])
    out = runner.sh("cat /proc/self/mountinfo; stat -c %a /tmp/t").stdout
    line = mountinfo_line(out, "/tmp/t")
    assert " - tmpfs " in line
    assert "size=1024k" in line
    assert "nosuid" in line.split()[5]
    assert out.splitlines()[-1] == "700"


def test_mount_bind_ro(runner, bundle, test_tmp):
    host = os.path.join(test_tmp, "hostdir")
    os.mkdir(host)
    with open(os.path.join(host, "data"), "w") as f:
        f.write("from-host\n")
    bundle.add_mount("/tmp/host", "bind", host, ["bind", "ro"])
    proc = runner.sh("cat /tmp/host/data; echo x > /tmp/host/new 2>/dev/null && echo WROTE; true")
    assert proc.stdout == "from-host\n"
    assert not os.path.exists(os.path.join(host, "new"))


def test_mount_bind_rw_visible_on_host(runner, bundle, test_tmp):
    host = os.path.join(test_tmp, "hostdir")
    os.mkdir(host)
    bundle.add_mount("/tmp/host", "none", host, ["rbind", "rw"])
    runner.sh("echo written > /tmp/host/out")
    assert read_file(os.path.join(host, "out")) == "written\n"


def test_mount_target_created(runner, bundle, test_tmp):
    rootfs = bundle.private_rootfs()
    host = os.path.join(test_tmp, "hostdir")
    os.mkdir(host)
    with open(os.path.join(host, "data"), "w") as f:
        f.write("deep\n")
    hostfile = os.path.join(test_tmp, "hostfile")
    with open(hostfile, "w") as f:
        f.write("file-bind\n")
    bundle.add_mount("/newdir/sub", "bind", host, ["bind", "ro"])
    bundle.add_mount("/etc/newfile", "bind", hostfile, ["bind", "ro"])
    proc = runner.sh("cat /newdir/sub/data /etc/newfile")
    assert proc.stdout == "deep\nfile-bind\n"
    assert os.path.isdir(os.path.join(rootfs, "newdir", "sub"))
    assert os.path.isfile(os.path.join(rootfs, "etc", "newfile"))


def test_mount_bind_source_missing(rt, bundle, container_id, test_tmp):
    bundle.add_mount("/tmp/x", "bind", os.path.join(test_tmp, "nope"), ["bind"])
    bundle.set_sh("true")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "nope" in proc.stderr


def test_readonly_root(runner, bundle):
    assert bundle.config["root"]["readonly"] is True
    out = runner.sh(
        "touch /rootfile 2>/dev/null && echo ROOT-WRITABLE; "
        "touch /tmp/ok && echo TMP-WRITABLE; "
        "awk '$5 == \"/\" { print $6 }' /proc/self/mountinfo"
    ).stdout.splitlines()
    assert "ROOT-WRITABLE" not in out
    assert "TMP-WRITABLE" in out
    assert "ro" in out[-1].split(","), out


def test_writable_root(runner, bundle):
    rootfs = bundle.private_rootfs()
    runner.sh("echo w > /rootfile")
    assert read_file(os.path.join(rootfs, "rootfile")) == "w\n"


# --- sysctl and namespaces --------------------------------------------------


def test_sysctl_net_in_netns(runner, bundle):
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    host_before = read_file("/proc/sys/net/ipv4/ip_forward")
    assert runner.sh("cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"
    assert read_file("/proc/sys/net/ipv4/ip_forward") == host_before


def test_sysctl_ipc(runner, bundle):
    bundle.linux["sysctl"] = {"kernel.shmmax": "68719476736", "kernel.msgmax": "16384"}
    host_before = read_file("/proc/sys/kernel/shmmax")
    out = runner.sh("cat /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax").stdout.split()
    assert out == ["68719476736", "16384"]
    assert read_file("/proc/sys/kernel/shmmax") == host_before


def test_sysctl_net_without_netns_rejected(rt, bundle, container_id):
    # The value is the host's own, so a runtime that wrongly applies it
    # changes nothing on this machine.
    current = read_file("/proc/sys/net/ipv4/ip_forward").strip()
    bundle.remove_namespace("network")
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": current}
    bundle.set_sh("true")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "net.ipv4.ip_forward" in proc.stderr


def test_sysctl_not_namespaced_rejected(rt, bundle, container_id):
    current = read_file("/proc/sys/kernel/panic").strip()
    bundle.linux["sysctl"] = {"kernel.panic": current}
    bundle.set_sh("true")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "kernel.panic" in proc.stderr


def test_new_netns_has_only_lo(runner, bundle):
    out = runner.sh("cat /proc/net/dev").stdout.splitlines()[2:]
    names = sorted(line.split(":")[0].strip() for line in out if ":" in line)
    assert names == ["lo"]


def test_join_netns_by_path(runner, bundle, netns):
    name, path = netns()
    bundle.set_namespace("network", path)
    out = runner.sh("readlink /proc/self/ns/net").stdout.strip()
    assert out == f"net:[{os.stat(path).st_ino}]"
    assert out != os.readlink("/proc/self/ns/net")


def test_join_ns_bad_path(rt, bundle, container_id, test_tmp):
    bundle.set_namespace("network", os.path.join(test_tmp, "no-such-ns"))
    bundle.set_sh("true")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "no-such-ns" in proc.stderr


def test_namespaces_isolated(runner, bundle):
    out = runner.sh(
        "echo $$; for n in net ipc uts mnt pid; do readlink /proc/self/ns/$n; done"
    ).stdout.split()
    assert out[0] == "1"
    for ns, inside in zip(["net", "ipc", "uts", "mnt", "pid"], out[1:]):
        assert inside != os.readlink(f"/proc/self/ns/{ns}"), ns


def test_without_netns_shares_host_network(runner, bundle):
    bundle.remove_namespace("network")
    out = runner.sh("readlink /proc/self/ns/net").stdout.strip()
    assert out == os.readlink("/proc/self/ns/net")


def test_cgroup_namespace(runner, bundle):
    bundle.set_namespace("cgroup")
    out = runner.sh("readlink /proc/self/ns/cgroup; cat /proc/self/cgroup").stdout
    lines = out.splitlines()
    assert lines[0] != os.readlink("/proc/self/ns/cgroup")
    memory = [l for l in lines[1:] if ":memory:" in l]
    assert memory and memory[0].endswith(":/"), out


def test_user_namespace_mappings(runner, bundle):
    bundle.set_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.write()
    out = runner.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; sleep 0").stdout
    lines = [l.split() for l in out.splitlines()]
    assert lines[0] == ["0", "100000", "65536"]
    assert lines[1] == ["0", "100000", "65536"]
    assert lines[2] == ["0"]


def test_user_namespace_host_uid(rt, runner, bundle):
    bundle.set_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.write()
    cid, pid = runner.start_detached(*sleeper())
    uids = read_file(f"/proc/{pid}/status")
    real_uid = [l for l in uids.splitlines() if l.startswith("Uid:")][0].split()[1]
    assert real_uid == "100000"


# --- devices --------------------------------------------------------------


def test_default_devices(runner):
    out = runner.sh(
        "for d in null zero full random urandom tty; do "
        "  test -c /dev/$d && echo char:$d; done; "
        "test -e /dev/ptmx && echo ptmx; "
        "readlink /dev/fd; readlink /dev/stdin; readlink /dev/stdout; readlink /dev/stderr; "
        "echo discard > /dev/null && echo null-ok; "
        "head -c 4 /dev/zero | od -An -tx1"
    ).stdout.split("\n")
    for d in ["null", "zero", "full", "random", "urandom", "tty"]:
        assert f"char:{d}" in out
    assert "ptmx" in out
    assert "/proc/self/fd" in out
    assert "/proc/self/fd/0" in out
    assert "/proc/self/fd/1" in out
    assert "/proc/self/fd/2" in out
    assert "null-ok" in out
    assert "00 00 00 00" in " ".join(out)


def test_default_devices_numbers(runner):
    out = runner.sh("stat -c '%n %t:%T' /dev/null /dev/zero /dev/full /dev/urandom").stdout
    nums = dict(line.split() for line in out.splitlines())
    assert nums == {
        "/dev/null": "1:3",
        "/dev/zero": "1:5",
        "/dev/full": "1:7",
        "/dev/urandom": "1:9",
    }


def test_linux_devices(runner, bundle):
    bundle.linux["devices"] = [
        {
            "path": "/dev/cove-null",
            "type": "c",
            "major": 1,
            "minor": 3,
            "fileMode": 0o620,
            "uid": 0,
            "gid": 5,
        }
    ]
    out = runner.sh(
        "stat -c '%F %t:%T %a %u %g' /dev/cove-null; echo x > /dev/cove-null && echo write-ok"
    ).stdout.splitlines()
    assert out[0] == "character special file 1:3 620 0 5"
    assert out[1] == "write-ok"


def test_device_cgroup_denies_unlisted(runner, bundle):
    # /dev/kmsg (1:11) exists as a node but is not in the allow list
    bundle.linux["devices"] = [
        {"path": "/dev/cove-kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600}
    ]
    out = runner.sh(
        "test -c /dev/cove-kmsg && echo exists; "
        "head -c 1 /dev/cove-kmsg >/dev/null 2>&1 && echo OPENED || echo denied"
    ).stdout.split()
    assert out == ["exists", "denied"]


# --- cgroups --------------------------------------------------------------


def cg_file(controller, bundle, name):
    base = cgroup_v1_path(controller, bundle.cgroups_path)
    if base is None:
        pytest.skip(f"no cgroup v1 {controller} hierarchy on this host")
    return os.path.join(base, name)


def test_cgroup_resources_applied(rt, runner, bundle):
    bundle.linux.setdefault("resources", {}).update(
        {
            "memory": {"limit": 64 * 1024 * 1024},
            "pids": {"limit": 123},
            "cpu": {"shares": 512},
        }
    )
    bundle.write()
    cid, st = runner.create(*sleeper())
    assert read_file(cg_file("memory", bundle, "memory.limit_in_bytes")).strip() == str(
        64 * 1024 * 1024
    )
    assert read_file(cg_file("pids", bundle, "pids.max")).strip() == "123"
    assert read_file(cg_file("cpu", bundle, "cpu.shares")).strip() == "512"
    assert str(st["pid"]) in read_file(cg_file("memory", bundle, "cgroup.procs")).split()
    assert str(st["pid"]) in read_file(cg_file("pids", bundle, "cgroup.procs")).split()


def test_cgroup_pids_limit_enforced(runner, bundle):
    bundle.linux.setdefault("resources", {})["pids"] = {"limit": 10}
    bundle.write()
    # A subshell forks 20 sleeps (it dies at the first failed fork); the
    # count uses only shell builtins, which need no fork.
    out = runner.sh(
        "(i=0; while [ $i -lt 20 ]; do sleep 3 & i=$((i+1)); done) 2>/dev/null; "
        "set -- /proc/[0-9]*; echo count:$#",
    ).stdout.split()
    count = int(out[-1].split(":")[1])
    assert 2 <= count <= 10


def test_cgroup_process_in_cgroup_path(runner, bundle):
    out = runner.sh("cat /proc/self/cgroup").stdout
    mem = [l for l in out.splitlines() if ":memory:" in l]
    assert mem and mem[0].split(":", 2)[2] == bundle.cgroups_path


def test_update_memory(rt, runner, bundle):
    cid, pid = runner.start_detached(*sleeper())
    rt.run("update", "--memory", str(96 * 1024 * 1024), "--pids-limit", "55", cid)
    assert read_file(cg_file("memory", bundle, "memory.limit_in_bytes")).strip() == str(
        96 * 1024 * 1024
    )
    assert read_file(cg_file("pids", bundle, "pids.max")).strip() == "55"


def test_update_resources_file(rt, runner, bundle, test_tmp):
    cid, pid = runner.start_detached(*sleeper())
    path = os.path.join(test_tmp, "resources.json")
    with open(path, "w") as f:
        json.dump({"memory": {"limit": 80 * 1024 * 1024}, "pids": {"limit": 77}, "cpu": {"shares": 256}}, f)
    rt.run("update", "-r", path, cid)
    assert read_file(cg_file("memory", bundle, "memory.limit_in_bytes")).strip() == str(
        80 * 1024 * 1024
    )
    assert read_file(cg_file("pids", bundle, "pids.max")).strip() == "77"
    assert read_file(cg_file("cpu", bundle, "cpu.shares")).strip() == "256"


def test_update_resources_stdin(rt, runner, bundle):
    cid, pid = runner.start_detached(*sleeper())
    rt.run("update", "-r", "-", cid, input=json.dumps({"pids": {"limit": 66}}))
    assert read_file(cg_file("pids", bundle, "pids.max")).strip() == "66"


def test_update_nonexistent(rt, container_id):
    cid = container_id()
    proc = rt.run("update", "--memory", "100000000", cid, check=False)
    assert proc.returncode != 0


# --- seccomp, personality -------------------------------------------------


def test_seccomp_errno(runner, bundle):
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
        ],
    }
    proc = runner.sh(
        "touch /tmp/f && echo touch-ok; mkdir /tmp/d && echo MKDIR-OK; "
        "grep Seccomp: /proc/self/status",
        check=False,
    )
    assert "touch-ok" in proc.stdout
    assert "MKDIR-OK" not in proc.stdout
    assert "Operation not permitted" in proc.stderr
    assert "Seccomp:\t2" in proc.stdout


def test_seccomp_kill_default(runner, bundle):
    # everything allowed but uname, which kills the process
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_KILL"}],
    }
    proc = runner.sh("uname -a; echo survived", check=False)
    assert "survived" not in proc.stdout or proc.returncode != 0


def test_seccomp_unknown_action(rt, bundle, container_id):
    bundle.linux["seccomp"] = {"defaultAction": "SCMP_ACT_BOGUS"}
    bundle.set_sh("true")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "SCMP_ACT_BOGUS" in proc.stderr


def test_personality_linux32(runner, bundle):
    bundle.linux["personality"] = {"domain": "LINUX32"}
    assert runner.sh("uname -m").stdout.strip() == "i686"


# --- hooks ----------------------------------------------------------------


def hook(path_out, name):
    return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {path_out}/{name}.json"]}


def test_hooks_receive_state(rt, bundle, container_id, test_tmp):
    out = os.path.join(test_tmp, "hooks")
    os.mkdir(out)
    names = ["prestart", "createRuntime", "poststart", "poststop"]
    hooks = {n: [hook(out, n)] for n in names}
    # startContainer runs in the container after pivot_root, so its path
    # and output file are the container's.  (createContainer runs in the
    # container's mount namespace before pivot_root, where a relative
    # write would land on the host: not exercised here.)
    hooks["startContainer"] = [
        {"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/startContainer.json"]}
    ]
    bundle.config["hooks"] = hooks
    bundle.set_sh("cat /tmp/startContainer.json")
    cid = container_id()
    proc = rt.run("run", "--bundle", bundle.path, cid)
    st = json.loads(proc.stdout)
    assert st["id"] == cid
    assert st["pid"] > 0
    for n in ["prestart", "createRuntime", "poststart"]:
        st = json.loads(read_file(os.path.join(out, f"{n}.json")))
        assert st["id"] == cid, n
        assert isinstance(st.get("pid"), int) and st["pid"] > 0, n
        assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path), n
        assert "ociVersion" in st and "status" in st, n
    assert json.loads(read_file(os.path.join(out, "createRuntime.json")))["status"] == "creating"
    st = json.loads(read_file(os.path.join(out, "poststop.json")))
    assert st["id"] == cid
    assert st["status"] == "stopped"


def test_hook_env_and_args(rt, bundle, container_id, test_tmp):
    out = os.path.join(test_tmp, "hookenv")
    bundle.config["hooks"] = {
        "createRuntime": [
            {
                "path": "/bin/sh",
                "args": ["sh", "-c", 'echo "$0 $1 $COVE_HOOK_VAR" > ' + out, "arg0", "arg1"],
                "env": ["COVE_HOOK_VAR=hookval"],
            }
        ]
    }
    bundle.set_sh("true")
    rt.run("run", "--bundle", bundle.path, container_id())
    assert read_file(out) == "arg0 arg1 hookval\n"


def test_hooks_order(rt, bundle, container_id, test_tmp):
    log = os.path.join(test_tmp, "order")
    names = ["createRuntime", "prestart", "poststart", "poststop"]
    bundle.config["hooks"] = {
        n: [{"path": "/bin/sh", "args": ["sh", "-c", f"echo {n} >> {log}"]}] for n in names
    }
    bundle.set_sh("true")
    rt.run("run", "--bundle", bundle.path, container_id())
    lines = read_file(log).split()
    assert "prestart" in lines and "createRuntime" in lines
    assert lines.index("poststart") > lines.index("createRuntime")
    assert lines.index("poststart") > lines.index("prestart")
    assert lines[-1] == "poststop"


def test_failing_hook_aborts_create(rt, bundle, container_id, cgroup_parent):
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/false", "args": ["false"]}]}
    bundle.set_sh("echo SHOULD-NOT-RUN")
    cid = container_id()
    proc = rt.run("create", "--bundle", bundle.path, cid, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip()
    st = rt.run("state", cid, check=False)
    assert st.returncode != 0 or json.loads(st.stdout)["status"] == "stopped"
    start = rt.run("start", cid, check=False)
    assert start.returncode != 0
    assert "SHOULD-NOT-RUN" not in start.stdout
    # no container process survives the failed create
    assert cgroup_parent.pids() == set()


def test_failing_prestart_hook_run_fails(rt, bundle, container_id):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}
    bundle.set_sh("echo SHOULD-NOT-RUN")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "SHOULD-NOT-RUN" not in proc.stdout


def test_hook_timeout(rt, bundle, container_id, test_tmp, pid_reaper):
    pidfile = os.path.join(test_tmp, "hook.pid")
    bundle.config["hooks"] = {
        "createRuntime": [
            {
                "path": "/bin/sh",
                "args": ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 5"],
                "timeout": 1,
            }
        ]
    }
    bundle.set_sh("true")
    t0 = time.monotonic()
    proc = rt.run("create", "--bundle", bundle.path, container_id(), check=False)
    elapsed = time.monotonic() - t0
    if os.path.exists(pidfile):
        pid_reaper((int(read_file(pidfile)), "sleep"))
    assert proc.returncode != 0
    assert elapsed < 4.5, f"hook timeout of 1s not enforced ({elapsed:.1f}s)"


# --- annotations, masked and read-only paths --------------------------------


def test_annotations_in_state(rt, runner, bundle):
    bundle.config["annotations"] = {"a.b/c": "1", "com.example.key": "value with space"}
    bundle.write()
    cid, st = runner.create(*sleeper())
    assert st["annotations"] == {"a.b/c": "1", "com.example.key": "value with space"}


def test_masked_paths(runner, bundle):
    bundle.linux["maskedPaths"] = ["/proc/kcore", "/proc/keys", "/sys/firmware", "/proc/no-such-file"]
    out = runner.sh(
        "echo kcore:$(cat /proc/kcore 2>/dev/null | wc -c); "
        "echo keys:$(cat /proc/keys 2>/dev/null | wc -c); "
        "echo firmware:$(ls -A /sys/firmware 2>/dev/null | wc -l)"
    ).stdout.split()
    assert out == ["kcore:0", "keys:0", "firmware:0"]


def test_readonly_paths(runner, bundle):
    bundle.linux["readonlyPaths"] = ["/proc/sys", "/proc/sysrq-trigger"]
    out = runner.sh(
        "echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null && echo SYS-WRITABLE || echo sys-ro; "
        "echo cove-x > /proc/sys/kernel/hostname 2>/dev/null && echo HOST-WRITABLE || echo host-ro; "
        "cat /proc/sys/kernel/ostype"
    ).stdout.split()
    assert out == ["sys-ro", "host-ro", "Linux"]
