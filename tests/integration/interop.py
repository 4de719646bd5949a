"""Helpers shared by the tests that drive the runtime through other
programs (podman, containerd): reaping the daemons those programs leave
behind, and cgroup parents made up front."""

import ctypes
import os
import time

from conftest import cgroup_mounts, read_file

PR_SET_CHILD_SUBREAPER = 36


def _set_subreaper(on):
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) == 0


def _zombie_children():
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == me:
            found.append(int(name))
    return found


class ChildReaper:
    """Makes the test process the subreaper of what it starts indirectly.

    conmon and containerd shims daemonize: once the program that started
    them exits they are orphans, and pid 1 of this machine does not reap
    them.  While a ChildReaper is open they are reparented to the test
    process instead, and reap() collects the ones that have exited.  Only
    zombies are waited for, by pid, so subprocess objects that are still
    running are not affected."""

    def __init__(self):
        self.active = _set_subreaper(True)

    def reap(self, timeout=0.0):
        deadline = time.monotonic() + timeout
        while True:
            for pid in _zombie_children():
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    def close(self):
        self.reap()
        if self.active:
            _set_subreaper(False)
            self.active = False


def make_cgroup_parent(path):
    """Create path in every cgroup hierarchy (a v1 cpuset level gets its
    parent's cpus and mems, without which it accepts no task).  Made up
    front so that a concurrent session removing an empty /cove-test cannot
    pull it from under the program that creates cgroups below it."""
    parts = path.strip("/").split("/")
    for mountpoint, _fstype, opts in cgroup_mounts():
        for attempt in range(20):
            try:
                cur = mountpoint
                for part in parts:
                    parent, cur = cur, f"{cur}/{part}"
                    try:
                        os.mkdir(cur)
                    except FileExistsError:
                        pass
                    if "cpuset" in opts:
                        for f in ("cpuset.cpus", "cpuset.mems"):
                            if not read_file(f"{cur}/{f}", "").strip():
                                with open(f"{cur}/{f}", "w") as fh:
                                    fh.write(read_file(f"{parent}/{f}"))
                break
            except FileNotFoundError:
                time.sleep(0.01 * (attempt + 1))
        else:
            raise RuntimeError(f"cannot create cgroup {mountpoint}{path}")
