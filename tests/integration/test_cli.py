"""Command line: version, spec, features, events, logging, exec, terminals."""

import json
import os
import re
import select
import socket
import threading
import time

import pytest

from conftest import cgroup_v1_path, crun_extension, pid_alive, read_file, sleeper


# --- global ---------------------------------------------------------------


def test_version(rt):
    proc = rt.run("--version", root=False)
    lines = proc.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(rt.name)} version \d+\.\d+\.\d+\S*", lines[0]), lines[0]
    assert any(re.fullmatch(r"spec: 1\.2\.\d+\S*", l) for l in lines), proc.stdout
    assert any(l.startswith("+") for l in lines), proc.stdout


def test_help_lists_commands(rt):
    proc = rt.run("--help", root=False)
    for cmd in ["create", "start", "run", "state", "kill", "delete", "exec", "ps",
                "list", "pause", "resume", "update", "spec", "features", "events"]:
        assert re.search(rf"^\s+{cmd}\b", proc.stdout, re.M), cmd


def test_unknown_command(rt):
    proc = rt.run("frobnicate", check=False)
    assert proc.returncode != 0
    assert "frobnicate" in proc.stderr


def test_unknown_flag(rt, container_id):
    proc = rt.run("state", "--no-such-flag", container_id(), check=False)
    assert proc.returncode != 0
    assert "no-such-flag" in proc.stderr


def test_missing_container_id(rt):
    proc = rt.run("state", check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip()


def test_log_json(rt, container_id, test_tmp):
    log = os.path.join(test_tmp, "log.json")
    cid = container_id()
    proc = rt.run("state", cid, check=False, global_args=["--log", log, "--log-format", "json"])
    assert proc.returncode != 0
    lines = [l for l in read_file(log).splitlines() if l.strip()]
    assert lines, "nothing was logged"
    entries = [json.loads(l) for l in lines]
    errors = [e for e in entries if e.get("level") == "error"]
    assert errors, entries
    assert all(isinstance(e.get("msg"), str) and e["msg"] for e in errors)
    assert all("time" in e for e in entries)


def test_log_text(rt, container_id, test_tmp):
    log = os.path.join(test_tmp, "log.txt")
    proc = rt.run("state", container_id(), check=False, global_args=["--log", log, "--log-format", "text"])
    assert proc.returncode != 0
    text = read_file(log)
    assert text.strip()
    with pytest.raises(ValueError):
        json.loads(text.splitlines()[0])


def test_log_format_invalid(rt, test_tmp):
    proc = rt.run("list", check=False, global_args=["--log-format", "yaml"])
    assert proc.returncode != 0
    assert "yaml" in proc.stderr


def test_debug_flag_accepted(rt):
    proc = rt.run("list", "-q", global_args=["--debug"])
    assert proc.stdout.strip() == ""


def test_root_is_used(rt, runner):
    cid, st = runner.create(*sleeper())
    assert os.path.isdir(os.path.join(rt.root, cid))
    other = os.path.join(os.path.dirname(rt.root), "other-root")
    proc = rt.run("--root", other, "state", cid, root=False, check=False)
    assert proc.returncode != 0


# --- spec and features ------------------------------------------------------


def test_spec_writes_config(rt, test_tmp):
    d = os.path.join(test_tmp, "specdir")
    os.mkdir(d)
    rt.run("spec", cwd=d)
    cfg = json.loads(read_file(os.path.join(d, "config.json")))
    assert cfg["ociVersion"].startswith("1.")
    assert cfg["root"]["path"] == "rootfs"
    assert cfg["process"]["args"] == ["sh"]
    assert cfg["process"]["cwd"] == "/"
    assert any(m["destination"] == "/proc" and m["type"] == "proc" for m in cfg["mounts"])
    ns = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert {"pid", "network", "ipc", "uts", "mount"} <= ns
    assert "user" not in ns
    assert "/proc/kcore" in cfg["linux"]["maskedPaths"]
    assert "/proc/sys" in cfg["linux"]["readonlyPaths"]


def test_spec_refuses_to_overwrite(rt, test_tmp):
    d = os.path.join(test_tmp, "specdir")
    os.mkdir(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write("keep me")
    proc = rt.run("spec", cwd=d, check=False)
    assert proc.returncode != 0
    assert "config.json" in proc.stderr
    assert read_file(os.path.join(d, "config.json")) == "keep me"


def test_spec_bundle_flag(rt, test_tmp):
    d = os.path.join(test_tmp, "specdir")
    os.mkdir(d)
    rt.run("spec", "--bundle", d)
    assert json.loads(read_file(os.path.join(d, "config.json")))["root"]["path"] == "rootfs"
    d2 = os.path.join(test_tmp, "specdir2")
    os.mkdir(d2)
    rt.run("spec", "-b", d2)
    assert os.path.exists(os.path.join(d2, "config.json"))


def test_spec_rootless(rt, test_tmp):
    d = os.path.join(test_tmp, "specdir")
    os.mkdir(d)
    rt.run("spec", "--rootless", cwd=d)
    cfg = json.loads(read_file(os.path.join(d, "config.json")))
    ns = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert "user" in ns
    assert "network" not in ns
    assert cfg["linux"]["uidMappings"] and cfg["linux"]["gidMappings"]
    m = cfg["linux"]["uidMappings"][0]
    assert m["containerID"] == 0 and m["size"] >= 1
    assert "resources" not in cfg["linux"] or not cfg["linux"]["resources"].get("devices")


def test_spec_runs(rt, test_tmp, shared_bundle, container_id, cgroup_parent):
    """The default spec plus a rootfs is a runnable bundle."""
    d = os.path.join(test_tmp, "specbundle")
    os.mkdir(d)
    rt.run("spec", cwd=d)
    cfg = json.loads(read_file(os.path.join(d, "config.json")))
    cfg["root"]["path"] = os.path.join(shared_bundle, "rootfs")
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sh", "-c", "echo spec-ok"]
    cfg["linux"]["cgroupsPath"] = cgroup_parent.child("spec")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    assert rt.run("run", "--bundle", d, container_id()).stdout == "spec-ok\n"


def test_features(rt):
    f = rt.json("features", root=False)
    assert re.fullmatch(r"1\.\d+\.\d+\S*", f["ociVersionMin"])
    assert re.fullmatch(r"1\.\d+\.\d+\S*", f["ociVersionMax"])
    for h in ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]:
        assert h in f["hooks"]
    for o in ["bind", "rbind", "ro", "nosuid", "nodev", "noexec"]:
        assert o in f["mountOptions"]
    linux = f["linux"]
    for ns in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]:
        assert ns in linux["namespaces"]
    assert "CAP_SYS_ADMIN" in linux["capabilities"]
    assert "CAP_CHOWN" in linux["capabilities"]
    seccomp = linux["seccomp"]
    assert seccomp["enabled"] is True
    assert "SCMP_ACT_ERRNO" in seccomp["actions"]
    assert "SCMP_ARCH_X86_64" in seccomp["archs"]


