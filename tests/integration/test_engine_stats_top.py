"""cove stats and cove top with podman 4.3's options: stats -a/-l,
--no-trunc, --format templates; top -l, format descriptors and the ps(1)
fallback.  Real containers (the `engine` fixture: own root, leftovers
checked)."""
import json
import os

from conftest import wait_for

IMAGE = "localhost/busybox"

TEMPLATE = ("{{.Name}}|{{.ID}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|"
            "{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}")


def _rows(out):
    return {ln.split("|")[0]: ln.split("|") for ln in out.splitlines()}


def test_stats_all_latest_and_templates(engine):
    run = engine.run_d("--name", "sr", "-m", "64m", IMAGE, "sh", "-c",
                       "sleep 300 & sleep 301 & wait")
    wait_for(lambda: "sleep 301" in engine.run("top", "sr").stdout,
             what="the sleeps started")
    engine.create_ctr("--name", "sc", IMAGE, "true")
    # no name: the running ones only
    rows = _rows(engine.run("stats", "--no-stream", "--format",
                            TEMPLATE).stdout)
    assert set(rows) == {"sr"}
    name, cid, cpu, mem, memp, net, blk, pids = rows["sr"]
    assert cid == run[:12]
    assert cpu.endswith("%") and memp.endswith("%")
    assert mem.endswith(" / 67.1MB") and float(memp[:-1]) >= 0
    assert " / " in net and " / " in blk
    assert int(pids) >= 3  # sh and both sleeps
    # -a: the created one too, with zero figures (podman 4.3)
    rows = _rows(engine.run("stats", "-a", "--no-stream", "--format",
                            TEMPLATE).stdout)
    assert set(rows) == {"sr", "sc"}
    assert rows["sc"][2:] == ["0.00%", "0B / 0B", "0.00%", "0B / 0B",
                              "0B / 0B", "0"]
    table = engine.run("stats", "--all", "--no-stream").stdout
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", "CPU"]
    assert len(lines) == 3 and any(" sc " in ln for ln in lines)
    data = json.loads(engine.run("stats", "-a", "--no-stream", "--format",
                                 "json").stdout)
    assert {d["Name"] for d in data} == {"sr", "sc"}
    stopped = next(d for d in data if d["Name"] == "sc")
    assert stopped["MemUsage"] == 0 and stopped["PIDs"] == 0
    # -l: the one created last; --no-trunc: the full id
    sc = engine.inspect("sc")["Id"]
    out = engine.run("stats", "-l", "--no-stream", "--no-trunc",
                     "--format", "{{.ID}} {{.Name}}").stdout
    assert out == f"{sc} sc\n"
    out = engine.run("stats", "--no-stream", "--no-trunc", "--format",
                     "{{.ID}}", "sr").stdout
    assert out == f"{run}\n"
    # a name with -a, -a with -l, a bad format
    p = engine.fail("stats", "-a", "--no-stream", "sr")
    assert "--all and containers cannot be used together" in p.stderr
    p = engine.fail("stats", "-a", "-l", "--no-stream")
    assert "--all and --latest cannot be used together" in p.stderr
    p = engine.fail("stats", "--no-stream", "--format", "xml")
    assert "invalid --format 'xml'" in p.stderr


def test_top_descriptors(engine):
    engine.run_d("--name", "td", IMAGE, "sh", "-c", "sleep 300 & sleep 301 & wait")
    wait_for(lambda: "sleep 301" in engine.run("top", "td").stdout and
             "sleep 300" in engine.run("top", "td").stdout,
             what="both sleeps in top")
    st = engine.inspect("td")["State"]
    out = engine.run("top", "td", "pid", "user", "args", "comm",
                     "etime").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "USER", "COMMAND", "COMMAND",
                                "ELAPSED"]
    body = [ln.split() for ln in lines[1:]]
    assert len(body) == 3
    # pids as the container sees them: sh is 1
    sh = next(r for r in body if r[2] == "sh")
    assert sh[0] == "1" and sh[1] == "root"
    sleeps = sorted(r for r in body if r[-2] == "sleep")
    assert [r[2:4] for r in sleeps] == [["sleep", "300"], ["sleep", "301"]]
    assert all(int(r[0]) > 1 for r in sleeps)
    assert all(r[-1].endswith("s") for r in body)  # a Go duration
    # comma-separated, AIX codes, ppid, host pid, host user
    out = engine.run("top", "td", "hpid,ppid", "%p", "huser", "state",
                     "tty", "vsz", "rss", "nice", "time", "pcpu").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["HPID", "PPID", "PID", "HUSER", "STATE",
                                "TTY", "VSZ", "RSS", "NI", "TIME", "%CPU"]
    rows = {int(ln.split()[0]): ln.split() for ln in lines[1:]}
    assert st["Pid"] in rows
    init = rows[st["Pid"]]
    assert init[1:3] == ["0", "1"] and init[3] == "root"
    assert init[4] in ("S", "R") and init[5] == "?"
    assert int(init[6]) > 0 and int(init[7]) > 0 and init[8] == "0"
    for hpid, r in rows.items():
        assert os.path.exists(f"/proc/{hpid}")
        if hpid != st["Pid"]:
            assert r[1] == "1"  # the sleeps are sh's children
    # capabilities and seccomp
    out = engine.run("top", "td", "pid", "capeff", "seccomp").stdout
    first = out.splitlines()[1].split()
    assert "CHOWN" in first[1].split(",") and first[2] == "filter"
    assert "SYS_ADMIN" not in first[1].split(",")
    # -l: the latest container, descriptors after it
    out = engine.run("top", "-l", "pid").stdout
    assert sorted(out.split()[1:])[0] == "1"
    # the default output stays cove's
    assert engine.run("top", "td").stdout.split()[:3] == ["USER", "PID",
                                                          "PPID"]


def test_top_ps_fallback(engine):
    engine.run_d("--name", "tf", IMAGE, "sleep", "300")
    # not descriptors: ps(1) in the container, its own line left out
    out = engine.run("top", "tf", "-o", "pid,args").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"]
    assert [ln.split() for ln in lines[1:]] == [["1", "sleep", "300"]]
    p = engine.fail("top", "tf", "-o", "nosuchfield")
    assert "executing ps(1) in the container" in p.stderr
    p = engine.fail("top")
    assert "a container is required" in p.stderr


def test_top_of_a_stopped_container_fails(engine):
    engine.create_ctr("--name", "tc", IMAGE, "true")
    p = engine.fail("top", "tc", "pid")
    assert "not running" in p.stderr


def _stream_on_a_tty(engine, *args):
    """`cove stats ARGS` streaming with a pty as its stdout for about two
    samples; what it wrote."""
    import pty
    import select
    import subprocess
    import time
    master, slave = pty.openpty()
    p = engine.popen("stats", *args, stdout=slave)
    os.close(slave)
    data = b""
    end = time.monotonic() + 3
    try:
        while time.monotonic() < end and data.count(b"NAME") < 2:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    data += os.read(master, 65536)
                except OSError:
                    break
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        os.close(master)
    return data.decode(errors="replace")


def test_stats_stream_resets_a_terminal(engine):
    engine.run_d("--name", "sz", IMAGE, "sleep", "300")
    out = _stream_on_a_tty(engine, "sz")
    assert out.count("NAME") >= 2 and "\x1b[2J\x1b[H" in out, repr(out)
    out = _stream_on_a_tty(engine, "--no-reset", "sz")
    assert out.count("NAME") >= 2 and "\x1b[2J" not in out, repr(out)
