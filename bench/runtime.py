"""Driver of bench/runtime.sh: latency, peak RSS and density per runtime.

Prints, for cove-runtime, crun and runc (whichever are installed):
  - median wall time of `run` of a /bin/true container (N interleaved runs),
  - median create / start / delete times,
  - peak RSS of the runtime process tree during `run` (wait4's ru_maxrss),
  - density: seconds per container and memory per container to start
    N_DENSITY detached `sleep` containers (memory from MemAvailable).
and the ratios of cove's figures to crun's and runc's.
"""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
N_DENSITY = int(sys.argv[2]) if len(sys.argv) > 2 else 200
RUNTIMES = {
    "cove": os.environ.get("COVE_RUNTIME_BINARY",
                           os.path.join(REPO, "build", "cove-runtime")),
    "crun": shutil.which("crun"),
    "runc": shutil.which("runc"),
}
RUNTIMES = {k: v for k, v in RUNTIMES.items() if v}
CG_PARENT = "/cove-bench-%d" % os.getpid()


def make_bundle(tmp, name, args):
    b = os.path.join(tmp, name)
    os.makedirs(b, exist_ok=True)
    with open(os.path.join(REPO, "build", "busybox-bundle", "config.json")) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": os.path.join(REPO, "build", "busybox-bundle", "rootfs"),
                   "readonly": True}
    cfg["ociVersion"] = "1.0.2-dev"  # crun 1.8 refuses newer versions
    cfg["process"]["args"] = args
    cfg["process"]["terminal"] = False
    cfg["linux"]["cgroupsPath"] = "%s/%s" % (CG_PARENT, name)
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(cfg, f)
    return b


def peak_rss_kib(argv):
    """Peak RSS of a command and its waited-for children, from GNU time.

    Measured through /usr/bin/time rather than from this Python process:
    a child forked from Python starts with Python's resident set, which
    would be counted in its ru_maxrss.
    """
    if not os.path.exists("/usr/bin/time"):
        return 0
    with tempfile.NamedTemporaryFile() as f:
        subprocess.run(["/usr/bin/time", "-o", f.name, "-f", "%M"] + argv,
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        return int(open(f.name).read().split()[-1])


def cgroup_memory_kib(parent):
    try:
        with open("/sys/fs/cgroup/memory%s/memory.usage_in_bytes" % parent) as f:
            return int(f.read()) // 1024
    except OSError:
        return 0


def timed(argv, **kw):
    # stderr goes to a file, never a pipe: a created container's init
    # inherits it and would keep a pipe open until it exits.
    with tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errf,
                             stdin=subprocess.DEVNULL, **kw)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode()
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), p.returncode, err))
    return dt, ru.ru_maxrss


MEM_FIELDS = ("AnonPages", "Slab", "PageTables", "KernelStack", "Percpu", "Shmem")


def mem_used_kib():
    """Kernel and anonymous memory in use (no page cache, which the state
    files and the rootfs reads move up and down)."""
    total = 0
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in MEM_FIELDS:
                total += int(v.split()[0])
    return total


def cleanup_cgroups():
    for ctrl in os.listdir("/sys/fs/cgroup"):
        base = os.path.join("/sys/fs/cgroup", ctrl, CG_PARENT.lstrip("/"))
        if not os.path.isdir(base):
            continue
        for root, dirs, _ in os.walk(base, topdown=False):
            for d in dirs:
                try:
                    os.rmdir(os.path.join(root, d))
                except OSError:
                    pass
        try:
            os.rmdir(base)
        except OSError:
            pass


