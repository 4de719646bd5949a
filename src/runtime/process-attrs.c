#include "runtime/process-attrs.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* Kernel ABI values that older libc headers may not define. */
#ifndef SCHED_BATCH
#define SCHED_BATCH 3
#endif
#ifndef SCHED_ISO
#define SCHED_ISO 4
#endif
#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif
#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

/*
 * struct sched_attr as of Linux 5.3 (SCHED_ATTR_SIZE_VER1); declared here
 * because glibc only gained it recently and <linux/sched/types.h> clashes
 * with <sched.h> on some systems.
 */
struct cove_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
	uint32_t sched_util_min;
	uint32_t sched_util_max;
};

static const struct {
	const char *name;
	int policy;
} sched_policies[] = {
    {"SCHED_OTHER", SCHED_OTHER},
    {"SCHED_FIFO", SCHED_FIFO},
    {"SCHED_RR", SCHED_RR},
    {"SCHED_BATCH", SCHED_BATCH},
    {"SCHED_ISO", SCHED_ISO},
    {"SCHED_IDLE", SCHED_IDLE},
    {"SCHED_DEADLINE", SCHED_DEADLINE},
};

static const struct {
	const char *name;
	uint64_t flag;
} sched_flags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},	 {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_DL_OVERRUN", 0x04},	 {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},	 {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

static const struct {
	const char *name;
	int klass;
} ioprio_classes[] = {
    {"IOPRIO_CLASS_RT", IOPRIO_CLASS_RT},
    {"IOPRIO_CLASS_BE", IOPRIO_CLASS_BE},
    {"IOPRIO_CLASS_IDLE", IOPRIO_CLASS_IDLE},
};

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static const char *const sched_keys[] = {
    "policy",  "nice",	   "priority", "flags",
    "runtime", "deadline", "period",   NULL,
};
static const char *const ioprio_keys[] = {"class", "priority", NULL};
static const char *const personality_keys[] = {"domain", "flags", NULL};

static int check_keys(const json_t *obj, const char *path,
		      const char *const *allowed, struct cove_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		const char *const *a;
		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (!*a)
			return cove_error_set(
			    err, EINVAL, "invalid '%s': unknown field '%s'",
			    path, key);
	}
	return 0;
}

static int get_int32(const json_t *obj, const char *path, const char *key,
		     int *ret, struct cove_error *err)
{
	int64_t v = 0;
	bool present = false;
	int r = cove_json_int64(obj, path, key, &v, &present, err);

	if (r < 0)
		return r;
	if (!present)
		return 0;
	if (v < INT32_MIN || v > INT32_MAX)
		return cove_error_set(err, ERANGE,
				      "invalid '%s.%s': %" PRId64
				      " is not a 32-bit integer",
				      path, key, v);
	*ret = (int)v;
	return 0;
}

static const char *sched_policy_name(int policy)
{
	for (size_t i = 0; i < ARRAY_SIZE(sched_policies); i++)
		if (sched_policies[i].policy == policy)
			return sched_policies[i].name;
	return "unknown";
}

int cove_sched_parse(json_t *obj, const char *path, struct cove_sched *ret,
		     struct cove_error *err)
{
	struct cove_sched s = {0};
	const char *policy = NULL;
	json_t *flags = NULL, *e;
	bool found = false;
	size_t i;
	int r;

