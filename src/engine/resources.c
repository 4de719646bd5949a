/*
 * The create options that become cgroup limits (linux.resources) and the
 * process options that go with them (oomScoreAdj, umask, the time zone,
 * annotations), as podman maps them.  runspec.c calls in at create,
 * update.c when `cove update` changes the limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "runtime/cgroup.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define IDLIST_MAX 8192

static int64_t i64(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static int parse_id(const char *s, const char **end, unsigned *ret)
{
	unsigned long v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v >= IDLIST_MAX)
			return -ERANGE;
		p++;
	}
	if (p == s)
		return -EINVAL;
	*end = p;
	*ret = (unsigned)v;
	return 0;
}

int cove_engine_idlist_parse(const char *list, uint8_t *bits, size_t nbits)
{
	const char *p = list;

	if (!list || !*list)
		return -EINVAL;
	if (bits)
		memset(bits, 0, (nbits + 7) / 8);
	for (;;) {
		unsigned a, b;
		int r = parse_id(p, &p, &a);
		if (r < 0)
			return r;
		b = a;
		if (*p == '-') {
			r = parse_id(p + 1, &p, &b);
			if (r < 0)
				return r;
			if (b < a)
				return -EINVAL;
		}
		for (unsigned i = a; bits && i <= b; i++) {
			if (i >= nbits)
				return -ERANGE;
			bits[i / 8] |= (uint8_t)(1u << (i % 8));
		}
		if (!*p)
			return 0;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
}

/* The CPUs (or memory nodes) containers may use: the root cpuset's. */
static char *available_ids(bool mems)
{
	static const char *const cpus_files[] = {
	    "/sys/fs/cgroup/cpuset/cpuset.effective_cpus",
	    "/sys/fs/cgroup/cpuset.cpus.effective",
	    "/sys/devices/system/cpu/online",
	};
	static const char *const mems_files[] = {
	    "/sys/fs/cgroup/cpuset/cpuset.effective_mems",
	    "/sys/fs/cgroup/cpuset.mems.effective",
	    "/sys/devices/system/node/online",
	};
	const char *const *files = mems ? mems_files : cpus_files;

	for (size_t i = 0; i < 3; i++) {
		char *buf = NULL;
		if (cove_read_file(files[i], 65536, &buf, NULL) < 0)
			continue;
		buf[strcspn(buf, "\n")] = '\0';
		if (*buf)
			return buf;
		free(buf);
	}
	/* no NUMA information: one node; no CPU list: the kernel judges */
	return mems ? strdup("0") : NULL;
}

int cove_engine_cpuset_check(const char *opt, const char *list, bool mems,
			     struct cove_error *err)
{
	_cleanup_free_ uint8_t *want = calloc(1, IDLIST_MAX / 8);
	_cleanup_free_ uint8_t *have = calloc(1, IDLIST_MAX / 8);
	_cleanup_free_ char *avail = NULL;

	if (!want || !have)
		return -ENOMEM;
	if (cove_engine_idlist_parse(list, want, IDLIST_MAX) < 0)
		return cove_error_set(err, EINVAL,
				      "invalid %s '%s': expected a list such "
				      "as 0-3,5",
				      opt, list);
	avail = available_ids(mems);
	if (!avail || cove_engine_idlist_parse(avail, have, IDLIST_MAX) < 0)
		return 0; /* the kernel's own list unreadable: let it judge */
	for (size_t i = 0; i < IDLIST_MAX / 8; i++)
		if (want[i] & ~have[i])
			return cove_error_set(
			    err, EINVAL,
			    "invalid %s '%s': %s not available on this host "
			    "(available: %s)",
			    opt, list, mems ? "memory nodes are" : "CPUs are",
			    avail);
	return 0;
}

bool cove_engine_oom_kill_disable_supported(void)
{
	enum cove_cgroup_mode mode = COVE_CGROUP_NONE;

	/* v1 and hybrid hosts keep the memory controller on v1 */
	if (cove_cgroup_detect(NULL, &mode) < 0)
		return true;
	return mode != COVE_CGROUP_V2;
}

