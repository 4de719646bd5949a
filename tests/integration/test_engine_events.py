"""`cove events`, podman's "file" events backend: every command records what
it did to containers, images, volumes and networks in
<runroot>/events/events.log (one JSON object per line), and `cove events`
prints it: recorded events with --stream=false, new ones as they happen
by default, with --since/--until/--filter and podman's text, json and
template formats.  A corrupted file loses only its bad lines."""

import datetime
import json
import os
import re
import select
import subprocess
import time

from conftest import wait_for
from imagelib import busybox_archive

IMAGE = "localhost/busybox"

# podman's text line: Go's time.String(), type, status, id, details
TEXT_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? [+-]\d{4} \S+"


def events(engine, *args, env=None):
    """`cove events --stream=false --format json ARGS` -> list of dicts."""
    p = engine.run("events", "--stream=false", "--format", "json", *args,
                   env=env)
    return [json.loads(line) for line in p.stdout.splitlines()]


def statuses(evs):
    return [e["Status"] for e in evs]


def log_path(engine):
    return os.path.join(engine.runroot, "events", "events.log")


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def test_run_records_lifecycle_in_order(engine):
    p = engine.run_ctr("--name", "r1", "--label", "app=web", IMAGE,
                       "sh", "-c", "exit 3", check=False)
    assert p.returncode == 3, p.stderr
    cid = engine.inspect("r1")["Id"]
    engine.run("rm", "r1")
    evs = events(engine, "--filter", "container=r1")
    assert statuses(evs) == ["create", "init", "start", "attach", "died",
                             "cleanup", "remove"]
    for e in evs:
        assert e["Type"] == "container"
        assert e["ID"] == cid and e["Name"] == "r1" and e["Image"] == IMAGE
        assert e["Attributes"] == {"app": "web"}
    died = evs[4]
    assert died["ContainerExitCode"] == 3
    assert "ContainerExitCode" not in evs[0]
    times = [e["Time"] for e in evs]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", t)
               for t in times)
    # the same events by id prefix, and the file is JSON lines
    assert statuses(events(engine, "--filter", f"container={cid[:8]}")) == \
        statuses(evs)
    with open(log_path(engine)) as f:
        for line in f:
            assert len(line.encode()) <= 4096
            json.loads(line)


def test_detached_run_died_comes_from_the_monitor(engine):
    cid = engine.run_d("--name", "d1", IMAGE, "sh", "-c", "exit 7")
    wait_for(lambda: engine.status("d1") == "exited", what="d1 to exit")
    wait_for(lambda: "died" in statuses(events(engine, "--filter",
                                               "container=d1")),
             what="the died event")
    evs = events(engine, "--filter", "container=d1")
    assert statuses(evs) == ["create", "init", "start", "died", "cleanup"]
    assert evs[3]["ID"] == cid and evs[3]["ContainerExitCode"] == 7
    engine.run("rm", "d1")
    assert statuses(events(engine, "--filter", "container=d1"))[-1] == \
        "remove"


def test_kill_stop_records_signal_and_exit(engine):
    cid = engine.run_d("--name", "k1", IMAGE, "sleep", "300")
    engine.run("kill", "-s", "TERM", "k1")  # PID 1 ignores it: still runs
    engine.run("kill", "k1")
    engine.wait_status("k1", "exited")
    wait_for(lambda: "died" in statuses(events(engine, "--filter",
                                               "container=k1")),
             what="the died event")
    evs = events(engine, "--filter", "container=k1", "--filter",
                 "event=kill", "--filter", "event=died")
    assert statuses(evs) == ["kill", "kill", "died"]
    assert evs[0]["Attributes"]["signal"] == "15"
    assert evs[1]["Attributes"]["signal"] == "9"
    assert evs[2]["ContainerExitCode"] == 137
    # podman's text line, ids in full by default
    p = engine.run("events", "--stream=false", "--filter", "event=kill")
    lines = p.stdout.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        TEXT_TIME + rf" container kill {cid} \(image={IMAGE}, name=k1, "
        r"signal=9\)", lines[1]), lines[1]
    p = engine.run("events", "--stream=false", "--no-trunc=false",
                   "--filter", "event=kill")
    assert f" container kill {cid[:12]} (image=" in p.stdout
    assert cid not in p.stdout
    # stop of a running container: died, then stop
    engine.run("start", "k1")
    engine.run("stop", "-t", "0", "k1")
    evs = events(engine, "--filter", "container=k1")
    assert statuses(evs)[-5:] == ["init", "start", "died", "cleanup", "stop"]


