"""cove loads libcurl and libarchive on first use (src/util/lazy.h): it does
not link them, the commands that do not need them work without them, and the
ones that do fail with one clear line and status 125."""

import os
import shutil
import subprocess

import pytest

from imagelib import COVE, busybox_archive, need_cove


def needed(binary):
    out = subprocess.run(["readelf", "-d", binary], capture_output=True,
                         text=True, check=True).stdout
    return [line.split("[")[1].rstrip("]") for line in out.splitlines()
            if "(NEEDED)" in line]


def library_files(prefix):
    """The files the dynamic loader would open for lib<prefix>.so.N."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                         check=True).stdout
    files = set()
    for line in out.splitlines():
        name, _, path = line.strip().partition(" => ")
        if name.startswith(prefix + ".so.") and path:
            files.add(os.path.realpath(path))
    return sorted(files)


def test_cove_does_not_link_curl_or_archive():
    need_cove()
    if not shutil.which("readelf"):
        pytest.skip("readelf (binutils) not installed")
    libs = needed(COVE)
    assert libs, "no NEEDED entries: is cove dynamically linked?"
    assert not [lib for lib in libs
                if lib.startswith(("libcurl", "libarchive"))], libs


def test_missing_libraries_fail_only_the_commands_that_need_them(test_tmp):
    need_cove()
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private mount namespace")
    hidden = library_files("libcurl") + library_files("libarchive")
    if not hidden:
        pytest.skip("ldconfig -p lists no libcurl.so.N / libarchive.so.N")
    root = os.path.join(test_tmp, "root")
    archive = busybox_archive()
    # In a private mount namespace, an empty file over each library: the
    # loader then fails on it as it would on a host without the package.
    script = "set -e\n"
    script += "".join(f'mount --bind /dev/null "{f}"\n' for f in hidden)
    script += "set +e\n"
    for name, args in [
        ("version", "version"),
        ("images", "images"),
        ("ps", "ps -a"),
        ("load", f'load -i "{archive}"'),
        ("pull", "pull --tls-verify=false 127.0.0.1:9/nothing:here"),
    ]:
        script += (f'"{COVE}" --root "{root}" {args} >/dev/null '
                   f'2>"{test_tmp}/{name}.err"; echo "{name} $?"\n')
    p = subprocess.run(["unshare", "-m", "--propagation", "private",
                        "sh", "-c", script], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    rcs = dict(line.split() for line in p.stdout.splitlines())

    def err(name):
        with open(os.path.join(test_tmp, f"{name}.err")) as f:
            return f.read()

    for name in ("version", "images", "ps"):
        assert rcs[name] == "0", (name, err(name))
    assert rcs["load"] == "125", err("load")
    assert err("load").startswith(
        "cove: cannot load libarchive.so."), err("load")
    assert "(needed for image archives and layers): " in err("load")
    assert len(err("load").splitlines()) == 1, err("load")
    assert rcs["pull"] == "125", err("pull")
    assert err("pull").startswith(
        "cove: cannot load libcurl.so."), err("pull")
    assert "(needed for registry access): " in err("pull")
