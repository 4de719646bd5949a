"""Fixtures for the cove-runtime integration tests.

The runtime under test comes from $COVE_RUNTIME_BINARY ($COVE_BINARY names
the engine, `cove`),
defaulting to build/cove-runtime of this checkout, so the same suite can be
pointed at runc or crun to check the tests themselves:

    COVE_RUNTIME_BINARY=/usr/sbin/runc /usr/bin/python3 -m pytest tests/integration

Every test gets its own state root (--root), its own bundle directories whose
rootfs is the shared busybox rootfs mounted read-only, and its own cgroup
parent /cove-test/<uuid>.  Teardown force-deletes every container id handed
out, kills what is left in the test's cgroups (by pid, from their
cgroup.procs files only), removes those cgroups from every hierarchy, and
lazily unmounts anything left mounted below the test's temporary directory.
"""

import copy
import errno
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(os.path.dirname(TESTS_DIR))
SCRIPTS_DIR = os.path.join(REPO_DIR, "scripts")

BINARY = os.path.abspath(
    os.environ.get("COVE_RUNTIME_BINARY")
    or os.path.join(REPO_DIR, "build", "cove-runtime")
)

CGROUP_TEST_ROOT = "/cove-test"
DEFAULT_TIMEOUT = 30


# ---------------------------------------------------------------------------
# small helpers, importable by the tests (`from conftest import ...`)
# ---------------------------------------------------------------------------