def test_pause_unpause_rename_restart(engine):
    cid = engine.run_d("--name", "p1", IMAGE, "sleep", "300")
    engine.run("pause", "p1")
    engine.run("unpause", "p1")
    engine.run("rename", "p1", "p2")
    engine.run("restart", "-t", "0", "p2")
    engine.wait_status("p2", "running")
    evs = events(engine, "--filter", f"container={cid}")
    st = statuses(evs)
    assert st[:5] == ["create", "init", "start", "pause", "unpause"]
    assert st[5] == "rename" and evs[5]["Name"] == "p2"
    assert evs[4]["Name"] == "p1"
    # restart: the old run dies and stops, a new one starts
    assert st[6:] == ["died", "cleanup", "stop", "init", "start", "restart"]
    # the new name finds them from the rename on; the old one before
    assert statuses(events(engine, "--filter", "container=p2"))[0] == "rename"
    assert statuses(events(engine, "--filter", "container=p1")) == st[:5]


def test_health_status_event(engine):
    engine.run_d("--name", "h1", "--health-cmd", "true", IMAGE, "sleep", "300")
    engine.run("healthcheck", "run", "h1")
    p = engine.run("events", "--stream=false", "--filter",
                   "event=health_status", "--format",
                   "{{.Name}} {{.Status}} {{.HealthStatus}} "
                   "{{.Attributes.health_status}} {{.Type}}")
    assert p.stdout.splitlines() == [
        "h1 health_status healthy healthy container"]
    evs = events(engine, "--filter", "label=health_status=healthy")
    assert statuses(evs) == ["health_status"]


def test_image_events(engine):
    img_id = engine.run("images", "-q", "--no-trunc").stdout.split()[0]
    hexid = img_id.split(":")[-1]
    engine.run("tag", IMAGE, "foo:1")
    engine.run("rmi", "foo:1")
    engine.run("rmi", IMAGE)
    archive = busybox_archive()
    engine.run("load", "-i", archive)
    evs = events(engine, "--filter", "type=image")
    assert statuses(evs) == ["tag", "untag", "untag", "remove",
                             "loadfromarchive"]
    assert evs[0]["ID"] == hexid and evs[0]["Name"] == "foo:1"
    assert evs[1]["Name"] == "docker.io/library/foo:1"
    assert evs[2]["Name"] == "localhost/busybox:latest"
    assert evs[3]["ID"] == hexid and evs[3]["Name"] == IMAGE
    assert evs[4]["Name"] == archive and "ID" not in evs[4]
    assert all(e["Attributes"] is None for e in evs)
    # image=: by id prefix or name
    assert statuses(events(engine, "--filter", f"image={hexid[:12]}")) == \
        ["tag", "untag", "untag", "remove"]
    assert statuses(events(engine, "--filter", "image=foo:1")) == \
        ["tag", "untag"]  # docker.io/library/foo:1 is foo:1
    p = engine.run("events", "--stream=false", "--filter", "event=tag")
    assert re.fullmatch(TEXT_TIME + rf" image tag {hexid} foo:1\n", p.stdout)


def test_volume_and_network_events(engine):
    engine.run("volume", "create", "v1")
    engine.run("volume", "create", "v2")
    engine.run("volume", "rm", "v1")
    engine.run("volume", "prune", "-f")
    engine.run("network", "create", "evnet1")
    engine.run("network", "rm", "evnet1")
    evs = events(engine, "--filter", "type=volume")
    assert [(e["Status"], e["Name"]) for e in evs] == [
        ("create", "v1"), ("create", "v2"), ("remove", "v1"),
        ("remove", "v2"), ("prune", "v2")]
    assert statuses(events(engine, "--filter", "volume=v1")) == \
        ["create", "remove"]
    nets = events(engine, "--filter", "network=evnet1")
    assert [(e["Type"], e["Status"], e["Name"]) for e in nets] == [
        ("network", "create", "evnet1"), ("network", "remove", "evnet1")]
    p = engine.run("events", "--stream=false", "--filter", "volume=v2",
                   "--filter", "event=create")
    assert re.fullmatch(TEXT_TIME + r" volume create v2\n", p.stdout)


