/*
 * cgroup v2 (unified hierarchy) backend.  Also used by the hybrid layout
 * for the controllers that only the unified hierarchy has (hugetlb on
 * many hosts), and for the device program when there is no v1 devices
 * controller.
 *
 * Controllers must be enabled in cgroup.subtree_control of every ancestor
 * before their files appear in a child; the leaf itself never gets
 * subtree_control entries, since a cgroup with processes may not have
 * domain controllers enabled for children ("no internal processes").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "runtime/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/strutil.h"

#define FREEZE_TIMEOUT_MS 10000

/* Is @name a word of the space-separated @list ("+memory" counts)? */
static bool list_has(const char *list, const char *name)
{
	size_t len = strlen(name);

	while (list && *list) {
		size_t n;
		list += strspn(list, " \t\n+");
		n = strcspn(list, " \t\n+");
		if (n == len && !strncmp(list, name, len))
			return true;
		list += n;
	}
	return false;
}

bool cove_cg_v2_available(struct cove_cg_hier *h, const char *controller)
{
	_cleanup_free_ char *buf = NULL;

	if (cove_cg_read(h->mount, "cgroup.controllers", &buf) < 0)
		return false;
	return list_has(buf, controller);
}

/* Enable @controller in @dir/cgroup.subtree_control unless it is. */
static int enable_in(const char *dir, const char *controller,
		     struct cove_error *err)
{
	_cleanup_free_ char *cur = NULL;
	char buf[64];
	int r;

	r = cove_cg_read(dir, "cgroup.subtree_control", &cur);
	if (r < 0)
		return cove_error_setx(err, r, "cannot read %s/%s", dir,
				       "cgroup.subtree_control");
	if (list_has(cur, controller))
		return 0;
	snprintf(buf, sizeof(buf), "+%s", controller);
	return cove_cg_append(dir, "cgroup.subtree_control", buf, err);
}