	if (!obj || json_is_null(obj)) {
		*ret = s;
		return 0;
	}
	if (!json_is_object(obj))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);
	r = check_keys(obj, path, sched_keys, err);
	if (r < 0)
		return r;

	r = cove_json_string(obj, path, "policy", &policy, err);
	if (r < 0)
		return r;
	if (!policy)
		return cove_error_set(err, EINVAL, "missing '%s.policy'", path);
	for (i = 0; i < ARRAY_SIZE(sched_policies); i++)
		if (strcmp(sched_policies[i].name, policy) == 0) {
			s.policy = sched_policies[i].policy;
			found = true;
		}
	if (!found)
		return cove_error_set(
		    err, EINVAL, "invalid '%s.policy': unknown policy '%s'",
		    path, policy);

	if ((r = get_int32(obj, path, "nice", &s.nice, err)) < 0 ||
	    (r = get_int32(obj, path, "priority", &s.priority, err)) < 0 ||
	    (r = cove_json_uint64(obj, path, "runtime", &s.runtime, NULL,
				  err)) < 0 ||
	    (r = cove_json_uint64(obj, path, "deadline", &s.deadline, NULL,
				  err)) < 0 ||
	    (r = cove_json_uint64(obj, path, "period", &s.period, NULL, err)) <
		0)
		return r;

	r = cove_json_array(obj, path, "flags", &flags, err);
	if (r < 0)
		return r;
	json_array_foreach(flags, i, e)
	{
		const char *name = json_string_value(e);
		uint64_t flag = 0;

		if (!name)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.flags[%zu]': expected a string", path,
			    i);
		for (size_t k = 0; k < ARRAY_SIZE(sched_flags); k++)
			if (strcmp(sched_flags[k].name, name) == 0)
				flag = sched_flags[k].flag;
		if (!flag)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.flags[%zu]': unknown flag '%s'", path,
			    i, name);
		s.flags |= flag;
	}

	if (s.nice < -20 || s.nice > 19)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.nice': %d is outside "
				      "-20..19",
				      path, s.nice);
	if (s.policy == SCHED_FIFO || s.policy == SCHED_RR) {
		if (s.priority < 1 || s.priority > 99)
			return cove_error_set(err, EINVAL,
					      "invalid '%s.priority': %s needs "
					      "a priority in 1..99, not %d",
					      path, policy, s.priority);
	} else if (s.priority != 0) {
		return cove_error_set(err, EINVAL,
				      "invalid '%s.priority': only SCHED_FIFO "
				      "and SCHED_RR take a priority",
				      path);
	}
	if (s.policy == SCHED_DEADLINE) {
		uint64_t period = s.period ? s.period : s.deadline;
		if (s.runtime == 0 || s.deadline == 0)
			return cove_error_set(err, EINVAL,
					      "invalid '%s': SCHED_DEADLINE "
					      "needs 'runtime' and 'deadline'",
					      path);
		if (s.runtime > s.deadline || s.deadline > period)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s': SCHED_DEADLINE needs runtime "
			    "<= deadline <= period (got %" PRIu64 ", %" PRIu64
			    ", %" PRIu64 ")",
			    path, s.runtime, s.deadline, s.period);
	} else if (s.runtime || s.deadline || s.period) {
		return cove_error_set(err, EINVAL,
				      "invalid '%s': runtime, deadline and "
				      "period are only for SCHED_DEADLINE",
				      path);
	}
	s.set = true;
	*ret = s;
	return 0;
}

int cove_sched_apply(const struct cove_sched *s, struct cove_error *err)
{
	struct cove_sched_attr attr = {0};

	if (!s || !s->set)
		return 0;
	attr.size = sizeof(attr);
	attr.sched_policy = (uint32_t)s->policy;
	attr.sched_flags = s->flags;
	attr.sched_nice = s->nice;
	attr.sched_priority = (uint32_t)s->priority;
	attr.sched_runtime = s->runtime;
	attr.sched_deadline = s->deadline;
	attr.sched_period = s->period;
	if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0) {
		int e = errno;
		if (e == EPERM)
			return cove_error_setx(
			    err, e,
			    "cannot set scheduler policy %s (nice %d, "
			    "priority %d): real-time policies and "
			    "negative nice values need CAP_SYS_NICE and "
			    "real-time budget in the cgroup",
			    sched_policy_name(s->policy), s->nice, s->priority);
		if (e == EBUSY)
			return cove_error_setx(
			    err, e,
			    "cannot set scheduler policy %s: the kernel "
			    "cannot admit the deadline reservation",
			    sched_policy_name(s->policy));
		return cove_error_setx(err, e,
				       "cannot set scheduler policy %s (nice "
				       "%d, priority %d, flags %#" PRIx64 ")",
				       sched_policy_name(s->policy), s->nice,
				       s->priority, s->flags);
	}
	return 0;
}