def test_since_until_and_filters(engine):
    engine.run("volume", "create", "early")
    time.sleep(1.1)
    mark = now_rfc3339()
    time.sleep(1.1)
    engine.create_ctr("--name", "late", "--label", "tier=db", IMAGE, "true")
    engine.run("volume", "create", "late")
    names = lambda evs: [(e["Type"], e["Status"], e["Name"]) for e in evs]
    assert names(events(engine, "--since", mark)) == [
        ("container", "create", "late"), ("volume", "create", "late")]
    assert names(events(engine, "--until", mark)) == [
        ("volume", "create", "early")]
    # durations, as `cove logs --since`: the last hour has all three
    assert len(events(engine, "--since", "1h")) == 3
    assert events(engine, "--until", "1h") == []
    assert len(events(engine, "--since", "1h", "--until", "0s")) == 3
    # a key twice: either value; two keys: both
    assert names(events(engine, "--filter", "volume=early", "--filter",
                        "volume=late")) == [
        ("volume", "create", "early"), ("volume", "create", "late")]
    assert names(events(engine, "--filter", "type=volume", "--filter",
                        "volume=late")) == [("volume", "create", "late")]
    assert names(events(engine, "--filter", "label=tier=db")) == [
        ("container", "create", "late")]
    assert events(engine, "--filter", "label=tier=web") == []
    assert names(events(engine, "--filter", "label=tier")) == [
        ("container", "create", "late")]
    assert len(events(engine, "--filter", f"image={IMAGE}")) == 1
    p = engine.fail("events", "--stream=false", "--filter", "pod=x")
    assert p.returncode == 125 and "unknown key 'pod'" in p.stderr
    p = engine.fail("events", "--stream=false", "--since", "yesterday")
    assert p.returncode == 125 and "yesterday" in p.stderr
    p = engine.fail("events", "--stream=maybe")
    assert p.returncode == 125


def test_stream_false_exits_without_a_file(engine):
    assert not os.path.exists(log_path(engine))
    start = time.monotonic()
    p = engine.run("events", "--stream=false", timeout=10)
    assert p.returncode == 0 and p.stdout == ""
    assert time.monotonic() - start < 5


def _readline(proc, timeout=10):
    """A line of the streaming process's stdout, or fail."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0, f"no event printed within {timeout}s: {buf!r}"
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 1)
            assert chunk, f"cove events exited: {proc.stderr.read()!r}"
            buf += chunk
    return buf.decode()


def _watching(pid):
    """cove events is following the file: it has its inotify fd."""
    fd_dir = f"/proc/{pid}/fd"
    return any(os.readlink(os.path.join(fd_dir, fd)) == "anon_inode:inotify"
               for fd in os.listdir(fd_dir))


def test_stream_prints_new_events_through_rotations(engine):
    engine.run("volume", "create", "before")
    env = dict(os.environ, COVE_EVENTS_LOGFILE_MAX_SIZE="1500")
    proc = subprocess.Popen(
        engine.cmd("events", "--format", "{{.Status}} {{.Name}}"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _watching(proc.pid), what="cove events to follow")
        engine.run("volume", "create", "sv1", env=env)
        # only what happened after it started
        assert _readline(proc) == "create sv1\n"
        # many rotations of a 1500-byte file: every event, once, in order
        for i in range(12):
            engine.run("volume", "create", f"s{i}", env=env)
            engine.run("volume", "rm", f"s{i}", env=env)
        got = [_readline(proc) for _ in range(24)]
        want = []
        for i in range(12):
            want += [f"create s{i}\n", f"remove s{i}\n"]
        assert got == want
        assert os.path.getsize(log_path(engine)) <= 1500
        assert proc.poll() is None  # still streaming
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_corrupted_lines_are_skipped(engine):
    engine.run("volume", "create", "good1")
    with open(log_path(engine), "ab") as f:
        f.write(b"\x00\xff garbage \x01\n")
        f.write(b'{"Type":"volume"}\n')  # JSON, not an event
        f.write(b'["not", "an", "object"]\n')
        f.write(b'{"Name":"torn","Status":"create","Ti')  # a torn write
    engine.run("volume", "create", "good2")  # runs into the torn line
    engine.run("volume", "create", "good3")
    with open(log_path(engine), "ab") as f:
        f.write(b'{"Name":"partial","Status":"cr')  # no newline at the end
    p = engine.run("events", "--stream=false", "--format", "{{.Name}}")
    assert p.stdout.splitlines() == ["good1", "good3"]
    # and in every format
    assert engine.run("events", "--stream=false").stdout.count("\n") == 2


def test_rotation_keeps_the_newest_half(engine):
    env = dict(os.environ, COVE_EVENTS_LOGFILE_MAX_SIZE="2048")
    for i in range(40):  # some 90 bytes each: rotated twice or more
        engine.run("volume", "create", f"r{i:02d}", env=env)
        assert os.path.getsize(log_path(engine)) <= 2048
    evs = events(engine)
    assert evs[-1]["Name"] == "r39"
    assert 8 <= len(evs) < 30
    names = [e["Name"] for e in evs]
    assert names == sorted(names)


def test_emitting_never_fails_a_command(engine):
    # the events directory is a file: no event can be written
    os.makedirs(engine.runroot, exist_ok=True)
    with open(os.path.join(engine.runroot, "events"), "w") as f:
        f.write("not a directory")
    p = engine.run("volume", "create", "quiet")
    assert p.stdout.strip() == "quiet" and p.stderr == ""
    p = engine.run("--log-level", "debug", "volume", "rm", "quiet")
    assert "events: cannot open" in p.stderr
    p = engine.run_ctr("--rm", IMAGE, "true")
    assert p.returncode == 0
