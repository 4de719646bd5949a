"""Failures the engine must survive: a monitor killed with SIGKILL, a
create that fails half-way, hostile or malformed options.  Each leaves
nothing behind (the `engine` fixture checks processes, mounts and runtime
state at teardown; these tests check the container's own directories)."""
import os
import signal
import time

from conftest import wait_for

IMAGE = "localhost/busybox"


def ctr_dirs(engine):
    found = []
    for sub in ("containers", "overlay-containers", "vfs-containers"):
        d = os.path.join(engine.root, sub)
        if os.path.isdir(d):
            found += [f"{sub}/{n}" for n in os.listdir(d)]
    return found


def test_monitor_killed_is_noticed_and_cleaned_up(engine):
    engine.run_d("--name", "orphan", IMAGE, "sleep", "300")
    st = engine.inspect("orphan")["State"]
    pid, mon = st["Pid"], st["ConmonPid"]
    assert pid > 0 and mon > 0
    os.kill(mon, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{mon}/stat") or
             open(f"/proc/{mon}/stat").read().split(")")[1].split()[0] == "Z",
             what="the monitor to die")
    # the next command sees it: the container is stopped and cleaned up
    info = engine.inspect("orphan")
    assert info["State"]["Status"] == "exited"
    assert info["State"]["Pid"] == 0
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=5,
             what="the container's process to be gone")
    assert not os.listdir(os.path.join(engine.runroot, "runtime"))
    # and it can be started again, and removed
    engine.run("start", "orphan")
    assert engine.status("orphan") == "running"
    engine.run("rm", "-f", "orphan")
    assert ctr_dirs(engine) == []


def test_failed_create_leaves_nothing(engine, test_tmp):
    missing = os.path.join(test_tmp, "does-not-exist")
    p = engine.fail("run", *engine.create_opts(), "--name", "bad", "-v",
                    f"{missing}:/data", IMAGE, "true")
    assert missing in p.stderr
    assert engine.ids() == []
    assert ctr_dirs(engine) == []
    # the name is free again
    engine.run_ctr("--rm", "--name", "bad", IMAGE, "true")


def test_failed_start_leaves_a_stopped_container_only(engine):
    p = engine.fail("run", *engine.create_opts(), "--name", "nocmd", IMAGE,
                    "/no/such/command")
    assert p.returncode == 127
    info = engine.inspect("nocmd")
    assert info["State"]["Status"] == "exited"
    assert info["State"]["ExitCode"] == 127
    assert not os.listdir(os.path.join(engine.runroot, "runtime"))
    engine.run("rm", "nocmd")
    assert ctr_dirs(engine) == []


def test_malformed_options_are_clear_errors(engine):
    cases = [
        (["--mount", "type=bogus,target=/x"], "--mount"),
        (["--mount", "type=bind,source=/tmp"], "target"),
        (["-p", "99999:80"], "--publish"),
        (["-p", "a:b"], "--publish"),
        (["--memory", "1k"], "--memory"),
        (["--cpus", "-1"], "--cpus"),
        (["--restart", "sometimes"], "--restart"),
        (["--ulimit", "nofile"], "--ulimit"),
        (["--ulimit", "bogus=1"], "--ulimit"),
        (["--stop-signal", "SIGNOPE"], "--stop-signal"),
        (["-v", "relative"], "--volume"),
        (["-w", "relative"], "--workdir"),
        (["--health-interval", "1s"], "--health-cmd"),
        (["--security-opt", "apparmor=strict"], "--security-opt"),
        (["--name", "bad name"], "invalid container name"),
        (["--userns", "keep-id"], "only supported in rootless mode"),
        (["--rm", "--restart", "always"], "--rm and --restart"),
        (["--log-opt", "max-size=huge"], "--log-opt"),
    ]
    for opts, what in cases:
        p = engine.fail("run", *engine.create_opts(), *opts, IMAGE, "true")
        assert p.returncode == 125, (opts, p.returncode)
        assert what in p.stderr, (opts, p.stderr)
        assert "Traceback" not in p.stderr and "Segmentation" not in p.stderr
    assert engine.ids() == []
    assert ctr_dirs(engine) == []


def test_hostile_seccomp_profile_file(engine, test_tmp):
    bad = os.path.join(test_tmp, "seccomp.json")
    for content in ('{"defaultAction":', "[]", '{"syscalls": []}',
                    "x" * 100000):
        with open(bad, "w") as f:
            f.write(content)
        p = engine.fail("run", *engine.create_opts(), "--security-opt",
                        f"seccomp={bad}", IMAGE, "true")
        assert p.returncode == 125
        assert bad in p.stderr, p.stderr
    assert engine.ids() == []
    assert ctr_dirs(engine) == []


def test_env_file_errors_name_the_line(engine, test_tmp):
    f = os.path.join(test_tmp, "env")
    with open(f, "w") as fh:
        fh.write("# comment\nGOOD=1\n=nokey\n")
    p = engine.fail("run", *engine.create_opts(), "--env-file", f, IMAGE, "true")
    assert f"{f}:3" in p.stderr


def test_stop_during_restart_backoff_wins(engine):
    engine.run_d("--name", "flap", "--restart", "always", IMAGE, "false")
    time.sleep(0.3)
    engine.run("stop", "-t", "0", "flap")
    time.sleep(0.6)
    info = engine.inspect("flap")
    assert info["State"]["Status"] == "exited"
    restarts = info["RestartCount"]
    time.sleep(0.8)
    assert engine.inspect("flap")["RestartCount"] == restarts
