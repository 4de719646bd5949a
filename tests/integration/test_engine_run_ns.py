"""The namespaces and kernel knobs `cove run` chooses, as podman 4.3:
--pid/--ipc/--uts host|private|container:X|ns:PATH (and --ipc none),
--device, --group-add, --sysctl and --shm-size.  Every test looks at the
effect inside a real container (namespace links, /proc, /dev, id -G,
/proc/sys, df) and bad values are refused with exit 125 before anything is
made.  The `engine` fixture (conftest.py) checks that nothing is left.
"""

import json
import os
import socket

import pytest

from test_engine import IMAGE
from test_engine_network import _have_plugins, net  # noqa: F401


def ns_link(pid, ns):
    return os.readlink(f"/proc/{pid}/ns/{ns}")


def out(p):
    return p.stdout.strip()


def state_pid(engine, name):
    return engine.inspect(name)["State"]["Pid"]


def spec_of(engine, cid):
    with open(os.path.join(engine.root, "containers", cid, "config.json")) as f:
        return json.load(f)


def assert_refused(engine, *args, want, network="none"):
    before = engine.ids()
    p = engine.run_ctr(*args, check=False, network=network)
    assert p.returncode == 125, p.stderr
    assert want in p.stderr, p.stderr
    assert engine.ids() == before, "a refused run left a container"


# ---------------------------------------------------------------------------
# --pid
# ---------------------------------------------------------------------------


def test_pid_host_sees_host_processes(engine):
    p = engine.run_ctr("--rm", "--pid", "host", IMAGE, "sh", "-c",
                       "readlink /proc/self/ns/pid; cat /proc/1/comm")
    link, comm = out(p).splitlines()
    assert link == ns_link("self", "pid")
    with open("/proc/1/comm") as f:
        assert comm == f.read().strip()
    # private (the default): its own, pid 1 is the command
    p = engine.run_ctr("--rm", IMAGE, "sh", "-c", "readlink /proc/self/ns/pid; echo $$")
    link, pid1 = out(p).splitlines()
    assert link != ns_link("self", "pid")
    assert pid1 == "1"


def test_pid_container_joins_and_is_recorded_by_id(engine):
    xid = engine.run_d("--name", "x", IMAGE, "sleep", "100")
    p = engine.run_ctr("--rm", "--pid", "container:x", IMAGE, "sh", "-c",
                       "readlink /proc/self/ns/pid; ps -o pid,args")
    lines = out(p).splitlines()
    assert lines[0] == ns_link(state_pid(engine, "x"), "pid")
    assert any(line.split()[0] == "1" and "sleep 100" in line for line in lines[1:]), lines
    engine.create_ctr("--name", "y", "--pid", "container:x", IMAGE, "true")
    assert engine.inspect("y")["HostConfig"]["PidMode"] == f"container:{xid}"
    engine.run("rm", "y")


def test_join_needs_the_container_running_and_blocks_its_rm(engine):
    assert_refused(engine, "--pid", "container:nosuch", IMAGE, "true", want="nosuch")
    engine.create_ctr("--name", "x", IMAGE, "sleep", "100")
    engine.create_ctr("--name", "y", "--ipc", "container:x", IMAGE, "true")
    p = engine.fail("start", "y")
    assert "container x" in p.stderr and "not running" in p.stderr, p.stderr
    # podman's refusal, naming the dependent; -f does not override it
    for args in (("rm", "x"), ("rm", "-f", "x")):
        p = engine.fail(*args)
        assert "has dependent containers which must be removed before it: y" in p.stderr, p.stderr
    engine.run("start", "x")
    engine.record_pids()
    p = engine.run("start", "-a", "y")
    assert p.returncode == 0
    engine.run("rm", "y")
    engine.run("rm", "-f", "x")
    assert engine.ids() == []


def test_restart_policy_with_joined_namespace_refused(engine):
    engine.run_d("--name", "x", IMAGE, "sleep", "100")
    assert_refused(engine, "--restart", "always", "--pid", "container:x", IMAGE,
                   "true", want="--restart always")