int cove_engine_timezone_file(const char *tz, char **ret,
			      struct cove_error *err)
{
	_cleanup_free_ char *path = NULL;
	char head[4];
	struct stat st;
	int fd;
	ssize_t n;

	if (!strcmp(tz, "local")) {
		path = realpath("/etc/localtime", NULL);
		if (!path)
			return cove_error_setx(err, errno,
					       "invalid --tz 'local': cannot "
					       "resolve the host's "
					       "/etc/localtime");
	} else {
		/* a zone name, never a way out of the zone directory */
		if (!*tz || tz[0] == '/' || strstr(tz, "..") ||
		    strspn(tz, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
			       "UVWXYZ0123456789/_+-") != strlen(tz))
			return cove_error_set(err, EINVAL,
					      "invalid --tz '%s': not a time "
					      "zone name (e.g. Europe/Paris, "
					      "UTC or local)",
					      tz);
		path = cove_strdup_printf("/usr/share/zoneinfo/%s", tz);
		if (!path)
			return -ENOMEM;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT
			   ? cove_error_set(err, ENOENT,
					    "invalid --tz '%s': unknown time "
					    "zone (no %s)",
					    tz, path)
			   : cove_error_setx(
				 err, errno,
				 "invalid --tz '%s': cannot read %s", tz, path);
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
		? read(fd, head, sizeof(head))
		: -1;
	close(fd);
	/* every compiled zone file starts with this magic */
	if (n != 4 || memcmp(head, "TZif", 4))
		return cove_error_set(err, EINVAL,
				      "invalid --tz '%s': %s is not a time "
				      "zone file",
				      tz, path);
	*ret = TAKE_PTR(path);
	return 0;
}

void cove_engine_resources_fill(json_t *res, const json_t *host, bool update)
{
	int64_t mem = i64(host, "Memory"), swap = i64(host, "MemorySwap");
	int64_t resv = i64(host, "MemoryReservation");
	int64_t nano = i64(host, "NanoCpus"), shares = i64(host, "CpuShares");
	int64_t period = i64(host, "CpuPeriod"), quota = i64(host, "CpuQuota");
	int64_t pids = i64(host, "PidsLimit"), blkio = i64(host, "BlkioWeight");
	const json_t *swappiness = json_object_get(host, "MemorySwappiness");
	const char *cpus =
	    json_string_value(json_object_get(host, "CpusetCpus"));
	const char *mems =
	    json_string_value(json_object_get(host, "CpusetMems"));

	if (mem > 0)
		json_object_set_new(cove_json_object_member(res, "memory"),
				    "limit", json_integer(mem));
	if (swap != 0)
		json_object_set_new(cove_json_object_member(res, "memory"),
				    "swap", json_integer(swap));
	if (resv > 0)
		json_object_set_new(cove_json_object_member(res, "memory"),
				    "reservation", json_integer(resv));
	if (json_is_integer(swappiness) && json_integer_value(swappiness) >= 0)
		json_object_set(cove_json_object_member(res, "memory"),
				"swappiness", (json_t *)swappiness);
	if (json_is_true(json_object_get(host, "OomKillDisable")))
		json_object_set_new(cove_json_object_member(res, "memory"),
				    "disableOOMKiller", json_true());
	/* --cpus is podman's period of 100 ms and the quota to match */
	if (nano > 0) {
		period = 100000;
		quota = nano * 100000 / 1000000000;
	}
	if (period > 0)
		json_object_set_new(cove_json_object_member(res, "cpu"),
				    "period", json_integer(period));
	if (quota > 0 || (update && quota == -1))
		json_object_set_new(cove_json_object_member(res, "cpu"),
				    "quota", json_integer(quota));
	if (shares > 0)
		json_object_set_new(cove_json_object_member(res, "cpu"),
				    "shares", json_integer(shares));
	if (cpus && *cpus)
		json_object_set_new(cove_json_object_member(res, "cpu"), "cpus",
				    json_string(cpus));
	if (mems && *mems)
		json_object_set_new(cove_json_object_member(res, "cpu"), "mems",
				    json_string(mems));
	/* an update to "unlimited" must say so: the cgroup has a limit */
	if (pids > 0 || update)
		json_object_set_new(cove_json_object_member(res, "pids"),
				    "limit",
				    json_integer(pids > 0 ? pids : -1));
	if (blkio > 0)
		json_object_set_new(cove_json_object_member(res, "blockIO"),
				    "weight", json_integer(blkio));
}

/*
 * --tz: a copy of the zone file in the container's directory, bound at
 * /etc/localtime, as podman does (a copy, so that the container keeps the
 * zone it was made with whatever the host's tzdata does later).  TZ is
 * left alone, as podman leaves it: a TZ naming a zone would make the libc
 * look for it under /usr/share/zoneinfo, which small images lack.
 */
static int add_timezone(json_t *spec, const char *tz, const char *dir,
			struct cove_error *err)
{
	_cleanup_free_ char *src = NULL, *data = NULL, *dst = NULL;
	json_t *mounts = json_object_get(spec, "mounts"), *m, *opts, *v;
	size_t len = 0, i;
	int r = cove_engine_timezone_file(tz, &src, err);