def wait_for(cond, timeout=10.0, interval=0.05, what="condition"):
    """Poll cond() until it returns a truthy value; return that value.

    Fails the test with a message naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = cond()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def read_file(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        if default is None:
            raise
        return default


def proc_status_field(pid, name):
    """A field of /proc/PID/status, e.g. proc_status_field(1, 'CapEff')."""
    for line in read_file(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    raise KeyError(name)


def cgroup_mounts():
    """Mount points of the cgroup v1 hierarchies and the cgroup2 hierarchy.

    Only mounts of a hierarchy's root are returned, so bind mounts of
    sub-cgroups (as found inside containers) are never mistaken for a
    hierarchy.  Returns a list of (mountpoint, fstype, options)."""
    result = []
    seen = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = pre.split()
            fstype, _source, superopts = (post.split() + ["", "", ""])[:3]
            if fstype not in ("cgroup", "cgroup2"):
                continue
            root, mountpoint = fields[3], fields[4]
            if root != "/":
                continue
            mountpoint = mountpoint.replace("\\040", " ")
            if mountpoint in seen:
                continue
            seen.add(mountpoint)
            result.append((mountpoint, fstype, superopts.split(",")))
    return result


def cgroup_v1_path(controller, cgroups_path):
    """Host path of cgroups_path in the v1 hierarchy carrying controller."""
    for mountpoint, fstype, opts in cgroup_mounts():
        if fstype == "cgroup" and controller in opts:
            return mountpoint + cgroups_path
    return None


def mountinfo_mountpoints():
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            points.append(fields[4].replace("\\040", " "))
    return points


def dump_state_error(proc):
    return (
        f"exit status {proc.returncode}\n"
        f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )


# ---------------------------------------------------------------------------
# the runtime wrapper
# ---------------------------------------------------------------------------


class Runtime:
    """Runs the binary under test with a per-test state root."""

    def __init__(self, binary, root, workdir):
        self.binary = binary
        self.root = root
        self.workdir = workdir
        self.name = os.path.basename(binary)
        self._n = 0

    def run(
        self,
        *args,
        check=True,
        input=None,
        timeout=DEFAULT_TIMEOUT,
        cwd=None,
        env=None,
        global_args=(),
        root=True,
        stdout=None,
        stderr=None,
        pass_fds=(),
    ):
        """Run `BINARY [--root ROOT] [global_args] args...`.

        stdout and stderr go to files rather than pipes: a container started
        by create/run -d inherits them, and would otherwise keep a pipe open
        long after the runtime itself has exited.  Returns a
        CompletedProcess with text stdout/stderr.  With check=True a
        non-zero exit fails the test with the output attached."""
        cmd = [self.binary]
        if root:
            cmd += ["--root", self.root]
        cmd += list(global_args)
        cmd += [str(a) for a in args]
        self._n += 1
        out_path = os.path.join(self.workdir, f"rt-{self._n}.out")
        err_path = os.path.join(self.workdir, f"rt-{self._n}.err")
        own_out = stdout is None
        own_err = stderr is None
        out_f = open(out_path, "w+b") if own_out else stdout
        err_f = open(err_path, "w+b") if own_err else stderr
        try:
            p = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=out_f,
                stderr=err_f,
                cwd=cwd,
                env=env,
                pass_fds=pass_fds,
            )
            if isinstance(input, str):
                input = input.encode()
            try:
                p.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                out = _read_back(out_f) if own_out else ""
                err = _read_back(err_f) if own_err else ""
                pytest.fail(
                    f"timed out after {timeout}s: {' '.join(cmd)}\n"
                    f"--- stdout\n{out}\n--- stderr\n{err}"
                )
            out = _read_back(out_f) if own_out else ""
            err = _read_back(err_f) if own_err else ""
        finally:
            if own_out:
                out_f.close()
            if own_err:
                err_f.close()
        proc = subprocess.CompletedProcess(cmd, p.returncode, out, err)
        if check and proc.returncode != 0:
            pytest.fail(f"command failed: {' '.join(cmd)}\n{dump_state_error(proc)}")
        return proc

    def json(self, *args, **kw):
        """Run a command that prints JSON and return the parsed value."""
        proc = self.run(*args, **kw)
        try:
            return json.loads(proc.stdout)
        except ValueError as e:
            pytest.fail(f"{' '.join(args)}: output is not JSON ({e}):\n{proc.stdout!r}")

    def state(self, container_id):
        return self.json("state", container_id)

    def status(self, container_id):
        proc = self.run("state", container_id, check=False)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout).get("status")

    def wait_status(self, container_id, status, timeout=10):
        return wait_for(
            lambda: self.status(container_id) == status,
            timeout=timeout,
            what=f"container {container_id} to be {status}",
        )


def _read_back(f):
    f.flush()
    f.seek(0)
    return f.read().decode(errors="replace")


# ---------------------------------------------------------------------------
# bundles
# ---------------------------------------------------------------------------


class Bundle:
    """An OCI bundle directory for one test.

    config is the parsed config.json; change it and call write().  By
    default root.path is the shared busybox rootfs, read-only, with a tmpfs
    on /tmp; private_rootfs() switches to a writable copy for tests that
    need to change the rootfs itself."""

    def __init__(self, path, config, shared_rootfs, cgroups_path):
        self.path = path
        self.config = config
        self.shared_rootfs = shared_rootfs
        self.cgroups_path = cgroups_path
        self.write()

    @property
    def config_path(self):
        return os.path.join(self.path, "config.json")

    @property
    def rootfs(self):
        root = self.config["root"]["path"]
        return root if os.path.isabs(root) else os.path.join(self.path, root)

    def write(self):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.config, f, indent=2)
        os.rename(tmp, self.config_path)
        return self

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        return self.write()

    def set_sh(self, script):
        """Make the container process `sh -c script`."""
        return self.set_args("sh", "-c", script)

    @property
    def process(self):
        return self.config["process"]

    @property
    def linux(self):
        return self.config.setdefault("linux", {})

    def add_mount(self, destination, type_, source, options=None, at=None):
        m = {"destination": destination, "type": type_, "source": source}
        if options is not None:
            m["options"] = list(options)
        mounts = self.config.setdefault("mounts", [])
        if at is None:
            mounts.append(m)
        else:
            mounts.insert(at, m)
        return self.write()

    def set_namespace(self, ns_type, path=None):
        nss = self.linux.setdefault("namespaces", [])
        nss[:] = [n for n in nss if n["type"] != ns_type]
        n = {"type": ns_type}
        if path:
            n["path"] = path
        nss.append(n)
        return self.write()

    def remove_namespace(self, ns_type):
        nss = self.linux.setdefault("namespaces", [])
        nss[:] = [n for n in nss if n["type"] != ns_type]
        return self.write()

    def private_rootfs(self):
        """Copy the shared rootfs into the bundle and use it read-write."""
        dst = os.path.join(self.path, "rootfs")
        if not os.path.exists(dst):
            subprocess.run(["cp", "-a", self.shared_rootfs, dst], check=True)
        self.config["root"] = {"path": "rootfs", "readonly": False}
        self.write()
        return dst


def _build_shared_bundle():
    """Path of the busybox bundle the suite uses as its template.

    $COVE_TEST_BUNDLE, else build/busybox-bundle (made by `make`), else one
    built now with scripts/mkbundle.sh into a temporary directory."""
    explicit = os.environ.get("COVE_TEST_BUNDLE")
    if explicit:
        return explicit, None
    built = os.path.join(REPO_DIR, "build", "busybox-bundle")
    if os.path.exists(os.path.join(built, "config.json")) and os.path.exists(
        os.path.join(built, "rootfs", "bin", "busybox")
    ):
        return built, None
    tmpdir = tempfile.mkdtemp(prefix="cove-test-bundle-")
    os.chmod(tmpdir, 0o755)
    out = os.path.join(tmpdir, "busybox-bundle")
    proc = subprocess.run(
        [os.path.join(SCRIPTS_DIR, "mkbundle.sh"), out, BINARY],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        shutil.rmtree(tmpdir, ignore_errors=True)
        return None, f"scripts/mkbundle.sh failed:\n{proc.stdout}{proc.stderr}"
    return out, tmpdir


@pytest.fixture(scope="session")
def shared_bundle():
    path, tmpdir = _build_shared_bundle()
    if path is None:
        pytest.skip(tmpdir)
    yield path
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)


@pytest.fixture(scope="session")
def base_config(shared_bundle):
    with open(os.path.join(shared_bundle, "config.json")) as f:
        return json.load(f)


def _rootfs_listing(rootfs):
    entries = set()
    for dirpath, dirnames, filenames in os.walk(rootfs):
        rel = os.path.relpath(dirpath, rootfs)
        for name in dirnames + filenames:
            entries.add(os.path.join(rel, name))
    return entries


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _require_root_and_binary():
    if os.geteuid() != 0:
        pytest.skip("the integration tests need root")
    if not os.access(BINARY, os.X_OK):
        msg = f"runtime binary {BINARY} not found (run make, or set COVE_RUNTIME_BINARY)"
        if os.environ.get("COVE_RUNTIME_BINARY"):
            # asked for explicitly (as `make integration` does): a missing
            # binary is a failure, not a reason to skip the whole suite
            pytest.exit(msg, returncode=4)
        pytest.skip(msg)


@pytest.fixture
def test_tmp():
    """A per-test scratch directory, removed afterwards (after unmounting
    anything a failed test left mounted below it)."""
    d = tempfile.mkdtemp(prefix="cove-it-")
    # Containers with a user namespace run as an unprivileged host uid that
    # must still be able to reach their bundle.
    os.chmod(d, 0o755)
    yield d
    leftovers = [m for m in mountinfo_mountpoints() if m == d or m.startswith(d + "/")]
    for m in sorted(leftovers, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def rt(test_tmp):
    root = os.path.join(test_tmp, "state")
    os.mkdir(root, 0o700)
    work = os.path.join(test_tmp, "io")
    os.mkdir(work)
    return Runtime(BINARY, root, work)


class CgroupParent:
    """Owns /cove-test/<uuid> in every cgroup hierarchy for one test.

    Containers go below it (child()); cleanup() kills what is left in it,
    by pid from its cgroup.procs files, and removes it everywhere."""

    def __init__(self):
        self.path = f"{CGROUP_TEST_ROOT}/{uuid.uuid4().hex[:16]}"
        self._n = 0

    def child(self, name=None):
        if name is None:
            self._n += 1
            name = f"c{self._n}"
        return f"{self.path}/{name}"

    def host_dirs(self):
        """Host directories of this parent, one per hierarchy (those that exist)."""
        dirs = []
        for mountpoint, _fstype, _opts in cgroup_mounts():
            d = mountpoint + self.path
            if os.path.isdir(d):
                dirs.append(d)
        return dirs

    def pids(self):
        pids = set()
        for top in self.host_dirs():
            for dirpath, _dirs, _files in os.walk(top):
                for line in read_file(os.path.join(dirpath, "cgroup.procs"), "").split():
                    pids.add(int(line))
        return pids

    def cleanup(self):
        # Thaw first: a frozen task does not die from SIGKILL until thawed.
        for top in self.host_dirs():
            for dirpath, _dirs, _files in os.walk(top):
                state = os.path.join(dirpath, "freezer.state")
                if os.path.exists(state):
                    try:
                        with open(state, "w") as f:
                            f.write("THAWED")
                    except OSError:
                        pass
        deadline = time.monotonic() + 10
        while True:
            pids = self.pids()
            if not pids or time.monotonic() > deadline:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        leftover_pids = self.pids()
        failed = []
        for top in self.host_dirs():
            for dirpath, _dirs, _files in sorted(
                os.walk(top, topdown=False), key=lambda t: -len(t[0])
            ):
                for _ in range(50):
                    try:
                        os.rmdir(dirpath)
                        break
                    except FileNotFoundError:
                        break
                    except OSError as e:
                        if e.errno != errno.EBUSY:
                            failed.append(f"{dirpath}: {e}")
                            break
                        time.sleep(0.05)
                else:
                    failed.append(f"{dirpath}: busy")
        return leftover_pids, failed


def _mkdir_cgroup(mountpoint, opts, path):
    """mkdir mountpoint+path, one level at a time, tolerating a concurrent
    session removing /cove-test between two steps."""
    parts = path.strip("/").split("/")
    for attempt in range(20):
        try:
            cur = mountpoint
            for part in parts:
                parent = cur
                cur = f"{cur}/{part}"
                try:
                    os.mkdir(cur)
                except FileExistsError:
                    pass
                if "cpuset" in opts:
                    # a v1 cpuset cgroup starts with no cpus and mems, and
                    # accepts no task until they are set: inherit them
                    for f in ("cpuset.cpus", "cpuset.mems"):
                        if not read_file(f"{cur}/{f}", "").strip():
                            with open(f"{cur}/{f}", "w") as fh:
                                fh.write(read_file(f"{parent}/{f}"))
            return
        except FileNotFoundError:
            time.sleep(0.01 * (attempt + 1))
    raise RuntimeError(f"cannot create cgroup {mountpoint}{path}")


@pytest.fixture(scope="session", autouse=True)
def _cgroup_test_root():
    """At the end of the session, remove /cove-test where it is empty.

    It is shared with concurrent sessions, so it is never removed per test
    (a runtime in another session may be creating a cgroup below it)."""
    yield
    for mountpoint, _fstype, _opts in cgroup_mounts():
        try:
            os.rmdir(mountpoint + CGROUP_TEST_ROOT)
        except OSError:
            pass


@pytest.fixture
def cgroup_parent():
    cg = CgroupParent()
    # Create /cove-test/<uuid> up front in every hierarchy: it keeps
    # /cove-test busy while this test runs, so that concurrent sessions
    # cleaning up cannot remove it under the runtime's feet.
    for mountpoint, _fstype, opts in cgroup_mounts():
        _mkdir_cgroup(mountpoint, opts, cg.path)
    yield cg
    leftover_pids, failed = cg.cleanup()
    if failed:
        pytest.fail(f"could not remove test cgroups: {failed}")
    if leftover_pids:
        pytest.fail(f"processes left in {cg.path} could not be killed: {sorted(leftover_pids)}")


@pytest.fixture
def make_bundle(test_tmp, shared_bundle, base_config, cgroup_parent):
    """Factory: make_bundle(name=None) -> Bundle with its own cgroupsPath."""
    shared_rootfs = os.path.join(shared_bundle, "rootfs")
    before = _rootfs_listing(shared_rootfs)
    made = []

    def make(name=None):
        idx = len(made) + 1
        name = name or f"bundle{idx}"
        path = os.path.join(test_tmp, name)
        os.mkdir(path)
        cfg = copy.deepcopy(base_config)
        cfg["root"] = {"path": shared_rootfs, "readonly": True}
        proc = cfg.setdefault("process", {})
        proc["terminal"] = False
        proc.setdefault("args", ["sh", "-c", "echo hello from cove"])
        proc.setdefault("cwd", "/")
        linux = cfg.setdefault("linux", {})
        linux["cgroupsPath"] = cgroup_parent.child(name)
        # The rootfs is read-only and shared: give every container a
        # private writable /tmp.
        mounts = cfg.setdefault("mounts", [])
        if not any(m.get("destination") == "/tmp" for m in mounts):
            mounts.append(
                {
                    "destination": "/tmp",
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=1777", "size=16m"],
                }
            )
        b = Bundle(path, cfg, shared_rootfs, linux["cgroupsPath"])
        made.append(b)
        return b

    yield make

    after = _rootfs_listing(shared_rootfs)
    added = sorted(after - before)
    removed = sorted(before - after)
    for rel in reversed(added):
        p = os.path.join(shared_rootfs, rel)
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                os.rmdir(p)
            else:
                os.unlink(p)
        except OSError:
            pass
    if added or removed:
        pytest.fail(
            "the shared read-only rootfs was modified "
            f"(added {added[:10]}, removed {removed[:10]})"
        )


@pytest.fixture
def bundle(make_bundle):
    return make_bundle("bundle")


@pytest.fixture
def container_id(rt, cgroup_parent):
    """Factory: container_id() -> a fresh unique id, force-deleted at teardown."""
    ids = []
    prefix = f"ct-{uuid.uuid4().hex[:8]}"

    def make():
        cid = f"{prefix}-{len(ids) + 1}"
        ids.append(cid)
        return cid

    yield make
    for cid in ids:
        rt.run("delete", "-f", cid, check=False, timeout=20)


@pytest.fixture
def pid_reaper():
    """Register (pid, marker) of host processes a test started indirectly
    (e.g. hook processes); at teardown each one still alive whose cmdline
    contains marker is killed."""
    registered = []
    yield registered.append
    for pid, marker in registered:
        try:
            cmdline = read_file(f"/proc/{pid}/cmdline").replace("\0", " ")
        except OSError:
            continue
        if marker in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def netns():
    """Factory: netns() -> (name, path) of a fresh `ip netns`, deleted afterwards."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) is not installed")
    names = []

    def make():
        name = f"cove-test-{uuid.uuid4().hex[:12]}"
        proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot create a network namespace: {proc.stderr.strip()}")
        names.append(name)
        return name, f"/run/netns/{name}"

    yield make
    for name in names:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