# --- events ---------------------------------------------------------------


def test_events_stats(rt, runner, bundle):
    cid, pid = runner.start_detached(*sleeper())
    proc = rt.run("events", "--stats", cid, timeout=10)
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stdout
    ev = json.loads(lines[0])
    assert ev["type"] == "stats"
    assert ev["id"] == cid
    data = ev["data"]
    assert data["pids"]["current"] >= 2
    usage = data["memory"]["usage"]["usage"]
    assert usage > 0
    memcg = cgroup_v1_path("memory", bundle.cgroups_path)
    if memcg:
        # same order of magnitude as what the kernel reports right now
        now = int(read_file(os.path.join(memcg, "memory.usage_in_bytes")))
        assert usage < now * 10 + (1 << 24)


# --- exec -----------------------------------------------------------------


@pytest.fixture
def running(runner):
    return runner.start_detached(*sleeper())


def test_exec_inline_args(rt, running):
    cid, pid = running
    assert rt.run("exec", cid, "echo", "a", "b c").stdout == "a b c\n"


def test_exec_joins_namespaces_and_cgroup(rt, running, bundle):
    cid, pid = running
    out = rt.run(
        "exec", cid, "sh", "-c",
        "for n in net ipc uts mnt pid; do readlink /proc/self/ns/$n; done; grep :memory: /proc/self/cgroup",
    ).stdout.splitlines()
    for ns, inside in zip(["net", "ipc", "uts", "mnt", "pid"], out):
        assert inside == os.readlink(f"/proc/{pid}/ns/{ns}"), ns
    assert out[5].split(":", 2)[2] == bundle.cgroups_path