# ---------------------------------------------------------------------------
# --ipc, --shm-size
# ---------------------------------------------------------------------------


def test_ipc_host_none_container(engine):
    p = engine.run_ctr("--rm", "--ipc", "host", IMAGE, "readlink", "/proc/self/ns/ipc")
    assert out(p) == ns_link("self", "ipc")
    p = engine.run_ctr("--rm", "--ipc", "none", IMAGE, "sh", "-c",
                       "readlink /proc/self/ns/ipc; grep -c ' /dev/shm ' /proc/mounts || true")
    link, n = out(p).splitlines()
    assert link != ns_link("self", "ipc")
    assert n == "0"
    engine.run_d("--name", "x", IMAGE, "sleep", "100")
    p = engine.run_ctr("--rm", "--ipc", "container:x", IMAGE, "readlink", "/proc/self/ns/ipc")
    assert out(p) == ns_link(state_pid(engine, "x"), "ipc")
    p = engine.run_ctr("--rm", "--ipc", "shareable", IMAGE, "readlink", "/proc/self/ns/ipc")
    assert out(p) != ns_link("self", "ipc")
    assert_refused(engine, "--ipc", "bogus", IMAGE, "true", want="invalid --ipc 'bogus'")


def test_shm_size(engine):
    p = engine.run_ctr("--rm", IMAGE, "df", "-k", "/dev/shm")
    assert out(p).splitlines()[-1].split()[1] == "65536"
    p = engine.run_ctr("--rm", "--shm-size", "10m", IMAGE, "sh", "-c",
                       "df -k /dev/shm; grep ' /dev/shm ' /proc/mounts")
    lines = out(p).splitlines()
    assert lines[1].split()[1] == "10240"
    assert "size=10240k" in lines[-1]
    assert_refused(engine, "--shm-size", "0", IMAGE, "true", want="--shm-size")
    assert_refused(engine, "--shm-size", "1m", "--ipc", "host", IMAGE, "true",
                   want="--shm-size")


# ---------------------------------------------------------------------------
# --uts
# ---------------------------------------------------------------------------


def test_uts_host_and_container(engine):
    cid = engine.run_ctr("-d", "--uts", "host", IMAGE, "sleep", "100").stdout.split()[-1]
    assert "hostname" not in spec_of(engine, cid)
    p = engine.run("exec", cid, "sh", "-c", "hostname; readlink /proc/self/ns/uts; cat /etc/hostname")
    name, link, etc = out(p).splitlines()
    assert name == socket.gethostname() == etc
    assert link == ns_link("self", "uts")
    assert_refused(engine, "--uts", "host", "--hostname", "foo", IMAGE, "true",
                   want="hostname")
    engine.run_d("--name", "x", "--hostname", "xhost", IMAGE, "sleep", "100")
    p = engine.run_ctr("--rm", "--uts", "container:x", IMAGE, "sh", "-c",
                       "hostname; readlink /proc/self/ns/uts")
    name, link = out(p).splitlines()
    assert name == "xhost"
    assert link == ns_link(state_pid(engine, "x"), "uts")


# ---------------------------------------------------------------------------
# --device
# ---------------------------------------------------------------------------


