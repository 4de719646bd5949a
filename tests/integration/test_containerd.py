"""containerd running containers through the runtime.

A private containerd is started for this module (root, state, sockets in a
temporary directory; no CRI plugin).  The busybox rootfs is imported as an
OCI image layout tarball made here (oci-layout, index.json, one manifest,
one config, one gzip layer).  `ctr run --runc-binary <runtime>` has the
io.containerd.runc.v2 shim drive the runtime with runc's command line
(create --bundle --pid-file [--console-socket], start, state, kill,
delete, exec --process --detach, pause, resume, ps --format json; always
with --root, --log <bundle>/log.json and --log-format json).

Every container gets --cgroup /cove-test/ctr-<random>/<id>; the state root
(--runc-root) and the I/O fifos (--fifo-dir) are inside the temporary
directory too.  The shims' sockets go to /run/containerd/s whatever the
configuration says (containerd 1.6); that directory is removed afterwards
if this module created it.  containerd is stopped by pid, and any shim of
ours still running is killed by pid.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import uuid

import pytest

from conftest import (
    BINARY,
    CgroupParent,
    cgroup_mounts,
    mountinfo_mountpoints,
    pid_alive,
    read_file,
    wait_for,
)
from interop import ChildReaper, make_cgroup_parent

IMAGE = "docker.io/library/busybox:cove"
NAMESPACE = "cove-test"
TIMEOUT = 60
SHIM_SOCKET_DIRS = ("/run/containerd/s", "/run/containerd")


# ---------------------------------------------------------------------------
# an OCI image layout of the busybox rootfs
# ---------------------------------------------------------------------------


def _add_bytes(tf, name, data):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = 0o644
    tf.addfile(ti, io.BytesIO(data))


def _add_blob(tf, data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    _add_bytes(tf, f"blobs/sha256/{digest}", data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def build_oci_archive(rootfs, out, ref):
    """Write an OCI image layout tarball of rootfs (one layer) to out."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for name in sorted(os.listdir(rootfs)):
            layer.add(os.path.join(rootfs, name), arcname=name)
    layer_tar = raw.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    with tarfile.open(out, "w") as tf:
        layer_desc = _add_blob(
            tf,
            gzip.compress(layer_tar, mtime=0),
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["sh"],
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "cove integration tests"}],
        }
        config_desc = _add_blob(
            tf, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"
        )
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [layer_desc],
        }
        manifest_desc = _add_blob(
            tf, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json"
        )
        manifest_desc["annotations"] = {
            "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1],
            "io.containerd.image.name": ref,
        }
        _add_bytes(tf, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add_bytes(
            tf,
            "index.json",
            json.dumps({"schemaVersion": 2, "manifests": [manifest_desc]}).encode(),
        )


# ---------------------------------------------------------------------------
# containerd
# ---------------------------------------------------------------------------


def _pids_with_cmdline(needle):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = read_file(f"/proc/{name}/cmdline").replace("\0", " ")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(name))
    return pids