int cove_ioprio_parse(json_t *obj, const char *path, struct cove_ioprio *ret,
		      struct cove_error *err)
{
	struct cove_ioprio p = {0};
	const char *klass = NULL;
	int64_t prio = 0;
	bool has_prio = false, found = false;
	int r;

	if (!obj || json_is_null(obj)) {
		*ret = p;
		return 0;
	}
	if (!json_is_object(obj))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);
	r = check_keys(obj, path, ioprio_keys, err);
	if (r < 0)
		return r;
	r = cove_json_string(obj, path, "class", &klass, err);
	if (r < 0)
		return r;
	if (!klass)
		return cove_error_set(err, EINVAL, "missing '%s.class'", path);
	for (size_t i = 0; i < ARRAY_SIZE(ioprio_classes); i++)
		if (strcmp(ioprio_classes[i].name, klass) == 0) {
			p.klass = ioprio_classes[i].klass;
			found = true;
		}
	if (!found)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.class': unknown class '%s'",
				      path, klass);
	r = cove_json_int64(obj, path, "priority", &prio, &has_prio, err);
	if (r < 0)
		return r;
	if (!has_prio)
		return cove_error_set(err, EINVAL, "missing '%s.priority'",
				      path);
	if (prio < 0 || prio > 7)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.priority': %" PRId64
				      " is outside 0..7",
				      path, prio);
	p.priority = (int)prio;
	p.set = true;
	*ret = p;
	return 0;
}

static const char *ioprio_class_name(int klass)
{
	for (size_t i = 0; i < ARRAY_SIZE(ioprio_classes); i++)
		if (ioprio_classes[i].klass == klass)
			return ioprio_classes[i].name;
	return "unknown";
}

int cove_ioprio_apply(const struct cove_ioprio *p, struct cove_error *err)
{
	if (!p || !p->set)
		return 0;
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
		    IOPRIO_PRIO_VALUE(p->klass, p->priority)) < 0) {
		int e = errno;
		if (e == EPERM)
			return cove_error_setx(
			    err, e,
			    "cannot set the I/O priority to %s %d: "
			    "IOPRIO_CLASS_RT needs CAP_SYS_NICE or "
			    "CAP_SYS_ADMIN",
			    ioprio_class_name(p->klass), p->priority);
		return cove_error_setx(
		    err, e, "cannot set the I/O priority to %s %d",
		    ioprio_class_name(p->klass), p->priority);
	}
	return 0;
}

int cove_personality_parse(json_t *obj, const char *path,
			   struct cove_personality *ret, struct cove_error *err)
{
	struct cove_personality p = {0};
	const char *domain = NULL;
	json_t *flags = NULL;
	int r;

	if (!obj || json_is_null(obj)) {
		*ret = p;
		return 0;
	}
	if (!json_is_object(obj))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);
	r = check_keys(obj, path, personality_keys, err);
	if (r < 0)
		return r;
	r = cove_json_string(obj, path, "domain", &domain, err);
	if (r < 0)
		return r;
	if (!domain)
		return cove_error_set(err, EINVAL, "missing '%s.domain'", path);
	if (strcmp(domain, "LINUX") == 0)
		p.domain = PER_LINUX;
	else if (strcmp(domain, "LINUX32") == 0)
		p.domain = PER_LINUX32;
	else
		return cove_error_set(err, EINVAL,
				      "invalid '%s.domain': unknown domain "
				      "'%s' (expected LINUX or LINUX32)",
				      path, domain);
	r = cove_json_array(obj, path, "flags", &flags, err);
	if (r < 0)
		return r;
	/* The spec defines no flag values yet; none can be honoured. */
	if (flags && json_array_size(flags) > 0)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.flags': personality flags "
				      "are not supported",
				      path);
	p.set = true;
	*ret = p;
	return 0;
}

