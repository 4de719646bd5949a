/*
 * Unit tests of the cgroup module: linux.resources parsing, path checks,
 * layout detection, and both backends against fake cgroupfs trees in a
 * temporary directory (populated through the mkdir seam with the files the
 * kernel would create).  The device eBPF program is checked with a tiny
 * interpreter, and loaded for real into a scratch cgroup of the host's
 * cgroup2 mount when there is one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/magic.h>

#include "runtime/cgroup-internal.h"
#include "runtime/cgroup.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

/* ---- helpers ---------------------------------------------------------- */

static char g_root[64];
static enum cove_cgroup_mode g_mode;

static void put(const char *dir, const char *file, const char *content)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(cove_write_all(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	close(fd);
}

/* Contents of @dir/@file without trailing newlines (caller frees). */
static char *get(const char *dir, const char *file)
{
	char p[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	if (cove_read_file(p, 1 << 20, &buf, &len) < 0)
		return NULL;
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return buf;
}

static void assert_file(const char *dir, const char *file, const char *want)
{
	char *got = get(dir, file);

	if (!got)
		fail_msg("%s/%s is missing", dir, file);
	if (strcmp(got, want))
		fail_msg("%s/%s is '%s', expected '%s'", dir, file, got, want);
	free(got);
}

static bool dir_exists(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static bool dir_exists(const char *fmt, ...)
{
	char p[PATH_MAX];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *path_of(const char *a, const char *b)
{
	char *p = cove_strdup_printf("%s%s", a, b);
	assert_non_null(p);
	return p;
}

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

/* Children started by the tests, killed in teardown if a test failed. */
static pid_t g_children[8];

/* A child that sleeps until killed: a safe pid for fake cgroup.procs. */
static pid_t sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	for (size_t i = 0; i < ARRAY_SIZE(g_children); i++) {
		if (!g_children[i]) {
			g_children[i] = pid;
			break;
		}
	}
	return pid;
}

static void kill_children(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(g_children); i++) {
		if (g_children[i]) {
			kill(g_children[i], SIGKILL);
			waitpid(g_children[i], NULL, 0);
			g_children[i] = 0;
		}
	}
}

static void reap(pid_t pid, int want_signal)
{
	int status = 0;

	for (size_t i = 0; i < ARRAY_SIZE(g_children); i++)
		if (g_children[i] == pid)
			g_children[i] = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (want_signal) {
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), want_signal);
	}
}

/* ---- resources parsing ------------------------------------------------ */

static const char *full_resources =
    "{"
    " \"memory\": {\"limit\": 104857600, \"reservation\": 52428800,"
    "   \"swap\": 209715200, \"kernel\": -1, \"kernelTCP\": 1000000,"
    "   \"swappiness\": 10, \"disableOOMKiller\": true,"
    "   \"useHierarchy\": true, \"checkBeforeUpdate\": true},"
    " \"cpu\": {\"shares\": 1024, \"quota\": 50000, \"burst\": 1000,"
    "   \"period\": 100000, \"realtimeRuntime\": 950000,"
    "   \"realtimePeriod\": 1000000, \"cpus\": \"0-1,3\","
    "   \"mems\": \"0\", \"idle\": 1},"
    " \"pids\": {\"limit\": 100},"
    " \"blockIO\": {\"weight\": 500, \"leafWeight\": 300,"
    "   \"weightDevice\": [{\"major\": 8, \"minor\": 0, \"weight\": 600,"
    "     \"leafWeight\": 20}],"
    "   \"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0,"
    "     \"rate\": 1000}],"
    "   \"throttleWriteIOPSDevice\": [{\"major\": 8, \"minor\": 16,"
    "     \"rate\": 30}]},"
    " \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 4194304}],"
    " \"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
    "   {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3,"
    "    \"access\": \"wr\"},"
    "   {\"allow\": true, \"type\": \"b\", \"major\": 8}],"
    " \"network\": {\"classID\": 1048577, \"priorities\": ["
    "   {\"name\": \"eth0\", \"priority\": 5}]},"
    " \"unified\": {\"memory.high\": \"90000000\"}"
    "}";

static void test_parse_full(void **state)
{
	_cleanup_json_ json_t *j = load(full_resources);
	struct cove_cgroup_resources res;
	struct cove_error err = {0};

	assert_int_equal(
	    cove_cgroup_resources_parse(j, "linux.resources", &res, &err), 0);
	assert_true(res.has_mem_limit);
	assert_int_equal(res.mem_limit, 104857600);
	assert_int_equal(res.mem_reservation, 52428800);
	assert_int_equal(res.mem_swap, 209715200);
	assert_true(res.has_mem_kernel);
	assert_int_equal(res.mem_kernel, -1);
	assert_int_equal(res.mem_kernel_tcp, 1000000);
	assert_int_equal(res.mem_swappiness, 10);
	assert_true(res.mem_disable_oom_killer &&
		    res.has_mem_disable_oom_killer);
	assert_true(res.mem_use_hierarchy && res.has_mem_use_hierarchy);
	assert_true(res.mem_check_before_update);
	assert_int_equal(res.cpu_shares, 1024);
	assert_int_equal(res.cpu_quota, 50000);
	assert_int_equal(res.cpu_burst, 1000);
	assert_int_equal(res.cpu_period, 100000);
	assert_int_equal(res.cpu_realtime_runtime, 950000);
	assert_int_equal(res.cpu_realtime_period, 1000000);
	assert_string_equal(res.cpu_cpus, "0-1,3");
	assert_string_equal(res.cpu_mems, "0");
	assert_true(res.has_cpu_idle);
	assert_int_equal(res.cpu_idle, 1);
	assert_true(res.has_pids_limit);
	assert_int_equal(res.pids_limit, 100);
	assert_int_equal(res.blkio_weight, 500);
	assert_int_equal(res.blkio_leaf_weight, 300);
	assert_int_equal(res.n_blkio_weight_device, 1);
	assert_int_equal(res.blkio_weight_device[0].major, 8);
	assert_int_equal(res.blkio_weight_device[0].weight, 600);
	assert_true(res.blkio_weight_device[0].has_leaf_weight);
	assert_int_equal(res.n_throttle[0], 1);
	assert_int_equal(res.throttle[0][0].rate, 1000);
	assert_int_equal(res.n_throttle[1], 0);
	assert_int_equal(res.n_throttle[3], 1);
	assert_int_equal(res.throttle[3][0].minor, 16);
	assert_int_equal(res.n_hugepages, 1);
	assert_string_equal(res.hugepages[0].page_size, "2MB");
	assert_int_equal(res.hugepages[0].limit, 4194304);
	assert_int_equal(res.n_devices, 3);
	assert_false(res.devices[0].allow);
	assert_int_equal(res.devices[0].type, 'a');
	assert_int_equal(res.devices[0].major, -1);
	assert_int_equal(res.devices[0].minor, -1);
	assert_string_equal(res.devices[1].access, "rw");
	assert_int_equal(res.devices[2].type, 'b');
	assert_int_equal(res.devices[2].minor, -1);
	assert_string_equal(res.devices[2].access, "rwm");
	assert_true(res.has_net_class_id);
	assert_int_equal(res.net_class_id, 1048577);
	assert_non_null(res.net_priorities);
	assert_non_null(res.unified);
	assert_false(cove_cgroup_resources_empty(&res));
	cove_cgroup_resources_release(&res);
	assert_true(cove_cgroup_resources_empty(&res));
}

static void test_parse_empty_and_zero(void **state)
{
	_cleanup_json_ json_t *j =
	    load("{\"memory\": {\"limit\": 0, \"swap\": 0}, \"cpu\": "
		 "{\"shares\": 0, \"quota\": 0, \"period\": 0}, \"pids\": "
		 "{\"limit\": 0}, \"rdma\": {}, \"unified\": {}}");
	struct cove_cgroup_resources res;
	struct cove_error err = {0};

	assert_int_equal(cove_cgroup_resources_parse(NULL, NULL, &res, &err),
			 0);
	assert_true(cove_cgroup_resources_empty(&res));
	/* zero means "not set", as in runc */
	assert_int_equal(
	    cove_cgroup_resources_parse(j, "linux.resources", &res, &err), 0);
	assert_true(cove_cgroup_resources_empty(&res));
	cove_cgroup_resources_release(&res);
	assert_true(cove_cgroup_resources_empty(NULL));
}

