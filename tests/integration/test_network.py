"""Container networking through CNI: persistent network namespaces, the
default network, ADD/CHECK/DEL with Debian's containernetworking-plugins,
port mappings, the clean-up after a failed ADD, and `cove network`.

Everything that touches interfaces or iptables happens inside a network
namespace the test creates (`ip netns add cove-t-XXXXXXXX`) and deletes
afterwards: the plugins run there (the "host" of the test), the bridge
and the veths appear there, and the containers' namespaces hang off it.
The machine's own namespace and iptables are never touched.

The library is driven through build/tests/cni-driver (tests/integration/
cni-driver.c, built with `make build/tests/cni-driver`), one libcove call
per run; $COVE_CNI_DRIVER names another build of it.
"""

import ipaddress
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from imagelib import COVE, REPO_DIR

PLUGIN_DIRS = ["/usr/libexec/cni", "/usr/lib/cni", "/opt/cni/bin"]
PLUGINS = ["bridge", "host-local", "portmap", "firewall", "loopback"]
DRIVER_DEFAULT = os.path.join(REPO_DIR, "build", "tests", "cni-driver")


def _plugin_dir():
    for d in PLUGIN_DIRS:
        if all(os.access(os.path.join(d, p), os.X_OK) for p in PLUGINS):
            return d
    return None


