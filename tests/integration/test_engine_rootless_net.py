"""Rootless networking: slirp4netns, with published ports.

A rootless engine cannot make bridges, so its default network is
slirp4netns (as podman's): a tap0 with 10.0.2.100 in the container's
namespace, slirp4netns a child of the container's monitor, published ports
its host forwards.  These tests run cove as a real unprivileged user
(test_engine_rootless's `env`: a throw-away user with sub-id ranges, its
pause processes and every process of it killed by pid at the end).

No packet leaves the machine: every cove command runs inside a network
namespace the test makes (`ip netns add cove-t-...`, only `lo` in it), so
slirp4netns's sockets, and the ports it listens on, are there; the HTTP
GETs run there too (Python's urllib: the host's busybox wget crashes).

/dev/net/tun: slirp4netns opens it as the user.  udev's rules make the node
0666; a machine without udev (this VM) has the kernel's 0600, which no
unprivileged user can open.  There the test gives cove's commands, in a
mount namespace of their own, a private 0666 node of the same device
(the machine's node is not changed), and checks that without it cove says
what is wrong.

The rootful `--network slirp4netns` mode is tested with the `engine`
fixture, in a test network namespace and a private mount namespace (see
ROOTFUL below).
"""

import json
import os
import shutil
import signal
import subprocess
import uuid

import pytest

from conftest import COVE_BINARY, wait_for
from imagelib import BUSYBOX_NAME
from test_engine_rootless import Env, _alive, _stat, _wait_gone, env  # noqa: F401
from test_rootless import _user_pids, rootless_user  # noqa: F401

SLIRP = "/usr/bin/slirp4netns"

pytestmark = pytest.mark.skipif(
    not os.access(SLIRP, os.X_OK), reason="slirp4netns is not installed")

TUN_TRICK = (
    'd=$(mktemp -d /tmp/cove-t-tun-XXXXXX) && '
    'mount -t tmpfs -o mode=0755,size=16k tmpfs "$d" && '
    'mknod -m 0666 "$d/tun" c 10 200 && '
    'mount --bind "$d/tun" /dev/net/tun && '
    'umount -l "$d" && rmdir "$d" && exec "$@"')


def _tun_usable_by_others():
    try:
        return os.stat("/dev/net/tun").st_mode & 0o006 == 0o006
    except OSError:
        return False


def _read_proc(pid, name):
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return None


class NetUser(Env):
    """Env whose cove commands run in the test's network namespace (and,
    where /dev/net/tun is 0600, with a private usable node)."""

    def __init__(self, env, netns, tun_trick):  # noqa: F811
        # env's directories and binaries, and its set of pause pids (which
        # the env fixture kills at the end)
        self.__dict__.update(env.__dict__)
        self.netns = netns
        self.tun_trick = tun_trick
        self.extra_env = []
        # the helpers cove looks for next to itself: a detached container's
        # monitor execs cove-monitor (and back to cove to tear down)
        for helper in ("cove-monitor", "cove-init"):
            src = os.path.join(os.path.dirname(COVE_BINARY), helper)
            dst = os.path.join(os.path.dirname(self.cove_bin), helper)
            if os.access(src, os.X_OK) and not os.path.exists(dst):
                shutil.copy2(src, dst)
                os.chmod(dst, 0o755)

    def has_small_monitor(self):
        return os.path.exists(
            os.path.join(os.path.dirname(self.cove_bin), "cove-monitor"))

    def _run(self, argv, check=True, timeout=120):
        inner = ["setpriv", f"--reuid={self.user.uid}",
                 f"--regid={self.user.gid}", "--init-groups", "--reset-env",
                 "env", f"XDG_RUNTIME_DIR={self.xdg}",
                 f"XDG_DATA_HOME={self.data}", f"HOME={self.user.home}",
                 *self.extra_env, *argv]
        cmd = ["nsenter", f"--net={self.netns}"]
        if self.tun_trick:
            cmd += ["unshare", "--mount", "sh", "-c", TUN_TRICK, "sh"]
        cmd += inner
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL,
                           cwd=self.tmp)
        if check and p.returncode != 0:
            pytest.fail(f"command failed ({p.returncode}): {' '.join(argv)}"
                        f"\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
        return p

    def host(self, *args, check=False, timeout=30):
        """A command as root in the test's network namespace."""
        p = subprocess.run(["nsenter", f"--net={self.netns}", *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"{args}: {p.stderr}")
        return p

    def http_get(self, url, timeout=5):
        code = ("import sys, urllib.request\n"
                "sys.stdout.write(urllib.request.urlopen("
                f"{url!r}, timeout={timeout}).read().decode())")
        return self.host("/usr/bin/python3", "-c", code, timeout=timeout + 10)

    def slirps(self):
        """pids of the user's slirp4netns processes."""
        return [pid for pid in _user_pids(self.user.uid)
                if (_stat(pid) or ("",))[0] == "slirp4netns" and _alive(pid)]

    def inspect(self, name):
        return json.loads(self.cove("inspect", name).stdout)[0]


def _make_netns():
    name = "cove-t-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True,
                   capture_output=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo",
                    "up"], check=True, capture_output=True)
    return name