def test_device_node_and_rule(engine):
    st = os.stat("/dev/zero")
    cid = engine.run_d("--device", "/dev/zero:/dev/myzero:r", IMAGE, "sleep", "100")
    p = engine.run("exec", cid, "sh", "-c",
                   "stat -c '%t:%T %F' /dev/myzero; head -c 4 /dev/myzero | od -An -tx1")
    kind, data = out(p).splitlines()
    assert kind == f"{os.major(st.st_rdev):x}:{os.minor(st.st_rdev):x} character special file"
    assert data.split() == ["00"] * 4
    lx = spec_of(engine, cid)["linux"]
    assert {"path": "/dev/myzero", "type": "c", "major": 1, "minor": 5}.items() <= \
        next(d for d in lx["devices"] if d["path"] == "/dev/myzero").items()
    assert {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"} in \
        lx["resources"]["devices"]


def test_device_refused(engine):
    assert_refused(engine, "--device", "/etc/passwd", IMAGE, "true",
                   want="/etc/passwd is not a device node")
    assert_refused(engine, "--device", "/dev/cove-no-such", IMAGE, "true",
                   want="cannot stat /dev/cove-no-such")
    assert_refused(engine, "--device", "/dev/zero:/dev/z:rx", IMAGE, "true",
                   want="invalid permissions 'rx'")
    assert_refused(engine, "--device", "/dev/zero:z:r", IMAGE, "true",
                   want="must be absolute")


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse here")
def test_device_not_there_without_option(engine):
    p = engine.run_ctr("--rm", IMAGE, "sh", "-c", "test -e /dev/fuse && echo yes || echo no")
    assert out(p) == "no"
    p = engine.run_ctr("--rm", "--device", "/dev/fuse", IMAGE, "sh", "-c",
                       "exec 3</dev/fuse && echo opened")
    assert out(p) == "opened"


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse here")
def test_device_permissions_enforced(engine):
    p = engine.run_ctr("--rm", "--device", "/dev/fuse:/dev/fuse:r", IMAGE, "sh", "-c",
                       "exec 3</dev/fuse && echo read; exec 4>/dev/fuse && echo write",
                       check=False)
    assert "read" in p.stdout
    assert "write" not in p.stdout


# ---------------------------------------------------------------------------
# --group-add
# ---------------------------------------------------------------------------


def test_group_add(engine):
    p = engine.run_ctr("--rm", "--group-add", "10", "--group-add", "nobody", IMAGE, "id", "-G")
    gids = out(p).split()
    assert gids[0] == "0"
    assert "10" in gids and "65534" in gids
    assert_refused(engine, "--group-add", "keep-groups", IMAGE, "true", want="keep-groups")
    assert_refused(engine, "--group-add", "no-such-group", IMAGE, "true",
                   want="no such group")


# ---------------------------------------------------------------------------
# --sysctl
# ---------------------------------------------------------------------------


def test_sysctl_namespaced_set_inside_only(engine):
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        host_before = f.read()
    with open("/proc/sys/kernel/shmmni") as f:
        shmmni_before = f.read()
    p = engine.run_ctr("--rm", "--sysctl", "net.ipv4.ip_forward=1",
                       "--sysctl", "kernel.shmmni=1234", IMAGE, "cat",
                       "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni")
    assert out(p).split() == ["1", "1234"]
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == host_before
    with open("/proc/sys/kernel/shmmni") as f:
        assert f.read() == shmmni_before


def test_sysctl_refused(engine):
    assert_refused(engine, "--sysctl", "kernel.panic=1", IMAGE, "true",
                   want="sysctl 'kernel.panic' is not allowed")
    assert_refused(engine, "--sysctl", "vm.swappiness=1", IMAGE, "true",
                   want="sysctl 'vm.swappiness' is not allowed")
    assert_refused(engine, "--sysctl", "net.ipv4.ip_forward", IMAGE, "true",
                   want="expected NAME=VALUE")
    assert_refused(engine, "--sysctl", "net.ipv4.ip_forward=1", IMAGE, "true",
                   want="network namespace", network="host")
    assert_refused(engine, "--sysctl", "kernel.shmmax=1", "--ipc", "host", IMAGE, "true",
                   want="ipc namespace")
    assert_refused(engine, "--sysctl", "kernel.domainname=x", "--uts", "host", IMAGE,
                   "true", want="uts namespace")


@pytest.mark.skipif(not _have_plugins(),
                    reason="CNI plugins (containernetworking-plugins) missing")
def test_sysctl_net_on_bridge_network(net):  # noqa: F811
    p = net.run_ctr("--rm", "--sysctl", "net.ipv4.ip_forward=1", IMAGE, "cat",
                    "/proc/sys/net/ipv4/ip_forward", network="bridge", check=False)
    assert p.returncode == 0, p.stderr
    assert out(p) == "1"
