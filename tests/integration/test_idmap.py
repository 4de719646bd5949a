"""Idmapped bind mounts (mounts[].options "idmap" with uid/gid mappings)."""
import os

import pytest


def _host_dir(test_tmp, owner):
    host = os.path.join(test_tmp, "idmap-src")
    os.mkdir(host)
    path = os.path.join(host, "f")
    with open(path, "w") as f:
        f.write("x\n")
    os.chown(path, owner, owner)
    return host


def test_idmapped_mount_maps_owners(runner, bundle, test_tmp):
    # On-disk uid 0 appears as 1000 through a mapping 0 -> 1000 (the
    # kernel applies the mount's mapping from containerID to hostID).
    host = _host_dir(test_tmp, 0)
    bundle.add_mount("/tmp/idm", "bind", host, ["rbind", "idmap"])
    m = bundle.config["mounts"][-1]
    m["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    m["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    proc = runner.sh("stat -c '%u:%g' /tmp/idm/f")
    assert proc.stdout.strip() == "1000:1000"
    # the host's view is unchanged
    st = os.stat(os.path.join(host, "f"))
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_idmapped_mount_unmapped_owner_is_overflow(runner, bundle, test_tmp):
    host = _host_dir(test_tmp, 4242)
    bundle.add_mount("/tmp/idm", "bind", host, ["rbind", "idmap"])
    m = bundle.config["mounts"][-1]
    m["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    m["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    proc = runner.sh("stat -c '%u' /tmp/idm/f")
    assert proc.stdout.strip() == "65534"


def test_idmap_without_any_mapping_is_refused(rt, bundle, container_id, test_tmp):
    host = _host_dir(test_tmp, 0)
    bundle.add_mount("/tmp/idm", "bind", host, ["rbind", "idmap"])
    bundle.set_sh("true")
    cid = container_id()
    proc = rt.run("run", "-b", bundle.path, cid, check=False)
    assert proc.returncode != 0
    assert "idmapped mount needs uidMappings" in proc.stderr
    assert "mounts[" in proc.stderr


def test_idmap_on_non_bind_mount_is_refused(rt, bundle, container_id):
    bundle.add_mount("/tmp/t", "tmpfs", "tmpfs", ["idmap"])
    bundle.set_sh("true")
    proc = rt.run("run", "-b", bundle.path, container_id(), check=False)
    assert proc.returncode != 0
    assert "idmap is only supported for bind mounts" in proc.stderr