static void test_parse_invalid(void **state)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
	    {"[]", "invalid 'linux.resources': expected an object"},
	    {"{\"memory\": 5}",
	     "invalid 'linux.resources.memory': expected an object"},
	    {"{\"memory\": {\"limit\": -2}}",
	     "invalid 'linux.resources.memory.limit': must be -1"},
	    {"{\"memory\": {\"limit\": \"1G\"}}",
	     "invalid 'linux.resources.memory.limit': expected an "
	     "integer"},
	    {"{\"memory\": {\"reservation\": -5}}",
	     "invalid 'linux.resources.memory.reservation'"},
	    {"{\"memory\": {\"swap\": -3}}",
	     "invalid 'linux.resources.memory.swap'"},
	    {"{\"memory\": {\"limit\": 2000, \"swap\": 1000}}",
	     "invalid 'linux.resources.memory.swap': must be >= "
	     "'linux.resources.memory.limit'"},
	    {"{\"memory\": {\"kernel\": -7}}",
	     "invalid 'linux.resources.memory.kernel'"},
	    {"{\"memory\": {\"kernelTCP\": -7}}",
	     "invalid 'linux.resources.memory.kernelTCP'"},
	    {"{\"memory\": {\"swappiness\": 101}}",
	     "invalid 'linux.resources.memory.swappiness': must be "
	     "between 0 and 100"},
	    {"{\"memory\": {\"swappiness\": -1}}",
	     "invalid 'linux.resources.memory.swappiness': expected an "
	     "unsigned integer"},
	    {"{\"memory\": {\"disableOOMKiller\": 1}}",
	     "invalid 'linux.resources.memory.disableOOMKiller': expected "
	     "a boolean"},
	    {"{\"memory\": {\"useHierarchy\": \"yes\"}}",
	     "invalid 'linux.resources.memory.useHierarchy'"},
	    {"{\"memory\": {\"checkBeforeUpdate\": 0}}",
	     "invalid 'linux.resources.memory.checkBeforeUpdate'"},
	    {"{\"cpu\": {\"shares\": 1}}",
	     "invalid 'linux.resources.cpu.shares': must be between 2 "
	     "and 262144"},
	    {"{\"cpu\": {\"shares\": 300000}}",
	     "invalid 'linux.resources.cpu.shares'"},
	    {"{\"cpu\": {\"quota\": 999}}",
	     "invalid 'linux.resources.cpu.quota': must be -1"},
	    {"{\"cpu\": {\"period\": 100}}",
	     "invalid 'linux.resources.cpu.period': must be between 1000 "
	     "and 1000000"},
	    {"{\"cpu\": {\"burst\": -1}}",
	     "invalid 'linux.resources.cpu.burst'"},
	    {"{\"cpu\": {\"realtimeRuntime\": -2}}",
	     "invalid 'linux.resources.cpu.realtimeRuntime'"},
	    {"{\"cpu\": {\"realtimePeriod\": -2}}",
	     "invalid 'linux.resources.cpu.realtimePeriod'"},
	    {"{\"cpu\": {\"cpus\": \"0-\"}}",
	     "invalid 'linux.resources.cpu.cpus': '0-' is not a list"},
	    {"{\"cpu\": {\"mems\": \"a\"}}",
	     "invalid 'linux.resources.cpu.mems'"},
	    {"{\"cpu\": {\"idle\": 2}}",
	     "invalid 'linux.resources.cpu.idle': must be 0 or 1"},
	    {"{\"pids\": {\"limit\": \"x\"}}",
	     "invalid 'linux.resources.pids.limit'"},
	    {"{\"blockIO\": {\"weight\": 5}}",
	     "invalid 'linux.resources.blockIO.weight': must be between "
	     "10 and 1000"},
	    {"{\"blockIO\": {\"weight\": 1001}}",
	     "invalid 'linux.resources.blockIO.weight': must be between "
	     "10 and 1000"},
	    {"{\"blockIO\": {\"leafWeight\": 2000}}",
	     "invalid 'linux.resources.blockIO.leafWeight'"},
	    {"{\"blockIO\": {\"weightDevice\": [{\"major\": 8, \"minor\": "
	     "0, \"weight\": 1}]}}",
	     "invalid 'linux.resources.blockIO.weightDevice[0].weight'"},
	    {"{\"blockIO\": {\"weightDevice\": [{\"minor\": 0}]}}",
	     "missing 'linux.resources.blockIO.weightDevice[0].major'"},
	    {"{\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\": 8, "
	     "\"minor\": 0}]}}",
	     "missing "
	     "'linux.resources.blockIO.throttleReadBpsDevice[0].rate'"},
	    {"{\"blockIO\": {\"throttleWriteBpsDevice\": [{\"major\": -1, "
	     "\"minor\": 0, \"rate\": 1}]}}",
	     "invalid "
	     "'linux.resources.blockIO.throttleWriteBpsDevice[0].major'"},
	    {"{\"blockIO\": {\"throttleReadIOPSDevice\": 3}}",
	     "invalid 'linux.resources.blockIO.throttleReadIOPSDevice': "
	     "expected an array"},
	    {"{\"blockIO\": {\"throttleWriteIOPSDevice\": [{\"major\": 8, "
	     "\"minor\": 0, \"rate\": -1}]}}",
	     "invalid "
	     "'linux.resources.blockIO.throttleWriteIOPSDevice[0].rate'"},
	    {"{\"hugepageLimits\": [{\"pageSize\": \"2MB\"}]}",
	     "missing 'linux.resources.hugepageLimits[0].limit'"},
	    {"{\"hugepageLimits\": [{\"pageSize\": \"../2MB\", \"limit\": "
	     "1}]}",
	     "invalid 'linux.resources.hugepageLimits[0].pageSize'"},
	    {"{\"hugepageLimits\": [{\"limit\": 1}]}",
	     "missing 'linux.resources.hugepageLimits[0].pageSize'"},
	    {"{\"devices\": [{\"allow\": true, \"type\": \"x\"}]}",
	     "invalid 'linux.resources.devices[0].type'"},
	    {"{\"devices\": [{\"type\": \"c\"}]}",
	     "missing 'linux.resources.devices[0].allow'"},
	    {"{\"devices\": [{\"allow\": true}, {\"allow\": true, "
	     "\"access\": \"rx\"}]}",
	     "invalid 'linux.resources.devices[1].access'"},
	    {"{\"devices\": [{\"allow\": true, \"access\": \"rr\"}]}",
	     "invalid 'linux.resources.devices[0].access'"},
	    {"{\"devices\": [{\"allow\": true, \"major\": -5}]}",
	     "invalid 'linux.resources.devices[0].major'"},
	    {"{\"devices\": [{\"allow\": true, \"minor\": 4294967296}]}",
	     "invalid 'linux.resources.devices[0].minor'"},
	    {"{\"network\": {\"classID\": -1}}",
	     "invalid 'linux.resources.network.classID'"},
	    {"{\"network\": {\"priorities\": [{\"name\": \"eth0\"}]}}",
	     "missing 'linux.resources.network.priorities[0].priority'"},
	    {"{\"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3}}}",
	     "invalid 'linux.resources.rdma': rdma limits are not "
	     "supported"},
	    {"{\"unified\": {\"../memory.max\": \"1\"}}",
	     "invalid 'linux.resources.unified': key '../memory.max'"},
	    {"{\"unified\": {\"memory/max\": \"1\"}}",
	     "invalid 'linux.resources.unified': key 'memory/max'"},
	    {"{\"unified\": {\"cgroup.procs\": \"1\"}}",
	     "invalid 'linux.resources.unified': key 'cgroup.procs' may "
	     "not be set"},
	    {"{\"unified\": {\"memory.high\": 5}}",
	     "invalid 'linux.resources.unified.memory.high': expected a "
	     "string"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_json_ json_t *j = load(cases[i].json);
		struct cove_cgroup_resources res;
		struct cove_error err = {0};
		int r = cove_cgroup_resources_parse(j, "linux.resources", &res,
						    &err);
		if (r >= 0)
			fail_msg("case %zu (%s) parsed", i, cases[i].json);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: '%s' does not contain '%s'", i,
				 err.msg, cases[i].msg);
		/* released on failure: nothing to free, still safe */
		assert_true(cove_cgroup_resources_empty(&res));
		cove_cgroup_resources_release(&res);
	}
}

