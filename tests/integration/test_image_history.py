"""`cove image history`, `cove image exists` and `cove untag` (also
`cove image untag`) on the busybox test image, a committed image, and an
image whose config's history is a stranger's (longer than its layers,
members missing, odd strings)."""

import json
import os

from imagelib import Image, make_layer, write_oci_archive

IMAGE = "localhost/busybox"
HEADER = ["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"]


def image_id(engine, name):
    return engine.run("image", "inspect", "--format", "{{.Id}}", name).stdout.strip()


def history_json(engine, name):
    return json.loads(engine.run("image", "history", "--format", "json", name).stdout)


def test_history_busybox(engine):
    full = image_id(engine, IMAGE)
    hexid = full.split(":")[-1]
    p = engine.run("image", "history", IMAGE)
    lines = p.stdout.splitlines()
    for col in HEADER:
        assert col in lines[0]
    assert len(lines) >= 2
    assert lines[1].startswith(hexid[:12] + " ")
    for line in lines[2:]:
        assert line.startswith("<missing>")
    # -q: the ids only; --no-trunc: the full id
    q = engine.run("image", "history", "-q", IMAGE).stdout.split()
    assert q[0] == hexid[:12]
    q = engine.run("image", "history", "-q", "--no-trunc", IMAGE).stdout.split()
    assert q[0] == hexid
    # json: one object per entry, a layer's size in bytes
    h = history_json(engine, IMAGE)
    assert h[0]["id"] == hexid[:12]
    assert sum(e["size"] for e in h) > 0
    # -H=false: RFC 3339 times, sizes in bytes
    p = engine.run("image", "history", "-H=false", "--format", "{{.Created}}|{{.Size}}", IMAGE)
    created, size = p.stdout.splitlines()[0].split("|")
    assert created.endswith("Z") and "T" in created
    assert int(size) == h[0]["size"]
    engine.fail("image", "history", "--human=maybe", IMAGE)
    engine.fail("image", "history", "--format", "yaml", IMAGE)
    p = engine.fail("image", "history", "nosuch:image")
    assert p.returncode == 125


def test_history_commit(engine):
    engine.run_ctr("--name", "hc", IMAGE, "sh", "-c", "head -c 20000 /dev/urandom > /blob")
    engine.run("commit", "-q", "-m", "my message", "-a", "Jane <j@example.org>", "hc", "hist:1")
    full = image_id(engine, "hist:1")
    h = history_json(engine, "hist:1")
    base = history_json(engine, IMAGE)
    assert len(h) == len(base) + 1
    top = h[0]
    assert top["id"] == full.split(":")[-1][:12]
    assert top["comment"] == "my message"
    assert top["size"] >= 20000
    assert [e["size"] for e in h[1:]] == [e["size"] for e in base]
    p = engine.run("image", "history", "--format", "{{.ID}}|{{.Comment}}|{{.Size}}|{{.Created}}", "hist:1")
    first = p.stdout.splitlines()[0].split("|")
    assert first[1] == "my message"
    assert first[2].endswith("kB")
    assert "ago" in first[3]
    lines = engine.run("image", "history", "hist:1").stdout.splitlines()
    assert "my message" in lines[1] and lines[2].startswith("<missing>")
    engine.run("rm", "hc")


def load_image(engine, img, name):
    path = os.path.join(engine.tmp, "weird.tar")
    write_oci_archive(path, [img], name=name)
    return engine.run("load", "-i", path)


