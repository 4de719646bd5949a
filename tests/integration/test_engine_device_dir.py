"""--device DIR: every character and block node below a directory, at its
relative path under the container path, with the permissions given; a
symlink inside the directory is not followed.  The nodes are made in the
test's own directory as copies of /dev/null (c 1 3) and /dev/zero
(c 1 5), never real disks."""
import json
import os
import stat

from test_engine import IMAGE


def _spec(engine, cid):
    with open(os.path.join(engine.root, "containers", cid,
                           "config.json")) as f:
        return json.load(f)


def _node_dir(base):
    d = os.path.join(base, "snd")
    os.makedirs(os.path.join(d, "sub", "deeper"))
    os.mknod(os.path.join(d, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(os.path.join(d, "sub", "deeper", "zero"),
             0o640 | stat.S_IFCHR, os.makedev(1, 5))
    with open(os.path.join(d, "notes.txt"), "w") as f:
        f.write("not a node\n")
    # symlinks out of the directory: neither followed
    os.symlink("/dev/zero", os.path.join(d, "linked-node"))
    os.symlink("/dev", os.path.join(d, "linked-dir"))
    return d


def test_device_directory(engine, test_tmp):
    d = _node_dir(test_tmp)
    cid = engine.run_d("--device", f"{d}:/dev/mysnd:rw", IMAGE, "sleep",
                       "300")
    ex = lambda s: engine.run("exec", cid, "sh", "-c", s).stdout  # noqa
    # the nodes at their relative paths, nothing else
    assert ex("cd /dev/mysnd && find . | sort") == \
        ".\n./null\n./sub\n./sub/deeper\n./sub/deeper/zero\n"
    assert ex("stat -c '%t:%T %F' /dev/mysnd/null "
              "/dev/mysnd/sub/deeper/zero") == \
        "1:3 character special file\n1:5 character special file\n"
    # usable within the permissions given
    assert ex("echo hi > /dev/mysnd/null && "
              "head -c 3 /dev/mysnd/sub/deeper/zero | od -An -tx1"
              ).split() == ["00"] * 3
    lx = _spec(engine, cid)["linux"]
    nodes = {x["path"]: x for x in lx["devices"]
             if x["path"].startswith("/dev/mysnd/")}
    assert set(nodes) == {"/dev/mysnd/null", "/dev/mysnd/sub/deeper/zero"}
    assert nodes["/dev/mysnd/sub/deeper/zero"]["fileMode"] == 0o640
    rules = [(r["major"], r["minor"], r["access"])
             for r in lx["resources"]["devices"] if r.get("allow")
             and r.get("type") == "c" and r.get("major") == 1]
    # the permissions given apply to every node (1:3 and 1:5 are in the
    # default rules too, so the rules show it rather than a refused write)
    assert (1, 3, "rw") in rules and (1, 5, "rw") in rules
    # inspect keeps the option as given
    devs = engine.inspect(cid)["HostConfig"]["Devices"]
    assert devs == [{"PathOnHost": d, "PathInContainer": "/dev/mysnd",
                     "CgroupPermissions": "rw"}]
    engine.run("rm", "-f", cid)


def test_device_directory_same_path_and_refusals(engine, test_tmp):
    d = _node_dir(test_tmp)
    # no container path: the same path inside
    p = engine.run_ctr("--rm", "--device", d, IMAGE, "sh", "-c",
                       f"stat -c %t:%T {d}/null {d}/sub/deeper/zero; "
                       f"test -e {d}/linked-node || echo no-link")
    assert p.stdout == "1:3\n1:5\nno-link\n", p.stderr
    # a directory without nodes is refused, before any container exists
    empty = os.path.join(test_tmp, "empty")
    os.makedirs(os.path.join(empty, "sub"))
    os.symlink("/dev/null", os.path.join(empty, "only-a-link"))
    before = engine.ids()
    p = engine.run_ctr("--device", f"{empty}:/dev/e", IMAGE, "true",
                       check=False)
    assert p.returncode == 125
    assert f"no device nodes in {empty}" in p.stderr, p.stderr
    assert engine.ids() == before
