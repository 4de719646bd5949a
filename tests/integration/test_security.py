"""Regression tests for the classic OCI runtime escapes.

- CVE-2019-5736: a container process overwriting the runtime binary through
  /proc/PID/exe.  The runtime must run container-facing code from a sealed
  memfd copy of itself, never from the host binary.
- CVE-2024-21626: runtime fds (host directories) leaking into the container,
  reachable through process.cwd = /proc/self/fd/N.
- CVE-2021-30465: mount destinations that are (or pass through) symlinks in
  the rootfs must be resolved inside the rootfs, never on the host.
"""

import errno
import hashlib
import os
import subprocess
import uuid

import pytest

from conftest import BINARY, read_file, sleeper, wait_for


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fd_numbers(pid):
    return sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd"))


# --- CVE-2019-5736 ----------------------------------------------------------


def test_init_runs_from_sealed_memfd_not_host_binary(rt, runner, bundle):
    before = sha256(BINARY)
    host = os.stat(BINARY)
    cid, st = runner.create("sleep", "1000")
    pid = st["pid"]

    exe = os.stat(f"/proc/{pid}/exe")
    assert (exe.st_dev, exe.st_ino) != (host.st_dev, host.st_ino), (
        "the blocked container init executes the host runtime binary itself; "
        "a container process could reopen /proc/PID/exe for writing"
    )
    link = os.readlink(f"/proc/{pid}/exe")
    assert link != os.path.realpath(BINARY)
    assert link.startswith("/memfd:"), f"init exe is {link!r}, not a memfd"

    # Keep a handle on the copy, as an attacker in the container would,
    # then let the init exec the user process so the copy is no longer
    # busy (ETXTBSY would otherwise hide a writable copy).
    path_fd = os.open(f"/proc/{pid}/exe", os.O_PATH)
    try:
        rt.run("start", cid)
        wait_for(
            lambda: "sleep" in read_file(f"/proc/{pid}/cmdline", ""),
            what="the user process to start",
        )
        wrote = False
        try:
            wfd = os.open(f"/proc/self/fd/{path_fd}", os.O_WRONLY)
        except OSError:
            wfd = -1
        if wfd >= 0:
            try:
                os.write(wfd, b"\x7fELF-overwritten")
                wrote = True
            except OSError as e:
                assert e.errno in (errno.EPERM, errno.EBADF, errno.ETXTBSY), e
            finally:
                os.close(wfd)
        assert not wrote, "the runtime's executable copy is writable (not sealed)"
    finally:
        os.close(path_fd)
    assert sha256(BINARY) == before


def test_exec_process_does_not_see_runtime_binary(rt, runner, bundle):
    cid, pid = runner.start_detached(*sleeper())
    before = sha256(BINARY)
    # From inside the container, every /proc/*/exe a process can reach must
    # be something other than the host runtime binary.
    proc = rt.run(
        "exec", cid, "sh", "-c",
        "for p in /proc/[0-9]*; do readlink $p/exe; done; "
        "for p in /proc/[0-9]*; do echo x 2>/dev/null >> $p/exe && echo WROTE $p; done; true",
    )
    assert "WROTE" not in proc.stdout
    assert os.path.realpath(BINARY) not in proc.stdout
    assert sha256(BINARY) == before


# --- CVE-2024-21626 ---------------------------------------------------------


def test_only_stdio_fds_in_container(runner):
    out = runner.sh("ls /proc/self/fd; echo; ls -l /proc/self/fd").stdout
    names, _, detail = out.partition("\n\n")
    # busybox ls holds one fd of its own (the directory it lists)
    assert sorted(int(n) for n in names.split()) == [0, 1, 2, 3], out


def test_init_has_only_stdio_fds(rt, runner):
    cid, pid = runner.start_detached("sleep", "1000")
    wait_for(lambda: "sleep" in read_file(f"/proc/{pid}/cmdline", ""), what="sleep to run")
    assert fd_numbers(pid) == [0, 1, 2]