int cove_cg_v2_enable(struct cove_cgroup *cg, struct cove_cg_hier *h,
		      const char *controller, struct cove_error *err)
{
	for (size_t i = 0; i < cg->depth; i++) {
		_cleanup_free_ char *dir = cove_cg_level_dir(cg, h, i);
		int r;

		if (!dir)
			return -ENOMEM;
		r = enable_in(dir, controller, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Pure v2: every controller the parent offers is enabled for its
 * children, as runc and crun do, so that the container's limits and stats
 * work whatever is asked later.  A pre-existing ancestor that holds
 * processes refuses (EBUSY); limits that need the controller then fail
 * with a clear error when applied.
 */
static int v2_level(struct cove_cgroup *cg, struct cove_cg_hier *h,
		    const char *parent, const char *dir, bool created,
		    struct cove_error *err)
{
	_cleanup_free_ char *avail = NULL, *enabled = NULL;
	char *tok, *save = NULL;

	if (cove_cg_read(parent, "cgroup.controllers", &avail) < 0)
		return 0;
	if (cove_cg_read(parent, "cgroup.subtree_control", &enabled) < 0)
		return 0;
	for (tok = strtok_r(avail, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		char buf[64];
		if (list_has(enabled, tok))
			continue;
		snprintf(buf, sizeof(buf), "+%s", tok);
		cove_cg_append(parent, "cgroup.subtree_control", buf, NULL);
	}
	return 0;
}

/* ---- resources -------------------------------------------------------- */

static int write_limit(const char *dir, const char *file, int64_t v,
		       struct cove_error *err)
{
	if (v < 0)
		return cove_cg_write(dir, file, "max", err);
	return cove_cg_writef(dir, file, err, "%lld", (long long)v);
}

/*
 * OCI's memory.swap is the memory+swap total (the v1 memsw knob); v2
 * limits swap alone, so swap.max = swap - limit.
 */
static int swap_max(const struct cove_cgroup_resources *res, int64_t *ret,
		    struct cove_error *err)
{
	if (res->mem_swap == -1) {
		*ret = -1;
		return 0;
	}
	if (!res->has_mem_limit || res->mem_limit == -1)
		return cove_error_set(err, EINVAL,
				      "invalid 'linux.resources.memory.swap': "
				      "a swap limit needs a memory limit on "
				      "cgroup v2");
	if (res->mem_swap < res->mem_limit)
		return cove_error_set(err, EINVAL,
				      "invalid 'linux.resources.memory.swap': "
				      "must be >= the memory limit");
	*ret = res->mem_swap - res->mem_limit;
	return 0;
}

int cove_cg_v2_set_memory(struct cove_cg_hier *h,
			  const struct cove_cgroup_resources *res,
			  struct cove_error *err)
{
	int r;

	if (res->mem_check_before_update && res->has_mem_limit &&
	    res->mem_limit >= 0) {
		uint64_t cur = 0;
		if (cove_cg_read_u64(h->dir, "memory.current", &cur) >= 0 &&
		    cur > (uint64_t)res->mem_limit)
			return cove_error_set(
			    err, EBUSY,
			    "cannot set 'linux.resources.memory.limit' to "
			    "%lld: the cgroup already uses %llu bytes",
			    (long long)res->mem_limit, (unsigned long long)cur);
	}
	if (res->has_mem_swap) {
		int64_t sw = -1;
		r = swap_max(res, &sw, err);
		if (r < 0)
			return r;
		/* without swap accounting there is nothing to limit */
		if (cove_cg_exists(h->dir, "memory.swap.max")) {
			r = write_limit(h->dir, "memory.swap.max", sw, err);
			if (r < 0)
				return r;
		} else if (sw != -1 && sw != 0) {
			return cove_error_set(err, EOPNOTSUPP,
					      "cannot set "
					      "'linux.resources.memory.swap': "
					      "swap accounting is not enabled");
		}
	}
	if (res->has_mem_limit) {
		r = write_limit(h->dir, "memory.max", res->mem_limit, err);
		if (r < 0)
			return r;
	}
	if (res->has_mem_reservation) {
		r = write_limit(h->dir, "memory.low", res->mem_reservation,
				err);
		if (r < 0)
			return r;
	}
	/*
	 * kernel, kernelTCP, swappiness, disableOOMKiller and useHierarchy
	 * have no v2 counterpart; like runc, they are ignored here.
	 */
	return 0;
}

int cove_cg_v2_set_cpu(struct cove_cg_hier *h,
		       const struct cove_cgroup_resources *res,
		       struct cove_error *err)
{
	int r;

	if (res->has_cpu_realtime_runtime || res->has_cpu_realtime_period)
		return cove_error_set(err, EOPNOTSUPP,
				      "invalid 'linux.resources.cpu': "
				      "realtime limits are not supported on "
				      "cgroup v2");
	if (res->has_cpu_shares) {
		/* the mapping of [2, 262144] onto [1, 10000] runc uses */
		uint64_t w = 1 + ((res->cpu_shares - 2) * 9999) / 262142;
		r = cove_cg_writef(h->dir, "cpu.weight", err, "%llu",
				   (unsigned long long)w);
		if (r < 0)
			return r;
	}
	if (res->has_cpu_quota || res->has_cpu_period) {
		char quota[32] = "max";
		uint64_t period = res->cpu_period;
		_cleanup_free_ char *cur = NULL;

		if (res->has_cpu_quota && res->cpu_quota > 0)
			snprintf(quota, sizeof(quota), "%lld",
				 (long long)res->cpu_quota);
		/* keep whichever half was not given */
		if ((!res->has_cpu_quota || !res->has_cpu_period) &&
		    cove_cg_read(h->dir, "cpu.max", &cur) >= 0) {
			char *sp = strchr(cur, ' ');
			uint64_t p;
			if (sp) {
				*sp = '\0';
				if (!res->has_cpu_quota &&
				    strlen(cur) < sizeof(quota))
					snprintf(quota, sizeof(quota), "%s",
						 cur);
				sp[1 + strcspn(sp + 1, "\n")] = '\0';
				if (!res->has_cpu_period &&
				    cove_parse_uint64(sp + 1, &p) >= 0)
					period = p;
			}
		}
		if (!period)
			period = 100000;
		r = cove_cg_writef(h->dir, "cpu.max", err, "%s %llu", quota,
				   (unsigned long long)period);
		if (r < 0)
			return r;
	}
	if (res->has_cpu_burst) {
		r = cove_cg_writef(h->dir, "cpu.max.burst", err, "%llu",
				   (unsigned long long)res->cpu_burst);
		if (r < 0)
			return r;
	}
	if (res->has_cpu_idle) {
		r = cove_cg_writef(h->dir, "cpu.idle", err, "%lld",
				   (long long)res->cpu_idle);
		if (r < 0)
			return r;
	}
	return 0;
}

int cove_cg_v2_set_cpuset(struct cove_cg_hier *h,
			  const struct cove_cgroup_resources *res,
			  struct cove_error *err)
{
	int r = 0;

	if (res->cpu_cpus)
		r = cove_cg_write(h->dir, "cpuset.cpus", res->cpu_cpus, err);
	if (r >= 0 && res->cpu_mems)
		r = cove_cg_write(h->dir, "cpuset.mems", res->cpu_mems, err);
	return r;
}

int cove_cg_v2_set_pids(struct cove_cg_hier *h,
			const struct cove_cgroup_resources *res,
			struct cove_error *err)
{
	if (!res->has_pids_limit)
		return 0;
	return write_limit(h->dir, "pids.max", res->pids_limit, err);
}

/* v1 blkio weight [10, 1000] to v2 io.weight [1, 10000], as runc does. */
static uint64_t io_weight(uint16_t w)
{
	return 1 + ((uint64_t)w - 10) * 9999 / 990;
}

int cove_cg_v2_set_io(struct cove_cg_hier *h,
		      const struct cove_cgroup_resources *res,
		      struct cove_error *err)
{
	static const char *const keys[4] = {"rbps", "wbps", "riops", "wiops"};
	/* io.bfq.weight takes the v1 range unchanged */
	bool bfq = cove_cg_exists(h->dir, "io.bfq.weight");
	const char *wfile = bfq ? "io.bfq.weight" : "io.weight";
	int r;

	if (res->has_blkio_weight) {
		uint64_t w =
		    bfq ? res->blkio_weight : io_weight(res->blkio_weight);
		r = cove_cg_writef(h->dir, wfile, err, "%llu",
				   (unsigned long long)w);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < res->n_blkio_weight_device; i++) {
		const struct cove_blkio_device *d =
		    &res->blkio_weight_device[i];
		uint64_t w;
		if (!d->has_weight)
			continue;
		w = bfq ? d->weight : io_weight(d->weight);
		r = cove_cg_writef(h->dir, wfile, err, "%lld:%lld %llu",
				   (long long)d->major, (long long)d->minor,
				   (unsigned long long)w);
		if (r < 0)
			return r;
	}
	for (size_t t = 0; t < 4; t++) {
		for (size_t i = 0; i < res->n_throttle[t]; i++) {
			const struct cove_blkio_device *d =
			    &res->throttle[t][i];
			char rate[32] = "max";
			if (d->rate)
				snprintf(rate, sizeof(rate), "%llu",
					 (unsigned long long)d->rate);
			r = cove_cg_writef(h->dir, "io.max", err,
					   "%lld:%lld %s=%s",
					   (long long)d->major,
					   (long long)d->minor, keys[t], rate);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int cove_cg_v2_set_hugetlb(struct cove_cg_hier *h,
			   const struct cove_cgroup_resources *res,
			   struct cove_error *err)
{
	for (size_t i = 0; i < res->n_hugepages; i++) {
		char file[64];
		int r;

		snprintf(file, sizeof(file), "hugetlb.%s.max",
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
		/* reservations count against the limit too, where known */
		snprintf(file, sizeof(file), "hugetlb.%s.rsvd.max",
			 res->hugepages[i].page_size);
		if (cove_cg_exists(h->dir, file)) {
			r = cove_cg_writef(
			    h->dir, file, err, "%llu",
			    (unsigned long long)res->hugepages[i].limit);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int cove_cg_v2_set_unified(struct cove_cgroup *cg, struct cove_cg_hier *h,
			   json_t *unified, struct cove_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(unified, key, v)
	{
		char ctl[64];
		size_t n = strcspn(key, ".");
		int r;

		/* keys were checked by the parser; check again, cheaply */
		if (strchr(key, '/') || strstr(key, "..") || key[0] == '.' ||
		    !json_is_string(v))
			return cove_error_set(err, EINVAL,
					      "invalid "
					      "'linux.resources.unified.%s'",
					      key);
		if (n < sizeof(ctl) && key[n]) {
			memcpy(ctl, key, n);
			ctl[n] = '\0';
			if (strcmp(ctl, "cgroup") &&
			    cove_cg_v2_available(h, ctl)) {
				r = cove_cg_v2_enable(cg, h, ctl, err);
				if (r < 0)
					return r;
			}
		}
		if (!cove_cg_exists(h->dir, key))
			return cove_error_set(err, ENOENT,
					      "cannot set "
					      "'linux.resources.unified.%s': "
					      "no such file in %s",
					      key, h->dir);
		r = cove_cg_write(h->dir, key, json_string_value(v), err);
		if (r < 0)
			return cove_error_wrap(
			    err, "cannot set 'linux.resources.unified.%s'",
			    key);
	}
	return 0;
}

/* ---- devices: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE ----- */

#define INSN(c, d, s, o, i)                                                    \
	((struct bpf_insn){.code = (c),                                        \
			   .dst_reg = (d),                                     \
			   .src_reg = (s),                                     \
			   .off = (o),                                         \
			   .imm = (i)})
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define MOV_X(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_K(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ALU_K(op, d, i) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define JMP_K(op, d, i, o) INSN(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers of the program (r1 holds the context on entry). */
enum {
	R_TYPE = BPF_REG_2,
	R_ACC = BPF_REG_3, /* requested access not yet decided */
	R_MAJOR = BPF_REG_4,
	R_MINOR = BPF_REG_5,
	R_TMP = BPF_REG_6,
};

static int32_t access_bits(const char *access)
{
	int32_t a = 0;

	for (; *access; access++) {
		if (*access == 'r')
			a |= BPF_DEVCG_ACC_READ;
		else if (*access == 'w')
			a |= BPF_DEVCG_ACC_WRITE;
		else if (*access == 'm')
			a |= BPF_DEVCG_ACC_MKNOD;
	}
	return a;
}

/* Emit "if (reg op imm) goto <instruction @end>" at *k. */
static void jmp_next(struct bpf_insn *p, size_t *k, size_t end, int op, int reg,
		     int32_t imm)
{
	p[*k] = JMP_K(op, reg, imm, (int16_t)(end - *k - 1));
	(*k)++;
}

static size_t rule_len(const struct cove_device_rule *d)
{
	size_t n = 3; /* the access test */

	n += d->type != 'a';
	n += d->major >= 0;
	n += d->minor >= 0;
	n += d->allow ? 4 : 2;
	return n;
}

/*
 * The OCI rule list means: for each access bit of a request, the last
 * rule that matches the device and mentions that bit decides; with no
 * matching rule the request is allowed, as in a fresh v1 devices cgroup
 * (a list that starts with the usual deny-all rule thus denies by
 * default).  The program walks the rules from the last to the first,
 * keeping in R_ACC the requested bits that no rule has decided yet: a
 * matching deny rule that covers one of them denies the request, a
 * matching allow rule clears the bits it covers, and once none is left
 * the request is allowed.  Deciding per bit keeps "deny w" meaningful
 * for a read-write open of a device that an earlier rule allows.
 */
int cove_cg_devices_program(const struct cove_device_rule *rules, size_t n,
			    void **ret, size_t *ret_n)
{
	struct bpf_insn *p;
	size_t len = 6 + 2, k = 0;

	for (size_t i = 0; i < n; i++)
		len += rule_len(&rules[i]);
	if (len > 1000000)
		return -E2BIG;
	p = calloc(len, sizeof(*p));
	if (!p)
		return -ENOMEM;

	/* access_type = (access << 16) | type */
	p[k++] = LDX_W(R_TYPE, BPF_REG_1,
		       offsetof(struct bpf_cgroup_dev_ctx, access_type));
	p[k++] = MOV_X(R_ACC, R_TYPE);
	p[k++] = ALU_K(BPF_RSH, R_ACC, 16);
	p[k++] = ALU_K(BPF_AND, R_TYPE, 0xffff);
	p[k++] = LDX_W(R_MAJOR, BPF_REG_1,
		       offsetof(struct bpf_cgroup_dev_ctx, major));
	p[k++] = LDX_W(R_MINOR, BPF_REG_1,
		       offsetof(struct bpf_cgroup_dev_ctx, minor));

	for (size_t i = n; i-- > 0;) {
		const struct cove_device_rule *d = &rules[i];
		size_t end = k + rule_len(d);
		int32_t acc = access_bits(d->access);

		/* a jump at index j to the next rule skips end - j - 1 */
		if (d->type != 'a')
			jmp_next(p, &k, end, BPF_JNE, R_TYPE,
				 d->type == 'b' ? BPF_DEVCG_DEV_BLOCK
						: BPF_DEVCG_DEV_CHAR);
		if (d->major >= 0)
			jmp_next(p, &k, end, BPF_JNE, R_MAJOR,
				 (int32_t)d->major);
		if (d->minor >= 0)
			jmp_next(p, &k, end, BPF_JNE, R_MINOR,
				 (int32_t)d->minor);
		p[k++] = MOV_X(R_TMP, R_ACC);
		p[k++] = ALU_K(BPF_AND, R_TMP, acc);
		jmp_next(p, &k, end, BPF_JEQ, R_TMP, 0);
		if (d->allow) {
			p[k++] = ALU_K(BPF_AND, R_ACC, ~acc);
			p[k++] = JMP_K(BPF_JNE, R_ACC, 0, 2);
			p[k++] = MOV_K(BPF_REG_0, 1);
			p[k++] = EXIT();
		} else {
			p[k++] = MOV_K(BPF_REG_0, 0);
			p[k++] = EXIT();
		}
	}
	p[k++] = MOV_K(BPF_REG_0, 1);
	p[k++] = EXIT();
	*ret = p;
	*ret_n = k;
	return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	long r = syscall(SYS_bpf, cmd, attr, sizeof(*attr));

	return r < 0 ? -errno : (int)r;
}

static int load_program(const struct bpf_insn *insns, size_t n,
			struct cove_error *err)
{
	const size_t log_size = 16384;
	_cleanup_free_ char *log = NULL;
	union bpf_attr attr;
	const char *last;
	size_t l;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.expected_attach_type = BPF_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)n;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd;
	if (fd != -EINVAL || !(log = calloc(1, log_size)))
		return cove_error_setx(err, fd,
				       "cannot load the device cgroup eBPF "
				       "program");
	/* load again with the verifier's log, to say why */
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = (uint32_t)log_size;
	attr.log_level = 1;
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd;
	log[log_size - 1] = '\0';
	l = strlen(log);
	while (l && log[l - 1] == '\n')
		log[--l] = '\0';
	last = strrchr(log, '\n');
	return cove_error_set(err, fd,
			      "cannot load the device cgroup eBPF program: %s",
			      last ? last + 1 : log);
}

/* Ids of the device programs attached directly to @cgfd. */
static int query_programs(int cgfd, uint32_t *ids, uint32_t *n)
{
	union bpf_attr attr;
	int r;

	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)cgfd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = *n;
	r = sys_bpf(BPF_PROG_QUERY, &attr);
	if (r < 0)
		return r;
	*n = attr.query.prog_cnt;
	return 0;
}

static void detach_program(int cgfd, uint32_t id)
{
	_cleanup_close_ int fd = -1;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0)
		return;
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgfd;
	attr.attach_bpf_fd = (uint32_t)fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	sys_bpf(BPF_PROG_DETACH, &attr);
}

/*
 * Security boundary: this program is what keeps the container away from
 * the host's disks and memory devices on cgroup v2.  The new program is
 * attached before the old ones are detached, so that there is never a
 * moment without a filter (while both are attached, a device needs both
 * to allow it).
 */
int cove_cg_v2_set_devices(struct cove_cg_hier *h,
			   const struct cove_cgroup_resources *res,
			   struct cove_error *err)
{
	_cleanup_free_ void *insns = NULL;
	_cleanup_close_ int cgfd = -1, prog = -1;
	uint32_t old[64], n_old = ARRAY_SIZE(old);
	union bpf_attr attr;
	size_t n = 0;
	int r;

	if (!res->n_devices)
		return 0;
	r = cove_cg_devices_program(res->devices, res->n_devices, &insns, &n);
	if (r < 0)
		return cove_error_setx(err, r,
				       "cannot build the device cgroup "
				       "program");
	cgfd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return cove_error_setx(err, errno, "cannot open %s", h->dir);
	if (query_programs(cgfd, old, &n_old) < 0)
		n_old = 0;
	prog = load_program(insns, n, err);
	if (prog < 0)
		return prog;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgfd;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	r = sys_bpf(BPF_PROG_ATTACH, &attr);
	if (r < 0 && n_old == 0) {
		/* kernels or parents without multi-attach support */
		attr.attach_flags = 0;
		r = sys_bpf(BPF_PROG_ATTACH, &attr);
	}
	if (r < 0)
		return cove_error_setx(err, r,
				       "cannot attach the device cgroup "
				       "program to %s",
				       h->dir);
	for (uint32_t i = 0; i < n_old && i < ARRAY_SIZE(old); i++)
		detach_program(cgfd, old[i]);
	return 0;
}

/* ---- v2 ops ----------------------------------------------------------- */

static bool wants_memory(const struct cove_cgroup_resources *res)
{
	return res->has_mem_limit || res->has_mem_reservation ||
	       res->has_mem_swap;
}

static bool wants_cpu(const struct cove_cgroup_resources *res)
{
	return res->has_cpu_shares || res->has_cpu_quota ||
	       res->has_cpu_period || res->has_cpu_burst || res->has_cpu_idle;
}

static bool wants_io(const struct cove_cgroup_resources *res)
{
	if (res->has_blkio_weight || res->n_blkio_weight_device)
		return true;
	for (size_t i = 0; i < 4; i++)
		if (res->n_throttle[i])
			return true;
	return false;
}

static int need(struct cove_cgroup *cg, struct cove_cg_hier *h,
		const char *controller, const char *field,
		struct cove_error *err)
{
	if (!cove_cg_v2_available(h, controller))
		return cove_error_set(err, EOPNOTSUPP,
				      "cannot apply 'linux.resources.%s': "
				      "the %s controller is not available in "
				      "%s",
				      field, controller, h->mount);
	return cove_cg_v2_enable(cg, h, controller, err);
}

static int v2_apply(struct cove_cgroup *cg,
		    const struct cove_cgroup_resources *res,
		    struct cove_error *err)
{
	struct cove_cg_hier *h = &cg->hiers[0];
	int r = 0;

	if (res->has_cpu_realtime_period || res->has_cpu_realtime_runtime)
		return cove_cg_v2_set_cpu(h, res, err);
	if (wants_memory(res)) {
		r = need(cg, h, "memory", "memory", err);
		if (r >= 0)
			r = cove_cg_v2_set_memory(h, res, err);
		if (r < 0)
			return r;
	}
	if (wants_cpu(res)) {
		r = need(cg, h, "cpu", "cpu", err);
		if (r >= 0)
			r = cove_cg_v2_set_cpu(h, res, err);
		if (r < 0)
			return r;
	}
	if (res->cpu_cpus || res->cpu_mems) {
		r = need(cg, h, "cpuset", "cpu.cpus", err);
		if (r >= 0)
			r = cove_cg_v2_set_cpuset(h, res, err);
		if (r < 0)
			return r;
	}
	if (res->has_pids_limit) {
		r = need(cg, h, "pids", "pids", err);
		if (r >= 0)
			r = cove_cg_v2_set_pids(h, res, err);
		if (r < 0)
			return r;
	}
	if (wants_io(res)) {
		r = need(cg, h, "io", "blockIO", err);
		if (r >= 0)
			r = cove_cg_v2_set_io(h, res, err);
		if (r < 0)
			return r;
	}
	if (res->n_hugepages) {
		r = need(cg, h, "hugetlb", "hugepageLimits", err);
		if (r >= 0)
			r = cove_cg_v2_set_hugetlb(h, res, err);
		if (r < 0)
			return r;
	}
	/*
	 * net_cls/net_prio have no v2 counterpart; the class id is a tag
	 * for tc, not a limit, and runc ignores it here too.
	 */
	if (res->unified) {
		r = cove_cg_v2_set_unified(cg, h, res->unified, err);
		if (r < 0)
			return r;
	}
	return cove_cg_v2_set_devices(h, res, err);
}

/* Wait until cgroup.events says "frozen @want". */
static int wait_frozen(struct cove_cg_hier *h, bool want,
		       struct cove_error *err)
{
	_cleanup_free_ char *p = cove_cg_join(h->dir, "cgroup.events");
	_cleanup_close_ int fd = -1;
	int64_t deadline = cove_cg_now_ms() + FREEZE_TIMEOUT_MS;

	if (!p)
		return -ENOMEM;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open %s", p);
	for (;;) {
		uint64_t v = 0;
		struct pollfd pfd = {.fd = fd, .events = POLLPRI};
		if (cove_cg_read_keyed(h->dir, "cgroup.events", "frozen", &v) >=
			0 &&
		    (v == 1) == want)
			return 0;
		if (cove_cg_now_ms() > deadline)
			return cove_error_set(err, ETIMEDOUT,
					      "timed out waiting for %s to "
					      "report frozen %d",
					      p, want);
		/* the kernel signals POLLPRI on change; poll as a fallback */
		poll(&pfd, 1, 100);
	}
}

int cove_cg_v2_freeze_hier(struct cove_cg_hier *h, bool frozen,
			   struct cove_error *err)
{
	int r;

	if (!cove_cg_exists(h->dir, "cgroup.freeze"))
		return cove_error_set(err, EOPNOTSUPP,
				      "cannot %s: %s/cgroup.freeze does not "
				      "exist (kernel older than 5.2)",
				      frozen ? "freeze" : "thaw", h->dir);
	r = cove_cg_write(h->dir, "cgroup.freeze", frozen ? "1" : "0", err);
	if (r < 0)
		return r;
	return wait_frozen(h, frozen, err);
}

int cove_cg_v2_is_frozen_hier(struct cove_cg_hier *h, bool *ret)
{
	uint64_t v = 0;
	int r = cove_cg_read_u64(h->dir, "cgroup.freeze", &v);

	if (r < 0)
		return r;
	*ret = v == 1;
	return 0;
}

static int v2_freeze(struct cove_cgroup *cg, bool frozen,
		     struct cove_error *err)
{
	return cove_cg_v2_freeze_hier(&cg->hiers[0], frozen, err);
}

static int v2_is_frozen(struct cove_cgroup *cg, bool *ret)
{
	return cove_cg_v2_is_frozen_hier(&cg->hiers[0], ret);
}

int cove_cg_v2_oom_fd_hier(struct cove_cg_hier *h, int *ret_fd,
			   struct cove_error *err)
{
	_cleanup_free_ char *p = cove_cg_join(h->dir, "memory.events");
	int fd;

	if (!p)
		return -ENOMEM;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open %s", p);
	*ret_fd = fd;
	return 0;
}

int cove_cg_v2_oom_count_hier(struct cove_cg_hier *h, uint64_t *ret)
{
	int r = cove_cg_read_keyed(h->dir, "memory.events", "oom_kill", ret);

	if (r == -ENOENT) {
		*ret = 0;
		return 0;
	}
	return r;
}

static int v2_oom_fd(struct cove_cgroup *cg, int *ret_fd,
		     struct cove_error *err)
{
	return cove_cg_v2_oom_fd_hier(&cg->hiers[0], ret_fd, err);
}

static int v2_oom_count(struct cove_cgroup *cg, uint64_t *ret)
{
	return cove_cg_v2_oom_count_hier(&cg->hiers[0], ret);
}

/* ---- stats ------------------------------------------------------------ */

static uint64_t keyed_or_0(const char *dir, const char *file, const char *key)
{
	uint64_t v = 0;

	if (cove_cg_read_keyed(dir, file, key, &v) < 0)
		return 0;
	return v;
}

static uint64_t u64_or_0(const char *dir, const char *file)
{
	uint64_t v = 0;

	if (cove_cg_read_u64(dir, file, &v) < 0)
		return 0;
	return v;
}

static int stats_cpu(struct cove_cg_hier *h, json_t *data)
{
	json_t *cpu = cove_cg_json_child(data, "cpu");
	json_t *usage = cpu ? cove_cg_json_child(cpu, "usage") : NULL;
	json_t *thr = cpu ? cove_cg_json_child(cpu, "throttling") : NULL;

	if (!usage || !thr)
		return -ENOMEM;
	if (!cove_cg_exists(h->dir, "cpu.stat"))
		return 0;
	/* cpu.stat is in microseconds, runc reports nanoseconds */
	if (cove_cg_json_set_u64(usage, "total",
				 keyed_or_0(h->dir, "cpu.stat", "usage_usec") *
				     1000) < 0 ||
	    cove_cg_json_set_u64(usage, "kernel",
				 keyed_or_0(h->dir, "cpu.stat", "system_usec") *
				     1000) < 0 ||
	    cove_cg_json_set_u64(usage, "user",
				 keyed_or_0(h->dir, "cpu.stat", "user_usec") *
				     1000) < 0 ||
	    cove_cg_json_set_u64(thr, "periods",
				 keyed_or_0(h->dir, "cpu.stat", "nr_periods")) <
		0 ||
	    cove_cg_json_set_u64(
		thr, "throttledPeriods",
		keyed_or_0(h->dir, "cpu.stat", "nr_throttled")) < 0 ||
	    cove_cg_json_set_u64(
		thr, "throttledTime",
		keyed_or_0(h->dir, "cpu.stat", "throttled_usec") * 1000) < 0)
		return -ENOMEM;
	return 0;
}

static int set_entry(json_t *e, uint64_t limit, uint64_t usage, uint64_t max,
		     uint64_t failcnt)
{
	if (cove_cg_json_set_u64(e, "limit", limit) < 0 ||
	    cove_cg_json_set_u64(e, "usage", usage) < 0 ||
	    cove_cg_json_set_u64(e, "max", max) < 0 ||
	    cove_cg_json_set_u64(e, "failcnt", failcnt) < 0)
		return -ENOMEM;
	return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int stats_memory(struct cove_cg_hier *h, json_t *data)
{
	json_t *mem = cove_cg_json_child(data, "memory");
	json_t *usage, *swap, *raw;
	uint64_t cur, max, swcur, swmax;

	if (!mem)
		return -ENOMEM;
	if (!cove_cg_exists(h->dir, "memory.current"))
		return 0;
	usage = cove_cg_json_child(mem, "usage");
	swap = cove_cg_json_child(mem, "swap");
	raw = cove_cg_json_child(mem, "raw");
	if (!usage || !swap || !raw)
		return -ENOMEM;
	cur = u64_or_0(h->dir, "memory.current");
	max = u64_or_0(h->dir, "memory.max");
	if (set_entry(usage, max, cur, u64_or_0(h->dir, "memory.peak"),
		      keyed_or_0(h->dir, "memory.events", "max")) < 0)
		return -ENOMEM;
	/* runc reports swap as memory+swap, like v1's memsw */
	swcur = u64_or_0(h->dir, "memory.swap.current");
	swmax = u64_or_0(h->dir, "memory.swap.max");
	if (set_entry(swap, sat_add(swmax, max), sat_add(swcur, cur), 0,
		      keyed_or_0(h->dir, "memory.swap.events", "max")) < 0)
		return -ENOMEM;
	cove_cg_json_keyed(raw, h->dir, "memory.stat");
	if (json_object_get(raw, "file") &&
	    json_object_set(mem, "cache", json_object_get(raw, "file")))
		return -ENOMEM;
	return 0;
}

static int stats_pids(struct cove_cg_hier *h, json_t *data)
{
	json_t *pids = cove_cg_json_child(data, "pids");

	if (!pids)
		return -ENOMEM;
	if (!cove_cg_exists(h->dir, "pids.current"))
		return 0;
	if (cove_cg_json_set_u64(pids, "current",
				 u64_or_0(h->dir, "pids.current")) < 0 ||
	    cove_cg_json_set_u64(pids, "limit", u64_or_0(h->dir, "pids.max")) <
		0)
		return -ENOMEM;
	return 0;
}

static int blkio_entry(json_t *arr, unsigned maj, unsigned min, const char *op,
		       uint64_t v)
{
	json_t *e = json_object();

	if (!e || json_array_append_new(arr, e) ||
	    cove_cg_json_set_u64(e, "major", maj) < 0 ||
	    cove_cg_json_set_u64(e, "minor", min) < 0 ||
	    json_object_set_new(e, "op", json_string(op)) ||
	    cove_cg_json_set_u64(e, "value", v) < 0)
		return -ENOMEM;
	return 0;
}

static int stats_io(struct cove_cg_hier *h, json_t *data)
{
	json_t *blkio = cove_cg_json_child(data, "blkio");
	json_t *bytes, *ios;
	_cleanup_free_ char *buf = NULL;
	char *line, *save = NULL;

	if (!blkio)
		return -ENOMEM;
	if (cove_cg_read(h->dir, "io.stat", &buf) < 0)
		return 0;
	bytes = json_array();
	ios = json_array();
	if (json_object_set_new(blkio, "ioServiceBytesRecursive", bytes) ||
	    json_object_set_new(blkio, "ioServicedRecursive", ios))
		return -ENOMEM;
	/* "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" */
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned maj, min;
		char *tok, *s2 = NULL;
		if (sscanf(line, "%u:%u", &maj, &min) != 2)
			continue;
		strtok_r(line, " ", &s2);
		while ((tok = strtok_r(NULL, " ", &s2))) {
			char *eq = strchr(tok, '=');
			uint64_t v;
			json_t *arr = NULL;
			const char *op = NULL;
			if (!eq)
				continue;
			*eq = '\0';
			if (cove_parse_uint64(eq + 1, &v) < 0)
				continue;
			if (!strcmp(tok, "rbytes"))
				arr = bytes, op = "Read";
			else if (!strcmp(tok, "wbytes"))
				arr = bytes, op = "Write";
			else if (!strcmp(tok, "rios"))
				arr = ios, op = "Read";
			else if (!strcmp(tok, "wios"))
				arr = ios, op = "Write";
			else if (!strcmp(tok, "dbytes"))
				arr = bytes, op = "Discard";
			else if (!strcmp(tok, "dios"))
				arr = ios, op = "Discard";
			if (arr && blkio_entry(arr, maj, min, op, v) < 0)
				return -ENOMEM;
		}
	}
	return 0;
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
	/* one "hugetlb.<size>.current" per page size */
	while ((de = readdir(d))) {
		const char *name = de->d_name, *end;
		char size[32], file[64];
		json_t *e;
		size_t n;

		if (!cove_str_has_prefix(name, "hugetlb."))
			continue;
		end = strstr(name, ".current");
		if (!end || end[8] || strstr(name, ".rsvd."))
			continue;
		n = (size_t)(end - name) - 8;
		if (n == 0 || n >= sizeof(size))
			continue;
		memcpy(size, name + 8, n);
		size[n] = '\0';
		e = cove_cg_json_child(huge, size);
		if (!e)
			return -ENOMEM;
		snprintf(file, sizeof(file), "hugetlb.%s.events", size);
		if (cove_cg_json_set_u64(e, "usage", u64_or_0(h->dir, name)) <
			0 ||
		    cove_cg_json_set_u64(e, "failcnt",
					 keyed_or_0(h->dir, file, "max")) < 0)
			return -ENOMEM;
	}
	return 0;
}

int cove_cg_v2_stats_of(struct cove_cg_hier *h, const char *controller,
			json_t *data)
{
	if (!strcmp(controller, "cpu"))
		return stats_cpu(h, data);
	if (!strcmp(controller, "memory"))
		return stats_memory(h, data);
	if (!strcmp(controller, "pids"))
		return stats_pids(h, data);
	if (!strcmp(controller, "io"))
		return stats_io(h, data);
	if (!strcmp(controller, "hugetlb"))
		return stats_hugetlb(h, data);
	return -EINVAL;
}

static int v2_stats(struct cove_cgroup *cg, json_t *data,
		    struct cove_error *err)
{
	static const char *const controllers[] = {"cpu", "memory", "pids", "io",
						  "hugetlb"};

	for (size_t i = 0; i < ARRAY_SIZE(controllers); i++) {
		int r =
		    cove_cg_v2_stats_of(&cg->hiers[0], controllers[i], data);
		if (r < 0)
			return cove_error_setx(err, r,
					       "cannot read %s statistics of "
					       "%s",
					       controllers[i],
					       cg->hiers[0].dir);
	}
	return 0;
}

const struct cove_cg_ops cove_cg_v2_ops = {
    .level = v2_level,
    .apply = v2_apply,
    .freeze = v2_freeze,
    .is_frozen = v2_is_frozen,
    .stats = v2_stats,
    .oom_fd = v2_oom_fd,
    .oom_count = v2_oom_count,
};