def test_exec_env(rt, running):
    cid, pid = running
    out = rt.run("exec", "-e", "FOO=bar", "-e", "BAZ=qux", cid, "sh", "-c", "echo $FOO-$BAZ").stdout
    assert out == "bar-qux\n"


def test_exec_inherits_process_env(rt, running, bundle):
    cid, pid = running
    path = [e for e in bundle.process["env"] if e.startswith("PATH=")][0]
    assert rt.run("exec", cid, "sh", "-c", "echo PATH=$PATH").stdout.strip() == path


def test_exec_cwd(rt, running):
    cid, pid = running
    assert rt.run("exec", "--cwd", "/tmp", cid, "pwd").stdout == "/tmp\n"


def test_exec_user(rt, running):
    cid, pid = running
    out = rt.run("exec", "-u", "1000:1000", cid, "sh", "-c", "id -u; id -g").stdout.split()
    assert out == ["1000", "1000"]
    out = rt.run("exec", "--user", "1234", cid, "id", "-u").stdout.split()
    assert out == ["1234"]


def test_exec_additional_gids(rt, running):
    cid, pid = running
    out = rt.run("exec", "-u", "1000:1000", "-g", "10", "-g", "20", cid, "id", "-G").stdout.split()
    assert {"10", "20"} <= set(out)


def test_exec_process_json(rt, running, test_tmp):
    cid, pid = running
    path = os.path.join(test_tmp, "process.json")
    with open(path, "w") as f:
        json.dump(
            {
                "terminal": False,
                "user": {"uid": 1000, "gid": 1000},
                "args": ["sh", "-c", "echo from-json $X $(id -u) $(pwd)"],
                "env": ["PATH=/bin", "X=xval"],
                "cwd": "/tmp",
            },
            f,
        )
    assert rt.run("exec", "-p", path, cid).stdout == "from-json xval 1000 /tmp\n"
    assert rt.run("exec", "--process", path, cid).stdout == "from-json xval 1000 /tmp\n"


def test_exec_process_json_invalid(rt, running, test_tmp):
    cid, pid = running
    path = os.path.join(test_tmp, "process.json")
    with open(path, "w") as f:
        f.write("{not json")
    proc = rt.run("exec", "-p", path, cid, check=False)
    assert proc.returncode != 0
    assert "process.json" in proc.stderr


def test_exec_exit_status(rt, running):
    cid, pid = running
    assert rt.run("exec", cid, "sh", "-c", "exit 3", check=False).returncode == 3
    assert rt.run("exec", cid, "false", check=False).returncode == 1


def test_exec_missing_binary(rt, running):
    cid, pid = running
    proc = rt.run("exec", cid, "/no/such/bin", check=False)
    assert proc.returncode != 0
    assert "/no/such/bin" in proc.stderr
    assert rt.status(cid) == "running"


def test_exec_stdio(rt, running):
    cid, pid = running
    proc = rt.run("exec", cid, "sh", "-c", "read l; echo out:$l; echo err:$l >&2", input="x\n")
    assert proc.stdout == "out:x\n"
    assert "err:x" in proc.stderr


def test_exec_detach_pid_file(rt, running, test_tmp):
    cid, pid = running
    pidfile = os.path.join(test_tmp, "exec.pid")
    t0 = time.monotonic()
    rt.run("exec", "-d", "--pid-file", pidfile, cid, "sleep", "1000", timeout=15)
    assert time.monotonic() - t0 < 10
    epid = int(read_file(pidfile).strip())
    assert pid_alive(epid)
    assert epid in rt.json("ps", "-f", "json", cid)
    assert os.readlink(f"/proc/{epid}/ns/pid") == os.readlink(f"/proc/{pid}/ns/pid")


def test_exec_nonexistent_container(rt, container_id):
    cid = container_id()
    proc = rt.run("exec", cid, "true", check=False)
    assert proc.returncode != 0
    assert cid in proc.stderr


def test_exec_stopped_container(rt, runner):
    cid, pid = runner.start_detached(*sleeper())
    rt.run("kill", cid, "KILL")
    rt.wait_status(cid, "stopped")
    proc = rt.run("exec", cid, "true", check=False)
    assert proc.returncode != 0


