"""Container lifecycle: create/start/state/kill/delete/run/list/ps/pause."""

import json
import os
import time

import pytest

from conftest import pid_alive, read_file, sleeper, wait_for, cgroup_v1_path


def test_create_state_created(rt, runner, bundle):
    bundle.config["annotations"] = {"org.cove.test": "lifecycle"}
    bundle.write()
    cid, st = runner.create(*sleeper("echo started > /tmp/x"))
    assert st["status"] == "created"
    assert st["id"] == cid
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert pid_alive(st["pid"])
    assert isinstance(st["ociVersion"], str) and st["ociVersion"].startswith("1.")
    assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path)
    assert st["annotations"] == {"org.cove.test": "lifecycle"}


def test_created_process_is_blocked_until_start(rt, runner):
    cid, st = runner.create(*sleeper("echo started > /tmp/x"))
    pid = st["pid"]
    # Give a runtime that does not block its init a chance to show it.
    time.sleep(0.3)
    cmdline = read_file(f"/proc/{pid}/cmdline").replace("\0", " ")
    assert "echo started" not in cmdline
    assert "sleep" not in cmdline
    assert not os.path.exists(f"/proc/{pid}/root/tmp/x")
    assert rt.status(cid) == "created"

    rt.run("start", cid)
    assert wait_for(
        lambda: read_file(f"/proc/{pid}/root/tmp/x", "") == "started\n",
        what="the container process to write /tmp/x",
    )
    rt.wait_status(cid, "running")
    st = rt.state(cid)
    assert st["pid"] == pid
    cmdline = read_file(f"/proc/{pid}/cmdline").replace("\0", " ")
    assert "echo started" in cmdline


@pytest.mark.parametrize("sig", ["TERM", "15", "SIGTERM"])
def test_kill_signal_forms_stop_container(rt, runner, sig):
    cid, pid = runner.start_detached(*sleeper())
    rt.run("kill", cid, sig)
    rt.wait_status(cid, "stopped")
    assert not pid_alive(pid)


def test_kill_default_signal_is_term(rt, runner):
    cid, pid = runner.start_detached(*sleeper())
    rt.run("kill", cid)
    rt.wait_status(cid, "stopped")


def test_kill_invalid_signal_fails(rt, runner):
    cid, pid = runner.start_detached(*sleeper())
    proc = rt.run("kill", cid, "NOTASIGNAL", check=False)
    assert proc.returncode != 0
    assert rt.status(cid) == "running"


def test_delete_removes_container(rt, runner):
    cid, pid = runner.start_detached(*sleeper())
    rt.run("kill", cid, "KILL")
    rt.wait_status(cid, "stopped")
    rt.run("delete", cid)
    proc = rt.run("state", cid, check=False)
    assert proc.returncode != 0
    assert cid in proc.stderr
    assert not os.path.exists(os.path.join(rt.root, cid))
    assert cid not in rt.run("list", "-q").stdout.split()


def test_delete_created_container(rt, runner):
    cid, st = runner.create(*sleeper())
    rt.run("delete", cid)
    assert rt.run("state", cid, check=False).returncode != 0
    wait_for(lambda: not pid_alive(st["pid"]), what="the created init to be gone")


def test_delete_removes_cgroup(rt, runner, bundle):
    cid, pid = runner.start_detached(*sleeper())
    memcg = cgroup_v1_path("memory", bundle.cgroups_path)
    if memcg is None:
        pytest.skip("no cgroup v1 memory hierarchy")
    assert os.path.isdir(memcg)
    assert str(pid) in read_file(os.path.join(memcg, "cgroup.procs")).split()
    rt.run("delete", "-f", cid)
    wait_for(lambda: not os.path.exists(memcg), what=f"{memcg} to be removed")