int cove_personality_apply(const struct cove_personality *p,
			   struct cove_error *err)
{
	if (!p || !p->set)
		return 0;
	if (personality(p->domain) < 0)
		return cove_error_setx(err, errno, "cannot set personality %s",
				       p->domain == PER_LINUX32 ? "LINUX32"
								: "LINUX");
	return 0;
}

static const char *rlimit_name(int resource, char *buf, size_t size)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
		if (rlimit_names[i].resource == resource)
			return rlimit_names[i].name;
	snprintf(buf, size, "rlimit %d", resource);
	return buf;
}

static const char *rlim_str(uint64_t v, char *buf, size_t size)
{
	if (v == (uint64_t)RLIM_INFINITY)
		return "unlimited";
	snprintf(buf, size, "%" PRIu64, v);
	return buf;
}

int cove_rlimits_apply(const struct cove_rlimit *r, size_t n,
		       struct cove_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char nbuf[32], sbuf[32], hbuf[32], cbuf[32];
		const char *name =
		    rlimit_name(r[i].resource, nbuf, sizeof(nbuf));
		struct rlimit lim = {
		    .rlim_cur = (rlim_t)r[i].soft,
		    .rlim_max = (rlim_t)r[i].hard,
		};
		struct rlimit cur;
		int e;

		if (r[i].soft > r[i].hard)
			return cove_error_set(
			    err, EINVAL,
			    "invalid %s: soft limit %s is above the hard "
			    "limit %s",
			    name, rlim_str(r[i].soft, sbuf, sizeof(sbuf)),
			    rlim_str(r[i].hard, hbuf, sizeof(hbuf)));
		if (setrlimit(r[i].resource, &lim) == 0)
			continue;
		e = errno;
		if (e == EPERM && getrlimit(r[i].resource, &cur) == 0 &&
		    lim.rlim_max > cur.rlim_max)
			return cove_error_setx(
			    err, e,
			    "cannot set %s to soft %s, hard %s: raising "
			    "the hard limit above the current %s needs "
			    "CAP_SYS_RESOURCE",
			    name, rlim_str(r[i].soft, sbuf, sizeof(sbuf)),
			    rlim_str(r[i].hard, hbuf, sizeof(hbuf)),
			    rlim_str((uint64_t)cur.rlim_max, cbuf,
				     sizeof(cbuf)));
		if (e == EPERM && r[i].resource == RLIMIT_NOFILE)
			return cove_error_setx(
			    err, e,
			    "cannot set %s to soft %s, hard %s: the limit "
			    "may not exceed /proc/sys/fs/nr_open",
			    name, rlim_str(r[i].soft, sbuf, sizeof(sbuf)),
			    rlim_str(r[i].hard, hbuf, sizeof(hbuf)));
		return cove_error_setx(
		    err, e, "cannot set %s to soft %s, hard %s", name,
		    rlim_str(r[i].soft, sbuf, sizeof(sbuf)),
		    rlim_str(r[i].hard, hbuf, sizeof(hbuf)));
	}
	return 0;
}

int cove_oom_score_adj_apply(pid_t pid, int value, struct cove_error *err)
{
	char path[64], buf[16];
	int n, r;

	if (value < -1000 || value > 1000)
		return cove_error_set(err, EINVAL,
				      "invalid oomScoreAdj %d: must be in "
				      "-1000..1000",
				      value);
	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj",
			 (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/oom_score_adj");
	n = snprintf(buf, sizeof(buf), "%d", value);
	r = cove_write_file(path, buf, (size_t)n);
	if (r == -EACCES)
		return cove_error_setx(err, r,
				       "cannot write %d to %s: lowering "
				       "oom_score_adj needs CAP_SYS_RESOURCE",
				       value, path);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %d to %s", value,
				       path);
	return 0;
}
