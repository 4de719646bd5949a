"""cove stats, top, cp, attach, healthcheck, system df/prune and info,
against real containers (the `engine` fixture: own root, leftovers checked)."""
import json
import os


from conftest import wait_for
from registry import registry_plain  # noqa: F401

IMAGE = "localhost/busybox"


def test_stats_no_stream_json(engine):
    engine.run_d("--name", "st", "-m", "64m", IMAGE, "sh", "-c",
                 "x=; while :; do x=$x.; done")
    p = engine.run("stats", "--no-stream", "--format", "json", "st")
    data = json.loads(p.stdout)
    assert len(data) == 1 and data[0]["Name"] == "st"
    s = data[0]
    # a busy loop: CPU shows, memory is below the limit, one process
    assert s["CPU"] > 1.0
    assert 0 < s["MemUsage"] <= 64 * 1024 * 1024
    assert s["MemLimit"] == 64 * 1024 * 1024
    assert s["PIDs"] >= 1
    table = engine.run("stats", "--no-stream", "st").stdout
    assert "MEM USAGE / LIMIT" in table and "st" in table


def test_stats_of_a_stopped_container_fails(engine):
    engine.run_ctr("--name", "done", IMAGE, "true")
    p = engine.fail("stats", "--no-stream", "done")
    assert "not running" in p.stderr


def test_top_lists_the_container_processes(engine):
    engine.run_d("--name", "tp", IMAGE, "sh", "-c", "sleep 300 & sleep 301")
    out = wait_for(lambda: (lambda o: o if "sleep 301" in o and "sleep 300" in o
                            else None)(engine.run("top", "tp").stdout),
                   what="both sleeps in top")
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["USER", "PID", "PPID"]
    # host pids, each alive
    for line in lines[1:]:
        assert os.path.exists(f"/proc/{line.split()[1]}")


def test_cp_both_ways_and_into_a_directory(engine, test_tmp):
    engine.run_d("--name", "cpd", IMAGE, "sh", "-c",
                 "mkdir -p /data/sub && echo inside > /data/sub/f && "
                 "ln -s sub/f /data/link && sleep 300")
    wait_for(lambda: engine.run("exec", "cpd", "test", "-L", "/data/link",
                                check=False).returncode == 0,
             what="the container's files")
    host = os.path.join(test_tmp, "h")
    os.mkdir(host)
    with open(os.path.join(host, "in.txt"), "w") as f:
        f.write("from host\n")
    engine.run("cp", os.path.join(host, "in.txt"), "cpd:/tmp/")
    assert engine.run("exec", "cpd", "cat", "/tmp/in.txt").stdout == "from host\n"
    # files copied in belong to root by default
    assert engine.run("exec", "cpd", "stat", "-c", "%u", "/tmp/in.txt").stdout.strip() == "0"
    engine.run("cp", "cpd:/data", host)
    with open(os.path.join(host, "data", "sub", "f")) as f:
        assert f.read() == "inside\n"
    # a symlink is copied as a symlink
    assert os.readlink(os.path.join(host, "data", "link")) == "sub/f"
    # from a stopped container too
    engine.run("stop", "-t", "0", "cpd")
    engine.run("cp", "cpd:/tmp/in.txt", os.path.join(host, "back.txt"))
    with open(os.path.join(host, "back.txt")) as f:
        assert f.read() == "from host\n"


def test_cp_never_follows_container_symlinks_to_the_host(engine, test_tmp):
    """A container's symlinks resolve inside it: `cp` into /escape/...
    where /escape -> / lands in the container's root, not the host's."""
    victim = os.path.join(test_tmp, "victim")
    os.mkdir(victim)
    engine.run_d("--name", "evil", IMAGE, "sh", "-c",
                 f"mkdir -p {victim} && ln -s / /escape && "
                 f"ln -s {victim} /hostdir && sleep 300")
    wait_for(lambda: engine.run("exec", "evil", "test", "-L", "/hostdir",
                                check=False).returncode == 0,
             what="the symlinks")
    src = os.path.join(test_tmp, "payload")
    with open(src, "w") as f:
        f.write("payload\n")
    engine.run("cp", src, "evil:/hostdir/planted")
    engine.run("cp", src, f"evil:/escape{victim}/planted2")
    assert os.listdir(victim) == [], "cp wrote through a container symlink to the host"
    # both landed inside the container, under its own paths
    p = engine.run("exec", "evil", "sh", "-c",
                   f"cat {victim}/planted {victim}/planted2")
    assert p.stdout == "payload\npayload\n"
    # and reading out through a symlink stays inside too
    secret = os.path.join(test_tmp, "secret")
    with open(secret, "w") as f:
        f.write("host secret\n")
    engine.run("exec", "evil", "ln", "-s", secret, "/leak")
    out = os.path.join(test_tmp, "out")
    engine.run("cp", "evil:/leak", out)
    assert os.path.islink(out), "cp followed the container's symlink on the host"


def test_attach_gets_output_and_passes_input(engine):
    engine.run_d("-i", "--name", "att", IMAGE, "sh", "-c",
                 "read l; echo got $l; echo oops >&2; exit 4")
    p = engine.run("attach", "att", input="hello\n", check=False)
    assert p.returncode == 4
    assert p.stdout == "got hello\n"
    assert p.stderr == "oops\n"
    assert "got hello" in engine.run("logs", "att").stdout