@pytest.fixture
def netns():
    name = _make_netns()
    try:
        yield f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _net_user(env, netns, tun_trick):  # noqa: F811
    return NetUser(env, netns, tun_trick)


@pytest.fixture
def rl(env, netns):  # noqa: F811
    u = _net_user(env, netns, not _tun_usable_by_others())
    u.load_busybox()
    u.pause()  # recorded: the env fixture kills it by pid
    yield u
    # the env fixture kills what is left; here: nothing must be left
    left = u.slirps()
    assert not left, f"slirp4netns processes left: {left}"


HTTPD = ("mkdir -p /www && echo hello-slirp > /www/index.html && "
         "exec httpd -f -p 80 -h /www")


def _httpd(u, name, *opts):
    p = u.cove("run", "-d", "--name", name, *opts, BUSYBOX_NAME, "sh", "-c",
               HTTPD)
    cid = p.stdout.strip()
    assert len(cid) == 64, p.stdout
    return cid


def _get_page(u, port):
    return wait_for(
        lambda: u.http_get(f"http://127.0.0.1:{port}/").stdout.strip()
        == "hello-slirp",
        timeout=15, what=f"httpd through 127.0.0.1:{port}")


# ---------------------------------------------------------------------------


def test_published_port_reaches_httpd(rl):
    cid = _httpd(rl, "web", "-p", "18080:80")
    assert _get_page(rl, 18080)

    info = rl.inspect("web")
    ns = info["NetworkSettings"]
    assert ns["IPAddress"] == "10.0.2.100"
    assert ns["Gateway"] == "10.0.2.2"
    assert ns["IPPrefixLen"] == 24
    assert ns["Ports"][0]["HostPort"] == 18080, ns["Ports"]
    assert rl.cove("port", "web").stdout.strip() == "80/tcp -> 0.0.0.0:18080"

    # the container's view: tap0 with the address, the default route
    # through slirp's gateway, slirp's DNS first
    p = rl.cove("exec", "web", "ip", "-4", "-o", "addr", "show", "tap0")
    assert "10.0.2.100/24" in p.stdout, p.stdout
    p = rl.cove("exec", "web", "ip", "route")
    assert "default via 10.0.2.2 dev tap0" in p.stdout, p.stdout
    p = rl.cove("exec", "web", "cat", "/etc/resolv.conf")
    names = [ln.split()[1] for ln in p.stdout.splitlines()
             if ln.startswith("nameserver")]
    assert names[:1] == ["10.0.2.3"], p.stdout
    p = rl.cove("exec", "web", "grep", "-w", "web", "/etc/hosts")
    assert p.stdout.startswith("10.0.2.100"), p.stdout

    # one slirp4netns, the monitor's child, for this container's namespace
    slirps = rl.slirps()
    assert len(slirps) == 1, slirps
    pid = slirps[0]
    monitor = info["State"]["ConmonPid"]
    ppid = int(_read_proc(pid, "stat").rsplit(b")", 1)[1].split()[1])
    assert ppid == monitor
    if rl.has_small_monitor():
        # the monitor exec'd cove-monitor: slirp4netns's exit fd survived
        assert _stat(monitor)[0] == "cove-monitor"
    argv = _read_proc(pid, "cmdline").split(b"\0")
    assert os.path.join(rl.runroot, "netns", cid).encode() in argv
    assert b"--disable-host-loopback" in argv
    # it listens in the test's namespace, not in the machine's
    listening = rl.host("ss", "-Htln", "sport", "= :18080").stdout
    assert "18080" in listening
    assert "18080" not in subprocess.run(
        ["ss", "-Htln", "sport", "= :18080"], capture_output=True,
        text=True).stdout

    rl.cove("rm", "-f", "web")
    assert _wait_gone(pid), "slirp4netns outlived its container"
    assert not rl.slirps()
    assert rl.http_get("http://127.0.0.1:18080/", timeout=1).returncode != 0
    assert not os.listdir(os.path.join(rl.runroot, "netns"))
    assert not os.listdir(os.path.join(rl.runroot, "slirp"))