	if (r < 0)
		return r;
	r = cove_read_file(src, 1 << 20, &data, &len);
	if (r < 0)
		return cove_error_setx(err, r, "--tz: cannot read %s", src);
	dst = cove_strdup_printf("%s/localtime", dir);
	if (!dst)
		return -ENOMEM;
	r = cove_write_file_replace_at(AT_FDCWD, dst, data, len, 0644);
	if (r < 0)
		return cove_error_setx(err, r, "--tz: cannot write %s", dst);
	if (!json_is_array(mounts)) {
		mounts = json_array();
		json_object_set_new(spec, "mounts", mounts);
	}
	json_array_foreach(mounts, i, v)
	{
		const char *d =
		    json_string_value(json_object_get(v, "destination"));
		if (d && !strcmp(d, "/etc/localtime"))
			return 0; /* a -v of the user's own wins */
	}
	m = json_object();
	opts = json_array();
	json_array_append_new(opts, json_string("rbind"));
	json_array_append_new(opts, json_string("rprivate"));
	json_array_append_new(opts, json_string("ro"));
	json_object_set_new(m, "destination", json_string("/etc/localtime"));
	json_object_set_new(m, "type", json_string("bind"));
	json_object_set_new(m, "source", json_string(dst));
	json_object_set_new(m, "options", opts);
	json_array_append_new(mounts, m);
	return 0;
}

int cove_engine_process_options(json_t *spec, const json_t *config,
				const char *dir, struct cove_error *err)
{
	const json_t *host = json_object_get(config, "HostConfig");
	json_t *proc = json_object_get(spec, "process");
	const json_t *oom = json_object_get(host, "OomScoreAdj");
	const char *umask_s =
	    json_string_value(json_object_get(config, "Umask"));
	const char *tz = json_string_value(json_object_get(config, "Timezone"));
	const json_t *ann = json_object_get(config, "Annotations");

	if (json_is_integer(oom))
		json_object_set(proc, "oomScoreAdj", (json_t *)oom);
	if (umask_s && *umask_s) {
		json_t *user = json_object_get(proc, "user");
		char *end;
		long v = strtol(umask_s, &end, 8);
		if (*end || v < 0 || v > 0777)
			return cove_error_set(err, EINVAL, "invalid Umask '%s'",
					      umask_s);
		if (!json_is_object(user)) {
			user = json_object();
			json_object_set_new(proc, "user", user);
		}
		json_object_set_new(user, "umask", json_integer(v));
	}
	if (json_object_size(ann)) {
		json_t *a = json_object_get(spec, "annotations");
		if (!json_is_object(a)) {
			a = json_object();
			json_object_set_new(spec, "annotations", a);
		}
		json_object_update(a, (json_t *)ann);
	}
	if (tz && *tz)
		return add_timezone(spec, tz, dir, err);
	return 0;
}