static void test_path_check(void **state)
{
	static const char *const good[] = {"/a", "/cove-test/run1/ctr",
					   "/a.b/..c/c..", "/machine.slice"};
	static const char *const bad[] = {"",	 "a/b",	  "/",	    "/a/",
					  "//a", "/a//b", "/a/./b", "/a/../b",
					  "/..", "/a/..", "/.",	    "/a\nb"};
	struct cove_error err = {0};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_int_equal(cove_cgroup_path_check(good[i], NULL, &err),
				 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (cove_cgroup_path_check(bad[i], "linux.cgroupsPath", &err) >=
		    0)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(strstr(err.msg, "'linux.cgroupsPath'"));
	}
	assert_int_equal(cove_cgroup_path_check(NULL, NULL, &err), -EINVAL);
}

/* ---- fake trees ------------------------------------------------------- */

static void fake_v2_files(const char *dir)
{
	put(dir, "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
	put(dir, "cgroup.subtree_control", "");
	put(dir, "cgroup.procs", "");
	put(dir, "cgroup.events", "populated 0\nfrozen 0\n");
	put(dir, "cgroup.freeze", "0\n");
	put(dir, "memory.max", "max\n");
	put(dir, "memory.low", "0\n");
	put(dir, "memory.high", "max\n");
	put(dir, "memory.swap.max", "max\n");
	put(dir, "memory.swap.current", "100\n");
	put(dir, "memory.current", "12345\n");
	put(dir, "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 3\n");
	put(dir, "memory.stat", "anon 1000\nfile 2000\n");
	put(dir, "cpu.weight", "100\n");
	put(dir, "cpu.max", "max 100000\n");
	put(dir, "cpu.max.burst", "0\n");
	put(dir, "cpu.idle", "0\n");
	put(dir, "cpu.stat",
	    "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 7\n"
	    "nr_throttled 2\nthrottled_usec 5\n");
	put(dir, "cpuset.cpus", "");
	put(dir, "cpuset.mems", "");
	put(dir, "pids.max", "max\n");
	put(dir, "pids.current", "1\n");
	put(dir, "io.weight", "default 100\n");
	put(dir, "io.max", "");
	put(dir, "io.stat",
	    "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
	put(dir, "hugetlb.2MB.max", "max\n");
	put(dir, "hugetlb.2MB.current", "0\n");
	put(dir, "hugetlb.2MB.events", "max 0\n");
}

/* The unified hierarchy of a hybrid host: only hugetlb lives there. */
static void fake_unified_files(const char *dir)
{
	put(dir, "cgroup.controllers", "hugetlb\n");
	put(dir, "cgroup.subtree_control", "");
	put(dir, "cgroup.procs", "");
	put(dir, "cgroup.events", "populated 0\nfrozen 0\n");
	put(dir, "cgroup.freeze", "0\n");
	put(dir, "hugetlb.2MB.max", "max\n");
	put(dir, "hugetlb.2MB.current", "2097152\n");
	put(dir, "hugetlb.2MB.events", "max 0\n");
}

static void fake_v1_files(const char *ctrl, const char *dir)
{
	put(dir, "cgroup.procs", "");
	put(dir, "tasks", "");
	if (!strcmp(ctrl, "cpu")) {
		put(dir, "cpu.shares", "1024\n");
		put(dir, "cpu.cfs_period_us", "100000\n");
		put(dir, "cpu.cfs_quota_us", "-1\n");
		put(dir, "cpu.cfs_burst_us", "0\n");
		put(dir, "cpu.stat",
		    "nr_periods 5\nnr_throttled 2\nthrottled_time 3000\n");
	} else if (!strcmp(ctrl, "cpuacct")) {
		put(dir, "cpuacct.usage", "5000\n");
		put(dir, "cpuacct.usage_percpu", "2000 3000 \n");
		put(dir, "cpuacct.stat", "user 1\nsystem 2\n");
	} else if (!strcmp(ctrl, "cpuset")) {
		put(dir, "cpuset.cpus", "\n");
		put(dir, "cpuset.mems", "\n");
	} else if (!strcmp(ctrl, "memory")) {
		put(dir, "memory.limit_in_bytes", "9223372036854771712\n");
		put(dir, "memory.memsw.limit_in_bytes",
		    "9223372036854771712\n");
		put(dir, "memory.usage_in_bytes", "4096\n");
		put(dir, "memory.max_usage_in_bytes", "8192\n");
		put(dir, "memory.failcnt", "0\n");
		put(dir, "memory.memsw.usage_in_bytes", "4096\n");
		put(dir, "memory.memsw.max_usage_in_bytes", "8192\n");
		put(dir, "memory.memsw.failcnt", "0\n");
		put(dir, "memory.soft_limit_in_bytes", "9223372036854771712\n");
		put(dir, "memory.swappiness", "60\n");
		put(dir, "memory.oom_control",
		    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
		put(dir, "memory.stat", "cache 100\nrss 200\n");
		put(dir, "memory.use_hierarchy", "1\n");
		put(dir, "memory.kmem.tcp.limit_in_bytes",
		    "9223372036854771712\n");
	} else if (!strcmp(ctrl, "devices")) {
		put(dir, "devices.allow", "");
		put(dir, "devices.deny", "");
	} else if (!strcmp(ctrl, "freezer")) {
		put(dir, "freezer.state", "THAWED\n");
	} else if (!strcmp(ctrl, "blkio")) {
		put(dir, "blkio.weight", "500\n");
		put(dir, "blkio.weight_device", "");
		put(dir, "blkio.throttle.read_bps_device", "");
		put(dir, "blkio.throttle.write_iops_device", "");
		put(dir, "blkio.throttle.io_service_bytes_recursive",
		    "8:0 Read 10\n8:0 Write 20\nTotal 30\n");
	} else if (!strcmp(ctrl, "pids")) {
		put(dir, "pids.max", "max\n");
		put(dir, "pids.current", "1\n");
	}
}

static void mkdir_hook(const char *dir, void *data)
{
	const char *rel = dir + strlen(g_root) + 1;
	char ctrl[PATH_MAX];

	if (g_mode == COVE_CGROUP_V2) {
		fake_v2_files(dir);
		return;
	}
	snprintf(ctrl, sizeof(ctrl), "%.*s", (int)strcspn(rel, "/"), rel);
	if (!strcmp(ctrl, "unified"))
		fake_unified_files(dir);
	else
		fake_v1_files(ctrl, dir);
}

/* cgroupfs lets rmdir take the control files along; a fake tree can't. */
static void rmdir_hook(const char *dir, void *data)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_type == DT_REG)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

static const char *const v1_ctrls[] = {"cpu",	 "cpuacct", "cpuset",
				       "memory", "devices", "freezer",
				       "blkio",	 "pids",    "systemd"};

static int setup_fake(enum cove_cgroup_mode mode)
{
	char p[PATH_MAX];

	snprintf(g_root, sizeof(g_root), "/tmp/cove-test-cgroup-XXXXXX");
	if (!mkdtemp(g_root))
		return -1;
	g_mode = mode;
	cove_cg_mkdir_hook = mkdir_hook;
	cove_cg_rmdir_hook = rmdir_hook;
	if (mode == COVE_CGROUP_V2) {
		fake_v2_files(g_root);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(v1_ctrls); i++) {
		snprintf(p, sizeof(p), "%s/%s", g_root, v1_ctrls[i]);
		mkdir(p, 0755);
		put(p, "cgroup.procs", "1\n");
		if (!strcmp(v1_ctrls[i], "cpuset")) {
			put(p, "cpuset.cpus", "0-1\n");
			put(p, "cpuset.mems", "0\n");
		}
	}
	if (mode == COVE_CGROUP_HYBRID) {
		snprintf(p, sizeof(p), "%s/unified", g_root);
		mkdir(p, 0755);
		fake_unified_files(p);
	}
	return 0;
}

static int setup_v1(void **state)
{
	return setup_fake(COVE_CGROUP_V1);
}

static int setup_v2(void **state)
{
	return setup_fake(COVE_CGROUP_V2);
}

static int setup_hybrid(void **state)
{
	return setup_fake(COVE_CGROUP_HYBRID);
}

static void free_docs(void);

static int teardown_fake(void **state)
{
	kill_children();
	free_docs();
	cove_cg_mkdir_hook = NULL;
	cove_cg_rmdir_hook = NULL;
	cove_rm_rf(g_root);
	return 0;
}

static void test_detect(void **state)
{
	enum cove_cgroup_mode m = COVE_CGROUP_NONE;
	char p[PATH_MAX];

	assert_int_equal(setup_fake(COVE_CGROUP_V2), 0);
	assert_int_equal(cove_cgroup_detect(g_root, &m), 0);
	assert_int_equal(m, COVE_CGROUP_V2);
	teardown_fake(NULL);

	assert_int_equal(setup_fake(COVE_CGROUP_V1), 0);
	assert_int_equal(cove_cgroup_detect(g_root, &m), 0);
	assert_int_equal(m, COVE_CGROUP_V1);
	teardown_fake(NULL);

	assert_int_equal(setup_fake(COVE_CGROUP_HYBRID), 0);
	assert_int_equal(cove_cgroup_detect(g_root, &m), 0);
	assert_int_equal(m, COVE_CGROUP_HYBRID);
	teardown_fake(NULL);

	/* no hierarchy at all */
	snprintf(p, sizeof(p), "/tmp/cove-test-cgroup-XXXXXX");
	assert_non_null(mkdtemp(p));
	assert_int_equal(cove_cgroup_detect(p, &m), -ENOMEDIUM);
	rmdir(p);
	assert_int_equal(cove_cgroup_detect("/nonexistent/cove", &m), -ENOENT);

	/* the host: its answer must match what statfs says */
	if (cove_cgroup_detect(NULL, &m) == 0) {
		struct statfs sfs;
		assert_int_equal(statfs(COVE_CGROUP_DEFAULT_ROOT, &sfs), 0);
		if (sfs.f_type == CGROUP2_SUPER_MAGIC)
			assert_int_equal(m, COVE_CGROUP_V2);
		else
			assert_true(m == COVE_CGROUP_V1 ||
				    m == COVE_CGROUP_HYBRID);
	}
	assert_string_equal(cove_cgroup_mode_name(COVE_CGROUP_HYBRID),
			    "hybrid");
}

/* Parsed resources borrow from their document: kept until teardown. */
static json_t *g_docs[16];
static size_t g_ndocs;

static void free_docs(void)
{
	for (size_t i = 0; i < g_ndocs; i++)
		json_decref(g_docs[i]);
	g_ndocs = 0;
}

static void parse_or_fail(const char *text, struct cove_cgroup_resources *res)
{
	json_t *j = load(text);
	struct cove_error err = {0};

	assert_true(g_ndocs < ARRAY_SIZE(g_docs));
	g_docs[g_ndocs++] = j;
	if (cove_cgroup_resources_parse(j, "linux.resources", res, &err) < 0)
		fail_msg("parse: %s", err.msg);
}

/* ---- v2 backend on a fake tree ---------------------------------------- */

static void test_v2_fake(void **state)
{
	struct cove_cgroup_resources res;
	struct cove_error err = {0};
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	_cleanup_free_ char *leaf = path_of(g_root, "/cove-test/a/ctr");
	_cleanup_free_ char *mid = path_of(g_root, "/cove-test/a");
	_cleanup_free_ pid_t *pids = NULL;
	_cleanup_json_ json_t *stats = NULL;
	size_t n = 0;
	uint64_t ooms = 0;
	bool frozen = true;
	pid_t child = sleeper();
	char buf[32];

	parse_or_fail(
	    "{\"memory\": {\"limit\": 104857600, \"swap\": 209715200,"
	    "  \"reservation\": 52428800, \"swappiness\": 10},"
	    " \"cpu\": {\"shares\": 1024, \"quota\": 50000,"
	    "  \"period\": 100000, \"burst\": 1000, \"cpus\": \"0\","
	    "  \"mems\": \"0\"},"
	    " \"pids\": {\"limit\": 100},"
	    " \"blockIO\": {\"weight\": 500, \"throttleReadBpsDevice\":"
	    "  [{\"major\": 8, \"minor\": 0, \"rate\": 1000}]},"
	    " \"hugepageLimits\": [{\"pageSize\": \"2MB\","
	    "  \"limit\": 4194304}],"
	    " \"unified\": {\"memory.high\": \"90000000\"}}",
	    &res);
	if (cove_cgroup_create(g_root, COVE_CGROUP_V2, "/cove-test/a/ctr",
			       child, &res, 0, &cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	assert_string_equal(cove_cgroup_get_path(cg), "/cove-test/a/ctr");
	assert_int_equal(cove_cgroup_get_mode(cg), COVE_CGROUP_V2);

	/* controllers enabled on the way down, never in the leaf */
	assert_file(g_root, "cgroup.subtree_control",
		    "+cpuset+cpu+io+memory+hugetlb+pids");
	assert_file(mid, "cgroup.subtree_control",
		    "+cpuset+cpu+io+memory+hugetlb+pids");
	assert_file(leaf, "cgroup.subtree_control", "");

	assert_file(leaf, "memory.max", "104857600");
	assert_file(leaf, "memory.swap.max", "104857600"); /* 200M - 100M */
	assert_file(leaf, "memory.low", "52428800");
	assert_file(leaf, "cpu.weight", "39"); /* 1 + (1022 * 9999) / 262142 */
	assert_file(leaf, "cpu.max", "50000 100000");
	assert_file(leaf, "cpu.max.burst", "1000");
	assert_file(leaf, "cpuset.cpus", "0");
	assert_file(leaf, "cpuset.mems", "0");
	assert_file(leaf, "pids.max", "100");
	assert_file(leaf, "io.weight", "4950"); /* 1 + (490 * 9999) / 990 */
	assert_file(leaf, "io.max", "8:0 rbps=1000");
	assert_file(leaf, "hugetlb.2MB.max", "4194304");
	assert_file(leaf, "memory.high", "90000000");
	snprintf(buf, sizeof(buf), "%d", (int)child);
	assert_file(leaf, "cgroup.procs", buf);
	cove_cgroup_resources_release(&res);

	/* update: only the quota; the period stays */
	parse_or_fail("{\"cpu\": {\"quota\": -1}, \"pids\": {\"limit\": -1}}",
		      &res);
	assert_int_equal(cove_cgroup_apply(cg, &res, &err), 0);
	assert_file(leaf, "cpu.max", "max 100000");
	assert_file(leaf, "pids.max", "max");
	cove_cgroup_resources_release(&res);

	/* swap without a memory limit has no v2 meaning */
	parse_or_fail("{\"memory\": {\"swap\": 1000000}}", &res);
	assert_true(cove_cgroup_apply(cg, &res, &err) < 0);
	assert_non_null(strstr(err.msg, "'linux.resources.memory.swap'"));
	cove_cgroup_resources_release(&res);

	/* checkBeforeUpdate: usage (12345) above the new limit */
	parse_or_fail("{\"memory\": {\"limit\": 10000, "
		      "\"checkBeforeUpdate\": true}}",
		      &res);
	assert_int_equal(cove_cgroup_apply(cg, &res, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "already uses 12345 bytes"));
	cove_cgroup_resources_release(&res);

	/* v2 has no realtime knobs */
	parse_or_fail("{\"cpu\": {\"realtimeRuntime\": 1000}}", &res);
	assert_int_equal(cove_cgroup_apply(cg, &res, &err), -EOPNOTSUPP);
	cove_cgroup_resources_release(&res);

	/* freeze: the fake kernel reports frozen at once */
	put(leaf, "cgroup.events", "populated 1\nfrozen 1\n");
	assert_int_equal(cove_cgroup_freeze(cg, true, &err), 0);
	assert_file(leaf, "cgroup.freeze", "1");
	assert_int_equal(cove_cgroup_is_frozen(cg, &frozen), 0);
	assert_true(frozen);
	put(leaf, "cgroup.events", "populated 1\nfrozen 0\n");
	assert_int_equal(cove_cgroup_freeze(cg, false, &err), 0);
	assert_int_equal(cove_cgroup_is_frozen(cg, &frozen), 0);
	assert_false(frozen);

	assert_int_equal(cove_cgroup_pids(cg, &pids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], child);

	assert_int_equal(cove_cgroup_oom_count(cg, &ooms), 0);
	assert_int_equal(ooms, 3);

	assert_int_equal(cove_cgroup_stats(cg, &stats, &err), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(stats, "memory"), "usage"),
		"usage")),
	    12345);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(stats, "cpu"), "usage"),
		"total")),
	    10000);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(stats, "cpu"), "throttling"),
		"throttledPeriods")),
	    2);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(stats, "pids"), "current")),
			 1);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(stats, "memory"), "raw"),
		"file")),
	    2000);
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(stats, "blkio"),
					    "ioServiceBytesRecursive")),
	    3);
	assert_non_null(
	    json_object_get(json_object_get(stats, "hugetlb"), "2MB"));

	/* a sub-cgroup of the container's own, with a process in it */
	{
		_cleanup_free_ char *sub = path_of(leaf, "/sub");
		pid_t inner = sleeper();
		assert_int_equal(mkdir(sub, 0755), 0);
		fake_v2_files(sub);
		snprintf(buf, sizeof(buf), "%d", (int)inner);
		put(sub, "cgroup.procs", buf);
		free(pids);
		pids = NULL;
		assert_int_equal(cove_cgroup_pids(cg, &pids, &n, &err), 0);
		assert_int_equal(n, 2);
		/* destroy kills what is left and removes what cove created */
		assert_int_equal(cove_cgroup_destroy(cg, &err), 0);
		reap(inner, SIGKILL);
	}
	reap(child, SIGKILL);
	assert_false(dir_exists("%s", leaf));
	assert_false(dir_exists("%s/cove-test", g_root));
	assert_true(dir_exists("%s", g_root));
}

