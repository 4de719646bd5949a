"""cove run's network and log options, as podman 4.3 has them:
--dns-search/--dns-option, --network-alias, --ip/--mac-address, --expose
with -P, --network container:NAME, and --log-driver.

Tests that need bridges run every cove command inside a network namespace
of their own (the `net` fixture of test_engine_network.py: `ip netns add`,
nsenter --net=, and a check that no veth, NAT rule or container namespace
is left), so nothing is made in the machine's own namespace and no packet
leaves the machine.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import wait_for
from test_engine import IMAGE
from test_engine_network import _have_plugins, http_get, net  # noqa: F401

needs_cni = [
    pytest.mark.skipif(not _have_plugins(),
                       reason="CNI plugins (containernetworking-plugins) missing"),
    pytest.mark.skipif(subprocess.run(["which", "iptables"],
                                      capture_output=True).returncode != 0,
                       reason="iptables missing"),
]


def cni(f):
    for m in needs_cni:
        f = m(f)
    return f


def httpd(net, name, *opts, port=80, text="hello"):
    return net.run_d("--name", name, *opts, IMAGE, "sh", "-c",
                     f"mkdir -p /www && echo {text} > /www/index.html && "
                     f"exec httpd -f -p {port} -h /www", network="bridge")


# ---------------------------------------------------------------------------
# --dns-search, --dns-option
# ---------------------------------------------------------------------------


def test_dns_search_and_options_in_resolv_conf(engine):
    p = engine.run_ctr("--rm", "--dns", "192.0.2.53", "--dns-search", "example.test",
                       "--dns-search", "corp.test", "--dns-option", "ndots:2",
                       "--dns-option", "timeout:1", IMAGE, "cat", "/etc/resolv.conf")
    lines = p.stdout.splitlines()
    assert "search example.test corp.test" in lines
    assert "options ndots:2 timeout:1" in lines
    assert "nameserver 192.0.2.53" in lines
    # ours replace the host's: one search and one options line
    assert len([l for l in lines if l.startswith(("search", "domain"))]) == 1
    assert len([l for l in lines if l.startswith("options")]) == 1
    assert [l for l in lines if l.startswith("nameserver")] == ["nameserver 192.0.2.53"]


def test_dns_search_dot_means_no_search_line(engine, tmp_path):
    p = engine.run_ctr("--rm", "--dns-search", ".", IMAGE, "cat", "/etc/resolv.conf")
    assert not [l for l in p.stdout.splitlines() if l.startswith(("search", "domain"))]
    p = engine.fail("run", *engine.create_opts(), "--dns-search", ".",
                    "--dns-search", "a.test", IMAGE, "true")
    assert p.returncode == 125
    assert "cannot pass additional search domains when also specifying '.'" in p.stderr
    assert not engine.ids()


def test_dns_options_recorded(engine):
    engine.create_ctr("--name", "d", "--dns-search", "x.test", "--dns-option", "rotate",
                      IMAGE, "true")
    host = engine.inspect("d")["HostConfig"]
    assert host["DnsSearch"] == ["x.test"]
    assert host["DnsOptions"] == ["rotate"]


# ---------------------------------------------------------------------------
# refused values: exit 125, nothing made
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("opts,words", [
    (["--expose", "0"], "cannot expose 0"),
    (["--expose", "70000"], "invalid --expose '70000'"),
    (["--expose", "80/icmp"], "invalid --expose '80/icmp'"),
    (["--mac-address", "zz:00:00:00:00:01"], "invalid --mac-address 'zz:00:00:00:00:01'"),
    (["--mac-address", "01:00:5e:00:00:01"], "invalid --mac-address '01:00:5e:00:00:01'"),
    (["--ip", "10.88.1"], "invalid --ip '10.88.1'"),
    (["--ip", "fd00::5"], "only IPv4"),
    (["--log-driver", "bogus"], "invalid --log-driver 'bogus'"),
    (["--log-driver", "k8s-file"], "json-file (the default), none and passthrough"),
    (["--network-alias", "x"], "--network-alias can only be set when the network mode is bridge"),
    (["--ip", "10.88.0.9"], "static ip addresses can only be set when the network mode is bridge"),
    (["--mac-address", "02:00:00:00:00:01"], "--mac-address can only be set when the network mode is bridge"),
    (["--log-driver", "passthrough", "-t"], "cannot be used on a TTY"),
    (["--log-driver", "passthrough", "-d"], "cannot be used with -d"),
])
def test_bad_values_are_refused(engine, opts, words):
    # --network none (create_opts): the endpoint options have no network
    p = engine.fail("run", *engine.create_opts(), *opts, IMAGE, "true")
    assert p.returncode == 125, p.stderr
    assert words in p.stderr
    assert not engine.ids()


# ---------------------------------------------------------------------------
# --log-driver
# ---------------------------------------------------------------------------


def test_log_driver_none(engine):
    cid = engine.run_d("--name", "quiet", "--log-driver", "none", IMAGE, "sh", "-c",
                       "echo said-something; echo on-stderr >&2; sleep 60")
    c = engine.inspect("quiet")
    assert c["HostConfig"]["LogConfig"]["Type"] == "none"
    wait_for(lambda: engine.status("quiet") == "running", what="running")
    ctr_dir = os.path.join(engine.root, "containers", c["Id"])
    assert os.path.isdir(ctr_dir)
    assert not [f for f in os.listdir(ctr_dir) if f.startswith("ctr.log")]
    p = engine.fail("logs", "quiet")
    assert p.returncode == 125
    assert ("this container is using the 'none' log driver, cannot read logs: "
            "this container is not logging output") in p.stderr
    engine.run("rm", "-f", cid)
    # in the foreground the output still reaches the caller, as podman's
    p = engine.run_ctr("--rm", "--log-driver", "none", IMAGE, "echo", "fg-out")
    assert p.stdout == "fg-out\n"


def test_log_driver_json_file_is_the_default(engine):
    engine.run_ctr("--name", "j", "--log-driver", "json-file", IMAGE, "echo", "j-out")
    assert engine.run("logs", "j").stdout == "j-out\n"
    engine.run_ctr("--name", "k", IMAGE, "echo", "k-out")
    assert engine.run("logs", "k").stdout == "k-out\n"


def test_log_driver_passthrough_gives_the_callers_stdio(engine):
    r, w = os.pipe()
    pipe_ino = os.fstat(w).st_ino
    try:
        cmd = engine.cmd("run", *engine.create_opts(), "--name", "pt", "--log-driver",
                         "passthrough", IMAGE, "sh", "-c",
                         "stat -L -c %i /proc/self/fd/1; echo direct")
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=w,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    assert p.returncode == 0, p.stderr
    ino, text = out.split()
    # the container's stdout is the very pipe cove was given, not one of
    # cove's own copying into a log
    assert int(ino) == pipe_ino
    assert text == "direct"
    ctr_dir = os.path.join(engine.root, "containers", engine.inspect("pt")["Id"])
    assert not [f for f in os.listdir(ctr_dir) if f.startswith("ctr.log")]
    p = engine.fail("logs", "pt")
    assert "this container is using the 'passthrough' log driver" in p.stderr
    # a detached start is refused: its output would go nowhere
    p = engine.fail("start", "pt")
    assert "passthrough" in p.stderr
    assert engine.status("pt") != "running"


# ---------------------------------------------------------------------------
# --network-alias
# ---------------------------------------------------------------------------


@cni
def test_network_alias_resolves_for_other_containers(net):
    net.run("network", "create", "--subnet", "10.123.9.0/24", "aliasnet")
    httpd(net, "srv", "--network", "aliasnet", "--network-alias", "web-alias",
          "--network-alias", "second.alias", text="via-alias")
    srv = net.inspect("srv")
    ip = srv["NetworkSettings"]["IPAddress"]
    assert ip.startswith("10.123.9.")
    assert sorted(srv["NetworkSettings"]["Networks"]["aliasnet"]["Aliases"]) == [
        "second.alias", "web-alias"]
    p = net.run_ctr("--rm", IMAGE, "sh", "-c",
                    "cat /etc/hosts; echo ---; wget -q -O - http://web-alias/ && "
                    "wget -q -O - http://second.alias/", network="aliasnet")
    hosts, _, got = p.stdout.partition("---\n")
    line = [l for l in hosts.splitlines() if l.startswith(ip)]
    assert line and {"srv", "web-alias", "second.alias"} <= set(line[0].split()[1:])
    assert got.split() == ["via-alias", "via-alias"]
    # a container on another network does not know the alias
    p = net.run_ctr("--rm", IMAGE, "grep", "-c", "web-alias", "/etc/hosts",
                    network="bridge", check=False)
    assert p.stdout.strip() == "0"
    net.run("rm", "-f", "srv")
    net.run("network", "rm", "aliasnet")


# ---------------------------------------------------------------------------
# --ip, --mac-address
# ---------------------------------------------------------------------------


@cni
def test_static_ip_and_mac(net):
    p = net.run_ctr("--rm", "--ip", "10.88.0.77", "--mac-address", "02:42:AC:11:00:99",
                    IMAGE, "ip", "addr", "show", "eth0", network="bridge")
    assert "inet 10.88.0.77/16" in p.stdout
    assert "link/ether 02:42:ac:11:00:99" in p.stdout
    # the address is the container's while it runs: a second one is refused
    net.run_d("--name", "holder", "--ip", "10.88.0.78", IMAGE, "sleep", "60",
              network="bridge")
    c = net.inspect("holder")
    assert c["NetworkSettings"]["IPAddress"] == "10.88.0.78"
    p = net.fail("run", *net.create_opts("bridge"), "--rm", "--ip", "10.88.0.78",
                 IMAGE, "true")
    assert p.returncode == 125
    assert (f"requested ip address 10.88.0.78 is already allocated to container ID "
            f"{c['Id']}") in p.stderr
    # outside the network's subnet: refused before anything is made
    n = len(net.ids())
    p = net.fail("run", *net.create_opts("bridge"), "--rm", "--ip", "192.168.77.5",
                 IMAGE, "true")
    assert p.returncode == 125
    assert "requested static ip 192.168.77.5 not in any subnet on network cove" in p.stderr
    assert len(net.ids()) == n
    net.run("rm", "-f", "holder")
    # released with its container: the address can be had again
    p = net.run_ctr("--rm", "--ip", "10.88.0.78", IMAGE, "ip", "-4", "-o", "addr",
                    "show", "eth0", network="bridge")
    assert "10.88.0.78/16" in p.stdout


@cni
def test_static_ip_on_user_network(net):
    net.run("network", "create", "--subnet", "10.123.8.0/24", "ipnet")
    p = net.run_ctr("--rm", "--ip", "10.123.8.200", IMAGE, "ip", "-4", "-o", "addr",
                    "show", "eth0", network="ipnet")
    assert "10.123.8.200/24" in p.stdout
    p = net.fail("run", *net.create_opts("ipnet"), "--rm", "--ip", "10.88.0.5",
                 IMAGE, "true")
    assert "not in any subnet on network ipnet" in p.stderr
    net.run("network", "rm", "ipnet")


# ---------------------------------------------------------------------------
# --expose and -P
# ---------------------------------------------------------------------------


@cni
def test_expose_is_published_by_publish_all(net):
    httpd(net, "exp", "--expose", "8081", "--expose", "9000-9001/udp", "-P",
          port=8081, text="exposed-web")
    c = net.inspect("exp")
    assert {"8081/tcp", "9000/udp", "9001/udp"} <= set(c["Config"]["ExposedPorts"])
    bound = {(b["ContainerPort"], b["Protocol"]): b["HostPort"]
             for b in c["HostConfig"]["PortBindings"]}
    assert {(8081, "tcp"), (9000, "udp"), (9001, "udp")} <= set(bound)
    port = bound[(8081, "tcp")]
    assert port > 0
    out = net.run("port", "exp").stdout
    assert f"8081/tcp -> 0.0.0.0:{port}" in out
    wait_for(lambda: http_get(net, f"http://127.0.0.1:{port}/").stdout.strip()
             == "exposed-web", timeout=10, what="httpd through the -P port")


def test_expose_without_publish_all_publishes_nothing(engine):
    engine.create_ctr("--name", "e", "--expose", "7000", IMAGE, "true")
    c = engine.inspect("e")
    assert "7000/tcp" in c["Config"]["ExposedPorts"]
    assert not c["HostConfig"].get("PortBindings")


# ---------------------------------------------------------------------------
# --network container:NAME
# ---------------------------------------------------------------------------


@cni
def test_network_container_mode_shares_the_namespace(net):
    target = httpd(net, "tgt", text="from-target")
    t = net.inspect("tgt")
    ip = t["NetworkSettings"]["IPAddress"]
    p = net.run_ctr("--rm", "--name", "joiner", IMAGE, "sh", "-c",
                    "ip -4 -o addr show eth0; hostname; echo ---; cat /etc/hosts; "
                    "echo ---; cat /etc/resolv.conf; echo ---; "
                    "wget -q -O - http://127.0.0.1/; readlink /proc/self/ns/net",
                    network="container:tgt")
    addr, hosts, resolv, rest = p.stdout.split("---\n")
    assert f"inet {ip}/" in addr
    # its host name: the target's (here its short id)
    assert addr.splitlines()[-1] == t["Id"][:12]
    tgt_dir = os.path.join(net.root, "containers", t["Id"])
    with open(os.path.join(tgt_dir, "hosts")) as f:
        assert hosts == f.read()
    with open(os.path.join(tgt_dir, "resolv.conf")) as f:
        assert resolv == f.read()
    page, ns = rest.split()
    assert page == "from-target"
    assert ns == os.readlink(f"/proc/{t['State']['Pid']}/ns/net")
    # the dependency, recorded as podman and docker do
    net.create_ctr("--name", "dep", IMAGE, "true", network="container:tgt")
    assert net.inspect("dep")["HostConfig"]["NetworkMode"] == f"container:{target}"
    # ... which keeps the target from being removed before it
    p = net.fail("rm", "-f", "tgt")
    assert p.returncode != 0 and "dependent containers" in p.stderr and "dep" in p.stderr
    assert net.inspect("tgt")["State"]["Running"]


@cni
def test_network_container_mode_conflicts(net):
    httpd(net, "tgt2")
    opts = net.create_opts("container:tgt2")
    for extra, words in [
        (["-p", "8080:80"], "conflicting options: port publishing and the network mode: container"),
        (["-P"], "conflicting options: port publishing and the network mode: container"),
        (["--dns", "192.0.2.1"], "conflicting options: dns and the network mode: container"),
        (["--dns-search", "a.test"], "conflicting options: dns and the network mode: container"),
        (["--hostname", "h"], "conflicting options: hostname and the network mode: container"),
        (["--add-host", "a:192.0.2.1"], "cannot set extra host entries"),
        (["--ip", "10.88.0.9"], "static ip addresses can only be set when the network mode is bridge"),
        (["--network-alias", "x"], "--network-alias can only be set"),
    ]:
        p = net.fail("run", *opts, "--rm", *extra, IMAGE, "true")
        assert p.returncode == 125, p.stderr
        assert words in p.stderr, (extra, p.stderr)
    p = net.fail("run", *net.create_opts("container:nosuch"), "--rm", IMAGE, "true")
    assert p.returncode == 125
    assert "nosuch" in p.stderr
    assert len(net.ids()) == 1


@cni
def test_network_container_mode_needs_a_running_target(net):
    net.create_ctr("--name", "idle", IMAGE, "sleep", "60", network="bridge")
    net.create_ctr("--name", "late", IMAGE, "true", network="container:idle")
    p = net.fail("start", "-a", "late")
    assert p.returncode == 125
    assert "cannot join the network namespace of container idle: it is not running" in p.stderr
    net.run("start", "idle")
    net.record_pids()
    p = net.run("start", "-a", "late")
    assert p.returncode == 0
