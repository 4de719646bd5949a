"""Driver of bench/engine.sh: cove vs podman, latency and density.

Prints, for cove and podman (Debian's, with crun as its runtime):
  - the median wall time of `run --rm --network none localhost/busybox
    true` over N_RUNS runs in a rotating order, and peak RSS (GNU time),
  - density: seconds to start N_DENSITY detached `sleep 3600` containers
    one after the other, and memory per container including its monitor
    (cove's monitor process, podman's conmon), system-wide from
    /proc/meminfo and as the PSS and RSS of the monitor processes, then
    the monitors' own memory (PSS, page tables, kernel stack) and what a
    container costs without it (kernel namespaces, cgroups, mounts, the
    `sleep`),
    then the time to remove them all and a check that their cgroups are gone,
and the ratios of cove's figures to podman's.

Each engine has its own storage in a temporary directory (podman: --root,
--runroot, --tmpdir, a containers.conf with file locks, so neither the
machine's podman state nor its /dev/shm lock table is touched); both use
the same --cgroup-parent /cove-bench/$COVE_BENCH_ID.
"""
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime import mem_used_kib, peak_rss_kib, timed  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COVE = os.environ.get("COVE_BINARY", os.path.join(REPO, "build", "cove"))
PODMAN = shutil.which("podman")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
N_DENSITY = int(sys.argv[2]) if len(sys.argv) > 2 else 500
BENCH_ID = os.environ.get("COVE_BENCH_ID", str(os.getpid()))
CG = "/cove-bench/%s" % BENCH_ID
IMAGE = "localhost/busybox"
ARCHIVE = os.path.join(REPO, "build", "busybox-oci.tar")
CG_ROOT = "/sys/fs/cgroup"