def test_stop_start_and_restart(rl):
    # the monitor that stays cove (no exec of cove-monitor) this time
    rl.extra_env = ["COVE_NO_SMALL_MONITOR=1"]
    _httpd(rl, "web2", "-p", "18081:80")
    assert _get_page(rl, 18081)
    assert _stat(rl.inspect("web2")["State"]["ConmonPid"])[0] == "cove"
    first = rl.slirps()
    rl.cove("stop", "-t", "1", "web2")
    assert not rl.slirps()
    assert rl.http_get("http://127.0.0.1:18081/", timeout=1).returncode != 0
    assert "NetworkSettings" not in rl.inspect("web2") or \
        not rl.inspect("web2")["NetworkSettings"].get("IPAddress")
    rl.cove("start", "web2")
    assert _get_page(rl, 18081)
    second = rl.slirps()
    assert len(second) == 1 and second != first
    # resolv.conf is not made to grow by a second start
    p = rl.cove("exec", "web2", "grep", "-c", "10.0.2.3", "/etc/resolv.conf")
    assert p.stdout.strip() == "1"
    rl.cove("rm", "-f", "web2")
    assert not rl.slirps()


def test_restart_policy(rl):
    """Each restart tears the network down and sets it up again (through
    cove-monitor's exec back to cove); nothing is left at the end."""
    rl.cove("run", "-d", "--name", "flaky", "--restart", "on-failure:2",
            "-p", "18086:80", BUSYBOX_NAME, "sh", "-c",
            "ip -4 -o addr show tap0; sleep 0.3; exit 3")

    def done():
        st = rl.inspect("flaky")["State"]
        return st["Status"] == "exited" and st
    st = wait_for(done, timeout=30, what="the restarts to end")
    assert st["ExitCode"] == 3
    assert rl.inspect("flaky")["RestartCount"] == 2
    logs = rl.cove("logs", "flaky").stdout
    assert logs.count("10.0.2.100/24") == 3, logs
    assert not rl.slirps()
    assert not os.listdir(os.path.join(rl.runroot, "slirp"))
    rl.cove("rm", "flaky")


def test_attached_run(rl):
    """`cove run` without -d: the cove command is the monitor."""
    p = rl.cove("run", "--rm", BUSYBOX_NAME, "sh", "-c",
                "ip -4 -o addr show tap0; ip -o link show lo")
    assert "10.0.2.100/24" in p.stdout, p.stdout
    assert "UP" in p.stdout.splitlines()[-1], p.stdout
    assert not rl.slirps()
    assert not os.listdir(os.path.join(rl.runroot, "slirp"))


def test_slirp_dies_with_the_monitor(rl):
    _httpd(rl, "web3", "-p", "18082:80")
    assert _get_page(rl, 18082)
    (slirp,) = rl.slirps()
    monitor = rl.inspect("web3")["State"]["ConmonPid"]
    assert (_stat(monitor) or ("",))[0] != "slirp4netns"
    os.kill(monitor, signal.SIGKILL)
    assert _wait_gone(slirp), "slirp4netns survived its monitor"
    # the next command notices the dead monitor and cleans up
    rl.cove("rm", "-f", "web3")
    assert not os.listdir(os.path.join(rl.runroot, "netns"))
    assert not os.listdir(os.path.join(rl.runroot, "slirp"))
    assert rl.http_get("http://127.0.0.1:18082/", timeout=1).returncode != 0


def test_port_in_use_fails_cleanly(rl):
    _httpd(rl, "first", "-p", "18083:80")
    assert _get_page(rl, 18083)
    p = rl.cove("run", "-d", "--name", "second", "-p", "18083:80",
                BUSYBOX_NAME, "sleep", "100", check=False)
    assert p.returncode != 0
    assert "18083" in p.stderr, p.stderr
    # nothing of the failed start is left; the first one still serves
    assert len(rl.slirps()) == 1
    cid = rl.inspect("first")["Id"]
    assert os.listdir(os.path.join(rl.runroot, "netns")) == [cid]
    assert _get_page(rl, 18083)
    rl.cove("rm", "-f", "first", "second")
    assert not rl.slirps()