def test_history_hostile_config(engine):
    long_cmd = "/bin/sh -c " + "x" * 5000 + "\n\tnewline"
    weird = [
        {},  # nothing at all
        {"created_by": long_cmd, "comment": "c\u00e9\u2603 " * 50},
        {"empty_layer": True, "created_by": "ENV A=1"},
        {"created": "2020-02-02T02:02:02Z"},
    ] + [{"created_by": f"extra {i}"} for i in range(30)]  # beyond the layers
    layer = make_layer([("f", "file", {"data": b"hello"})])
    img = Image([layer], config_extra={"history": weird})
    load_image(engine, img, "localhost/weird:1")
    p = engine.run("image", "history", "localhost/weird:1")
    lines = p.stdout.splitlines()
    assert len(lines) == 1 + len(weird)
    assert lines[1].startswith(img.id.split(":")[1][:12])
    assert all(line.startswith("<missing>") for line in lines[2:])
    # the long command is cut to 45 characters, on one line
    assert any(("/bin/sh -c " + "x" * 31 + "...") in line for line in lines)
    h = history_json(engine, "localhost/weird:1")
    assert len(h) == len(weird)
    # oldest first in the config: {} made the only layer, the rest none
    sizes = [e["size"] for e in reversed(h)]
    assert sizes[0] == img.manifest_obj["layers"][0]["size"]
    assert all(s == 0 for s in sizes[1:])
    full = engine.run("image", "history", "--no-trunc", "--format", "{{.CreatedBy}}", "localhost/weird:1")
    assert "x" * 5000 in full.stdout
    engine.run("image", "history", "-q", "localhost/weird:1")
    engine.run("rmi", "localhost/weird:1")


def test_history_wrong_types_refused_at_load(engine):
    # wrong types are refused by load (the config parser) without a crash;
    # nothing is recorded
    before = engine.run("images", "-q", "--no-trunc").stdout.split()
    for hist in ([1, "two"], [{"created_by": 7}], [{"empty_layer": "yes"}], {"a": 1}):
        layer = make_layer([("f", "file", {"data": b"x"})])
        img = Image([layer], config_extra={"history": hist})
        path = os.path.join(engine.tmp, "bad.tar")
        write_oci_archive(path, [img], name="localhost/bad:1")
        p = engine.run("load", "-i", path, check=False)
        assert p.returncode in (0, 125), p.stderr
        if p.returncode == 0:
            engine.run("image", "history", "localhost/bad:1")
            engine.run("rmi", "localhost/bad:1")
    assert engine.run("images", "-q", "--no-trunc").stdout.split() == before


def test_image_exists(engine):
    hexid = image_id(engine, IMAGE).split(":")[-1]
    for ref in (IMAGE, hexid, hexid[:12]):
        p = engine.run("image", "exists", ref)
        assert p.returncode == 0 and p.stdout == "" and p.stderr == ""
    p = engine.run("image", "exists", "localhost/nosuch:1", check=False)
    assert p.returncode == 1 and p.stdout == "" and p.stderr == ""
    assert engine.run("image", "exists", check=False).returncode == 125
    assert engine.run("image", "exists", "--bogus", IMAGE, check=False).returncode == 125


def names_of(engine, hexid):
    out = engine.run("images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").stdout
    return sorted(line.split()[1] for line in out.splitlines() if hexid.startswith(line.split()[0]))


def untag_events(engine):
    p = engine.run("events", "--stream=false", "--format", "json", "--filter", "event=untag")
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_untag(engine):
    hexid = image_id(engine, IMAGE).split(":")[-1]
    engine.run("tag", IMAGE, "localhost/a:1", "localhost/b:2", "localhost/c:3")
    # a name of no image, or of another one: refused, nothing removed
    p = engine.fail("untag", IMAGE, "localhost/a:1", "localhost/zzz:9")
    assert p.returncode == 125 and "localhost/zzz:9: tag not known" in p.stderr
    assert len(names_of(engine, hexid)) == 4
    engine.run("untag", IMAGE, "localhost/a:1")
    assert names_of(engine, hexid) == ["localhost/b:2", "localhost/busybox:latest", "localhost/c:3"]
    assert engine.run("image", "exists", "localhost/a:1", check=False).returncode == 1
    # all names: the image stays, unnamed, found by its id
    engine.run("image", "untag", "localhost/b:2")
    assert names_of(engine, hexid) == ["<none>:<none>"]
    assert engine.run("image", "exists", hexid).returncode == 0
    assert hexid in engine.run("images", "-q", "--no-trunc").stdout
    evs = untag_events(engine)
    assert sorted(e.get("Name") or e.get("name") or "" for e in evs) == sorted(
        ["localhost/a:1", "localhost/b:2", "localhost/busybox:latest", "localhost/c:3"]
    ), evs
    engine.fail("untag")
    assert engine.fail("untag", "localhost/gone:1").returncode == 125
    # and it can be named again
    engine.run("tag", hexid, IMAGE)
    assert names_of(engine, hexid) == ["localhost/busybox:latest"]