def test_attach_to_a_stopped_container_fails(engine):
    engine.run_ctr("--name", "gone", IMAGE, "true")
    p = engine.fail("attach", "gone")
    assert "not running" in p.stderr


def test_healthcheck_run_and_monitor(engine):
    engine.run_d("--name", "hc", "--health-cmd", "test -e /tmp/ok",
                 "--health-interval", "200ms", "--health-retries", "2",
                 IMAGE, "sleep", "300")
    p = engine.run("healthcheck", "run", "hc", check=False)
    assert p.returncode == 1 and p.stdout.strip() == "unhealthy"
    # the monitor's own checks make it unhealthy after two failures
    wait_for(lambda: engine.inspect("hc")["State"].get("Health", {}).get("Status")
             == "unhealthy", timeout=10, what="unhealthy")
    engine.run("exec", "hc", "touch", "/tmp/ok")
    wait_for(lambda: engine.inspect("hc")["State"]["Health"]["Status"] == "healthy",
             timeout=10, what="healthy")
    h = engine.inspect("hc")["State"]["Health"]
    assert h["FailingStreak"] == 0
    assert 1 <= len(h["Log"]) <= 5
    assert engine.run("healthcheck", "run", "hc").returncode == 0


def test_healthcheck_without_a_check_is_an_error(engine):
    engine.run_d("--name", "nohc", IMAGE, "sleep", "300")
    p = engine.fail("healthcheck", "run", "nohc")
    assert "no health check" in p.stderr


def test_info_and_system_df(engine):
    info = json.loads(engine.run("info", "--format", "json").stdout)
    assert info["store"]["graphRoot"] == engine.root
    assert info["store"]["imageCount"] == 1
    assert info["host"]["rootless"] is False
    engine.run_d("--name", "dfc", IMAGE, "sleep", "300")
    engine.run("volume", "create", "v1")
    df = {d["Type"]: d for d in json.loads(
        engine.run("system", "df", "--format", "json").stdout)}
    assert df["Images"]["Total"] == 1 and df["Images"]["Active"] == 1
    assert df["Images"]["Size"] > 0
    assert df["Containers"]["Total"] == 1 and df["Containers"]["Active"] == 1
    assert df["Local Volumes"]["Total"] == 1 and df["Local Volumes"]["Active"] == 0
    engine.run("volume", "rm", "v1")


def test_system_prune(engine):
    engine.run_ctr("--name", "old", IMAGE, "true")
    engine.run_d("--name", "live", IMAGE, "sleep", "300")
    engine.run("volume", "create", "unused")
    engine.run("system", "prune", "--volumes")
    names = [c["Names"][0] for c in engine.ps_json("-a")]
    assert names == ["live"]
    assert engine.run("volume", "ls", "-q").stdout.split() == []
    # the image a container uses stays, even with -a
    engine.run("system", "prune", "-a")
    assert IMAGE in engine.run("images").stdout
    # rmi refuses it too
    p = engine.fail("rmi", IMAGE)
    assert "in use by container live" in p.stderr


def test_run_pulls_a_missing_image(engine, registry_plain):
    """cove run of an image the store lacks pulls it first (--pull
    missing, the default); --pull never refuses; a second run reuses it."""
    dest = f"{registry_plain.host}/cove/busybox:run"
    engine.run("push", "--tls-verify=false", IMAGE, dest)
    engine.run("rmi", IMAGE)
    p = engine.fail("run", *engine.create_opts(), "--pull", "never", "--rm",
                    dest, "true")
    assert dest in p.stderr or "no such image" in p.stderr.lower()
    p = engine.run_ctr("--rm", "--tls-verify=false", dest, "echo", "pulled")
    assert p.stdout == "pulled\n"
    assert "Trying to pull" in p.stderr
    p = engine.run_ctr("--rm", "-q", "--pull", "never", dest, "echo", "again")
    assert p.stdout == "again\n"


def test_format_templates(engine):
    cid = engine.run_d("--name", "fmt", "-e", "K=v", IMAGE, "sleep", "300")
    out = engine.run("ps", "--format", "{{.ID}}\\t{{.Name}}\\t{{.State}}").stdout
    assert out == f"{cid[:12]}\tfmt\trunning\n"
    out = engine.run("inspect", "--format", "{{.State.Status}} {{json .Config.Env}}",
                     "fmt").stdout
    status, env = out.rstrip("\n").split(" ", 1)
    assert status == "running" and "K=v" in json.loads(env)
    assert engine.fail("ps", "--format", "{{.ID").returncode == 125


def test_log_level_debug(engine):
    p = engine.run("--log-level", "debug", "run", *engine.create_opts(), "--rm",
                   IMAGE, "true")
    lines = [l for l in p.stderr.splitlines() if l.startswith("cove: debug:")]
    assert any("created" in l for l in lines) and any("exited with 0" in l for l in lines)
    # quiet by default
    p = engine.run_ctr("--rm", IMAGE, "true")
    assert "debug" not in p.stderr
    assert engine.fail("--log-level", "chatty", "ps").returncode == 125
