"""The volume commands' command line: create (names, random names, labels,
--ignore), ls (table, -q, json, label filters), inspect (podman's JSON),
rm (exit codes 1 and 2 as podman's), prune, exists, and the engine
database they share, with concurrent cove processes."""

import datetime
import json
import os
import re
import sqlite3
import stat
import subprocess

import pytest

from imagelib import COVE, Cove, need_cove

SUBCOMMANDS = ["create", "ls", "list", "inspect", "rm", "remove", "prune",
               "exists"]


@pytest.fixture
def cove(test_tmp):
    need_cove()
    return Cove(os.path.join(test_tmp, "root"))


def volumes_dir(cove):
    return os.path.join(cove.root, "volumes")


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_help(sub):
    need_cove()
    p = subprocess.run([COVE, "volume", sub, "--help"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("NAME:\n"), p.stdout
    assert "SYNOPSIS:" in p.stdout
    assert "OPTIONS:" in p.stdout
    assert "--help" in p.stdout


def test_group_help_and_unknowns(cove):
    p = cove.run("volume", "--help")
    for sub in SUBCOMMANDS:
        assert re.search(rf"^\s+{sub}\s", p.stdout, re.M), p.stdout
    p = cove.fail("volume", "frobnicate")
    assert "unknown command 'volume frobnicate'" in p.stderr
    p = cove.fail("volume", "ls", "--frobnicate")
    assert "--frobnicate" in p.stderr
    p = cove.fail("volume", "ls", "--format", "yaml")
    assert "invalid --format 'yaml'" in p.stderr
    p = cove.fail("volume", "create", "a", "b")
    assert "at most one name" in p.stderr
    p = cove.fail("volume", "rm")
    assert "volume names or --all" in p.stderr


def test_create_inspect(cove):
    before = datetime.datetime.now(datetime.timezone.utc)
    p = cove.run("volume", "create", "--label", "app=web", "-l", "tier=front",
                 "-l", "flag", "data")
    assert p.stdout == "data\n"
    js = cove.json("volume", "inspect", "data")
    assert isinstance(js, list) and len(js) == 1
    v = js[0]
    mountpoint = os.path.join(volumes_dir(cove), "data", "_data")
    assert v["Name"] == "data"
    assert v["Driver"] == "local"
    assert v["Scope"] == "local"
    assert v["Mountpoint"] == mountpoint
    assert v["Labels"] == {"app": "web", "tier": "front", "flag": ""}
    assert v["Options"] == {}
    created = datetime.datetime.fromisoformat(
        v["CreatedAt"].replace("Z", "+00:00"))
    assert abs((created - before).total_seconds()) < 120
    st = os.stat(mountpoint)
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o755
    # the data is the volume's: it stays across commands
    with open(os.path.join(mountpoint, "kept"), "w") as f:
        f.write("x")
    cove.run("volume", "create", "other")
    assert os.path.exists(os.path.join(mountpoint, "kept"))
    # by a prefix that only one name starts with
    assert cove.json("volume", "inspect", "da")[0]["Name"] == "data"
    p = cove.fail("volume", "inspect", "--format", "{{.Name}}", "data")
    assert "must be json" in p.stderr


def test_create_random_names_duplicates_invalid(cove):
    name = cove.run("volume", "create").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", name), name
    assert os.path.isdir(os.path.join(volumes_dir(cove), name, "_data"))
    assert cove.run("volume", "create").stdout.strip() != name

    cove.run("volume", "create", "--label", "a=1", "dup")
    p = cove.fail("volume", "create", "dup")
    assert p.returncode == 125
    assert "volume 'dup' already exists" in p.stderr
    p = cove.run("volume", "create", "--ignore", "--label", "a=2", "dup")
    assert p.stdout == "dup\n"
    assert cove.json("volume", "inspect", "dup")[0]["Labels"] == {"a": "1"}

    for bad in ("bad/name", ".hidden", "with space", "é"):
        p = cove.fail("volume", "create", bad)
        assert "invalid volume name" in p.stderr, p.stderr
        assert not os.path.exists(os.path.join(volumes_dir(cove), bad))
    p = cove.fail("volume", "create", "--driver", "nfs", "x")
    assert "unsupported volume driver 'nfs'" in p.stderr
    p = cove.fail("volume", "create", "--label", "=v", "x")
    assert "invalid --label '=v'" in p.stderr
    cove.run("volume", "create", "--driver", "local", "x")


def test_ls(cove):
    cove.run("volume", "create", "-l", "env=prod", "-l", "tier=web", "b")
    cove.run("volume", "create", "-l", "env=prod", "a")
    cove.run("volume", "create", "-l", "env=dev", "c")
    cove.run("volume", "create", "d")
    lines = cove.run("volume", "ls").stdout.splitlines()
    assert lines[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert [line.split() for line in lines[1:]] == [
        ["local", "a"], ["local", "b"], ["local", "c"], ["local", "d"]]
    assert cove.run("volume", "list", "-n").stdout.split() == [
        "local", "a", "local", "b", "local", "c", "local", "d"]
    assert cove.run("volume", "ls", "-q").stdout.split() == [
        "a", "b", "c", "d"]

    def names(*flt):
        args = []
        for f in flt:
            args += ["--filter", f]
        return cove.run("volume", "ls", "-q", *args).stdout.split()

    assert names("label=env") == ["a", "b", "c"]
    assert names("label=env=prod") == ["a", "b"]
    assert names("label=env=prod", "label=tier") == ["b"]
    assert names("label=nope") == []
    js = cove.json("volume", "ls", "--format", "json", "-f", "label=env=dev")
    assert [v["Name"] for v in js] == ["c"]
    assert js[0]["Labels"] == {"env": "dev"}
    assert js[0]["Mountpoint"].endswith("/volumes/c/_data")
    assert cove.json("volume", "ls", "--format", "json",
                     "--filter", "label=zzz") == []
    p = cove.fail("volume", "ls", "--filter", "name=a")
    assert "unsupported filter 'name=a'" in p.stderr


def test_inspect_several_missing_all(cove):
    cove.run("volume", "create", "one")
    cove.run("volume", "create", "two")
    p = cove.run("volume", "inspect", "one", "missing", "two", check=False)
    assert p.returncode == 125
    assert "no such volume 'missing'" in p.stderr
    assert [v["Name"] for v in json.loads(p.stdout)] == ["one", "two"]
    js = cove.json("volume", "inspect", "--all")
    assert sorted(v["Name"] for v in js) == ["one", "two"]
    p = cove.fail("volume", "inspect")
    assert "volume names or --all" in p.stderr


def test_rm(cove):
    for n in ("a", "b", "c", "keep"):
        cove.run("volume", "create", n)
    data = os.path.join(volumes_dir(cove), "a")
    assert cove.run("volume", "rm", "a").stdout == "a\n"
    assert not os.path.exists(data)
    assert cove.run("volume", "ls", "-q").stdout.split() == [
        "b", "c", "keep"]

    # podman's exit codes: 1 when a volume does not exist
    p = cove.run("volume", "rm", "a", check=False)
    assert p.returncode == 1
    assert "no such volume 'a'" in p.stderr
    p = cove.run("volume", "rm", "-f", "a")
    assert p.stdout == ""
    # the others are still removed
    p = cove.run("volume", "rm", "b", "nope", "c", check=False)
    assert p.returncode == 1
    assert p.stdout.split() == ["b", "c"]
    # by prefix: the full name is printed
    assert cove.run("volume", "remove", "ke").stdout == "keep\n"
    assert cove.run("volume", "ls", "-q").stdout == ""

    cove.run("volume", "create", "x")
    cove.run("volume", "create", "y")
    assert cove.run("volume", "rm", "--all").stdout.split() == ["x", "y"]
    assert os.listdir(volumes_dir(cove)) == []


def test_prune(cove):
    cove.run("volume", "create", "-l", "tmp=1", "a")
    cove.run("volume", "create", "b")
    # what a create interrupted between its mkdir and its row leaves
    orphan = os.path.join(volumes_dir(cove), "orphan", "_data")
    os.makedirs(orphan)
    p = cove.run("volume", "prune", "--filter", "label=tmp")
    assert p.stdout == "a\n"
    assert os.path.exists(orphan)
    p = cove.run("volume", "prune", "-f")
    assert p.stdout == "b\n"
    assert not os.path.exists(os.path.dirname(orphan))
    assert cove.run("volume", "ls", "-q").stdout == ""
    assert cove.run("volume", "prune").stdout == ""
    # a name an orphan directory had can be created again
    os.makedirs(orphan)
    cove.run("volume", "create", "orphan")
    assert os.path.isdir(orphan)


def test_exists(cove):
    cove.run("volume", "create", "present")
    assert cove.run("volume", "exists", "present").returncode == 0
    p = cove.run("volume", "exists", "absent", check=False)
    assert p.returncode == 1 and p.stdout == "" and p.stderr == ""
    # exists wants the full name, not a prefix
    assert cove.run("volume", "exists", "pres", check=False).returncode == 1


def test_engine_database(cove):
    cove.run("volume", "create", "-l", "k=v", "dbvol")
    db = os.path.join(cove.root, "engine.db")
    assert os.path.exists(db)
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = con.execute(
            "SELECT name, driver, mountpoint, labels, options "
            "FROM volumes").fetchall()
    finally:
        con.close()
    assert len(rows) == 1
    name, driver, mountpoint, labels, options = rows[0]
    assert (name, driver) == ("dbvol", "local")
    assert mountpoint == os.path.join(volumes_dir(cove), "dbvol", "_data")
    assert json.loads(labels) == {"k": "v"}
    assert json.loads(options) == {}


def test_concurrent_creates(cove):
    cove.run("volume", "ls")  # the database exists before the race
    procs = [subprocess.Popen(cove.cmd("volume", "create", f"v{i}"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(8)]
    procs += [subprocess.Popen(cove.cmd("volume", "create", "--ignore",
                                        "same"),
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
              for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    names = cove.run("volume", "ls", "-q").stdout.split()
    assert names == sorted(["same"] + [f"v{i}" for i in range(8)])
    for n in names:
        assert os.path.isdir(os.path.join(volumes_dir(cove), n, "_data"))
