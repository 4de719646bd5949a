/*
 * cgroup v1 backend, also serving the hybrid layout: one directory per
 * controller mount (cpu, cpuacct, memory, ...), plus, in hybrid mode, the
 * same path in the unified hierarchy.  Each group of resources goes to its
 * v1 controller when one is mounted, else to the unified hierarchy when
 * the controller is available there (hugetlb on hosts that mount it only
 * in cgroup2), through the v2 backend's writers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/strutil.h"

#define FREEZE_TIMEOUT_MS 10000

/*
 * A new cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and
 * the kernel refuses to attach a task to it (ENOSPC) until both are set;
 * every level cove creates therefore gets its parent's values.
 */
static int copy_cpuset(const char *parent, const char *dir,
		       struct cove_error *err)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *mine = NULL, *theirs = NULL;
		int r;

		if (cove_cg_read(dir, files[i], &mine) >= 0 &&
		    mine[strspn(mine, " \n")])
			continue;
		r = cove_cg_read(parent, files[i], &theirs);
		if (r < 0)
			return cove_error_setx(err, r, "cannot read %s/%s",
					       parent, files[i]);
		theirs[strcspn(theirs, "\n")] = '\0';
		if (!*theirs)
			continue;
		r = cove_cg_write(dir, files[i], theirs, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int v1_level(struct cove_cgroup *cg, struct cove_cg_hier *h,
		    const char *parent, const char *dir, bool created,
		    struct cove_error *err)
{
	/* unified hierarchy of the hybrid layout: controllers on demand */
	if (h->v2 || !created)
		return 0;
	if (cove_cg_find_v1(cg, "cpuset") == h)
		return copy_cpuset(parent, dir, err);
	return 0;
}

/* ---- resources -------------------------------------------------------- */

static int write_i64(const char *dir, const char *file, int64_t v,
		     struct cove_error *err)
{
	return cove_cg_writef(dir, file, err, "%lld", (long long)v);
}

/* Deprecated knobs that newer kernels dropped: absent is not an error. */
static int write_optional(const char *dir, const char *file, int64_t v,
			  struct cove_error *err)
{
	if (!cove_cg_exists(dir, file))
		return 0;
	int r = write_i64(dir, file, v, err);
	if (r == -EOPNOTSUPP) {
		cove_error_clear(err);
		return 0;
	}
	return r;
}

/*
 * memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes
 * (memory+swap), so the order of the two writes depends on whether the
 * total grows: a new cgroup's memsw is unlimited, and the memory limit
 * goes first.
 */
static int v1_memory_limits(const char *dir,
			    const struct cove_cgroup_resources *res,
			    struct cove_error *err)
{
	bool memsw = cove_cg_exists(dir, "memory.memsw.limit_in_bytes");
	bool swap = res->has_mem_swap;
	bool swap_first = false;
	int r;

	if (swap && !memsw) {
		/* no swap accounting: fine when no swap was asked for */
		if (res->mem_swap != -1 &&
		    !(res->has_mem_limit && res->mem_swap == res->mem_limit))
			return cove_error_set(err, EOPNOTSUPP,
					      "cannot set "
					      "'linux.resources.memory.swap': "
					      "swap accounting is not enabled "
					      "(no memory.memsw.limit_in_bytes"
					      " in %s)",
					      dir);
		swap = false;
	}
	if (swap && res->has_mem_limit) {
		uint64_t cur = 0;
		if (cove_cg_read_u64(dir, "memory.memsw.limit_in_bytes",
				     &cur) >= 0)
			swap_first = res->mem_swap == -1 ||
				     (uint64_t)res->mem_swap > cur;
	}
	if (swap && swap_first) {
		r = write_i64(dir, "memory.memsw.limit_in_bytes", res->mem_swap,
			      err);
		if (r < 0)
			return r;
	}
	if (res->has_mem_limit) {
		r = write_i64(dir, "memory.limit_in_bytes", res->mem_limit,
			      err);
		if (r < 0)
			return r;
	}
	if (swap && !swap_first) {
		r = write_i64(dir, "memory.memsw.limit_in_bytes", res->mem_swap,
			      err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int v1_set_memory(struct cove_cgroup *cg, struct cove_cg_hier *h,
			 const struct cove_cgroup_resources *res,
			 struct cove_error *err)
{
	const char *dir = h->dir;
	int r;

	if (res->mem_check_before_update && res->has_mem_limit &&
	    res->mem_limit >= 0) {
		uint64_t cur = 0;
		if (cove_cg_read_u64(dir, "memory.usage_in_bytes", &cur) >= 0 &&
		    cur > (uint64_t)res->mem_limit)
			return cove_error_set(
			    err, EBUSY,
			    "cannot set 'linux.resources.memory.limit' to "
			    "%lld: the cgroup already uses %llu bytes",
			    (long long)res->mem_limit, (unsigned long long)cur);
	}
	r = v1_memory_limits(dir, res, err);
	if (r < 0)
		return r;
	if (res->has_mem_reservation) {
		r = write_i64(dir, "memory.soft_limit_in_bytes",
			      res->mem_reservation, err);
		if (r < 0)
			return r;
	}
	if (res->has_mem_kernel) {
		r = write_optional(dir, "memory.kmem.limit_in_bytes",
				   res->mem_kernel, err);
		if (r < 0)
			return r;
	}
	if (res->has_mem_kernel_tcp) {
		r = write_optional(dir, "memory.kmem.tcp.limit_in_bytes",
				   res->mem_kernel_tcp, err);
		if (r < 0)
			return r;
	}
	if (res->has_mem_swappiness) {
		r = cove_cg_writef(dir, "memory.swappiness", err, "%llu",
				   (unsigned long long)res->mem_swappiness);
		if (r < 0)
			return r;
	}
	if (res->has_mem_disable_oom_killer) {
		r = cove_cg_write(dir, "memory.oom_control",
				  res->mem_disable_oom_killer ? "1" : "0", err);
		if (r < 0)
			return r;
	}
	if (res->has_mem_use_hierarchy) {
		r = cove_cg_write(dir, "memory.use_hierarchy",
				  res->mem_use_hierarchy ? "1" : "0", err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int v1_set_cpu(struct cove_cgroup *cg, struct cove_cg_hier *h,
		      const struct cove_cgroup_resources *res,
		      struct cove_error *err)
{
	const char *dir = h->dir;
	int r = 0;

	if (res->has_cpu_shares)
		r = cove_cg_writef(dir, "cpu.shares", err, "%llu",
				   (unsigned long long)res->cpu_shares);
	if (r >= 0 && res->has_cpu_period)
		r = cove_cg_writef(dir, "cpu.cfs_period_us", err, "%llu",
				   (unsigned long long)res->cpu_period);
	if (r >= 0 && res->has_cpu_quota)
		r = write_i64(dir, "cpu.cfs_quota_us", res->cpu_quota, err);
	if (r >= 0 && res->has_cpu_burst)
		r = cove_cg_writef(dir, "cpu.cfs_burst_us", err, "%llu",
				   (unsigned long long)res->cpu_burst);
	/* the runtime may not exceed the period: period first */
	if (r >= 0 && res->has_cpu_realtime_period)
		r = cove_cg_writef(
		    dir, "cpu.rt_period_us", err, "%llu",
		    (unsigned long long)res->cpu_realtime_period);
	if (r >= 0 && res->has_cpu_realtime_runtime)
		r = write_i64(dir, "cpu.rt_runtime_us",
			      res->cpu_realtime_runtime, err);
	if (r >= 0 && res->has_cpu_idle)
		r = write_i64(dir, "cpu.idle", res->cpu_idle, err);
	return r;
}

static int v1_set_cpuset(struct cove_cgroup *cg, struct cove_cg_hier *h,
			 const struct cove_cgroup_resources *res,
			 struct cove_error *err)
{
	return cove_cg_v2_set_cpuset(h, res, err); /* same files */
}

static int v1_set_pids(struct cove_cgroup *cg, struct cove_cg_hier *h,
		       const struct cove_cgroup_resources *res,
		       struct cove_error *err)
{
	return cove_cg_v2_set_pids(h, res, err); /* same file */
}

/* blkio.X or, on kernels with only BFQ, blkio.bfq.X */
static const char *blkio_file(const char *dir, const char *plain,
			      const char *bfq)
{
	if (cove_cg_exists(dir, plain))
		return plain;
	if (bfq && cove_cg_exists(dir, bfq))
		return bfq;
	return NULL;
}

static int v1_set_blkio(struct cove_cgroup *cg, struct cove_cg_hier *h,
			const struct cove_cgroup_resources *res,
			struct cove_error *err)
{
	static const char *const throttle[4] = {
	    "blkio.throttle.read_bps_device",
	    "blkio.throttle.write_bps_device",
	    "blkio.throttle.read_iops_device",
	    "blkio.throttle.write_iops_device",
	};
	const char *dir = h->dir, *f;
	int r;

	if (res->has_blkio_weight) {
		f = blkio_file(dir, "blkio.weight", "blkio.bfq.weight");
		if (!f)
			return cove_error_set(err, EOPNOTSUPP,
					      "cannot set "
					      "'linux.resources.blockIO.weight'"
					      ": no blkio.weight in %s (no "
					      "proportional I/O scheduler)",
					      dir);
		r = cove_cg_writef(dir, f, err, "%u", res->blkio_weight);
		if (r < 0)
			return r;
	}
	if (res->has_blkio_leaf_weight) {
		f = blkio_file(dir, "blkio.leaf_weight", NULL);
		if (!f)
			return cove_error_set(err, EOPNOTSUPP,
					      "cannot set "
					      "'linux.resources.blockIO."
					      "leafWeight': no "
					      "blkio.leaf_weight in %s",
					      dir);
		r = cove_cg_writef(dir, f, err, "%u", res->blkio_leaf_weight);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < res->n_blkio_weight_device; i++) {
		const struct cove_blkio_device *d =
		    &res->blkio_weight_device[i];
		if (d->has_weight) {
			f = blkio_file(dir, "blkio.weight_device",
				       "blkio.bfq.weight_device");
			if (!f)
				return cove_error_set(
				    err, EOPNOTSUPP,
				    "cannot set 'linux.resources.blockIO."
				    "weightDevice[%zu]': no "
				    "blkio.weight_device in %s",
				    i, dir);
			r = cove_cg_writef(dir, f, err, "%lld:%lld %u",
					   (long long)d->major,
					   (long long)d->minor, d->weight);
			if (r < 0)
				return r;
		}
		if (d->has_leaf_weight) {
			r = cove_cg_writef(dir, "blkio.leaf_weight_device", err,
					   "%lld:%lld %u", (long long)d->major,
					   (long long)d->minor, d->leaf_weight);
			if (r < 0)
				return r;
		}
	}
	for (size_t t = 0; t < 4; t++) {
		for (size_t i = 0; i < res->n_throttle[t]; i++) {
			const struct cove_blkio_device *d =
			    &res->throttle[t][i];
			r = cove_cg_writef(
			    dir, throttle[t], err, "%lld:%lld %llu",
			    (long long)d->major, (long long)d->minor,
			    (unsigned long long)d->rate);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int v1_set_hugetlb(struct cove_cgroup *cg, struct cove_cg_hier *h,
			  const struct cove_cgroup_resources *res,
			  struct cove_error *err)
{
	for (size_t i = 0; i < res->n_hugepages; i++) {
		char file[64];
		int r;

		snprintf(file, sizeof(file), "hugetlb.%s.limit_in_bytes",
			 res->hugepages[i].page_size);
		if (!cove_cg_exists(h->dir, file))
			return cove_error_set(
			    err, EINVAL,
			    "invalid 'linux.resources.hugepageLimits[%zu]"
			    ".pageSize': no %s in %s",
			    i, file, h->dir);
		r = cove_cg_writef(h->dir, file, err, "%llu",
				   (unsigned long long)res->hugepages[i].limit);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "c 1:3 rwm", "b *:* r", "a" */
static void device_line(char *buf, size_t size, char type, int64_t major,
			int64_t minor, const char *access)
{
	char ma[24] = "*", mi[24] = "*";

	if (major >= 0)
		snprintf(ma, sizeof(ma), "%lld", (long long)major);
	if (minor >= 0)
		snprintf(mi, sizeof(mi), "%lld", (long long)minor);
	snprintf(buf, size, "%c %s:%s %s", type, ma, mi, access);
}

/*
 * Security boundary: the devices controller keeps the container from
 * opening host block devices, /dev/mem and the like.  The OCI list is
 * applied in order, which the v1 knobs emulate: "a" written to
 * devices.deny switches to deny-by-default and forgets earlier
 * exceptions (so a list starting with the usual deny-all rule starts
 * from nothing), "a" to devices.allow does the opposite, and each other
 * rule adds or removes an exception.  A type "a" rule that names numbers
 * or only some access is written for both char and block devices, since
 * the kernel reads a plain "a" as everything.
 */
static int v1_set_devices(struct cove_cgroup *cg, struct cove_cg_hier *h,
			  const struct cove_cgroup_resources *res,
			  struct cove_error *err)
{
	for (size_t i = 0; i < res->n_devices; i++) {
		const struct cove_device_rule *d = &res->devices[i];
		const char *file = d->allow ? "devices.allow" : "devices.deny";
		char line[96];
		int r;

		if (d->type == 'a' && d->major < 0 && d->minor < 0 &&
		    !strcmp(d->access, "rwm")) {
			r = cove_cg_append(h->dir, file, "a", err);
		} else if (d->type == 'a') {
			device_line(line, sizeof(line), 'c', d->major, d->minor,
				    d->access);
			r = cove_cg_append(h->dir, file, line, err);
			if (r >= 0) {
				device_line(line, sizeof(line), 'b', d->major,
					    d->minor, d->access);
				r = cove_cg_append(h->dir, file, line, err);
			}
		} else {
			device_line(line, sizeof(line), d->type, d->major,
				    d->minor, d->access);
			r = cove_cg_append(h->dir, file, line, err);
		}
		if (r < 0)
			return cove_error_wrap(
			    err, "cannot apply 'linux.resources.devices[%zu]'",
			    i);
	}
	return 0;
}

static int v1_set_net_cls(struct cove_cgroup *cg, struct cove_cg_hier *h,
			  const struct cove_cgroup_resources *res,
			  struct cove_error *err)
{
	if (!res->has_net_class_id)
		return 0;
	return cove_cg_writef(h->dir, "net_cls.classid", err, "%u",
			      res->net_class_id);
}

static int v1_set_net_prio(struct cove_cgroup *cg, struct cove_cg_hier *h,
			   const struct cove_cgroup_resources *res,
			   struct cove_error *err)
{
	json_t *e;
	size_t i;

	json_array_foreach(res->net_priorities, i, e)
	{
		const char *name =
		    json_string_value(json_object_get(e, "name"));
		json_int_t prio =
		    json_integer_value(json_object_get(e, "priority"));
		int r;

		if (!name)
			continue;
		r = cove_cg_writef(h->dir, "net_prio.ifpriomap", err, "%s %lld",
				   name, (long long)prio);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool wants_memory(const struct cove_cgroup_resources *r)
{
	return r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap ||
	       r->has_mem_kernel || r->has_mem_kernel_tcp ||
	       r->has_mem_swappiness || r->has_mem_disable_oom_killer ||
	       r->has_mem_use_hierarchy;
}

static bool wants_cpu(const struct cove_cgroup_resources *r)
{
	return r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period ||
	       r->has_cpu_burst || r->has_cpu_idle ||
	       r->has_cpu_realtime_period || r->has_cpu_realtime_runtime;
}

static bool wants_cpuset(const struct cove_cgroup_resources *r)
{
	return r->cpu_cpus || r->cpu_mems;
}

static bool wants_pids(const struct cove_cgroup_resources *r)
{
	return r->has_pids_limit;
}

static bool wants_blkio(const struct cove_cgroup_resources *r)
{
	if (r->has_blkio_weight || r->has_blkio_leaf_weight ||
	    r->n_blkio_weight_device)
		return true;
	for (size_t i = 0; i < 4; i++)
		if (r->n_throttle[i])
			return true;
	return false;
}

static bool wants_hugetlb(const struct cove_cgroup_resources *r)
{
	return r->n_hugepages > 0;
}

static bool wants_devices(const struct cove_cgroup_resources *r)
{
	return r->n_devices > 0;
}

static bool wants_net_cls(const struct cove_cgroup_resources *r)
{
	return r->has_net_class_id;
}

static bool wants_net_prio(const struct cove_cgroup_resources *r)
{
	return r->net_priorities != NULL;
}

struct group {
	const char *field; /* under linux.resources */
	const char *v1;	   /* v1 controller */
	const char *v2;	   /* unified controller, NULL when none is needed */
	bool (*wants)(const struct cove_cgroup_resources *res);
	int (*set_v1)(struct cove_cgroup *cg, struct cove_cg_hier *h,
		      const struct cove_cgroup_resources *res,
		      struct cove_error *err);
	int (*set_v2)(struct cove_cg_hier *h,
		      const struct cove_cgroup_resources *res,
		      struct cove_error *err);
	bool optional; /* a tag rather than a limit: skip when unmounted */
};

static const struct group groups[] = {
    {"memory", "memory", "memory", wants_memory, v1_set_memory,
     cove_cg_v2_set_memory, false},
    {"cpu", "cpu", "cpu", wants_cpu, v1_set_cpu, cove_cg_v2_set_cpu, false},
    {"cpu.cpus", "cpuset", "cpuset", wants_cpuset, v1_set_cpuset,
     cove_cg_v2_set_cpuset, false},
    {"pids", "pids", "pids", wants_pids, v1_set_pids, cove_cg_v2_set_pids,
     false},
    {"blockIO", "blkio", "io", wants_blkio, v1_set_blkio, cove_cg_v2_set_io,
     false},
    {"hugepageLimits", "hugetlb", "hugetlb", wants_hugetlb, v1_set_hugetlb,
     cove_cg_v2_set_hugetlb, false},
    {"devices", "devices", NULL, wants_devices, v1_set_devices,
     cove_cg_v2_set_devices, false},
    {"network.classID", "net_cls", NULL, wants_net_cls, v1_set_net_cls, NULL,
     true},
    {"network.priorities", "net_prio", NULL, wants_net_prio, v1_set_net_prio,
     NULL, true},
};

static int v1_apply(struct cove_cgroup *cg,
		    const struct cove_cgroup_resources *res,
		    struct cove_error *err)
{
	struct cove_cg_hier *u = cove_cg_find_v2(cg);
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
		const struct group *g = &groups[i];
		struct cove_cg_hier *h;

		if (!g->wants(res))
			continue;
		h = cove_cg_find_v1(cg, g->v1);
		if (h) {
			r = g->set_v1(cg, h, res, err);
		} else if (u && g->set_v2 &&
			   (!g->v2 || cove_cg_v2_available(u, g->v2))) {
			r = g->v2 ? cove_cg_v2_enable(cg, u, g->v2, err) : 0;
			if (r >= 0)
				r = g->set_v2(u, res, err);
		} else if (g->optional) {
			r = 0;
		} else {
			r = cove_error_set(err, EOPNOTSUPP,
					   "cannot apply "
					   "'linux.resources.%s': no %s "
					   "controller under %s",
					   g->field, g->v1, cg->fsroot);
		}
		if (r < 0)
			return r;
	}
	if (res->unified) {
		if (!u)
			return cove_error_set(err, EOPNOTSUPP,
					      "cannot apply "
					      "'linux.resources.unified': no "
					      "cgroup v2 hierarchy under %s",
					      cg->fsroot);
		r = cove_cg_v2_set_unified(cg, u, res->unified, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- freezer ---------------------------------------------------------- */

static int freezer_state(const char *dir, char *buf, size_t size)
{
	_cleanup_free_ char *s = NULL;
	int r = cove_cg_read(dir, "freezer.state", &s);

	if (r < 0)
		return r;
	s[strcspn(s, "\n")] = '\0';
	snprintf(buf, size, "%s", s);
	return 0;
}

/*
 * Writing FROZEN starts freezing; the state reads FREEZING until every
 * task has stopped.  A task in an uninterruptible sleep can hold that up,
 * so the write is repeated while waiting, and on timeout the cgroup is
 * thawed again rather than left half frozen.
 */
static int v1_freeze_dir(const char *dir, bool frozen, struct cove_error *err)
{
	const char *want = frozen ? "FROZEN" : "THAWED";
	int64_t deadline = cove_cg_now_ms() + FREEZE_TIMEOUT_MS;
	char state[32];
	int r;

	for (unsigned i = 0;; i++) {
		if (i % 10 == 0) {
			r = cove_cg_write(dir, "freezer.state", want, err);
			if (r < 0)
				return r;
		}
		r = freezer_state(dir, state, sizeof(state));
		if (r < 0)
			return cove_error_setx(err, r, "cannot read %s/%s", dir,
					       "freezer.state");
		if (!strcmp(state, want))
			return 0;
		if (cove_cg_now_ms() > deadline) {
			if (frozen)
				cove_cg_write(dir, "freezer.state", "THAWED",
					      NULL);
			return cove_error_set(err, ETIMEDOUT,
					      "timed out waiting for %s/%s to "
					      "become %s (it is %s)",
					      dir, "freezer.state", want,
					      state);
		}
		cove_cg_sleep_ms(i < 20 ? 1 : 10);
	}
}

static int v1_freeze(struct cove_cgroup *cg, bool frozen,
		     struct cove_error *err)
{
	struct cove_cg_hier *h = cove_cg_find_v1(cg, "freezer");

	if (h)
		return v1_freeze_dir(h->dir, frozen, err);
	h = cove_cg_find_v2(cg);
	if (h)
		return cove_cg_v2_freeze_hier(h, frozen, err);
	return cove_error_set(err, EOPNOTSUPP,
			      "cannot %s: no freezer controller under %s",
			      frozen ? "freeze" : "thaw", cg->fsroot);
}

static int v1_is_frozen(struct cove_cgroup *cg, bool *ret)
{
	struct cove_cg_hier *h = cove_cg_find_v1(cg, "freezer");
	char state[32];
	int r;

	if (!h) {
		h = cove_cg_find_v2(cg);
		if (h)
			return cove_cg_v2_is_frozen_hier(h, ret);
		*ret = false;
		return 0;
	}
	r = freezer_state(h->dir, state, sizeof(state));
	if (r < 0)
		return r;
	*ret = !strcmp(state, "FROZEN");
	return 0;
}

/* ---- OOM -------------------------------------------------------------- */

static int v1_oom_fd(struct cove_cgroup *cg, int *ret_fd,
		     struct cove_error *err)
{
	struct cove_cg_hier *h = cove_cg_find_v1(cg, "memory");
	_cleanup_close_ int efd = -1, cfd = -1;
	_cleanup_free_ char *p = NULL;
	char buf[64];
	int r;

	if (!h) {
		h = cove_cg_find_v2(cg);
		if (h && cove_cg_exists(h->dir, "memory.events"))
			return cove_cg_v2_oom_fd_hier(h, ret_fd, err);
		return cove_error_set(err, EOPNOTSUPP,
				      "no memory controller under %s",
				      cg->fsroot);
	}
	p = cove_cg_join(h->dir, "memory.oom_control");
	if (!p)
		return -ENOMEM;
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		return cove_error_setx(err, errno, "cannot create an eventfd");
	cfd = open(p, O_RDONLY | O_CLOEXEC);
	if (cfd < 0)
		return cove_error_setx(err, errno, "cannot open %s", p);
	/* the registration holds its own reference to memory.oom_control */
	snprintf(buf, sizeof(buf), "%d %d", efd, cfd);
	r = cove_cg_write(h->dir, "cgroup.event_control", buf, err);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(efd);
	return 0;
}

static int v1_oom_count(struct cove_cgroup *cg, uint64_t *ret)
{
	struct cove_cg_hier *h = cove_cg_find_v1(cg, "memory");
	int r;

	if (!h) {
		h = cove_cg_find_v2(cg);
		if (h)
			return cove_cg_v2_oom_count_hier(h, ret);
		*ret = 0;
		return 0;
	}
	r = cove_cg_read_keyed(h->dir, "memory.oom_control", "oom_kill", ret);
	if (r == -ENOENT) {
		*ret = 0; /* kernels before 4.13 do not count */
		return 0;
	}
	return r;
}

/* ---- stats ------------------------------------------------------------ */

static uint64_t u64_or_0(const char *dir, const char *file)
{
	uint64_t v = 0;

	if (cove_cg_read_u64(dir, file, &v) < 0)
		return 0;
	return v;
}

/* "1 2 3\n" into a JSON array of numbers. */
static int number_list(json_t *obj, const char *key, const char *dir,
		       const char *file)
{
	_cleanup_free_ char *buf = NULL;
	char *tok, *save = NULL;
	json_t *arr;

	if (cove_cg_read(dir, file, &buf) < 0)
		return 0;
	arr = json_array();
	if (!arr || json_object_set_new(obj, key, arr))
		return -ENOMEM;
	for (tok = strtok_r(buf, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		uint64_t v;
		if (cove_parse_uint64(tok, &v) < 0)
			continue;
		if (json_array_append_new(arr, json_integer((json_int_t)v)))
			return -ENOMEM;
	}
	return 0;
}

static int stats_cpu(struct cove_cgroup *cg, json_t *data)
{
	struct cove_cg_hier *acct = cove_cg_find_v1(cg, "cpuacct");
	struct cove_cg_hier *cpu = cove_cg_find_v1(cg, "cpu");
	json_t *c = cove_cg_json_child(data, "cpu");
	json_t *usage = c ? cove_cg_json_child(c, "usage") : NULL;
	json_t *thr = c ? cove_cg_json_child(c, "throttling") : NULL;
	int r;

	if (!usage || !thr)
		return -ENOMEM;
	if (acct) {
		/* cpuacct.stat counts USER_HZ ticks; runc reports ns */
		long hz = sysconf(_SC_CLK_TCK);
		uint64_t tick =
		    hz > 0 ? 1000000000ULL / (uint64_t)hz : 10000000;
		uint64_t user = 0, sys = 0;

		cove_cg_read_keyed(acct->dir, "cpuacct.stat", "user", &user);
		cove_cg_read_keyed(acct->dir, "cpuacct.stat", "system", &sys);
		r = cove_cg_json_set_u64(usage, "total",
					 u64_or_0(acct->dir, "cpuacct.usage"));
		if (r >= 0)
			r = cove_cg_json_set_u64(usage, "kernel", sys * tick);
		if (r >= 0)
			r = cove_cg_json_set_u64(usage, "user", user * tick);
		if (r >= 0)
			r = number_list(usage, "percpu", acct->dir,
					"cpuacct.usage_percpu");
		if (r >= 0)
			r = number_list(usage, "percpu_kernel", acct->dir,
					"cpuacct.usage_percpu_sys");
		if (r >= 0)
			r = number_list(usage, "percpu_user", acct->dir,
					"cpuacct.usage_percpu_user");
		if (r < 0)
			return r;
	}
	if (cpu && cove_cg_exists(cpu->dir, "cpu.stat")) {
		uint64_t p = 0, tp = 0, tt = 0;
		cove_cg_read_keyed(cpu->dir, "cpu.stat", "nr_periods", &p);
		cove_cg_read_keyed(cpu->dir, "cpu.stat", "nr_throttled", &tp);
		cove_cg_read_keyed(cpu->dir, "cpu.stat", "throttled_time", &tt);
		if (cove_cg_json_set_u64(thr, "periods", p) < 0 ||
		    cove_cg_json_set_u64(thr, "throttledPeriods", tp) < 0 ||
		    cove_cg_json_set_u64(thr, "throttledTime", tt) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int memory_entry(json_t *mem, const char *key, const char *dir,
			const char *prefix)
{
	char f[96];
	json_t *e;
	uint64_t v[4];
	static const char *const names[4] = {"limit", "usage", "max",
					     "failcnt"};
	static const char *const files[4] = {"limit_in_bytes", "usage_in_bytes",
					     "max_usage_in_bytes", "failcnt"};

	snprintf(f, sizeof(f), "%susage_in_bytes", prefix);
	if (!cove_cg_exists(dir, f))
		return 0;
	e = cove_cg_json_child(mem, key);
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < 4; i++) {
		snprintf(f, sizeof(f), "%s%s", prefix, files[i]);
		v[i] = u64_or_0(dir, f);
		if (cove_cg_json_set_u64(e, names[i], v[i]) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int stats_memory(struct cove_cg_hier *h, json_t *data)
{
	json_t *mem = cove_cg_json_child(data, "memory");
	json_t *raw, *cache;
	int r;

	if (!mem)
		return -ENOMEM;
	r = memory_entry(mem, "usage", h->dir, "memory.");
	if (r >= 0)
		r = memory_entry(mem, "swap", h->dir, "memory.memsw.");
	if (r >= 0)
		r = memory_entry(mem, "kernel", h->dir, "memory.kmem.");
	if (r >= 0)
		r = memory_entry(mem, "kernelTCP", h->dir, "memory.kmem.tcp.");
	if (r < 0)
		return r;
	raw = cove_cg_json_child(mem, "raw");
	if (!raw)
		return -ENOMEM;
	cove_cg_json_keyed(raw, h->dir, "memory.stat");
	cache = json_object_get(raw, "cache");
	if (cache && json_object_set(mem, "cache", cache))
		return -ENOMEM;
	return 0;
}

static int stats_pids(struct cove_cg_hier *h, json_t *data)
{
	json_t *pids = cove_cg_json_child(data, "pids");

	if (!pids)
		return -ENOMEM;
	if (cove_cg_json_set_u64(pids, "current",
				 u64_or_0(h->dir, "pids.current")) < 0 ||
	    cove_cg_json_set_u64(pids, "limit", u64_or_0(h->dir, "pids.max")) <
		0)
		return -ENOMEM;
	return 0;
}

/* "8:0 Read 4096" lines (the "Total" line is skipped). */
static int blkio_list(json_t *blkio, const char *key, const char *dir,
		      const char *file, const char *fallback)
{
	_cleanup_free_ char *buf = NULL;
	char *line, *save = NULL;
	json_t *arr;

	if (cove_cg_read(dir, file, &buf) < 0 &&
	    cove_cg_read(dir, fallback, &buf) < 0)
		return 0;
	arr = json_array();
	if (!arr || json_object_set_new(blkio, key, arr))
		return -ENOMEM;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned maj, min;
		char op[16];
		unsigned long long v;
		json_t *e;

		if (sscanf(line, "%u:%u %15s %llu", &maj, &min, op, &v) != 4)
			continue;
		e = json_object();
		if (!e || json_array_append_new(arr, e) ||
		    cove_cg_json_set_u64(e, "major", maj) < 0 ||
		    cove_cg_json_set_u64(e, "minor", min) < 0 ||
		    json_object_set_new(e, "op", json_string(op)) ||
		    cove_cg_json_set_u64(e, "value", v) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int stats_blkio(struct cove_cg_hier *h, json_t *data)
{
	json_t *blkio = cove_cg_json_child(data, "blkio");
	int r;

	if (!blkio)
		return -ENOMEM;
	r = blkio_list(blkio, "ioServiceBytesRecursive", h->dir,
		       "blkio.io_service_bytes_recursive",
		       "blkio.throttle.io_service_bytes_recursive");
	if (r >= 0)
		r = blkio_list(blkio, "ioServicedRecursive", h->dir,
			       "blkio.io_serviced_recursive",
			       "blkio.throttle.io_serviced_recursive");
	return r;
}

static int stats_hugetlb(struct cove_cg_hier *h, json_t *data)
{
	json_t *huge = cove_cg_json_child(data, "hugetlb");
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (!huge)
		return -ENOMEM;
	d = opendir(h->dir);
	if (!d)
		return 0;
	/* one "hugetlb.<size>.usage_in_bytes" per page size */
	while ((de = readdir(d))) {
		const char *name = de->d_name, *end;
		char size[32], f[96];
		json_t *e;
		size_t n;

		if (!cove_str_has_prefix(name, "hugetlb."))
			continue;
		end = strstr(name, ".usage_in_bytes");
		if (!end || strstr(name, ".rsvd."))
			continue;
		n = (size_t)(end - name) - 8;
		if (n == 0 || n >= sizeof(size))
			continue;
		memcpy(size, name + 8, n);
		size[n] = '\0';
		e = cove_cg_json_child(huge, size);
		if (!e || cove_cg_json_set_u64(e, "usage",
					       u64_or_0(h->dir, name)) < 0)
			return -ENOMEM;
		snprintf(f, sizeof(f), "hugetlb.%s.max_usage_in_bytes", size);
		if (cove_cg_json_set_u64(e, "max", u64_or_0(h->dir, f)) < 0)
			return -ENOMEM;
		snprintf(f, sizeof(f), "hugetlb.%s.failcnt", size);
		if (cove_cg_json_set_u64(e, "failcnt", u64_or_0(h->dir, f)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int v1_stats(struct cove_cgroup *cg, json_t *data,
		    struct cove_error *err)
{
	/* v1 controller, its unified name, the v1 reader */
	static const struct {
		const char *v1, *v2;
		int (*read)(struct cove_cg_hier *h, json_t *data);
	} parts[] = {
	    {"memory", "memory", stats_memory},
	    {"pids", "pids", stats_pids},
	    {"blkio", "io", stats_blkio},
	    {"hugetlb", "hugetlb", stats_hugetlb},
	};
	struct cove_cg_hier *u = cove_cg_find_v2(cg);
	int r;

	r = stats_cpu(cg, data);
	if (r >= 0 && !cove_cg_find_v1(cg, "cpuacct") && u)
		r = cove_cg_v2_stats_of(u, "cpu", data);
	for (size_t i = 0; i < ARRAY_SIZE(parts) && r >= 0; i++) {
		struct cove_cg_hier *h = cove_cg_find_v1(cg, parts[i].v1);
		if (h)
			r = parts[i].read(h, data);
		else if (u)
			r = cove_cg_v2_stats_of(u, parts[i].v2, data);
	}
	if (r < 0)
		return cove_error_setx(err, r,
				       "cannot read the statistics of cgroup "
				       "%s",
				       cg->path);
	return 0;
}

const struct cove_cg_ops cove_cg_v1_ops = {
    .level = v1_level,
    .apply = v1_apply,
    .freeze = v1_freeze,
    .is_frozen = v1_is_frozen,
    .stats = v1_stats,
    .oom_fd = v1_oom_fd,
    .oom_count = v1_oom_count,
};