class Runner:
    """Convenience: run a shell script in a fresh container."""

    def __init__(self, rt, bundle, container_id):
        self.rt = rt
        self.bundle = bundle
        self.container_id = container_id

    def sh(self, script, bundle=None, check=True, timeout=DEFAULT_TIMEOUT, expect_rc=None):
        b = bundle or self.bundle
        b.set_sh(script)
        cid = self.container_id()
        proc = self.rt.run("run", "--bundle", b.path, cid, check=False, timeout=timeout)
        if expect_rc is not None:
            assert proc.returncode == expect_rc, dump_state_error(proc)
        elif check and proc.returncode != 0:
            pytest.fail(f"container `{script}` failed:\n{dump_state_error(proc)}")
        return proc

    def create(self, *args, bundle=None, extra=()):
        """create a container running args; return (id, state)."""
        b = bundle or self.bundle
        if args:
            b.set_args(*args)
        cid = self.container_id()
        self.rt.run("create", *extra, "--bundle", b.path, cid)
        return cid, self.rt.state(cid)

    def start_detached(self, *args, bundle=None):
        """create + start a long-running container; return (id, pid)."""
        cid, st = self.create(*args, bundle=bundle)
        self.rt.run("start", cid)
        self.rt.wait_status(cid, "running")
        return cid, st["pid"]