def test_exec_paused_container_refused(rt, running):
    cid, pid = running
    rt.run("pause", cid)
    try:
        proc = rt.run("exec", cid, "true", check=False, timeout=10)
        assert proc.returncode != 0
        assert "paused" in proc.stderr
    finally:
        rt.run("resume", cid)


# --- terminals -------------------------------------------------------------


def _recv_fd(server, result):
    try:
        server.settimeout(20)
        conn, _ = server.accept()
        with conn:
            msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 4)
            result["msg"] = msg
            result["fds"] = fds
    except Exception as e:  # reported by the test thread
        result["error"] = e


def _read_until(fd, needle, timeout=10):
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


@pytest.fixture
def console_socket(test_tmp):
    path = os.path.join(test_tmp, "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    result = {}
    t = threading.Thread(target=_recv_fd, args=(server, result), daemon=True)
    t.start()
    yield path, t, result
    t.join(timeout=1)
    server.close()
    for fd in result.get("fds", []):
        try:
            os.close(fd)
        except OSError:
            pass


def test_console_socket(rt, bundle, container_id, console_socket):
    path, thread, result = console_socket
    bundle.process["terminal"] = True
    bundle.process["env"] = bundle.process.get("env", []) + ["PS1=# "]
    bundle.set_args("sh")
    cid = container_id()
    rt.run("create", "--console-socket", path, "--bundle", bundle.path, cid)
    thread.join(timeout=20)
    assert "error" not in result, result.get("error")
    assert len(result.get("fds", [])) == 1, result
    master = result["fds"][0]
    assert os.isatty(master)
    rt.run("start", cid)
    os.write(master, b"echo cove-$((40+2)); tty\n")
    out = _read_until(master, b"/dev/pts/")
    out += _read_until(master, b"\n", timeout=2)
    assert b"cove-42" in out, out
    assert b"/dev/pts/" in out, out
    os.write(master, b"exit 5\n")
    rt.wait_status(cid, "stopped")


def test_terminal_without_console_socket_fails(rt, bundle, container_id):
    bundle.process["terminal"] = True
    bundle.set_args("sh")
    proc = rt.run("create", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "console-socket" in proc.stderr or "console socket" in proc.stderr


def test_exec_tty_console_socket(rt, running, console_socket):
    cid, pid = running
    path, thread, result = console_socket
    rt.run("exec", "-d", "-t", "--console-socket", path, cid, "sh", "-c", "tty; sleep 2")
    thread.join(timeout=20)
    assert len(result.get("fds", [])) == 1, result
    out = _read_until(result["fds"][0], b"/dev/pts/")
    assert b"/dev/pts/" in out, out


# --- crun extensions ----------------------------------------------------------


@crun_extension
def test_config_flag(rt, bundle, container_id):
    alt = dict(bundle.config)
    alt["process"] = dict(bundle.process, args=["sh", "-c", "echo from-alt-config"])
    path = os.path.join(bundle.path, "alt.json")
    with open(path, "w") as f:
        json.dump(alt, f)
    bundle.set_sh("echo from-config-json")
    assert rt.run("run", "--config", path, "--bundle", bundle.path, container_id()).stdout == "from-alt-config\n"
    cid = container_id()
    rt.run("create", "--config", path, "--bundle", bundle.path, cid)
    assert rt.status(cid) == "created"


@crun_extension
def test_cgroup_manager_cgroupfs(rt, bundle, container_id):
    bundle.set_sh("grep :memory: /proc/self/cgroup")
    out = rt.run("run", "--bundle", bundle.path, container_id(), global_args=["--cgroup-manager", "cgroupfs"]).stdout
    assert out.strip().split(":", 2)[2] == bundle.cgroups_path


@crun_extension
def test_cgroup_manager_disabled(rt, bundle, container_id):
    bundle.set_sh("grep :memory: /proc/self/cgroup")
    out = rt.run("run", "--bundle", bundle.path, container_id(), global_args=["--cgroup-manager", "disabled"]).stdout
    assert out.strip().split(":", 2)[2] != bundle.cgroups_path
    memcg = cgroup_v1_path("memory", bundle.cgroups_path)
    assert memcg is None or not os.path.exists(memcg)


@crun_extension
def test_cgroup_manager_invalid(rt, container_id):
    proc = rt.run("list", check=False, global_args=["--cgroup-manager", "bogus"])
    assert proc.returncode != 0
    assert "bogus" in proc.stderr