static void test_v2_fake_failure_cleanup(void **state)
{
	struct cove_cgroup_resources res;
	struct cove_error err = {0};
	struct cove_cgroup *cg = NULL;
	char p[PATH_MAX];

	/* an existing parent that cove must leave alone */
	snprintf(p, sizeof(p), "%s/keep", g_root);
	assert_int_equal(mkdir(p, 0755), 0);
	fake_v2_files(p);
	parse_or_fail("{\"hugepageLimits\": [{\"pageSize\": \"1GB\","
		      " \"limit\": 1}]}",
		      &res);
	assert_true(cove_cgroup_create(g_root, COVE_CGROUP_V2, "/keep/x/y", 0,
				       &res, 0, &cg, &err) < 0);
	assert_null(cg);
	assert_non_null(
	    strstr(err.msg, "'linux.resources.hugepageLimits[0].pageSize'"));
	assert_false(dir_exists("%s/keep/x", g_root));
	assert_true(dir_exists("%s/keep", g_root));
	cove_cgroup_resources_release(&res);

	/* refused paths never touch the tree */
	assert_int_equal(cove_cgroup_create(g_root, COVE_CGROUP_V2,
					    "/keep/../../etc", 0, NULL, 0, &cg,
					    &err),
			 -EINVAL);
	assert_int_equal(cove_cgroup_create(g_root, COVE_CGROUP_V2, "rel", 0,
					    NULL, 0, &cg, &err),
			 -EINVAL);
	/* a file where a cgroup directory should be */
	put(g_root, "notadir", "");
	assert_int_equal(cove_cgroup_create(g_root, COVE_CGROUP_V2,
					    "/notadir/x", 0, NULL, 0, &cg,
					    &err),
			 -ENOTDIR);
}

