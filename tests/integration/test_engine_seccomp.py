"""The engine's cache of compiled seccomp programs (<root>/seccomp-cache).

`cove run` hands the runtime a cache directory; the default profile is
compiled by libseccomp once and loaded from the cache afterwards.  These
tests check that a container still gets the filter: `unshare -U` (user
namespaces need no capability, only the default profile refuses them)
fails with EPERM on the first run, which compiles and writes the cache,
and on the second, which loads it, and that a cache the runtime must not
trust or cannot read is ignored.
"""

import os
import stat

import pytest

IMAGE = "localhost/busybox"
BLOCKED = ["unshare", "-U", "true"]


def cache_dir(engine):
    return os.path.join(engine.root, "seccomp-cache")


def cache_files(engine):
    d = cache_dir(engine)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d))


def run_blocked(engine):
    """Run the blocked command; it must fail with EPERM."""
    p = engine.run_ctr("--rm", IMAGE, *BLOCKED, check=False)
    assert p.returncode != 0, f"unshare -U was allowed:\n{p.stdout}{p.stderr}"
    assert "Operation not permitted" in p.stderr, p.stderr
    return p


@pytest.fixture
def seccomp_engine(engine):
    """The engine, once `unshare -U` is known to work without seccomp."""
    p = engine.run_ctr("--rm", "--security-opt", "seccomp=unconfined", IMAGE,
                       *BLOCKED, check=False)
    if p.returncode != 0:
        pytest.skip(f"unshare -U fails even without seccomp: {p.stderr.strip()}")
    # the unconfined run has no profile to compile
    assert cache_files(engine) == []
    return engine


def test_cached_filter_still_blocks(seccomp_engine):
    engine = seccomp_engine
    first = run_blocked(engine)
    files = cache_files(engine)
    assert len(files) == 1, files
    assert files[0].endswith(".bpf")
    st_dir = os.stat(cache_dir(engine))
    assert stat.S_IMODE(st_dir.st_mode) == 0o700
    st = os.stat(files[0])
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_size > 4096  # the default allowlist: hundreds of insns

    second = run_blocked(engine)
    assert second.returncode == first.returncode
    assert second.stderr == first.stderr
    # loaded, not compiled and written again: the same file
    assert cache_files(engine) == files
    st2 = os.stat(files[0])
    assert (st2.st_ino, st2.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)

    # the container really runs under one filter
    p = engine.run_ctr("--rm", IMAGE, "grep", "^Seccomp", "/proc/self/status")
    assert "Seccomp:\t2" in p.stdout, p.stdout
    assert "Seccomp_filters:\t1" in p.stdout, p.stdout


def test_corrupt_cache_file_replaced(seccomp_engine):
    engine = seccomp_engine
    run_blocked(engine)
    (path,) = cache_files(engine)
    with open(path, "rb") as f:
        good = f.read()
    # short, then a flipped instruction (the checksum catches it)
    for bad in (good[: len(good) // 2], good[:-1] + bytes([good[-1] ^ 1])):
        with open(path, "wb") as f:
            f.write(bad)
        run_blocked(engine)
        with open(path, "rb") as f:
            assert f.read() == good


def test_untrusted_cache_dir_ignored(seccomp_engine):
    engine = seccomp_engine
    run_blocked(engine)
    (path,) = cache_files(engine)
    d = cache_dir(engine)
    os.unlink(path)
    os.chmod(d, 0o777)
    try:
        run_blocked(engine)
        # compiled, but nothing written where others could have
        assert cache_files(engine) == []
    finally:
        os.chmod(d, 0o700)
    run_blocked(engine)
    assert len(cache_files(engine)) == 1