def main():
    tmp = tempfile.mkdtemp(prefix="cove-bench-")
    res = {k: {"run": [], "rss": [], "create": [], "start": [], "delete": []}
           for k in RUNTIMES}
    try:
        bundles = {k: make_bundle(tmp, "true-" + k, ["/bin/true"]) for k in RUNTIMES}
        roots = {k: os.path.join(tmp, "root-" + k) for k in RUNTIMES}
        # warm-up (page cache, binaries)
        for k, rt in RUNTIMES.items():
            timed([rt, "--root", roots[k], "run", "-b", bundles[k], "warm-" + k])
        # The order rotates every iteration: moving a task into a v1 cgroup
        # waits for an RCU grace period unless another migration happened
        # just before, so a fixed order would favour whoever runs second.
        rng = random.Random(1)
        order = list(RUNTIMES)
        for i in range(N):
            rng.shuffle(order)
            for k in order:
                rt = RUNTIMES[k]
                dt, _ = timed([rt, "--root", roots[k], "run", "-b", bundles[k],
                               "r%d-%s" % (i, k)])
                res[k]["run"].append(dt)
        for i in range(5):
            for k, rt in RUNTIMES.items():
                res[k]["rss"].append(peak_rss_kib(
                    [rt, "--root", roots[k], "run", "-b", bundles[k], "m%d-%s" % (i, k)]))
        for i in range(max(10, N // 4)):
            rng.shuffle(order)
            for k in order:
                rt = RUNTIMES[k]
                cid = "p%d-%s" % (i, k)
                base = [rt, "--root", roots[k]]
                res[k]["create"].append(timed(base + ["create", "-b", bundles[k], cid])[0])
                res[k]["start"].append(timed(base + ["start", cid])[0])
                for _ in range(500):
                    out = subprocess.run(base + ["state", cid], capture_output=True,
                                         text=True, stdin=subprocess.DEVNULL)
                    if '"stopped"' in out.stdout:
                        break
                    time.sleep(0.002)
                res[k]["delete"].append(timed(base + ["delete", cid])[0])

        print("== %d sequential runs of a /bin/true container (median)" % N)
        print("%-6s %9s %9s %9s %9s %10s" % ("", "run ms", "create", "start", "delete", "peak RSS"))
        for k in RUNTIMES:
            r = res[k]
            print("%-6s %9.2f %9.2f %9.2f %9.2f %7d KiB" % (
                k, 1000 * statistics.median(r["run"]), 1000 * statistics.median(r["create"]),
                1000 * statistics.median(r["start"]), 1000 * statistics.median(r["delete"]),
                max(r["rss"])))
        for peer in ("crun", "runc"):
            if peer in res and "cove" in res:
                print("cove/%s: run %.2fx  create %.2fx  start %.2fx  delete %.2fx  peak RSS %.2fx" % (
                    peer,
                    statistics.median(res["cove"]["run"]) / statistics.median(res[peer]["run"]),
                    statistics.median(res["cove"]["create"]) / statistics.median(res[peer]["create"]),
                    statistics.median(res["cove"]["start"]) / statistics.median(res[peer]["start"]),
                    statistics.median(res["cove"]["delete"]) / statistics.median(res[peer]["delete"]),
                    max(res["cove"]["rss"]) / max(res[peer]["rss"])))

        print("== density: %d detached sleep containers" % N_DENSITY)
        dens = {}
        # A discarded warm-up batch: the first batch after a quiet period
        # measures higher system-wide (by about 40 KiB a container here,
        # whichever runtime goes first), so no runtime is measured first.
        for k, rt in [("warmup", RUNTIMES["cove"])] + list(RUNTIMES.items()):
            b = make_bundle(tmp, "sleep-" + k, ["sleep", "1000"])
            with open(os.path.join(b, "config.json")) as f:
                cfg = json.load(f)
            root = os.path.join(tmp, "root-density-" + k)
            ids = []
            parent = "%s/sleep-%s" % (CG_PARENT, k)
            before = mem_used_kib()
            t0 = time.perf_counter()
            try:
                for i in range(N_DENSITY):
                    cid = "d%d" % i
                    cfg["linux"]["cgroupsPath"] = "%s/sleep-%s/%s" % (CG_PARENT, k, cid)
                    with open(os.path.join(b, "config.json"), "w") as f:
                        json.dump(cfg, f)
                    subprocess.run([rt, "--root", root, "run", "-d", "-b", b, cid],
                                   check=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL)
                    ids.append(cid)
                total = time.perf_counter() - t0
                time.sleep(1)
                used = mem_used_kib() - before
                cg_used = sum(cgroup_memory_kib("%s/d%d" % (parent, i))
                              for i in range(N_DENSITY))
                dens[k] = (total, cg_used, used)
                if k == "warmup":
                    continue
                print("%-6s %.2f s total, %.2f ms per container; memory per container: "
                      "%d KiB charged to its cgroup, %d KiB system-wide (anon+slab+"
                      "page tables+stacks+percpu+shmem)" % (
                          k, total, 1000 * total / N_DENSITY, cg_used / N_DENSITY,
                          used / N_DENSITY))
            finally:
                for cid in ids:
                    subprocess.run([rt, "--root", root, "delete", "-f", cid],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for peer in ("crun", "runc"):
            if peer in dens and "cove" in dens:
                print("cove/%s density: time %.2fx  memory %.2fx (cgroup) %.2fx (system-wide)" % (
                    peer, dens["cove"][0] / dens[peer][0],
                    dens["cove"][1] / max(1, dens[peer][1]),
                    dens["cove"][2] / max(1, dens[peer][2])))
    finally:
        cleanup_cgroups()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