static void test_v2_fake_open(void **state)
{
	struct cove_error err = {0};
	struct cove_cgroup *cg = NULL;
	char p[PATH_MAX];

	/* /shared has another child: destroy of an opened cgroup must
	 * remove its empty ancestors but stop at /shared */
	snprintf(p, sizeof(p), "%s/shared", g_root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/shared/other", g_root);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(cove_cgroup_create(g_root, COVE_CGROUP_V2,
					    "/shared/b/c", 0, NULL, 0, &cg,
					    &err),
			 0);
	/* /shared existed: b and c are cove's */
	assert_int_equal(cove_cgroup_get_created(cg), 2);
	cove_cgroup_free(cg);
	cg = NULL;

	/* told what was created, destroy keeps the empty /keep2 */
	snprintf(p, sizeof(p), "%s/keep2", g_root);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(cove_cgroup_create(g_root, COVE_CGROUP_V2,
					    "/keep2/b/c", 0, NULL, 0, &cg,
					    &err),
			 0);
	cove_cgroup_free(cg);
	assert_int_equal(
	    cove_cgroup_open(g_root, COVE_CGROUP_V2, "/keep2/b/c", &cg, &err),
	    0);
	assert_int_equal(cove_cgroup_get_created(cg), 0);
	cove_cgroup_set_created(cg, 2);
	assert_int_equal(cove_cgroup_destroy(cg, &err), 0);
	cove_cgroup_free(cg);
	cg = NULL;
	assert_false(dir_exists("%s/keep2/b", g_root));
	assert_true(dir_exists("%s/keep2", g_root));

	assert_int_equal(
	    cove_cgroup_open(g_root, COVE_CGROUP_V2, "/nope/x", &cg, &err),
	    -ENOENT);
	assert_int_equal(
	    cove_cgroup_open(g_root, COVE_CGROUP_V2, "/shared/b/c", &cg, &err),
	    0);
	assert_int_equal(cove_cgroup_destroy(cg, &err), 0);
	cove_cgroup_free(cg);
	assert_false(dir_exists("%s/shared/b", g_root));
	assert_true(dir_exists("%s/shared/other", g_root));

	/* disabled cgroups: a handle on which everything is a no-op */
	assert_int_equal(cove_cgroup_create(g_root, COVE_CGROUP_NONE, "/x", 0,
					    NULL, 0, &cg, &err),
			 0);
	{
		_cleanup_free_ pid_t *pids = NULL;
		_cleanup_json_ json_t *stats = NULL;
		size_t n = 1;
		assert_int_equal(cove_cgroup_pids(cg, &pids, &n, &err), 0);
		assert_int_equal(n, 0);
		assert_int_equal(cove_cgroup_stats(cg, &stats, &err), 0);
		assert_int_equal(json_object_size(stats), 0);
		assert_int_equal(cove_cgroup_freeze(cg, true, &err),
				 -EOPNOTSUPP);
		assert_int_equal(cove_cgroup_destroy(cg, &err), 0);
	}
	cove_cgroup_free(cg);
	assert_false(dir_exists("%s/x", g_root));
}

/* ---- v1 / hybrid backend on a fake tree ------------------------------- */