@pytest.fixture(scope="session")
def driver():
    if os.geteuid() != 0:
        pytest.skip("network namespaces and CNI plugins need root")
    for tool in ("ip", "nsenter", "iptables", "iptables-save", "busybox"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    if not _plugin_dir():
        pytest.skip("the CNI plugins (containernetworking-plugins) are not "
                    f"installed in any of {PLUGIN_DIRS}")
    path = os.environ.get("COVE_CNI_DRIVER")
    if path:
        return path
    # make is incremental: this only rebuilds what changed
    p = subprocess.run(["make", "-s", "-C", REPO_DIR, "build/tests/cni-driver"],
                       capture_output=True, text=True, timeout=600)
    if not os.access(DRIVER_DEFAULT, os.X_OK):
        pytest.skip(f"cannot build the CNI test driver: {p.stderr[-500:]}")
    return DRIVER_DEFAULT


class HostNs:
    """The test's stand-in for the host: a named network namespace."""

    def __init__(self, name):
        self.name = name
        self.path = f"/run/netns/{name}"

    def cmd(self, *args):
        return ["nsenter", f"--net={self.path}", *[str(a) for a in args]]

    def run(self, *args, check=True, timeout=60):
        p = subprocess.run(self.cmd(*args), capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"{' '.join(self.cmd(*args))}: {p.stderr}")
        return p

    def links(self, kind=None):
        args = ["ip", "-j", "link", "show"] + (["type", kind] if kind else [])
        out = self.run(*args).stdout.strip()
        return [l["ifname"] for l in json.loads(out or "[]")]

    def iptables(self):
        """Every table's rules, as iptables-save prints them."""
        return self.run("iptables-save").stdout


@pytest.fixture
def hostns(driver):
    ns = HostNs("cove-t-" + uuid.uuid4().hex[:8])
    subprocess.run(["ip", "netns", "add", ns.name], check=True,
                   capture_output=True)
    try:
        ns.run("ip", "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)


class Net:
    """libcove's networking, run through the driver inside @hostns."""

    def __init__(self, driver, hostns, tmp):
        self.driver = driver
        self.hostns = hostns
        self.root = os.path.join(tmp, "root")
        self.runroot = os.path.join(tmp, "run")
        self.nsdir = os.path.join(tmp, "netns")
        self.netns_paths = []

    def drive(self, *args, check=True):
        p = self.hostns.run(self.driver, *args, check=False)
        if check and p.returncode != 0:
            pytest.fail(f"cni-driver {' '.join(map(str, args))}: {p.stderr}")
        return p

    def netns(self, name):
        path = os.path.join(self.nsdir, name)
        self.drive("netns-create", path)
        self.netns_paths.append(path)
        return path

    def add(self, network, cid, ns, *ports, check=True):
        p = self.drive("add", self.root, self.runroot, network, cid, ns,
                       *ports, check=check)
        return json.loads(p.stdout) if p.returncode == 0 else p

    def check(self, network, cid, ns, check=True):
        return self.drive("check", self.root, self.runroot, network, cid, ns,
                          check=check)

    def delete(self, network, cid, ns, check=True):
        return self.drive("del", self.root, self.runroot, network, cid, ns,
                          check=check)

    def inside(self, ns, *args, check=True, timeout=30):
        c = ["nsenter", f"--net={ns}", *[str(a) for a in args]]
        p = subprocess.run(c, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"{' '.join(c)}: {p.stdout}{p.stderr}")
        return p

    def ipv4_of(self, ns, ifname="eth0"):
        p = self.inside(ns, "ip", "-j", "-4", "addr", "show", "dev", ifname,
                        check=False)
        if p.returncode != 0:
            return []
        out = json.loads(p.stdout or "[]")
        return [f"{a['local']}/{a['prefixlen']}"
                for l in out for a in l.get("addr_info", [])]

    def has_link(self, ns, ifname):
        return self.inside(ns, "ip", "link", "show", "dev", ifname,
                           check=False).returncode == 0

    def ping(self, ns, addr):
        return self.inside(ns, "busybox", "ping", "-c", "1", "-W", "3", addr,
                           check=False).returncode == 0

    def cache_file(self, network, cid, ifname="eth0"):
        return os.path.join(self.runroot, "cni", "results",
                            f"{network}-{cid}-{ifname}")

    def leases(self, network):
        d = os.path.join(self.root, "networks", "ipam", network)
        if not os.path.isdir(d):
            return []
        return [f for f in os.listdir(d) if f[0].isdigit()]

    def write_conflist(self, name, plugins):
        d = os.path.join(self.root, "networks")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{name}.conflist"), "w") as f:
            json.dump({"cniVersion": "1.0.0", "name": name,
                       "plugins": plugins}, f)

    def bridge_plugin(self, bridge, subnet, gateway):
        return {"type": "bridge", "bridge": bridge, "isGateway": True,
                "ipMasq": True,
                "ipam": {"type": "host-local",
                         "dataDir": os.path.join(self.root, "networks",
                                                 "ipam"),
                         "ranges": [[{"subnet": subnet,
                                      "gateway": gateway}]]}}

    def cleanup(self):
        for path in self.netns_paths:
            subprocess.run([self.driver, "netns-remove", path],
                           capture_output=True)


@pytest.fixture
def net(driver, hostns, test_tmp):
    n = Net(driver, hostns, test_tmp)
    yield n
    n.cleanup()


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if pre.split()[4] == path:
                return post.split()[0]
    return None


# ---- network namespaces ---------------------------------------------------


def test_netns_create_remove(net):
    path = net.netns("c1")
    assert mounted(path) == "nsfs"
    # a namespace of its own, not the test's: only lo, and lo is down
    p = net.inside(path, "ip", "-j", "link", "show")
    links = json.loads(p.stdout)
    assert [l["ifname"] for l in links] == ["lo"]
    assert "UP" not in links[0]["flags"]
    assert (os.stat(path).st_ino !=
            os.stat(net.hostns.path).st_ino)

    p = net.drive("netns-create", path, check=False)
    assert p.returncode != 0
    assert "already exists" in p.stderr

    net.drive("netns-remove", path)
    assert mounted(path) is None
    assert not os.path.exists(path)
    net.drive("netns-remove", path)  # idempotent


def test_loopback_plugin(net):
    c1 = net.netns("c1")
    p = net.drive("loopback", net.runroot, "c1", c1)
    res = json.loads(p.stdout)
    assert res["interface"] == "lo"
    assert res["ipv4"] == "127.0.0.1"
    p = net.inside(c1, "ip", "-j", "link", "show", "lo")
    assert "UP" in json.loads(p.stdout)[0]["flags"]
    assert net.ping(c1, "127.0.0.1")


# ---- the default network ----------------------------------------------------


def test_attach_detach_default_network(net):
    c1 = net.netns("c1")
    res = net.add("cove", "c1", c1)

    # the result is what the namespace has
    addr = ipaddress.ip_interface(f"{res['ipv4']}/{res['prefix']}")
    assert addr.network == ipaddress.ip_network("10.88.0.0/16")
    assert res["gateway"] == "10.88.0.1"
    assert res["interface"] == "eth0"
    assert net.ipv4_of(c1) == [f"{res['ipv4']}/16"]
    link = json.loads(net.inside(c1, "ip", "-j", "link", "show",
                                 "eth0").stdout)[0]
    assert link["address"] == res["mac"]
    route = net.inside(c1, "ip", "-4", "route", "show", "default").stdout
    assert "via 10.88.0.1 dev eth0" in route

    # the host side: bridge cove0 with the gateway, one veth on it
    assert "cove0" in net.hostns.links("bridge")
    assert net.ipv4_of(net.hostns.path, "cove0") == ["10.88.0.1/16"]
    assert len(net.hostns.links("veth")) == 1
    assert net.ping(c1, "10.88.0.1")

    # files: the list, the lease under the storage root, the cache
    conf = os.path.join(net.root, "networks", "cove.conflist")
    with open(conf) as f:
        types = [p["type"] for p in json.load(f)["plugins"]]
    assert types == ["bridge", "portmap", "firewall"]
    assert net.leases("cove") == [res["ipv4"]]
    with open(net.cache_file("cove", "c1")) as f:
        cached = json.load(f)
    assert cached["kind"] == "cniCacheV1"
    assert cached["result"] == res["raw"]

    net.check("cove", "c1", c1)

    net.delete("cove", "c1", c1)
    assert not net.has_link(c1, "eth0")
    assert net.hostns.links("veth") == []
    assert net.leases("cove") == []
    assert not os.path.exists(net.cache_file("cove", "c1"))
    assert res["ipv4"] not in net.hostns.iptables()
    # DEL twice is fine; CHECK of a detached container is not
    net.delete("cove", "c1", c1)
    p = net.check("cove", "c1", c1, check=False)
    assert p.returncode != 0 and "not attached" in p.stderr

    # "bridge" is the default network's other name
    res2 = net.add("bridge", "c1", c1)
    assert net.ipv4_of(c1) == [f"{res2['ipv4']}/16"]
    net.delete("bridge", "c1", c1)
    assert net.hostns.links("veth") == []


def test_two_containers_reach_each_other(net):
    c1, c2 = net.netns("c1"), net.netns("c2")
    r1 = net.add("cove", "c1", c1)
    r2 = net.add("cove", "c2", c2)
    assert r1["ipv4"] != r2["ipv4"]
    assert sorted(net.leases("cove")) == sorted([r1["ipv4"], r2["ipv4"]])
    assert net.ping(c1, r2["ipv4"])
    assert net.ping(c2, r1["ipv4"])

    # attaching c1 again is refused, and c1 keeps its address
    p = net.add("cove", "c1", c1, check=False)
    assert p.returncode != 0
    assert "already has eth0 on network 'cove'" in p.stderr
    assert net.ipv4_of(c1) == [f"{r1['ipv4']}/16"]
    assert net.ping(c2, r1["ipv4"])

    net.delete("cove", "c1", c1)
    net.delete("cove", "c2", c2)
    assert net.hostns.links("veth") == []
    assert net.leases("cove") == []


def _serve_once(net, ns, port, text):
    """A one-shot TCP server in @ns answering @text; returns the Popen."""
    return subprocess.Popen(
        ["nsenter", f"--net={ns}", "timeout", "20", "busybox", "nc", "-l",
         "-p", str(port), "-e", "/bin/echo", text],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _connect(net, addr, port):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        p = net.hostns.run("timeout", "5", "busybox", "nc", addr, port,
                           check=False)
        if p.stdout.strip():
            return p.stdout.strip()
        time.sleep(0.2)
    return ""


def test_port_mapping(net):
    c1 = net.netns("c1")
    res = net.add("cove", "c1", c1, "8080:80", "5353:53/udp")
    ip = res["ipv4"]
    rules = net.hostns.iptables()
    assert "--dport 8080" in rules
    assert f"--to-destination {ip}:80" in rules
    assert "-p udp" in rules and "--dport 5353" in rules
    assert f"--to-destination {ip}:53" in rules

    # traffic to the host's port reaches the container's
    server = _serve_once(net, c1, 80, "hello-from-c1")
    try:
        assert _connect(net, "10.88.0.1", 8080) == "hello-from-c1"
    finally:
        server.kill()
        server.wait()

    net.delete("cove", "c1", c1)
    rules = net.hostns.iptables()
    assert ip not in rules
    assert "--dport 8080" not in rules
    assert "--dport 5353" not in rules
    assert '"c1"' not in rules  # the plugins' per-container comments
    assert net.hostns.links("veth") == []
    net.delete("cove", "c1", c1)


def test_failed_add_is_rolled_back(net):
    # a plugin missing after bridge: bridge's work must be undone
    net.write_conflist("broken", [
        net.bridge_plugin("covebrk", "10.77.0.0/24", "10.77.0.1"),
        {"type": "no-such-plugin"}])
    c1 = net.netns("c1")
    p = net.add("broken", "c1", c1, check=False)
    assert p.returncode != 0
    assert "network 'broken'" in p.stderr
    assert "'no-such-plugin' not found" in p.stderr
    assert not net.has_link(c1, "eth0")
    assert net.hostns.links("veth") == []
    assert net.leases("broken") == []
    assert not os.path.exists(net.cache_file("broken", "c1"))
    assert "10.77.0." not in net.hostns.iptables()


def test_plugin_error_is_reported_and_rolled_back(net):
    # a /30 holds one container: the second fails in host-local
    net.write_conflist("tiny", [
        net.bridge_plugin("covetiny", "10.77.1.0/30", "10.77.1.1")])
    c1, c2 = net.netns("c1"), net.netns("c2")
    r1 = net.add("tiny", "c1", c1)
    assert r1["ipv4"] == "10.77.1.2"
    p = net.add("tiny", "c2", c2, check=False)
    assert p.returncode != 0
    assert "network 'tiny': plugin 'bridge' failed on ADD" in p.stderr
    assert "no IP addresses available" in p.stderr
    # c2's veth is gone again, c1's is untouched
    assert not net.has_link(c2, "eth0")
    assert len(net.hostns.links("veth")) == 1
    assert net.ping(c1, "10.77.1.1")
    assert net.leases("tiny") == ["10.77.1.2"]
    net.delete("tiny", "c1", c1)
    assert net.hostns.links("veth") == []


def test_del_after_netns_removed(net):
    c1 = net.netns("c1")
    res = net.add("cove", "c1", c1, "8080:80")
    net.drive("netns-remove", c1)
    # a plain file where the namespace was, as a crash may leave it
    open(c1, "w").close()
    net.delete("cove", "c1", c1)
    assert net.leases("cove") == []
    assert not os.path.exists(net.cache_file("cove", "c1"))
    assert net.hostns.links("veth") == []
    rules = net.hostns.iptables()
    assert "--dport 8080" not in rules
    assert f"{res['ipv4']}:80" not in rules


def test_del_of_unknown_attachment(net):
    c9 = net.netns("c9")
    net.delete("cove", "c9", c9)
    net.delete("cove", "c9", "-")


# ---- cove network -----------------------------------------------------------


@pytest.fixture
def cli(test_tmp):
    if not os.access(COVE, os.X_OK):
        pytest.skip(f"cove binary {COVE} not found (run make)")
    p = subprocess.run([COVE, "network", "--help"], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        pytest.skip("`cove network` is not in the command table yet")
    root = os.path.join(test_tmp, "root")

    def run(*args, check=True):
        p = subprocess.run([COVE, "--root", root, *map(str, args)],
                           capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            pytest.fail(f"cove {' '.join(map(str, args))}: {p.stderr}")
        return p

    run.root = root
    return run


@pytest.mark.parametrize("sub", ["create", "ls", "inspect", "rm"])
def test_network_help(cli, sub):
    p = cli("network", sub, "--help")
    assert p.stdout.startswith("NAME:\n")
    assert f"cove network {sub}" in p.stdout
    assert "OPTIONS:" in p.stdout and "--help" in p.stdout


def test_network_cli(cli):
    p = cli("network", "ls")
    assert p.stdout.splitlines()[0].split() == ["NETWORK", "ID", "NAME",
                                                "DRIVER"]
    assert "cove" in cli("network", "ls", "-q").stdout.split()

    assert cli("network", "create", "--label", "env=test", "web").stdout \
        == "web\n"
    cli("network", "create", "--subnet", "10.99.0.0/24", "--gateway",
        "10.99.0.254", "--internal", "db")
    (web, db) = json.loads(cli("network", "inspect", "web", "db").stdout)
    assert web["name"] == "web" and web["driver"] == "bridge"
    assert web["labels"] == {"env": "test"}
    assert not web["internal"]
    assert ipaddress.ip_network(web["subnets"][0]["subnet"]).subnet_of(
        ipaddress.ip_network("10.89.0.0/16"))
    assert web["cni_config"]["plugins"][0]["type"] == "bridge"
    assert web["config_file"] == os.path.join(cli.root, "networks",
                                              "web.conflist")
    assert db["subnets"] == [{"subnet": "10.99.0.0/24",
                              "gateway": "10.99.0.254"}]
    assert db["internal"]
    assert db["network_interface"] != web["network_interface"]
    (default,) = json.loads(cli("network", "inspect", "bridge").stdout)
    assert default["name"] == "cove"
    assert default["network_interface"] == "cove0"
    assert default["subnets"] == [{"subnet": "10.88.0.0/16",
                                   "gateway": "10.88.0.1"}]

    names = [n["name"] for n in
             json.loads(cli("network", "ls", "--format", "json").stdout)]
    assert {"cove", "web", "db"} <= set(names)
    assert names == sorted(names)

    p = cli("network", "create", "--subnet", "10.99.0.128/25", "x",
            check=False)
    assert p.returncode == 125 and "overlaps" in p.stderr
    p = cli("network", "create", "web", check=False)
    assert p.returncode == 125 and "already exists" in p.stderr
    p = cli("network", "create", "bad/name", check=False)
    assert p.returncode == 125 and "invalid network name" in p.stderr
    p = cli("network", "rm", "cove", check=False)
    assert p.returncode == 125 and "cannot be removed" in p.stderr
    p = cli("network", "rm", "bridge", check=False)
    assert p.returncode == 125

    p = cli("network", "rm", "web", "nope", "db", check=False)
    assert p.returncode == 125
    assert p.stdout == "web\ndb\n"
    assert "network 'nope' not found" in p.stderr
    assert cli("network", "ls", "-q").stdout.split().count("web") == 0
    p = cli("network", "inspect", "web", check=False)
    assert p.returncode == 125 and "not found" in p.stderr


def test_created_networks_attach(cli, net):
    cli("network", "create", "--subnet", "10.66.0.0/24", "front")
    cli("network", "create", "--subnet", "10.66.1.0/24", "--internal",
        "back")
    c1, c2 = net.netns("c1"), net.netns("c2")
    r1 = net.add("front", "c1", c1)
    assert r1["ipv4"].startswith("10.66.0.")
    assert net.ping(c1, "10.66.0.1")

    # eth0 is taken: a second network is refused, the first untouched
    p = net.add("back", "c1", c1, check=False)
    assert p.returncode != 0
    assert "already has eth0 on network 'front'" in p.stderr
    assert net.ipv4_of(c1) == [f"{r1['ipv4']}/24"]
    net.delete("front", "c1", c1)

    # internal: no gateway on the bridge, but the containers meet
    b1 = net.add("back", "c1", c1)
    b2 = net.add("back", "c2", c2)
    assert net.ping(c1, b2["ipv4"])
    assert not net.ping(c1, "10.66.1.1")
    net.delete("back", "c1", c1)
    net.delete("back", "c2", c2)
    assert b1["ipv4"] != b2["ipv4"]
    assert net.hostns.links("veth") == []