@pytest.fixture
def runner(rt, bundle, container_id):
    return Runner(rt, bundle, container_id)


# Tests of crun extensions that cove also implements (runc lacks them).
crun_extension = pytest.mark.skipif(
    os.path.basename(BINARY) == "runc", reason="crun/cove extension, not in runc"
)


# Shell snippet for a container init that exits on SIGTERM: pid 1 of a pid
# namespace only receives signals it has a handler for.
SLEEPER = 'trap "exit 143" TERM; {pre} sleep 1000 & wait'


def sleeper(pre=""):
    if pre and not pre.rstrip().endswith((";", "&")):
        pre = pre + ";"
    return ["sh", "-c", SLEEPER.format(pre=pre)]


# ---------------------------------------------------------------------------
# the engine (`cove run` and friends): test_engine*.py
# ---------------------------------------------------------------------------

COVE_BINARY = os.path.abspath(
    os.environ.get("COVE_BINARY") or os.path.join(REPO_DIR, "build", "cove")
)
ENGINE_IMAGE = "localhost/busybox"


def _pid_starttime(pid):
    """Start time of pid (field 22 of /proc/PID/stat), None if gone/zombie.

    Together with the pid it names one process, so a recycled pid is never
    mistaken for a container's."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


class Engine:
    """`cove --root R --runroot RR` for one test, R a copy of the session's
    template root (busybox loaded).  run_ctr()/create_ctr() always add
    --cgroup-parent <the test's cgroup_parent> and --network none.

    Every pid that inspect shows (State.Pid, State.ConmonPid) is recorded;
    teardown removes every container with `rm -f` and checks that nothing
    is left: no container, no recorded process, no process in the test's
    cgroups, no mount below the root or the runroot, no runtime state."""

    def __init__(self, tmp, root, runroot, cgroup_parent):
        self.tmp = tmp
        self.root = root
        self.runroot = runroot
        self.cgroup_parent = cgroup_parent
        self.cgparent = cgroup_parent.path
        self.image = ENGINE_IMAGE
        self.pids = {}  # pid -> starttime

    def cmd(self, *args):
        return [COVE_BINARY, "--root", self.root, "--runroot", self.runroot] + [
            str(a) for a in args
        ]

    def run(self, *args, check=True, timeout=DEFAULT_TIMEOUT, input=None, env=None):
        """Run `cove ARGS`; stdout/stderr are pipes (a detached container's
        monitor must not hold them, or this times out)."""
        cmd = self.cmd(*args)
        try:
            p = subprocess.run(
                cmd,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
            )
        except subprocess.TimeoutExpired as e:
            pytest.fail(
                f"timed out after {timeout}s: {' '.join(cmd)}\n"
                f"--- stdout\n{e.stdout}\n--- stderr\n{e.stderr}"
            )
        if check and p.returncode != 0:
            pytest.fail(f"command failed: {' '.join(cmd)}\n{dump_state_error(p)}")
        return p

    def fail(self, *args, **kw):
        """Run a command that must fail; return the CompletedProcess."""
        p = self.run(*args, check=False, **kw)
        assert p.returncode != 0, f"expected failure: {' '.join(self.cmd(*args))}\n{p.stdout}"
        return p

    def create_opts(self, network="none"):
        opts = ["--cgroup-parent", self.cgparent]
        if network:
            opts += ["--network", network]
        return opts

    def run_ctr(self, *args, network="none", **kw):
        """`cove run <defaults> ARGS` (ARGS: options, image, command).
        With -d/--detach among the options, the pids are recorded."""
        p = self.run("run", *self.create_opts(network), *args, **kw)
        if p.returncode == 0 and ("-d" in args or "--detach" in args):
            self.record_pids()
        return p

    def run_d(self, *args, **kw):
        """`cove run -d ARGS`; returns the id."""
        p = self.run_ctr("-d", *args, **kw)
        return p.stdout.strip().splitlines()[-1]

    def create_ctr(self, *args, network="none", **kw):
        return self.run("create", *self.create_opts(network), *args, **kw)

    def popen(self, *args, **kw):
        """Start `cove ARGS` without waiting (e.g. a foreground run)."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.cmd(*args), text=True, **kw)

    def inspect(self, *names):
        """inspect NAME... -> list of dicts (one name: that dict)."""
        p = self.run("inspect", *names)
        data = json.loads(p.stdout)
        self._note(data)
        return data[0] if len(names) == 1 else data

    def _note(self, data):
        for c in data:
            st = c.get("State") or {}
            for key in ("Pid", "ConmonPid"):
                pid = st.get(key) or 0
                if pid > 0 and pid not in self.pids:
                    start = _pid_starttime(pid)
                    if start is not None:
                        self.pids[pid] = start

    def ids(self):
        p = self.run("ps", "-a", "-q", "--no-trunc")
        return p.stdout.split()

    def ps_json(self, *args):
        return json.loads(self.run("ps", "--format", "json", *args).stdout)

    def record_pids(self):
        ids = self.ids()
        if ids:
            p = self.run("inspect", *ids, check=False)
            if p.returncode == 0:
                self._note(json.loads(p.stdout))

    def status(self, name):
        return self.inspect(name)["State"]["Status"]

    def wait_status(self, name, status, timeout=10):
        return wait_for(
            lambda: self.status(name) == status,
            timeout=timeout,
            what=f"container {name} to be {status}",
        )

    def live_pids(self):
        return sorted(p for p, start in self.pids.items() if _pid_starttime(p) == start)

    def mounts(self):
        tops = (self.root, self.runroot)
        return [
            m
            for m in mountinfo_mountpoints()
            if any(m == t or m.startswith(t + "/") for t in tops)
        ]

    def teardown(self):
        """Remove every container; return the list of what was left."""
        problems = []
        ids = self.ids()
        if ids:
            self.record_pids()
            p = self.run("rm", "-f", *ids, check=False)
            if p.returncode != 0:
                problems.append(f"rm -f failed:\n{dump_state_error(p)}")
            left = self.ids()
            if left:
                problems.append(f"containers left after rm -f: {left}")
        deadline = time.monotonic() + 5
        while self.live_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        live = self.live_pids()
        if live:
            problems.append(f"container processes (State.Pid/ConmonPid) left: {live}")
            for pid in live:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        cg_pids = self.cgroup_parent.pids()
        if cg_pids:
            problems.append(f"processes left in {self.cgparent}: {sorted(cg_pids)}")
        deadline = time.monotonic() + 2
        while self.mounts() and time.monotonic() < deadline:
            time.sleep(0.05)
        mounts = self.mounts()
        if mounts:
            problems.append(f"mounts left: {mounts}")
        rtdir = os.path.join(self.runroot, "runtime")
        state = os.listdir(rtdir) if os.path.isdir(rtdir) else []
        if state:
            problems.append(f"runtime state left in {rtdir}: {state}")
        return problems