static void test_v1_fake(void **state)
{
	struct cove_cgroup_resources res;
	struct cove_error err = {0};
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	_cleanup_json_ json_t *stats = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	char p[PATH_MAX], buf[32];
	bool frozen = false;
	uint64_t ooms = 0;
	size_t n = 0;
	pid_t child = sleeper();

	parse_or_fail(
	    "{\"memory\": {\"limit\": 104857600, \"swap\": 209715200,"
	    "  \"reservation\": 52428800, \"swappiness\": 10,"
	    "  \"kernel\": 1000000, \"kernelTCP\": 2000000,"
	    "  \"disableOOMKiller\": true},"
	    " \"cpu\": {\"shares\": 512, \"quota\": 50000,"
	    "  \"period\": 100000, \"cpus\": \"1\"},"
	    " \"pids\": {\"limit\": 100},"
	    " \"blockIO\": {\"weight\": 300, \"weightDevice\": [{\"major\":"
	    "  8, \"minor\": 0, \"weight\": 700}], \"throttleReadBpsDevice\":"
	    "  [{\"major\": 8, \"minor\": 0, \"rate\": 1000}]},"
	    " \"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
	    "  {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3,"
	    "   \"access\": \"rwm\"},"
	    "  {\"allow\": true, \"type\": \"a\", \"major\": 136,"
	    "   \"access\": \"rw\"},"
	    "  {\"allow\": false, \"type\": \"c\", \"major\": 1, \"minor\": 3,"
	    "   \"access\": \"w\"}],"
	    " \"network\": {\"classID\": 7}}",
	    &res);
	if (cove_cgroup_create(g_root, COVE_CGROUP_V1, "/cove-test/a/ctr",
			       child, &res, 0, &cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	cove_cgroup_resources_release(&res);

	/* cpuset.cpus/mems copied down each created level */
	snprintf(p, sizeof(p), "%s/cpuset/cove-test", g_root);
	assert_file(p, "cpuset.cpus", "0-1");
	assert_file(p, "cpuset.mems", "0");
	snprintf(p, sizeof(p), "%s/cpuset/cove-test/a", g_root);
	assert_file(p, "cpuset.cpus", "0-1");
	snprintf(p, sizeof(p), "%s/cpuset/cove-test/a/ctr", g_root);
	assert_file(p, "cpuset.cpus", "1");
	assert_file(p, "cpuset.mems", "0");

	snprintf(p, sizeof(p), "%s/memory/cove-test/a/ctr", g_root);
	assert_file(p, "memory.limit_in_bytes", "104857600");
	assert_file(p, "memory.memsw.limit_in_bytes", "209715200");
	assert_file(p, "memory.soft_limit_in_bytes", "52428800");
	assert_file(p, "memory.swappiness", "10");
	assert_file(p, "memory.oom_control", "1");
	assert_file(p, "memory.kmem.tcp.limit_in_bytes", "2000000");
	/* kmem.limit_in_bytes is gone from new kernels: skipped */
	assert_null(get(p, "memory.kmem.limit_in_bytes"));

	snprintf(p, sizeof(p), "%s/cpu/cove-test/a/ctr", g_root);
	assert_file(p, "cpu.shares", "512");
	assert_file(p, "cpu.cfs_quota_us", "50000");
	assert_file(p, "cpu.cfs_period_us", "100000");

	snprintf(p, sizeof(p), "%s/pids/cove-test/a/ctr", g_root);
	assert_file(p, "pids.max", "100");

	snprintf(p, sizeof(p), "%s/blkio/cove-test/a/ctr", g_root);
	assert_file(p, "blkio.weight", "300");
	assert_file(p, "blkio.weight_device", "8:0 700");
	assert_file(p, "blkio.throttle.read_bps_device", "8:0 1000");

	/* every write is one entry; the fake file shows them in order */
	snprintf(p, sizeof(p), "%s/devices/cove-test/a/ctr", g_root);
	assert_file(p, "devices.deny", "ac 1:3 w");
	assert_file(p, "devices.allow", "c 1:3 rwmc 136:* rwb 136:* rw");

	/* no net_cls mount: the class id is a tag, skipped */
	snprintf(buf, sizeof(buf), "%d", (int)child);
	for (size_t i = 0; i < ARRAY_SIZE(v1_ctrls); i++) {
		snprintf(p, sizeof(p), "%s/%s/cove-test/a/ctr", g_root,
			 v1_ctrls[i]);
		assert_file(p, "cgroup.procs", buf);
	}

	/* decreasing memory+swap: memsw must stay >= the limit throughout */
	parse_or_fail("{\"memory\": {\"limit\": 50000000, \"swap\": "
		      "60000000}}",
		      &res);
	assert_int_equal(cove_cgroup_apply(cg, &res, &err), 0);
	cove_cgroup_resources_release(&res);
	snprintf(p, sizeof(p), "%s/memory/cove-test/a/ctr", g_root);
	assert_file(p, "memory.limit_in_bytes", "50000000");
	assert_file(p, "memory.memsw.limit_in_bytes", "60000000");

	/* unified keys need a cgroup2 hierarchy */
	parse_or_fail("{\"unified\": {\"memory.high\": \"1\"}}", &res);
	assert_int_equal(cove_cgroup_apply(cg, &res, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "'linux.resources.unified'"));
	cove_cgroup_resources_release(&res);
	/* no hugetlb anywhere */
	parse_or_fail("{\"hugepageLimits\": [{\"pageSize\": \"2MB\","
		      " \"limit\": 1}]}",
		      &res);
	assert_int_equal(cove_cgroup_apply(cg, &res, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "'linux.resources.hugepageLimits'"));
	cove_cgroup_resources_release(&res);

	assert_int_equal(cove_cgroup_freeze(cg, true, &err), 0);
	snprintf(p, sizeof(p), "%s/freezer/cove-test/a/ctr", g_root);
	assert_file(p, "freezer.state", "FROZEN");
	assert_int_equal(cove_cgroup_is_frozen(cg, &frozen), 0);
	assert_true(frozen);
	assert_int_equal(cove_cgroup_freeze(cg, false, &err), 0);
	assert_file(p, "freezer.state", "THAWED");

	assert_int_equal(cove_cgroup_pids(cg, &pids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], child);
	/* the fake file lost its content to the disableOOMKiller write */
	snprintf(p, sizeof(p), "%s/memory/cove-test/a/ctr", g_root);
	put(p, "memory.oom_control",
	    "oom_kill_disable 1\nunder_oom 0\noom_kill 2\n");
	assert_int_equal(cove_cgroup_oom_count(cg, &ooms), 0);
	assert_int_equal(ooms, 2);

	assert_int_equal(cove_cgroup_stats(cg, &stats, &err), 0);
	{
		json_t *cpu = json_object_get(stats, "cpu");
		json_t *mem = json_object_get(stats, "memory");
		json_t *usage = json_object_get(cpu, "usage");
		long hz = sysconf(_SC_CLK_TCK);
		assert_int_equal(
		    json_integer_value(json_object_get(usage, "total")), 5000);
		assert_int_equal(
		    json_array_size(json_object_get(usage, "percpu")), 2);
		assert_int_equal(
		    json_integer_value(json_object_get(usage, "kernel")),
		    2 * (1000000000 / hz));
		assert_int_equal(
		    json_integer_value(json_object_get(
			json_object_get(cpu, "throttling"), "throttledTime")),
		    3000);
		assert_int_equal(json_integer_value(json_object_get(
				     json_object_get(mem, "usage"), "max")),
				 8192);
		assert_int_equal(json_integer_value(json_object_get(
				     json_object_get(mem, "swap"), "usage")),
				 4096);
		assert_int_equal(
		    json_integer_value(json_object_get(mem, "cache")), 100);
		assert_int_equal(json_integer_value(json_object_get(
				     json_object_get(stats, "pids"), "limit")),
				 100);
		assert_int_equal(json_array_size(json_object_get(
				     json_object_get(stats, "blkio"),
				     "ioServiceBytesRecursive")),
				 2);
	}

	assert_int_equal(cove_cgroup_destroy(cg, &err), 0);
	reap(child, SIGKILL);
	for (size_t i = 0; i < ARRAY_SIZE(v1_ctrls); i++) {
		assert_false(
		    dir_exists("%s/%s/cove-test", g_root, v1_ctrls[i]));
		assert_true(dir_exists("%s/%s", g_root, v1_ctrls[i]));
	}
}

/*
 * A parent that already existed in one hierarchy only (an administrator's,
 * with a limit of its own) while cove created it in the others: delete,
 * done as container.c does it (open, hand back what create recorded,
 * destroy), must remove the copies cove made and keep that one.  With a
 * single number for every hierarchy (2, the most) it removed that one too.
 */
static void test_v1_fake_parent_in_one_hierarchy(void **state)
{
	_cleanup_json_ json_t *map = NULL;
	_cleanup_json_ json_t *bad = NULL;
	_cleanup_free_ char *text = NULL;
	struct cove_error err = {0};
	struct cove_cgroup *cg = NULL;
	char p[PATH_MAX], mnt[PATH_MAX];

	snprintf(p, sizeof(p), "%s/memory/admin", g_root);
	assert_int_equal(mkdir(p, 0755), 0);
	fake_v1_files("memory", p);
	put(p, "memory.limit_in_bytes", "1073741824\n");

	if (cove_cgroup_create(g_root, COVE_CGROUP_V1, "/admin/ctr", 0, NULL, 0,
			       &cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	assert_int_equal(cove_cgroup_get_created(cg), 2);
	assert_int_equal(cove_cgroup_get_created_map(cg, &map), 0);
	assert_int_equal(json_object_size(map), ARRAY_SIZE(v1_ctrls));
	snprintf(mnt, sizeof(mnt), "%s/memory", g_root);
	assert_int_equal(json_integer_value(json_object_get(map, mnt)), 1);
	snprintf(mnt, sizeof(mnt), "%s/pids", g_root);
	assert_int_equal(json_integer_value(json_object_get(map, mnt)), 2);
	cove_cgroup_free(cg);
	cg = NULL;

	/* through the text of a state file and back */
	text = json_dumps(map, JSON_COMPACT);
	assert_non_null(text);
	json_decref(map);
	map = load(text);

	assert_int_equal(
	    cove_cgroup_open(g_root, COVE_CGROUP_V1, "/admin/ctr", &cg, &err),
	    0);
	cove_cgroup_set_created_map(cg, map);
	assert_int_equal(cove_cgroup_destroy(cg, &err), 0);
	cove_cgroup_free(cg);
	cg = NULL;

	assert_true(dir_exists("%s/memory/admin", g_root));
	assert_false(dir_exists("%s/memory/admin/ctr", g_root));
	assert_file(p, "memory.limit_in_bytes", "1073741824");
	for (size_t i = 0; i < ARRAY_SIZE(v1_ctrls); i++) {
		if (!strcmp(v1_ctrls[i], "memory"))
			continue;
		assert_false(dir_exists("%s/%s/admin", g_root, v1_ctrls[i]));
		assert_true(dir_exists("%s/%s", g_root, v1_ctrls[i]));
	}

	/*
	 * A damaged map: wrong types and negatives count as 0 (leaf only),
	 * missing hierarchies too, too large is clamped to the depth, and
	 * unknown members are ignored.
	 */
	if (cove_cgroup_create(g_root, COVE_CGROUP_V1, "/admin/c2", 0, NULL, 0,
			       &cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	cove_cgroup_free(cg);
	cg = NULL;
	bad = json_object();
	assert_non_null(bad);
	snprintf(mnt, sizeof(mnt), "%s/memory", g_root);
	json_object_set_new(bad, mnt, json_integer(1));
	snprintf(mnt, sizeof(mnt), "%s/cpu", g_root);
	json_object_set_new(bad, mnt, json_string("2"));
	snprintf(mnt, sizeof(mnt), "%s/pids", g_root);
	json_object_set_new(bad, mnt, json_integer(-5));
	snprintf(mnt, sizeof(mnt), "%s/blkio", g_root);
	json_object_set_new(bad, mnt, json_integer(99));
	json_object_set_new(bad, "/elsewhere", json_integer(2));
	assert_int_equal(
	    cove_cgroup_open(g_root, COVE_CGROUP_V1, "/admin/c2", &cg, &err),
	    0);
	cove_cgroup_set_created_map(cg, bad);
	assert_int_equal(cove_cgroup_get_created(cg), 2);
	assert_int_equal(cove_cgroup_destroy(cg, &err), 0);
	cove_cgroup_free(cg);
	for (size_t i = 0; i < ARRAY_SIZE(v1_ctrls); i++) {
		bool blkio = !strcmp(v1_ctrls[i], "blkio");
		assert_false(dir_exists("%s/%s/admin/c2", g_root, v1_ctrls[i]));
		assert_true(dir_exists("%s/%s/admin", g_root, v1_ctrls[i]) ==
			    !blkio);
	}
	assert_file(p, "memory.limit_in_bytes", "1073741824");
}

static void test_hybrid_fake(void **state)
{
	struct cove_cgroup_resources res;
	struct cove_error err = {0};
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	_cleanup_json_ json_t *stats = NULL;
	char p[PATH_MAX], buf[32];
	pid_t child = sleeper();

	parse_or_fail("{\"pids\": {\"limit\": 10},"
		      " \"hugepageLimits\": [{\"pageSize\": \"2MB\","
		      "  \"limit\": 4194304}]}",
		      &res);
	if (cove_cgroup_create(g_root, COVE_CGROUP_HYBRID, "/cove-test/h",
			       child, &res, 0, &cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	cove_cgroup_resources_release(&res);

	snprintf(buf, sizeof(buf), "%d", (int)child);
	snprintf(p, sizeof(p), "%s/pids/cove-test/h", g_root);
	assert_file(p, "pids.max", "10");
	assert_file(p, "cgroup.procs", buf);
	/* hugetlb exists only in the unified hierarchy */
	snprintf(p, sizeof(p), "%s/unified/cove-test/h", g_root);
	assert_file(p, "hugetlb.2MB.max", "4194304");
	assert_file(p, "cgroup.procs", buf);
	snprintf(p, sizeof(p), "%s/unified", g_root);
	assert_file(p, "cgroup.subtree_control", "+hugetlb");
	snprintf(p, sizeof(p), "%s/unified/cove-test", g_root);
	assert_file(p, "cgroup.subtree_control", "+hugetlb");

	assert_int_equal(cove_cgroup_stats(cg, &stats, &err), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_object_get(json_object_get(stats, "hugetlb"), "2MB"),
		"usage")),
	    2097152);

	assert_int_equal(cove_cgroup_destroy(cg, &err), 0);
	reap(child, SIGKILL);
	assert_false(dir_exists("%s/unified/cove-test", g_root));
	assert_false(dir_exists("%s/pids/cove-test", g_root));
}

/* ---- the device program ----------------------------------------------- */

/*
 * Interpreter for the instructions the generator emits, enough to check
 * the program's decisions without a kernel.
 */
static int run_program(const struct bpf_insn *p, size_t n, int type, int access,
		       uint32_t major, uint32_t minor)
{
	uint64_t reg[11] = {0};
	struct bpf_cgroup_dev_ctx ctx = {
	    .access_type = (uint32_t)(access << 16 | type),
	    .major = major,
	    .minor = minor,
	};

	for (size_t pc = 0; pc < n; pc++) {
		const struct bpf_insn *i = &p[pc];
		uint64_t imm = (uint64_t)(int64_t)i->imm;
		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W: {
			uint32_t v;
			assert_true(i->src_reg == BPF_REG_1);
			memcpy(&v, (char *)&ctx + i->off, sizeof(v));
			reg[i->dst_reg] = v;
			break;
		}
		case BPF_ALU64 | BPF_MOV | BPF_X:
			reg[i->dst_reg] = reg[i->src_reg];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			reg[i->dst_reg] = imm;
			break;
		case BPF_ALU64 | BPF_RSH | BPF_K:
			reg[i->dst_reg] >>= imm;
			break;
		case BPF_ALU64 | BPF_AND | BPF_K:
			reg[i->dst_reg] &= imm;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
			if (reg[i->dst_reg] != imm)
				pc += (size_t)(int64_t)i->off;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			if (reg[i->dst_reg] == imm)
				pc += (size_t)(int64_t)i->off;
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)reg[0];
		default:
			fail_msg("unexpected opcode 0x%x at %zu", i->code, pc);
		}
		assert_true(pc + 1 <= n);
	}
	fail_msg("program ran off its end");
	return -1;
}

#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE
#define M BPF_DEVCG_ACC_MKNOD
#define CHR BPF_DEVCG_DEV_CHAR
#define BLK BPF_DEVCG_DEV_BLOCK

static void test_devices_program(void **state)
{
	static const struct cove_device_rule rules[] = {
	    {false, 'a', -1, -1, "rwm"}, /* deny everything */
	    {true, 'c', 1, 3, "rwm"},	 /* /dev/null */
	    {true, 'c', 136, -1, "rw"},	 /* ptys */
	    {true, 'a', 8, 0, "r"},	 /* read sda, either type */
	    {false, 'c', 1, 3, "w"},	 /* but not write /dev/null */
	    {true, 'c', 1, 3, "w"},	 /* ... until allowed again */
	    {false, 'c', 1, 3, "w"},	 /* ... and denied again */
	};
	void *v = NULL;
	struct bpf_insn *p;
	size_t n = 0;

	assert_int_equal(
	    cove_cg_devices_program(rules, ARRAY_SIZE(rules), &v, &n), 0);
	p = v;
	/* prologue, 7 rules, epilogue: every instruction accounted for */
	assert_int_equal(n, 6 + 5 + 10 + 9 + 9 + 8 + 10 + 8 + 2);
	assert_int_equal(p[n - 1].code, BPF_JMP | BPF_EXIT);

	assert_int_equal(run_program(p, n, CHR, R | W, 1, 3), 0);
	assert_int_equal(run_program(p, n, CHR, R, 1, 3), 1);
	assert_int_equal(run_program(p, n, CHR, M, 1, 3), 1);
	assert_int_equal(run_program(p, n, CHR, W, 1, 3), 0);
	assert_int_equal(run_program(p, n, CHR, R, 1, 5), 0);
	assert_int_equal(run_program(p, n, BLK, R, 1, 3), 0);
	assert_int_equal(run_program(p, n, CHR, R | W, 136, 7), 1);
	assert_int_equal(run_program(p, n, CHR, M, 136, 7), 0);
	assert_int_equal(run_program(p, n, BLK, R, 8, 0), 1);
	assert_int_equal(run_program(p, n, CHR, R, 8, 0), 1);
	assert_int_equal(run_program(p, n, BLK, W, 8, 0), 0);
	assert_int_equal(run_program(p, n, BLK, R, 8, 1), 0);
	free(v);

	/* no deny-all rule: everything not denied is allowed, as in v1 */
	{
		static const struct cove_device_rule deny_one[] = {
		    {false, 'c', 1, 5, "rwm"},
		};
		assert_int_equal(cove_cg_devices_program(deny_one, 1, &v, &n),
				 0);
		assert_int_equal(run_program(v, n, CHR, R, 1, 5), 0);
		assert_int_equal(run_program(v, n, CHR, R, 1, 3), 1);
		free(v);
	}
	/* allow-all last wins over an earlier deny */
	{
		static const struct cove_device_rule all[] = {
		    {false, 'c', 1, 5, "rwm"},
		    {true, 'a', -1, -1, "rwm"},
		};
		assert_int_equal(cove_cg_devices_program(all, 2, &v, &n), 0);
		assert_int_equal(run_program(v, n, CHR, R, 1, 5), 1);
		free(v);
	}
	/* an empty list allows everything */
	assert_int_equal(cove_cg_devices_program(NULL, 0, &v, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(run_program(v, n, BLK, R | W | M, 8, 0), 1);
	free(v);
}

/* Child: join @procs_dir, then report which opens the program allows. */
static int probe(const char *dir)
{
	static const struct {
		const char *dev;
		int flags;
	} probes[] = {
	    {"/dev/null", O_RDONLY},
	    {"/dev/null", O_WRONLY},
	    {"/dev/zero", O_RDONLY},
	};
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[32];
		int bits = 0;
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		if (cove_cg_write(dir, "cgroup.procs", buf, NULL) < 0)
			_exit(100);
		for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
			int fd =
			    open(probes[i].dev, probes[i].flags | O_CLOEXEC);
			if (fd >= 0) {
				bits |= 1 << i;
				close(fd);
			} else if (errno != EPERM) {
				_exit(101);
			}
		}
		_exit(bits);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * The host's cgroup2 mount, when it is one, takes the program for real:
 * the verifier accepts it and it decides opens as the rules say.  The
 * scratch cgroup lives under /cove-test in that hierarchy.
 */
static void test_devices_live(void **state)
{
	const char *mnt = NULL;
	char base[PATH_MAX], dir[PATH_MAX];
	struct cove_cgroup_resources res;
	struct cove_error err = {0};
	struct cove_cg_hier h = {0};
	struct statfs sfs;
	bool made_base;
	int r, bits;

	if (statfs("/sys/fs/cgroup/unified", &sfs) == 0 &&
	    sfs.f_type == CGROUP2_SUPER_MAGIC)
		mnt = "/sys/fs/cgroup/unified";
	else if (statfs("/sys/fs/cgroup", &sfs) == 0 &&
		 sfs.f_type == CGROUP2_SUPER_MAGIC)
		mnt = "/sys/fs/cgroup";
	if (!mnt || geteuid() != 0) {
		printf("skipped: no writable cgroup2 mount (or not root)\n");
		skip();
	}
	snprintf(base, sizeof(base), "%s/cove-test", mnt);
	snprintf(dir, sizeof(dir), "%s/cove-test/bpf-%d", mnt, (int)getpid());
	made_base = mkdir(base, 0755) == 0;
	if (mkdir(dir, 0755) < 0) {
		printf("skipped: cannot create %s: %s\n", dir, strerror(errno));
		if (made_base)
			rmdir(base);
		skip();
	}
	h.dir = dir;
	h.mount = (char *)mnt;
	h.v2 = true;

	parse_or_fail("{\"devices\": [{\"allow\": false},"
		      " {\"allow\": true, \"type\": \"c\", \"major\": 1,"
		      "  \"minor\": 3},"
		      " {\"allow\": false, \"type\": \"c\", \"major\": 1,"
		      "  \"minor\": 3, \"access\": \"w\"}]}",
		      &res);
	r = cove_cg_v2_set_devices(&h, &res, &err);
	cove_cgroup_resources_release(&res);
	if (r == -EPERM || r == -ENOSYS || r == -EOPNOTSUPP) {
		printf("skipped: bpf() refused: %s\n", err.msg);
		free_docs();
		rmdir(dir);
		if (made_base)
			rmdir(base);
		skip();
	}
	if (r < 0)
		fail_msg("%s", err.msg);
	bits = probe(dir);
	/* /dev/null readable, not writable; /dev/zero denied */
	assert_int_equal(bits, 1);

	/* an update replaces the program rather than stacking on it */
	parse_or_fail("{\"devices\": [{\"allow\": false, \"type\": \"c\","
		      " \"major\": 1, \"minor\": 5}]}",
		      &res);
	assert_int_equal(cove_cg_v2_set_devices(&h, &res, &err), 0);
	cove_cgroup_resources_release(&res);
	bits = probe(dir);
	assert_int_equal(bits, 1 | 2);

	for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
	assert_false(dir_exists("%s", dir));
	if (made_base)
		rmdir(base);
	free_docs();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_full),
	    cmocka_unit_test(test_parse_empty_and_zero),
	    cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_path_check),
	    cmocka_unit_test(test_detect),
	    cmocka_unit_test_setup_teardown(test_v2_fake, setup_v2,
					    teardown_fake),
	    cmocka_unit_test_setup_teardown(test_v2_fake_failure_cleanup,
					    setup_v2, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_v2_fake_open, setup_v2,
					    teardown_fake),
	    cmocka_unit_test_setup_teardown(test_v1_fake, setup_v1,
					    teardown_fake),
	    cmocka_unit_test_setup_teardown(
		test_v1_fake_parent_in_one_hierarchy, setup_v1, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_hybrid_fake, setup_hybrid,
					    teardown_fake),
	    cmocka_unit_test(test_devices_program),
	    cmocka_unit_test(test_devices_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