def ulimit_args():
    """podman asks for nofile 1048576 and a large nproc by default, which
    crun cannot set above this machine's hard limits: ask both engines for
    the same limits, within the hard ones."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    if nofile == resource.RLIM_INFINITY:
        nofile = 1048576
    if nproc == resource.RLIM_INFINITY:
        nproc = 4096
    nproc = min(nproc, 4096)
    return ["--ulimit", "nofile=%d:%d" % (min(1024, nofile), nofile),
            "--ulimit", "nproc=%d:%d" % (nproc, nproc)]


def engines(tmp):
    cove = [COVE, "--root", os.path.join(tmp, "cove-root"),
            "--runroot", os.path.join(tmp, "cove-run")]
    ptmp = os.path.join(tmp, "podman-tmp")
    conf = os.path.join(tmp, "containers.conf")
    with open(conf, "w") as f:
        f.write('[containers]\nlog_driver = "k8s-file"\n'
                '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\n'
                'lock_type = "file"\nruntime = "crun"\ntmp_dir = "%s"\n' % ptmp)
    storage = os.path.join(tmp, "storage.conf")
    with open(storage, "w") as f:
        f.write('[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' % (
            os.path.join(tmp, "podman-root"), os.path.join(tmp, "podman-run")))
    os.environ["CONTAINERS_CONF"] = conf
    os.environ["CONTAINERS_STORAGE_CONF"] = storage
    podman = [PODMAN, "--root", os.path.join(tmp, "podman-root"),
              "--runroot", os.path.join(tmp, "podman-run"),
              "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs",
              "--events-backend", "none", "--runtime", "crun", "--tmpdir", ptmp]
    return {"cove": cove, "podman": podman}


def run_args():
    return ["run", "--network", "none", "--cgroup-parent", CG] + ulimit_args()


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def used_kib():
    """(anon+slab+page tables+stacks+percpu+shmem, MemTotal-MemAvailable)"""
    m = meminfo()
    return mem_used_kib(), m["MemTotal"] - m["MemAvailable"]


def proc_cgroup(pid, controller="pids"):
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if controller in ctrls.split(","):
                    return path
    except OSError:
        pass
    return None


def monitors(with_ctrs=False):
    """The monitor processes: the parents of the `sleep` processes in a
    container cgroup under CG (podman puts conmon itself in CG/conmon);
    with @with_ctrs, (monitors, sleeps)."""
    mons = set()
    ctrs = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        path = proc_cgroup(pid)
        if not path or not path.startswith(CG + "/") or path.startswith(CG + "/conmon"):
            continue
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if comm == "sleep":
            mons.add(int(stat[stat.rindex(")") + 2:].split()[1]))
            ctrs.add(pid)
    return (mons, ctrs) if with_ctrs else mons


def kernel_kib(pid):
    """A process's page tables and kernel stacks (16 KiB a thread on
    x86-64), which PSS leaves out."""
    pte = threads = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmPTE:"):
                    pte = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
    except OSError:
        pass
    return pte + 16 * threads


def smaps_kib(pid):
    pss = rss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def cgroup_usage_kib():
    try:
        with open(os.path.join(CG_ROOT, "memory", CG.lstrip("/"), "memory.usage_in_bytes")) as f:
            return int(f.read()) // 1024
    except OSError:
        return 0


def leftover_cgroups():
    """Cgroups still under CG, but podman's CG/conmon (shared by all its
    conmons, which podman never removes)."""
    left = []
    for ctrl in sorted(os.listdir(CG_ROOT)):
        base = os.path.join(CG_ROOT, ctrl, CG.lstrip("/"))
        if not os.path.isdir(base) or not os.path.ismount(os.path.join(CG_ROOT, ctrl)):
            continue
        for d in os.listdir(base):
            if d != "conmon" and os.path.isdir(os.path.join(base, d)):
                left.append("%s:%s/%s" % (ctrl, CG, d))
    return left


def remove_cgroups():
    for ctrl in os.listdir(CG_ROOT):
        base = os.path.join(CG_ROOT, ctrl, CG.lstrip("/"))
        if not os.path.isdir(base):
            continue
        if not os.path.ismount(os.path.join(CG_ROOT, ctrl)):
            # The hidden cgroup2 mount point: a plain tmpfs directory, in
            # which crun still makes directories and cgroup.procs files.
            shutil.rmtree(base, ignore_errors=True)
            try:
                os.rmdir(os.path.dirname(base))
            except OSError:
                pass
            continue
        for root, dirs, _ in os.walk(base, topdown=False):
            for d in dirs:
                try:
                    os.rmdir(os.path.join(root, d))
                except OSError:
                    pass
        for d in (base, os.path.dirname(base)):  # .../cove-bench too, when empty
            try:
                os.rmdir(d)
            except OSError:
                pass


def remove_all(eng, base):
    if eng == "cove":
        ids = subprocess.run(base + ["ps", "-aq"], capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(base + ["rm", "-f"] + ids, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    else:
        subprocess.run(base + ["rm", "-a", "-f", "-t", "0"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def rm_args(eng, names):
    return ["rm", "-f"] + names if eng == "cove" else ["rm", "-f", "-t", "0"] + names


def density(eng, base, k, tag):
    """Start k detached sleep containers, measure, remove them; returns a
    dict of figures (n is how many started)."""
    names = []
    err = None
    before = used_kib()
    t0 = time.perf_counter()
    for i in range(k):
        name = "%s-%s-%d" % (tag, eng, i)
        try:
            timed(base + run_args() + ["-d", "--name", name, IMAGE, "sleep", "3600"])
        except RuntimeError as e:
            err = str(e).strip()
            break
        names.append(name)
    total = time.perf_counter() - t0
    time.sleep(2)
    after = used_kib()
    mons, ctrs = monitors(with_ctrs=True)
    sm = [smaps_kib(p) for p in mons]
    # the user-space memory of a container, its monitor included: the
    # proportional share (PSS) of the monitor and the container's process
    user_pss = sum(s[0] for s in sm) + sum(smaps_kib(p)[0] for p in ctrs)
    res = {"n": len(names), "time": total, "err": err,
           "sys": after[0] - before[0], "avail": after[1] - before[1],
           "cg": cgroup_usage_kib(), "mons": len(mons),
           "pss": sum(s[0] for s in sm), "rss": sum(s[1] for s in sm),
           "user_pss": user_pss,
           "mon_kib": sum(s[0] for s in sm) + sum(kernel_kib(p) for p in mons)}
    # rm -f in batches of 100 names (each podman container exit also
    # starts a `podman container cleanup`); timed together.
    t0 = time.perf_counter()
    if names:
        for i in range(0, len(names), 100):
            try:
                timed(base + rm_args(eng, names[i:i + 100]))
            except RuntimeError as e:
                print("%s rm: %s" % (eng, e), flush=True)
    res["rm"] = time.perf_counter() - t0
    left = leftover_cgroups()
    for _ in range(50):
        if not left and not monitors():
            break
        time.sleep(0.1)
        left = leftover_cgroups()
    res["left"] = left
    res["conmon_cg"] = os.path.isdir(os.path.join(CG_ROOT, "pids", CG.lstrip("/"), "conmon"))
    res["mons_after"] = len(monitors())
    return res


def ms(v):
    return 1000 * v


def main():
    if not PODMAN:
        raise SystemExit("bench/engine: podman is not installed (apt-get install podman)")
    tmp = tempfile.mkdtemp(prefix="cove-bench-engine-",
                           dir=os.environ.get("COVE_BENCH_TMP", "/var/tmp"))
    eng = engines(tmp)
    try:
        for k, base in eng.items():
            timed(base + ["load", "-i", ARCHIVE])
        true_cmd = {k: base + run_args() + ["--rm", IMAGE, "true"] for k, base in eng.items()}
        for _ in range(3):  # warm-up (page cache, binaries, storage)
            for k in eng:
                timed(true_cmd[k])
        lat = {k: [] for k in eng}
        # The order rotates (as in bench/runtime.py): the first cgroup move
        # after a quiet period waits for an RCU grace period.
        rng = random.Random(1)
        order = list(eng)
        for _ in range(N):
            rng.shuffle(order)
            for k in order:
                lat[k].append(timed(true_cmd[k])[0])
        rss = {k: max(peak_rss_kib(true_cmd[k]) for _ in range(3)) for k in eng}

        print("== %d runs of `run --rm --network none %s true`, rotating order (ms)" % (N, IMAGE))
        print("%-7s %8s %8s %8s %8s %11s" % ("", "median", "min", "p90", "mean", "peak RSS"))
        for k in eng:
            v = sorted(lat[k])
            print("%-7s %8.2f %8.2f %8.2f %8.2f %7d KiB" % (
                k, ms(statistics.median(v)), ms(v[0]), ms(v[int(0.9 * (len(v) - 1))]),
                ms(statistics.mean(v)), rss[k]))
        ratio = statistics.median(lat["cove"]) / statistics.median(lat["podman"])
        print("cove/podman: run %.2fx (target <= 0.20x)  peak RSS %.2fx" % (
            ratio, rss["cove"] / rss["podman"]), flush=True)

        print("== density: %d detached `sleep 3600` containers, --network none" % N_DENSITY)
        # A discarded warm-up batch of each: the first batch after a quiet
        # period measures higher system-wide (see bench/runtime.py).
        for k in eng:
            density(k, eng[k], min(N_DENSITY, 100), "warm")
        dens = {}
        for k in eng:
            r = density(k, eng[k], N_DENSITY, "d")
            dens[k] = r
            n = max(1, r["n"])
            if r["err"]:
                print("%s: stopped after %d containers: %s" % (k, r["n"], r["err"]))
            print("%-7s %6.2f s total, %6.2f ms per container; rm -f of all: %.2f s" % (
                k, r["time"], ms(r["time"]) / n, r["rm"]))
            print("%-7s memory per container: %d KiB system-wide (anon+slab+page tables+"
                  "stacks+percpu+shmem), %d KiB MemTotal-MemAvailable" % (
                      "", r["sys"] / n, r["avail"] / n))
            print("%-7s monitor: %d processes, PSS %d KiB, RSS %d KiB each; "
                  "%d KiB per container charged to %s" % (
                      "", r["mons"], r["pss"] / max(1, r["mons"]), r["rss"] / max(1, r["mons"]),
                      r["cg"] / n, CG))
            print("%-7s monitor with its page tables and kernel stack: %d KiB each; "
                  "processes (container + monitor): PSS %d KiB per container" % (
                      "", r["mon_kib"] / max(1, r["mons"]), r["user_pss"] / n))
            print("%-7s after rm: %d container cgroups left%s, %d monitors left%s" % (
                "", len(r["left"]), (" (" + " ".join(r["left"][:4]) + ")") if r["left"] else "",
                r["mons_after"],
                "; podman keeps its shared %s/conmon (removed at exit)" % CG
                if k == "podman" and r["conmon_cg"] else ""), flush=True)
        c, p = dens["cove"], dens["podman"]
        cn, pn = max(1, c["n"]), max(1, p["n"])
        print("cove/podman density: time %.2fx  memory %.2fx (system-wide) %.2fx "
              "(MemAvailable)  monitor PSS %.2fx" % (
                  (c["time"] / cn) / (p["time"] / pn), (c["sys"] / cn) / max(1, p["sys"] / pn),
                  (c["avail"] / cn) / max(1, p["avail"] / pn),
                  (c["pss"] / max(1, c["mons"])) / max(1, p["pss"] / max(1, p["mons"]))))
        print("cove/podman processes per container (container + monitor, PSS): %.2fx "
              "(target <= 0.5x)" % ((c["user_pss"] / cn) / max(1, p["user_pss"] / pn)))
        # The monitor's own memory against the rest: the container's
        # process and the kernel's namespaces, cgroups and mounts, which
        # are alike for both engines and set a floor under the ratio of
        # the totals.
        print("cove/podman monitor alone (PSS + page tables + kernel stack): %.2fx" % (
            (c["mon_kib"] / max(1, c["mons"])) / max(1, p["mon_kib"] / max(1, p["mons"]))))
        print("without its monitor a container costs cove %d KiB, podman %d KiB system-wide; "
              "half of podman's total is %d KiB" % (
                  c["sys"] / cn - c["mon_kib"] / max(1, c["mons"]),
                  p["sys"] / pn - p["mon_kib"] / max(1, p["mons"]), p["sys"] / pn / 2))
    finally:
        for k, base in eng.items():
            remove_all(k, base)
        subprocess.run(["sh", "-c", "grep -o ' %s[^ ]*' /proc/self/mountinfo | sort -r | "
                        "xargs -r -n1 umount -l" % tmp])
        shutil.rmtree(tmp, ignore_errors=True)
        remove_cgroups()


if __name__ == "__main__":
    main()