class Containerd:
    def __init__(self, tmp):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "containerd.sock")
        self.runc_root = os.path.join(tmp, "runc-root")
        self.fifo_dir = os.path.join(tmp, "fifo")
        self.state = os.path.join(tmp, "state")
        self.log_path = os.path.join(tmp, "containerd.log")
        self.proc = None
        self._n = 0

    def write_config(self):
        path = os.path.join(self.tmp, "config.toml")
        with open(path, "w") as f:
            f.write(
                "version = 2\n"
                f'root = "{self.tmp}/root"\n'
                f'state = "{self.state}"\n'
                "disabled_plugins = [\n"
                '  "io.containerd.grpc.v1.cri",\n'
                '  "io.containerd.internal.v1.opt",\n'
                '  "io.containerd.tracing.processor.v1.otlp",\n'
                "]\n"
                "[grpc]\n"
                f'  address = "{self.sock}"\n'
                "[ttrpc]\n"
                f'  address = "{self.sock}.ttrpc"\n'
                "[debug]\n"
                '  level = "debug"\n'
            )
        return path

    def start(self):
        config = self.write_config()
        log = open(self.log_path, "w")
        try:
            self.proc = subprocess.Popen(
                ["containerd", "--config", config],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"containerd exited ({self.proc.returncode}):\n{self.log()}")
            if os.path.exists(self.sock):
                if self.ctr("version", check=False, timeout=10).returncode == 0:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"containerd did not come up in 20s:\n{self.log()}")
            time.sleep(0.1)

    def log(self):
        return read_file(self.log_path, "")[-4000:]

    def ctr(self, *args, check=True, timeout=TIMEOUT, tty=False):
        """Run `ctr -a SOCK -n cove-test args...`; with tty=True inside
        script(1), which gives it the terminal that `run -t` needs."""
        cmd = ["ctr", "-a", self.sock, "-n", NAMESPACE] + [str(a) for a in args]
        if tty:
            cmd = ["script", "-qec", " ".join(_shell_quote(a) for a in cmd), "/dev/null"]
        self._n += 1
        out_path = os.path.join(self.tmp, f"ctr-{self._n}.out")
        err_path = os.path.join(self.tmp, f"ctr-{self._n}.err")
        with open(out_path, "w+") as out, open(err_path, "w+") as err:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                pytest.fail(f"timed out after {timeout}s: {' '.join(cmd)}\n{self.log()}")
            out.seek(0)
            err.seek(0)
            proc = subprocess.CompletedProcess(cmd, p.returncode, out.read(), err.read())
        if check and proc.returncode != 0:
            pytest.fail(
                f"command failed: {' '.join(cmd)}\nexit status {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def runtime_opts(self):
        return [
            "--runc-binary",
            BINARY,
            "--runc-root",
            self.runc_root,
            "--fifo-dir",
            self.fifo_dir,
        ]

    def bundle_dir(self, cid):
        return os.path.join(self.state, "io.containerd.runtime.v2.task", NAMESPACE, cid)

    def task_status(self, cid):
        for line in self.ctr("tasks", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == cid:
                return fields[2]
        return None

    def remove_all(self):
        """Kill and delete every task, then every container."""
        tasks = self.ctr("tasks", "ls", "-q", check=False).stdout.split()
        for cid in tasks:
            self.ctr("tasks", "kill", "-a", "-s", "SIGKILL", cid, check=False)
        for cid in tasks:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.ctr("tasks", "delete", "-f", cid, check=False).returncode == 0:
                    break
                time.sleep(0.1)
        for cid in self.ctr("containers", "ls", "-q", check=False).stdout.split():
            self.ctr("containers", "rm", cid, check=False)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill_shims(self):
        """Shims of this containerd (their command line names its socket)."""
        for pid in _pids_with_cmdline(f"-address {self.sock}"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _shell_quote(s):
    if s and all(c.isalnum() or c in "/._-:=," for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


@pytest.fixture(scope="module")
def containerd(shared_bundle):
    for tool in ("containerd", "ctr", "containerd-shim-runc-v2"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/install-deps.sh installs containerd)")
    made_dirs = [d for d in reversed(SHIM_SOCKET_DIRS) if not os.path.exists(d)]
    tmp = tempfile.mkdtemp(prefix="cove-it-containerd-")
    os.chmod(tmp, 0o711)
    cd = Containerd(tmp)
    reaper = ChildReaper()
    try:
        cd.start()
        archive = os.path.join(tmp, "busybox-oci.tar")
        build_oci_archive(os.path.join(shared_bundle, "rootfs"), archive, IMAGE)
        cd.ctr("images", "import", archive)
        os.unlink(archive)
        yield cd
    finally:
        if cd.proc is not None and cd.proc.poll() is None:
            cd.remove_all()
            cd.ctr("images", "rm", IMAGE, check=False)
        cd.stop()
        cd.kill_shims()
        reaper.reap(timeout=0.2)
        leftovers = [
            m for m in mountinfo_mountpoints() if m == tmp or m.startswith(tmp + "/")
        ]
        for m in sorted(leftovers, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
        for d in reversed(made_dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass
        reaper.close()


class CtrCgroup(CgroupParent):
    def __init__(self):
        super().__init__()
        self.path = f"/cove-test/ctr-{uuid.uuid4().hex[:12]}"


def _memory_cgroups():
    top = next(
        (mp for mp, fstype, opts in cgroup_mounts() if fstype == "cgroup" and "memory" in opts),
        None,
    )
    if top is None:
        return set()
    found = set()
    for dirpath, _dirs, _files in os.walk(top):
        found.add(dirpath[len(top):] or "/")
    return found


@pytest.fixture
def ctrd(containerd):
    """The module's containerd with a per-test cgroup parent and ids."""
    cg = CtrCgroup()
    before = _memory_cgroups()
    make_cgroup_parent(cg.path)
    containerd.cgroup = cg
    ids = []

    def new_id():
        cid = f"ctr-{uuid.uuid4().hex[:8]}-{len(ids) + 1}"
        ids.append(cid)
        return cid

    containerd.new_id = new_id
    yield containerd
    containerd.remove_all()
    leftover_pids, failed = cg.cleanup()
    assert not failed, f"could not remove the test's cgroups: {failed}"
    assert not leftover_pids, f"processes left in {cg.path}: {sorted(leftover_pids)}"
    # Nothing of these containers may be left in the memory hierarchy
    # outside the parent (e.g. the namespaced default /cove-test/<id>).
    new = sorted(
        d
        for d in _memory_cgroups() - before
        if not d.startswith(cg.path) and any(cid in d for cid in ids)
    )
    assert not new, f"cgroups left behind: {new}"


def run_args(cd, cid):
    return [*cd.runtime_opts(), "--cgroup", f"{cd.cgroup.path}/{cid}", IMAGE, cid]


# ---------------------------------------------------------------------------


def test_run_echo(ctrd):
    cid = ctrd.new_id()
    proc = ctrd.ctr("run", "--rm", *run_args(ctrd, cid), "echo", "hello-from-containerd")
    assert proc.stdout == "hello-from-containerd\n"
    assert ctrd.ctr("containers", "ls", "-q").stdout.split() == []
    # the runtime's state is gone from the shim's --root
    assert not os.path.exists(os.path.join(ctrd.runc_root, NAMESPACE, cid))


def test_run_exit_code_and_cgroup(ctrd):
    cg = ctrd.cgroup
    cid = ctrd.new_id()
    proc = ctrd.ctr(
        "run",
        "--rm",
        *run_args(ctrd, cid),
        "sh",
        "-c",
        "cat /proc/self/cgroup; echo to-stderr >&2; exit 4",
        check=False,
    )
    assert proc.returncode == 4, proc.stderr
    lines = [ln.split(":", 2) for ln in proc.stdout.splitlines()]
    assert lines
    for _hid, ctrls, path in lines:
        assert path == f"{cg.path}/{cid}", (ctrls, proc.stdout)
    assert "to-stderr" in proc.stderr
    # delete removed the container's cgroup from every hierarchy
    for d in cg.host_dirs():
        assert not os.path.exists(os.path.join(d, cid)), d


def test_detached_exec_pause_kill_delete(ctrd):
    cg = ctrd.cgroup
    cid = ctrd.new_id()
    ctrd.ctr(
        "run",
        "-d",
        *run_args(ctrd, cid),
        "sh",
        "-c",
        'trap "exit 143" TERM; sleep 1000 & wait',
    )
    assert ctrd.task_status(cid) == "RUNNING"
    pid = int(read_file(os.path.join(ctrd.bundle_dir(cid), "init.pid")))
    assert pid_alive(pid)
    assert f"{cg.path}/{cid}" in read_file(f"/proc/{pid}/cgroup")
    # the runtime wrote its state below the shim's --root
    assert os.path.isdir(os.path.join(ctrd.runc_root, NAMESPACE, cid))

    proc = ctrd.ctr(
        "tasks", "exec", "--exec-id", "e1", "--fifo-dir", ctrd.fifo_dir, cid,
        "sh", "-c", "echo exec-ok; exit 6",
        check=False,
    )
    assert proc.returncode == 6, proc.stderr
    assert proc.stdout == "exec-ok\n"

    # `tasks ps` runs `<runtime> ps --format json`
    ps = ctrd.ctr("tasks", "ps", cid).stdout.split()
    assert str(pid) in ps

    ctrd.ctr("tasks", "pause", cid)
    assert ctrd.task_status(cid) == "PAUSED"
    ctrd.ctr("tasks", "resume", cid)
    assert ctrd.task_status(cid) == "RUNNING"

    ctrd.ctr("tasks", "kill", cid)  # SIGTERM
    wait_for(lambda: ctrd.task_status(cid) == "STOPPED", what=f"task {cid} to stop")
    assert not pid_alive(pid)
    proc = ctrd.ctr("tasks", "delete", cid)
    assert "143" in proc.stderr or proc.stderr == ""
    ctrd.ctr("containers", "rm", cid)
    assert ctrd.ctr("tasks", "ls", "-q").stdout.split() == []
    assert not os.path.exists(os.path.join(ctrd.runc_root, NAMESPACE, cid))
    for d in cg.host_dirs():
        assert not os.path.exists(os.path.join(d, cid)), d


def _assert_runtime_message(stderr, what):
    """The shim found the runtime's error in its JSON log: a message that
    could not be parsed out would read 'unable to retrieve OCI runtime
    error' or fall back to the bare 'exit status N'."""
    assert f"OCI runtime {what} failed: " in stderr, stderr
    assert "unable to retrieve OCI runtime error" not in stderr, stderr
    assert "exit status" not in stderr, stderr
    assert "/does-not-exist" in stderr, stderr


def test_runtime_error_reaches_ctr(ctrd):
    """A failed create is reported through the JSON log to the shim and
    on to the client, naming what failed."""
    cid = ctrd.new_id()
    proc = ctrd.ctr("run", "--rm", *run_args(ctrd, cid), "/does-not-exist", check=False)
    assert proc.returncode != 0
    _assert_runtime_message(proc.stderr, "create")
    assert ctrd.ctr("containers", "ls", "-q").stdout.split() == []


def test_runtime_log_is_json(ctrd):
    """The shim runs the runtime with --log <bundle>/log.json --log-format
    json: after a failed exec the log holds JSON lines (level, msg, time),
    the last error being what the client is told."""
    cid = ctrd.new_id()
    ctrd.ctr("run", "-d", *run_args(ctrd, cid), "sleep", "1000")
    proc = ctrd.ctr(
        "tasks", "exec", "--exec-id", "bad", "--fifo-dir", ctrd.fifo_dir, cid,
        "/does-not-exist",
        check=False,
    )
    assert proc.returncode != 0
    _assert_runtime_message(proc.stderr, "exec")
    log = read_file(os.path.join(ctrd.bundle_dir(cid), "log.json"))
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert entries, "the runtime wrote nothing to its --log file"
    for e in entries:
        assert isinstance(e, dict) and {"level", "msg", "time"} <= set(e), e
    errors = [e["msg"] for e in entries if e["level"] == "error"]
    assert errors and errors[-1] in proc.stderr, (errors, proc.stderr)
    # the container is unaffected
    assert ctrd.task_status(cid) == "RUNNING"
    ctrd.ctr("tasks", "kill", "-s", "SIGKILL", cid)
    wait_for(lambda: ctrd.task_status(cid) == "STOPPED", what=f"task {cid} to stop")
    ctrd.ctr("tasks", "delete", cid)
    ctrd.ctr("containers", "rm", cid)


def test_run_with_terminal(ctrd):
    """-t: the shim passes --console-socket and relays the pty."""
    if shutil.which("script") is None:
        pytest.skip("script (util-linux) is not installed")
    cid = ctrd.new_id()
    proc = ctrd.ctr(
        "run", "--rm", "-t", *run_args(ctrd, cid), "sh", "-c", "tty; exit 3",
        check=False, tty=True,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    # script(1) echoes the end of its (empty) input as "^@"
    out = proc.stdout.replace("\r", "").replace("^@", "")
    assert [ln for ln in out.splitlines() if ln] == ["/dev/pts/0"], repr(proc.stdout)