@pytest.fixture(scope="session")
def engine_template():
    """A root with the busybox image loaded, made once per session; each
    test copies it (cp -a of the ~3 MB root: ~10-25 ms, a load ~40-120 ms)."""
    if not os.access(COVE_BINARY, os.X_OK):
        pytest.skip(f"cove binary {COVE_BINARY} not found (run make, or set COVE_BINARY)")
    from imagelib import busybox_archive

    archive = busybox_archive()
    tmp = tempfile.mkdtemp(prefix="cove-engine-template-")
    root = os.path.join(tmp, "root")
    proc = subprocess.run(
        [COVE_BINARY, "--root", root, "--runroot", os.path.join(tmp, "run"),
         "load", "-i", archive],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.fail(f"cove load -i {archive} failed:\n{dump_state_error(proc)}")
    yield root
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def engine(engine_template, test_tmp, cgroup_parent):
    """An Engine with its own root (a copy of engine_template) and runroot;
    at teardown every container is removed and the test fails if anything
    of them is left (see Engine.teardown)."""
    root = os.path.join(test_tmp, "root")
    subprocess.run(["cp", "-a", engine_template, root], check=True)
    runroot = os.path.join(test_tmp, "run")
    e = Engine(test_tmp, root, runroot, cgroup_parent)
    yield e
    problems = e.teardown()
    if problems:
        pytest.fail("engine teardown: " + "\n".join(problems))