def test_start_running_container_fails(rt, runner):
    cid, pid = runner.start_detached(*sleeper())
    proc = rt.run("start", cid, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip()
    assert rt.status(cid) == "running"


def test_start_nonexistent_fails(rt, container_id):
    cid = container_id()
    proc = rt.run("start", cid, check=False)
    assert proc.returncode != 0
    assert cid in proc.stderr


def test_delete_running_needs_force(rt, runner):
    cid, pid = runner.start_detached(*sleeper())
    proc = rt.run("delete", cid, check=False)
    assert proc.returncode != 0
    assert rt.status(cid) == "running"
    assert pid_alive(pid)
    rt.run("delete", "-f", cid)
    assert rt.run("state", cid, check=False).returncode != 0
    wait_for(lambda: not pid_alive(pid), what="the init to be killed")


def test_delete_force_nonexistent(rt, container_id):
    # runc: deleting a container that does not exist with -f is not an error
    rt.run("delete", "-f", container_id())


def test_run_exit_status(rt, runner):
    proc = runner.sh("exit 7", expect_rc=7)
    assert proc.returncode == 7


def test_run_stdout_stderr(rt, runner):
    proc = runner.sh("echo to-stdout; echo to-stderr >&2")
    assert proc.stdout == "to-stdout\n"
    assert "to-stderr\n" in proc.stderr


def test_run_default_bundle_prints_hello(rt, bundle, container_id):
    bundle.set_sh("echo hello from cove")
    proc = rt.run("run", container_id(), cwd=bundle.path)
    assert proc.stdout == "hello from cove\n"


def test_run_stdin(rt, runner, bundle, container_id):
    bundle.set_sh("read line; echo got:$line")
    proc = rt.run("run", "--bundle", bundle.path, container_id(), input="abc\n")
    assert proc.stdout == "got:abc\n"


def test_run_deletes_container_afterwards(rt, runner, container_id, bundle):
    bundle.set_sh("true")
    cid = container_id()
    rt.run("run", "--bundle", bundle.path, cid)
    assert rt.run("state", cid, check=False).returncode != 0


def test_run_detach(rt, bundle, container_id):
    bundle.set_args(*sleeper())
    cid = container_id()
    t0 = time.monotonic()
    rt.run("run", "-d", "--bundle", bundle.path, cid, timeout=20)
    assert time.monotonic() - t0 < 15
    st = rt.state(cid)
    assert st["status"] == "running"
    assert pid_alive(st["pid"])


def test_create_existing_id_fails(rt, runner, bundle):
    cid, st = runner.create(*sleeper())
    proc = rt.run("create", "--bundle", bundle.path, cid, check=False)
    assert proc.returncode != 0
    assert cid in proc.stderr
    # the first container is untouched
    assert rt.state(cid)["pid"] == st["pid"]
    assert rt.status(cid) == "created"


@pytest.mark.parametrize("bad_id", ["../x", "a/b", ".", "..", ""])
def test_invalid_id_rejected(rt, bundle, bad_id, test_tmp):
    proc = rt.run("create", "--bundle", bundle.path, bad_id, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip()
    # nothing was created next to or above the state root
    assert not os.path.exists(os.path.join(os.path.dirname(rt.root), "x"))
    assert sorted(os.listdir(test_tmp)) == ["bundle", "io", "state"]


def test_pid_file(rt, bundle, container_id, test_tmp):
    bundle.set_args(*sleeper())
    cid = container_id()
    pidfile = os.path.join(test_tmp, "pidfile")
    rt.run("create", "--pid-file", pidfile, "--bundle", bundle.path, cid)
    pid = int(read_file(pidfile).strip())
    assert pid == rt.state(cid)["pid"]


def test_pid_file_relative(rt, bundle, container_id):
    bundle.set_args(*sleeper())
    cid = container_id()
    rt.run("run", "-d", "--pid-file", "ct.pid", "--bundle", bundle.path, cid, cwd=rt.workdir)
    pid = int(read_file(os.path.join(rt.workdir, "ct.pid")).strip())
    assert pid == rt.state(cid)["pid"]


def test_list(rt, runner, bundle, make_bundle):
    cid1, pid1 = runner.start_detached(*sleeper())
    b2 = make_bundle("other")
    cid2, st2 = runner.create(*sleeper(), bundle=b2)

    table = rt.run("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    rows = {line.split()[0]: line.split() for line in table[1:] if line.strip()}
    assert set(rows) == {cid1, cid2}
    assert rows[cid1][1] == str(pid1)
    assert rows[cid1][2] == "running"
    assert rows[cid2][2] == "created"
    assert rows[cid1][3] == bundle.path
    assert rows[cid1][-1] == "root"

    assert sorted(rt.run("list", "-q").stdout.split()) == sorted([cid1, cid2])

    data = rt.json("list", "-f", "json")
    assert isinstance(data, list)
    by_id = {c["id"]: c for c in data}
    assert set(by_id) == {cid1, cid2}
    assert by_id[cid1]["pid"] == pid1
    assert by_id[cid1]["status"] == "running"
    assert by_id[cid2]["status"] == "created"
    assert by_id[cid1]["bundle"] == bundle.path
    assert by_id[cid2]["bundle"] == b2.path


def test_list_empty(rt):
    assert rt.run("list", "-q").stdout.strip() == ""
    data = json.loads(rt.run("list", "-f", "json").stdout or "null")
    assert data in (None, [])


def test_ps(rt, runner, bundle):
    cid, pid = runner.start_detached(*sleeper())
    pids = rt.json("ps", "-f", "json", cid)
    assert isinstance(pids, list)
    assert pid in pids
    # the init plus its background sleep
    assert len(pids) >= 2
    for p in pids:
        assert pid_alive(p)
    table = rt.run("ps", cid).stdout
    assert "PID" in table.splitlines()[0]
    assert str(pid) in table


def test_pause_resume(rt, runner, bundle):
    cid, pid = runner.start_detached(*sleeper("i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done &"))
    counter = f"/proc/{pid}/root/tmp/n"
    wait_for(lambda: read_file(counter, ""), what="counter to start")
    rt.run("pause", cid)
    assert rt.status(cid) == "paused"
    frozen = read_file(counter, "")
    time.sleep(0.4)
    assert read_file(counter, "") == frozen, "processes kept running while paused"

    rt.run("resume", cid)
    assert rt.status(cid) == "running"
    wait_for(lambda: read_file(counter, "") != frozen, what="counter to advance after resume")


def test_pause_stopped_fails(rt, runner):
    cid, pid = runner.start_detached(*sleeper())
    rt.run("kill", cid, "KILL")
    rt.wait_status(cid, "stopped")
    assert rt.run("pause", cid, check=False).returncode != 0


def test_kill_all(rt, runner, bundle):
    # an init that ignores TERM, with children that exit on it
    cid, pid = runner.start_detached(
        "sh", "-c", "trap '' TERM; (trap 'exit 0' TERM; sleep 1000 & wait) & sleep 1000 & wait"
    )
    wait_for(lambda: len(rt.json("ps", "-f", "json", cid)) >= 4, what="children to start")
    rt.run("kill", "--all", cid, "KILL")
    rt.wait_status(cid, "stopped")
    memcg = cgroup_v1_path("pids", bundle.cgroups_path)
    if memcg and os.path.exists(memcg):
        wait_for(
            lambda: read_file(os.path.join(memcg, "cgroup.procs"), "").strip() == "",
            what="the container cgroup to be empty",
        )


def test_missing_config_json(rt, bundle, container_id):
    os.unlink(bundle.config_path)
    proc = rt.run("create", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "config.json" in proc.stderr


def test_missing_bundle_dir(rt, container_id, test_tmp):
    missing = os.path.join(test_tmp, "no-such-bundle")
    proc = rt.run("create", "--bundle", missing, container_id(), check=False)
    assert proc.returncode != 0
    assert "no-such-bundle" in proc.stderr


def test_invalid_json(rt, bundle, container_id):
    with open(bundle.config_path, "w") as f:
        f.write('{"ociVersion": "1.0.2", "process": {')
    proc = rt.run("create", "--bundle", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "config.json" in proc.stderr


def test_invalid_field_named(rt, bundle, container_id):
    bundle.config["process"]["user"] = {"uid": "x", "gid": 0}
    bundle.write()
    cid = container_id()
    proc = rt.run("create", "--bundle", bundle.path, cid, check=False)
    assert proc.returncode != 0
    assert "process.user.uid" in proc.stderr
    # nothing is left behind
    assert rt.run("state", cid, check=False).returncode != 0


def test_failed_create_leaves_nothing(rt, bundle, container_id):
    bundle.set_args("/no/such/binary")
    cid = container_id()
    proc = rt.run("run", "--bundle", bundle.path, cid, check=False)
    assert proc.returncode != 0
    assert "/no/such/binary" in proc.stderr
    assert rt.run("state", cid, check=False).returncode != 0
    assert rt.run("list", "-q").stdout.strip() == ""


def test_state_stopped_after_exit(rt, runner, bundle, container_id):
    cid, st = runner.create("sh", "-c", "exit 0")
    rt.run("start", cid)
    rt.wait_status(cid, "stopped")
    st = rt.state(cid)
    assert st["status"] == "stopped"
    rt.run("delete", cid)


def test_events_stats_requires_container(rt, container_id):
    cid = container_id()
    proc = rt.run("events", "--stats", cid, check=False)
    assert proc.returncode != 0