def test_network_none_still_works(rl):
    p = rl.cove("run", "--rm", "--network", "none", BUSYBOX_NAME, "ip", "-o",
                "link")
    names = [ln.split(":")[1].strip() for ln in p.stdout.splitlines()]
    assert names == ["lo"]
    assert not rl.slirps()


def test_named_network_refused(rl):
    p = rl.cove("run", "--rm", "--network", "blue", BUSYBOX_NAME, "true",
                check=False)
    assert p.returncode != 0
    assert "blue" in p.stderr and "slirp4netns" in p.stderr, p.stderr
    assert not rl.slirps()


def test_unusable_tun_is_a_clear_error(env, netns):  # noqa: F811
    if _tun_usable_by_others():
        pytest.skip("/dev/net/tun is usable by every user here")
    u = _net_user(env, netns, False)
    u.load_busybox()
    u.pause()
    p = u.cove("run", "--rm", BUSYBOX_NAME, "true", check=False)
    assert p.returncode != 0
    assert "/dev/net/tun" in p.stderr and "0600" in p.stderr, p.stderr
    assert not u.slirps()
    netns_dir = os.path.join(u.runroot, "netns")
    assert not os.path.isdir(netns_dir) or not os.listdir(netns_dir)


# ---------------------------------------------------------------------------
# rootful: --network slirp4netns
#
# slirp4netns --enable-sandbox unshares a mount namespace and lazily
# unmounts the old root; a mount still shared with the caller's namespace
# (iproute2 makes /run/netns shared; on a host whose /run is no mount point
# slirp leaves it shared) propagates that unmount back and unpins every
# namespace below /run/netns.  cove runs slirp4netns in a mount namespace
# of slaves first.  The test runs cove, as root, in a private mount
# namespace with /run/netns shared again, so that a regression would only
# unpin that namespace's copy of the test's own netns, which it checks.

ROOTFUL = r"""
set -u
mount --make-shared /run/netns
C="nsenter --net=$NS $COVE --root $ROOT --runroot $RUN"
trap '$COVE --root $ROOT --runroot $RUN rm -f rs >/dev/null 2>&1' EXIT
$C run -d --name rs --cgroup-parent "$CG" --network slirp4netns \
    -p 127.0.0.1:18084:80 "$IMAGE" sh -c "$HTTPD" >/dev/null || exit 1
for i in $(seq 150); do
    page=$(nsenter --net=$NS /usr/bin/python3 -c "$GET" 2>/dev/null) && break
    sleep 0.1
done
echo "page=$page"
findmnt -n "$NS" >/dev/null && echo "pinned=yes" || echo "pinned=no"
echo "ip=$($C inspect rs | /usr/bin/python3 -c \
    'import json, sys; print(json.load(sys.stdin)[0]["NetworkSettings"]["IPAddress"])')"
echo "slirps=$(pgrep -c -f "slirp4netns.*$RUN")"
$C rm -f rs >/dev/null
echo "after=$(pgrep -c -f "slirp4netns.*$RUN")"
nsenter --net=$NS /usr/bin/python3 -c "$GET" >/dev/null 2>&1
echo "get_after=$?"
"""

GET = ("import sys, urllib.request\nsys.stdout.write(urllib.request.urlopen("
       "'http://127.0.0.1:18084/', timeout=2).read().decode())")


def test_rootful_slirp4netns_mode(engine, netns):
    vars_ = dict(os.environ, NS=netns, COVE=COVE_BINARY, ROOT=engine.root,
               RUN=engine.runroot, CG=engine.cgparent, IMAGE=engine.image,
               HTTPD=HTTPD, GET=GET)
    p = subprocess.run(["unshare", "--mount", "bash", "-c", ROOTFUL],
                       env=vars_, capture_output=True, text=True, timeout=180)
    out = dict(ln.split("=", 1) for ln in p.stdout.splitlines() if "=" in ln)
    assert p.returncode == 0, p.stdout + p.stderr
    assert out.get("page") == "hello-slirp", p.stdout + p.stderr
    assert out["pinned"] == "yes", "slirp4netns unpinned /run/netns mounts"
    assert out["ip"] == "10.0.2.100"
    assert out["slirps"] == "1"
    assert out["after"] == "0"
    assert out["get_after"] != "0"