def test_exec_process_has_only_stdio_fds(rt, runner, test_tmp):
    cid, pid = runner.start_detached(*sleeper())
    pidfile = os.path.join(test_tmp, "exec.pid")
    rt.run("exec", "-d", "--pid-file", pidfile, cid, "sleep", "1000")
    epid = int(read_file(pidfile))
    wait_for(lambda: "sleep" in read_file(f"/proc/{epid}/cmdline", ""), what="exec'd sleep")
    assert fd_numbers(epid) == [0, 1, 2]
    out = rt.run("exec", cid, "ls", "/proc/self/fd").stdout.split()
    assert sorted(int(n) for n in out) == [0, 1, 2, 3]


@pytest.mark.parametrize("cwd", ["/", "/tmp", "/bin"])
def test_cwd_inside_container(runner, bundle, cwd):
    bundle.process["cwd"] = cwd
    out = runner.sh("readlink /proc/self/cwd; pwd").stdout.split()
    assert out == [cwd, cwd]


def _escape_probe():
    # If the cwd is outside the container root, walking up reaches the host
    # root, whose listing differs from the container's.
    return (
        'a=$(ls -a ../../../../../../../../../..); b=$(ls -a /); '
        'if [ "$a" = "$b" ]; then echo contained; else echo ESCAPED; fi; '
        "readlink /proc/self/cwd"
    )


@pytest.mark.parametrize("fd", range(3, 11))
def test_cwd_proc_self_fd_cannot_escape(rt, bundle, container_id, fd):
    bundle.process["cwd"] = f"/proc/self/fd/{fd}"
    bundle.set_sh(_escape_probe())
    proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert "ESCAPED" not in proc.stdout
    if proc.returncode == 0:
        assert "contained" in proc.stdout


@pytest.mark.parametrize("fd", range(3, 11))
def test_exec_cwd_proc_self_fd_cannot_escape(rt, runner, fd):
    cid, pid = runner.start_detached(*sleeper())
    proc = rt.run("exec", "--cwd", f"/proc/self/fd/{fd}", cid, "sh", "-c", _escape_probe(), check=False)
    assert "ESCAPED" not in proc.stdout
    if proc.returncode == 0:
        assert "contained" in proc.stdout


def test_no_host_paths_in_container_fds(rt, runner, test_tmp):
    cid, pid = runner.start_detached(*sleeper())
    out = rt.run(
        "exec", cid, "sh", "-c",
        'for f in /proc/1/fd/* /proc/$$/fd/*; do echo "$f $(readlink $f)"; done; true',
    ).stdout
    for line in out.splitlines():
        path, _, target = line.partition(" ")
        if int(path.rsplit("/", 1)[1]) <= 2:
            continue  # stdio: the caller's own files
        assert rt.root not in target, line
        assert not target.startswith("/") or target.startswith(("/dev/", "/proc/")), line


# --- CVE-2021-30465 ---------------------------------------------------------


