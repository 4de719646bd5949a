"""cove run on networks: published ports, containers reaching each other by
name, user-defined networks, and nothing left after rm.

Each test makes a network namespace of its own ("the host" for the test)
and runs every cove command inside it with nsenter, so the cove0 bridge,
the veths and the NAT rules that the CNI plugins make exist only there;
the machine's own interfaces and firewall are never touched, and no
packet leaves the machine.
"""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import Engine, wait_for

PLUGIN_DIRS = ("/usr/lib/cni", "/usr/libexec/cni", "/opt/cni/bin")


def _have_plugins():
    for d in PLUGIN_DIRS:
        if all(os.access(os.path.join(d, p), os.X_OK)
               for p in ("bridge", "host-local", "portmap", "loopback")):
            return True
    return False


pytestmark = [
    pytest.mark.skipif(not _have_plugins(),
                       reason="CNI plugins (containernetworking-plugins) missing"),
    pytest.mark.skipif(shutil.which("iptables") is None, reason="iptables missing"),
]


class NetEngine(Engine):
    """An Engine whose commands run inside the test's network namespace."""

    def __init__(self, base, netns):
        super().__init__(base.tmp, base.root, base.runroot, base.cgroup_parent)
        self.netns = netns
        self.pids = base.pids

    def cmd(self, *args):
        return ["nsenter", f"--net={self.netns}"] + super().cmd(*args)

    def host(self, *args, check=True, timeout=30):
        p = subprocess.run(["nsenter", f"--net={self.netns}", *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"{args}: {p.stderr}")
        return p

    def links(self):
        out = self.host("ip", "-j", "link", "show").stdout
        return [l["ifname"] for l in json.loads(out or "[]")]


@pytest.fixture
def net(engine):
    name = "cove-e-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    path = f"/run/netns/{name}"
    ne = NetEngine(engine, path)
    try:
        ne.host("ip", "link", "set", "lo", "up")
        yield ne
        # the engine fixture checks processes and mounts; here: the network
        ids = ne.ids()
        if ids:
            ne.run("rm", "-f", *ids, check=False)
        veths = [l for l in ne.links() if l.startswith("veth")]
        assert not veths, f"veths left in the test namespace: {veths}"
        nat = ne.host("iptables-save", "-t", "nat").stdout
        dnat = [l for l in nat.splitlines() if "DNAT" in l and "--to-destination" in l]
        assert not dnat, f"port forwarding rules left: {dnat}"
        netns_dir = os.path.join(ne.runroot, "netns")
        left = os.listdir(netns_dir) if os.path.isdir(netns_dir) else []
        assert not left, f"container network namespaces left: {left}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def http_get(net, url, timeout=5):
    """An HTTP GET from inside the test's namespace (Python's urllib: the
    host's busybox-static wget crashes resolving names)."""
    code = ("import sys, urllib.request\n"
            f"sys.stdout.write(urllib.request.urlopen({url!r}, timeout={timeout})"
            ".read().decode())")
    return net.host("/usr/bin/python3", "-c", code, check=False,
                    timeout=timeout + 10)


def start_httpd(net, name, *opts, text="hello-web"):
    cid = net.run_d("--name", name, *opts, net.image, "sh", "-c",
                    f"mkdir -p /www && echo {text} > /www/index.html && "
                    "exec httpd -f -p 80 -h /www", network="bridge")
    return cid


def test_published_port_reaches_httpd(net):
    start_httpd(net, "web", "-p", "18080:80")
    got = wait_for(lambda: http_get(net, "http://127.0.0.1:18080/").stdout.strip()
                   == "hello-web", timeout=10, what="httpd through the published port")
    assert got
    info = net.inspect("web")
    assert info["NetworkSettings"]["IPAddress"].startswith("10.88.")
    assert net.run("port", "web").stdout.strip() == "80/tcp -> 0.0.0.0:18080"
    # the rule exists while the container runs...
    nat = net.host("iptables-save", "-t", "nat").stdout
    assert "18080" in nat
    net.run("rm", "-f", "web")
    # ...and is gone with it (the fixture also checks veths and netns)
    nat = net.host("iptables-save", "-t", "nat").stdout
    assert "--dport 18080" not in nat
    assert http_get(net, "http://127.0.0.1:18080/", timeout=1).returncode != 0


def test_free_host_port_and_publish_all(net):
    start_httpd(net, "web2", "-p", "80")
    port = net.run("port", "web2", "80").stdout.strip()
    host, _, num = port.rpartition(":")
    assert host == "0.0.0.0" and 1 <= int(num) <= 65535


def test_containers_reach_each_other_by_name(net):
    start_httpd(net, "server", text="from-server")
    p = net.run_ctr("--rm", "--name", "client", net.image, "sh", "-c",
                    "grep -w server /etc/hosts && wget -q -O - http://server/",
                    network="bridge")
    assert "from-server" in p.stdout
    # the client's own line has its name too
    p = net.run_ctr("--rm", "--name", "me", net.image, "grep", "-w", "me",
                    "/etc/hosts", network="bridge")
    assert p.stdout.strip()


def test_user_network(net):
    net.run("network", "create", "--subnet", "10.123.7.0/24", "blue")
    p = net.run_ctr("--rm", net.image, "ip", "-4", "-o", "addr", "show", "eth0",
                    network="blue")
    assert "10.123.7." in p.stdout
    ls = net.run("network", "ls", "--format", "json").stdout
    assert "blue" in ls
    net.run("network", "rm", "blue")


def test_none_and_host_modes(net):
    p = net.run_ctr("--rm", net.image, "ip", "-o", "link", network="none")
    names = [l.split(":")[1].strip() for l in p.stdout.splitlines()]
    assert names == ["lo"]
    # host mode: the container sees the test namespace's interfaces
    net.host("ip", "link", "add", "probe0", "type", "veth", "peer", "name", "probe1")
    p = net.run_ctr("--rm", net.image, "ip", "-o", "link", network="host")
    assert "probe0" in p.stdout


def test_unknown_network_is_a_clear_error(net):
    p = net.fail("run", *net.create_opts(network="nosuchnet"), "--rm", net.image, "true")
    assert "nosuchnet" in p.stderr
    assert not net.ids(), "a failed run left a container"


def test_restart_keeps_network_and_rm_cleans(net):
    start_httpd(net, "r1")
    ip1 = net.inspect("r1")["NetworkSettings"]["IPAddress"]
    net.run("restart", "-t", "0", "r1")
    ip2 = net.inspect("r1")["NetworkSettings"]["IPAddress"]
    assert ip2.startswith("10.88.")
    assert ip1 and ip2
    net.run("stop", "-t", "0", "r1")
    # stopped: its veth and namespace are gone already
    assert not [l for l in net.links() if l.startswith("veth")]
    assert not os.listdir(os.path.join(net.runroot, "netns"))