def _mounted_at(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


@pytest.mark.parametrize("kind", ["absolute", "relative", "dotdot-destination"])
def test_mount_destination_symlink_stays_in_rootfs(rt, bundle, container_id, kind):
    rootfs = bundle.private_rootfs()
    name = f"evil-{uuid.uuid4().hex[:12]}"
    host_target = f"/tmp/{name}"
    if kind == "absolute":
        os.symlink(host_target, os.path.join(rootfs, "evil"))
        dest = "/evil"
    elif kind == "relative":
        os.symlink("../../../../../../../../.." + host_target, os.path.join(rootfs, "evil"))
        dest = "/evil"
    else:
        dest = "/../../../../../../.." + host_target
    # the container's own /tmp is a tmpfs; the evil mount must not be
    # under it either way, so drop it and let /tmp be the rootfs directory
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/tmp"]
    bundle.add_mount(dest, "tmpfs", "tmpfs", ["size=1m"])
    bundle.set_sh(f"echo inside > {dest}/file && stat -f -c %T {dest}/ && cat /tmp/{name}/file")
    try:
        proc = rt.run("run", "--bundle", bundle.path, container_id(), check=False)
        assert not os.path.lexists(host_target), f"{host_target} was created on the host"
        assert not _mounted_at(host_target)
        if proc.returncode != 0:
            assert proc.stderr.strip(), "failed without saying why"
        else:
            # the tmpfs landed inside the rootfs, at the symlink's target
            # resolved against the container root
            assert proc.stdout.split() == ["tmpfs", "inside"], proc.stdout
    finally:
        if os.path.lexists(host_target) and not _mounted_at(host_target):
            subprocess.run(["rm", "-rf", "--one-file-system", host_target])


def test_bind_mount_destination_symlink_to_host_dir(rt, bundle, container_id, test_tmp):
    rootfs = bundle.private_rootfs()
    victim = os.path.join(test_tmp, "victim")
    os.mkdir(victim)
    with open(os.path.join(victim, "precious"), "w") as f:
        f.write("host data\n")
    src = os.path.join(test_tmp, "src")
    os.mkdir(src)
    with open(os.path.join(src, "payload"), "w") as f:
        f.write("payload\n")
    os.symlink(victim, os.path.join(rootfs, "link"))
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/tmp"]
    bundle.add_mount("/link", "bind", src, ["bind"])
    bundle.set_sh("ls /link")
    rt.run("run", "--bundle", bundle.path, container_id(), check=False)
    assert os.listdir(victim) == ["precious"]
    assert read_file(os.path.join(victim, "precious")) == "host data\n"
    assert not _mounted_at(victim)
    # if the mount happened, it is at <rootfs>/<victim path>, inside the rootfs
    inside = os.path.join(rootfs, victim.lstrip("/"))
    if os.path.exists(inside):
        assert os.path.realpath(inside).startswith(os.path.realpath(rootfs) + "/")


# --- masked and read-only paths from the default spec ----------------------


def test_default_masked_paths(runner, bundle):
    masked = bundle.linux.get("maskedPaths", [])
    assert "/proc/kcore" in masked
    out = runner.sh(
        "echo kcore:$(cat /proc/kcore 2>/dev/null | wc -c); "
        "echo timer:$(cat /proc/timer_list 2>/dev/null | wc -c); "
        "echo firmware:$(ls -A /sys/firmware 2>/dev/null | wc -l)"
    ).stdout.split()
    assert out == ["kcore:0", "timer:0", "firmware:0"]


def test_default_readonly_paths(runner, bundle):
    ro = bundle.linux.get("readonlyPaths", [])
    assert "/proc/sys" in ro and "/proc/sysrq-trigger" in ro
    out = runner.sh(
        "echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null && echo WRITABLE || echo ro; "
        "awk '$5 == \"/proc/sys\" { print $6 }' /proc/self/mountinfo"
    ).stdout.split()
    assert out[0] == "ro"
    assert "ro" in out[1].split(","), out


def test_sysfs_readonly(runner):
    out = runner.sh("echo x > /sys/kernel/uevent_helper 2>/dev/null && echo WRITABLE || echo ro").stdout
    assert out.strip() == "ro"


def test_proc_sysrq_trigger_not_writable(runner):
    # writing "h" would only print help to the kernel log if it worked
    out = runner.sh("echo h > /proc/sysrq-trigger 2>/dev/null && echo WRITABLE || echo ro").stdout
    assert out.strip() == "ro"


def test_cannot_see_host_processes(runner):
    out = runner.sh("ls -d /proc/[0-9]*").stdout.split()
    # sh is pid 1; ls is its child
    assert len(out) <= 3
    assert "/proc/1" in out


def test_no_new_privs_default(runner, bundle):
    if not bundle.process.get("noNewPrivileges"):
        pytest.skip("default spec does not set noNewPrivileges")
    out = runner.sh("grep NoNewPrivs /proc/self/status").stdout.split()
    assert out == ["NoNewPrivs:", "1"]


def test_default_capabilities_are_limited(runner, bundle):
    out = runner.sh("grep CapBnd /proc/self/status").stdout.split()
    bnd = int(out[1], 16)
    CAP_SYS_ADMIN = 21
    CAP_SYS_MODULE = 16
    CAP_SYS_PTRACE = 19
    for cap in (CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE):
        assert not bnd & (1 << cap), hex(bnd)
