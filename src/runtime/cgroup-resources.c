/*
 * linux.resources of the OCI runtime spec (1.2) into struct
 * cove_cgroup_resources.  Scalars are described by tables (member, type,
 * validator); the lists (devices, block-IO devices, hugepages) by small
 * loops.  Every error names the field by its full path.
 *
 * Zero means "not set" for the memory sizes, cpu shares, quota and
 * period, as it does in runc: a zero memory limit would make the
 * container unusable, and configs written for runc rely on that reading.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cgroup.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strutil.h"

enum field_type {
	F_I64,
	F_U64,
	F_BOOL,
};

struct field {
	const char *key;
	enum field_type type;
	size_t off;  /* the value member */
	ssize_t has; /* the has_* member, -1 when there is none */
	bool zero_unset;
	/* NULL or a message when the value is out of range */
	const char *(*check)(int64_t v);
};

#define RES_OFF(m) offsetof(struct cove_cgroup_resources, m)

static const char *check_ge_minus1(int64_t v)
{
	return v < -1 ? "must be -1 (unlimited) or >= 0" : NULL;
}

static const char *check_swappiness(int64_t v)
{
	return v > 100 ? "must be between 0 and 100" : NULL;
}

static const char *check_shares(int64_t v)
{
	return v < 2 || v > 262144 ? "must be between 2 and 262144" : NULL;
}

static const char *check_quota(int64_t v)
{
	return v != -1 && v < 1000 ? "must be -1 (unlimited) or >= 1000" : NULL;
}

static const char *check_period(int64_t v)
{
	return v < 1000 || v > 1000000 ? "must be between 1000 and 1000000"
				       : NULL;
}

static const char *check_idle(int64_t v)
{
	return v != 0 && v != 1 ? "must be 0 or 1" : NULL;
}

static const char *check_blkio_weight(int64_t v)
{
	return v < 10 || v > 1000 ? "must be between 10 and 1000" : NULL;
}

static const struct field memory_fields[] = {
    {"limit", F_I64, RES_OFF(mem_limit), RES_OFF(has_mem_limit), true,
     check_ge_minus1},
    {"reservation", F_I64, RES_OFF(mem_reservation),
     RES_OFF(has_mem_reservation), true, check_ge_minus1},
    {"swap", F_I64, RES_OFF(mem_swap), RES_OFF(has_mem_swap), true,
     check_ge_minus1},
    {"kernel", F_I64, RES_OFF(mem_kernel), RES_OFF(has_mem_kernel), true,
     check_ge_minus1},
    {"kernelTCP", F_I64, RES_OFF(mem_kernel_tcp), RES_OFF(has_mem_kernel_tcp),
     true, check_ge_minus1},
    {"swappiness", F_U64, RES_OFF(mem_swappiness), RES_OFF(has_mem_swappiness),
     false, check_swappiness},
    {"disableOOMKiller", F_BOOL, RES_OFF(mem_disable_oom_killer),
     RES_OFF(has_mem_disable_oom_killer), false, NULL},
    {"useHierarchy", F_BOOL, RES_OFF(mem_use_hierarchy),
     RES_OFF(has_mem_use_hierarchy), false, NULL},
    {"checkBeforeUpdate", F_BOOL, RES_OFF(mem_check_before_update), -1, false,
     NULL},
};

static const struct field cpu_fields[] = {
    {"shares", F_U64, RES_OFF(cpu_shares), RES_OFF(has_cpu_shares), true,
     check_shares},
    {"quota", F_I64, RES_OFF(cpu_quota), RES_OFF(has_cpu_quota), true,
     check_quota},
    {"burst", F_U64, RES_OFF(cpu_burst), RES_OFF(has_cpu_burst), false, NULL},
    {"period", F_U64, RES_OFF(cpu_period), RES_OFF(has_cpu_period), true,
     check_period},
    {"realtimeRuntime", F_I64, RES_OFF(cpu_realtime_runtime),
     RES_OFF(has_cpu_realtime_runtime), false, check_ge_minus1},
    {"realtimePeriod", F_U64, RES_OFF(cpu_realtime_period),
     RES_OFF(has_cpu_realtime_period), true, NULL},
    {"idle", F_I64, RES_OFF(cpu_idle), RES_OFF(has_cpu_idle), false,
     check_idle},
};

static int parse_fields(json_t *obj, const char *path,
			const struct field *fields, size_t n,
			struct cove_cgroup_resources *res,
			struct cove_error *err)
{
	char *base = (char *)res;

	for (size_t i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		bool present = false;
		int64_t v = 0;
		int r;

		switch (f->type) {
		case F_I64:
			r = cove_json_int64(obj, path, f->key, &v, &present,
					    err);
			break;
		case F_U64: {
			uint64_t u = 0;
			r = cove_json_uint64(obj, path, f->key, &u, &present,
					     err);
			v = (int64_t)u;
			break;
		}
		case F_BOOL: {
			bool b = false;
			json_t *j = json_object_get(obj, f->key);
			r = cove_json_bool(obj, path, f->key, &b, err);
			present = j && !json_is_null(j);
			v = b;
			break;
		}
		default:
			return -EINVAL;
		}
		if (r < 0)
			return r;
		if (!present || (f->zero_unset && v == 0))
			continue;
		if (f->check && f->check(v))
			return cove_error_set(err, EINVAL,
					      "invalid '%s.%s': %s", path,
					      f->key, f->check(v));
		switch (f->type) {
		case F_I64:
			*(int64_t *)(base + f->off) = v;
			break;
		case F_U64:
			*(uint64_t *)(base + f->off) = (uint64_t)v;
			break;
		case F_BOOL:
			*(bool *)(base + f->off) = v != 0;
			break;
		}
		if (f->has >= 0)
			*(bool *)(base + f->has) = true;
	}
	return 0;
}

/* "0-3,5,7-8": what cpuset.cpus and cpuset.mems accept. */
static bool valid_cpu_list(const char *s)
{
	bool need_digit = true;

	if (!*s)
		return true; /* empty: inherit */
	for (; *s; s++) {
		if (isdigit((unsigned char)*s)) {
			need_digit = false;
			continue;
		}
		if ((*s == ',' || *s == '-') && !need_digit) {
			need_digit = true;
			continue;
		}
		return false;
	}
	return !need_digit;
}

static int parse_cpu_list(json_t *cpu, const char *path, const char *key,
			  char **ret, struct cove_error *err)
{
	const char *s = NULL;
	int r = cove_json_string(cpu, path, key, &s, err);

	if (r < 0)
		return r;
	if (!s)
		return 0;
	if (!valid_cpu_list(s))
		return cove_error_set(err, EINVAL,
				      "invalid '%s.%s': '%s' is not a list "
				      "such as \"0-3,5\"",
				      path, key, s);
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/* Major or minor of a block device entry: required, >= 0. */
static int parse_devnum(json_t *o, const char *path, const char *key,
			int64_t *ret, struct cove_error *err)
{
	bool present = false;
	int r = cove_json_int64(o, path, key, ret, &present, err);

	if (r < 0)
		return r;
	if (!present)
		return cove_error_set(err, EINVAL, "missing '%s.%s'", path,
				      key);
	if (*ret < 0 || *ret > INT32_MAX)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.%s': must be between 0 "
				      "and 2147483647",
				      path, key);
	return 0;
}

static int parse_blkio_list(json_t *blkio, const char *path, const char *key,
			    bool weights, struct cove_blkio_device **ret,
			    size_t *ret_n, struct cove_error *err)
{
	json_t *arr = NULL, *e;
	size_t i;
	int r;

	r = cove_json_array(blkio, path, key, &arr, err);
	if (r < 0 || !arr || json_array_size(arr) == 0)
		return r;
	*ret = calloc(json_array_size(arr), sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		struct cove_blkio_device *d = &(*ret)[i];
		char p[512];

		snprintf(p, sizeof(p), "%s.%s[%zu]", path, key, i);
		*ret_n = i + 1;
		if (!json_is_object(e))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': expected an "
					      "object",
					      p);
		r = parse_devnum(e, p, "major", &d->major, err);
		if (r >= 0)
			r = parse_devnum(e, p, "minor", &d->minor, err);
		if (r < 0)
			return r;
		if (weights) {
			uint64_t w = 0;
			r = cove_json_uint64(e, p, "weight", &w, &d->has_weight,
					     err);
			if (r < 0)
				return r;
			if (d->has_weight && check_blkio_weight((int64_t)w))
				return cove_error_set(
				    err, EINVAL, "invalid '%s.weight': %s", p,
				    check_blkio_weight((int64_t)w));
			d->weight = (uint16_t)w;
			w = 0;
			r = cove_json_uint64(e, p, "leafWeight", &w,
					     &d->has_leaf_weight, err);
			if (r < 0)
				return r;
			if (d->has_leaf_weight &&
			    check_blkio_weight((int64_t)w))
				return cove_error_set(
				    err, EINVAL, "invalid '%s.leafWeight': %s",
				    p, check_blkio_weight((int64_t)w));
			d->leaf_weight = (uint16_t)w;
		} else {
			bool present = false;
			r = cove_json_uint64(e, p, "rate", &d->rate, &present,
					     err);
			if (r < 0)
				return r;
			if (!present)
				return cove_error_set(err, EINVAL,
						      "missing '%s.rate'", p);
		}
	}
	return 0;
}

static int parse_blkio(json_t *blkio, const char *path,
		       struct cove_cgroup_resources *res,
		       struct cove_error *err)
{
	static const char *const throttle_keys[4] = {
	    "throttleReadBpsDevice",
	    "throttleWriteBpsDevice",
	    "throttleReadIOPSDevice",
	    "throttleWriteIOPSDevice",
	};
	uint64_t w = 0;
	int r;

	r = cove_json_uint64(blkio, path, "weight", &w, &res->has_blkio_weight,
			     err);
	if (r < 0)
		return r;
	if (res->has_blkio_weight && check_blkio_weight((int64_t)w))
		return cove_error_set(err, EINVAL, "invalid '%s.weight': %s",
				      path, check_blkio_weight((int64_t)w));
	res->blkio_weight = (uint16_t)w;
	w = 0;
	r = cove_json_uint64(blkio, path, "leafWeight", &w,
			     &res->has_blkio_leaf_weight, err);
	if (r < 0)
		return r;
	if (res->has_blkio_leaf_weight && check_blkio_weight((int64_t)w))
		return cove_error_set(err, EINVAL,
				      "invalid '%s.leafWeight': %s", path,
				      check_blkio_weight((int64_t)w));
	res->blkio_leaf_weight = (uint16_t)w;
	r = parse_blkio_list(blkio, path, "weightDevice", true,
			     &res->blkio_weight_device,
			     &res->n_blkio_weight_device, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < 4; i++) {
		r = parse_blkio_list(blkio, path, throttle_keys[i], false,
				     &res->throttle[i], &res->n_throttle[i],
				     err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * "2MB", "1GB", "64KB": the suffix the kernel uses in hugetlb.<size>.*
 * file names.  The page size becomes part of a file name, so nothing but
 * digits and the unit is accepted.
 */
static bool valid_page_size(const char *s)
{
	size_t digits = strspn(s, "0123456789");

	if (digits == 0 || s[0] == '0')
		return false;
	s += digits;
	return !strcmp(s, "KB") || !strcmp(s, "MB") || !strcmp(s, "GB") ||
	       !strcmp(s, "TB") || !strcmp(s, "PB");
}

static int parse_hugepages(json_t *arr, const char *path,
			   struct cove_cgroup_resources *res,
			   struct cove_error *err)
{
	json_t *e;
	size_t i;

	if (json_array_size(arr) == 0)
		return 0;
	res->hugepages = calloc(json_array_size(arr), sizeof(*res->hugepages));
	if (!res->hugepages)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		struct cove_hugepage_limit *h = &res->hugepages[i];
		const char *size = NULL;
		bool present = false;
		char p[512];
		int r;

		snprintf(p, sizeof(p), "%s.hugepageLimits[%zu]", path, i);
		res->n_hugepages = i + 1;
		if (!json_is_object(e))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': expected an "
					      "object",
					      p);
		r = cove_json_string(e, p, "pageSize", &size, err);
		if (r < 0)
			return r;
		if (!size)
			return cove_error_set(err, EINVAL,
					      "missing '%s.pageSize'", p);
		if (!valid_page_size(size))
			return cove_error_set(err, EINVAL,
					      "invalid '%s.pageSize': '%s' is "
					      "not a size such as \"2MB\"",
					      p, size);
		r = cove_json_uint64(e, p, "limit", &h->limit, &present, err);
		if (r < 0)
			return r;
		if (!present)
			return cove_error_set(err, EINVAL, "missing '%s.limit'",
					      p);
		h->page_size = strdup(size);
		if (!h->page_size)
			return -ENOMEM;
	}
	return 0;
}

static int parse_device_number(json_t *o, const char *p, const char *key,
			       int64_t *ret, struct cove_error *err)
{
	bool present = false;
	int r = cove_json_int64(o, p, key, ret, &present, err);

	if (r < 0)
		return r;
	if (!present)
		*ret = -1;
	else if (*ret < -1 || *ret > INT32_MAX)
		return cove_error_set(err, EINVAL,
				      "invalid '%s.%s': must be -1 (any) or "
				      "between 0 and 2147483647",
				      p, key);
	return 0;
}

static int parse_devices(json_t *arr, const char *path,
			 struct cove_cgroup_resources *res,
			 struct cove_error *err)
{
	json_t *e;
	size_t i;

	if (json_array_size(arr) == 0)
		return 0;
	res->devices = calloc(json_array_size(arr), sizeof(*res->devices));
	if (!res->devices)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		struct cove_device_rule *d = &res->devices[i];
		const char *type = NULL, *access = NULL;
		json_t *allow;
		char p[512];
		int r;

		snprintf(p, sizeof(p), "%s.devices[%zu]", path, i);
		res->n_devices = i + 1;
		if (!json_is_object(e))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': expected an "
					      "object",
					      p);
		allow = json_object_get(e, "allow");
		if (!allow)
			return cove_error_set(err, EINVAL, "missing '%s.allow'",
					      p);
		r = cove_json_bool(e, p, "allow", &d->allow, err);
		if (r < 0)
			return r;
		r = cove_json_string(e, p, "type", &type, err);
		if (r < 0)
			return r;
		if (!type || !strcmp(type, "a") || !*type)
			d->type = 'a';
		else if (!strcmp(type, "c") || !strcmp(type, "b"))
			d->type = type[0];
		else
			return cove_error_set(err, EINVAL,
					      "invalid '%s.type': '%s' is not "
					      "one of \"a\", \"c\", \"b\"",
					      p, type);
		r = parse_device_number(e, p, "major", &d->major, err);
		if (r >= 0)
			r = parse_device_number(e, p, "minor", &d->minor, err);
		if (r < 0)
			return r;
		r = cove_json_string(e, p, "access", &access, err);
		if (r < 0)
			return r;
		if (!access)
			access = "rwm";
		{
			bool seen[3] = {false, false, false};
			size_t k = 0;
			for (const char *c = access; *c; c++) {
				const char *pos = strchr("rwm", *c);
				if (!pos || seen[pos - "rwm"])
					return cove_error_set(
					    err, EINVAL,
					    "invalid '%s.access': '%s' is "
					    "not a combination of r, w "
					    "and m",
					    p, access);
				seen[pos - "rwm"] = true;
			}
			for (size_t j = 0; j < 3; j++)
				if (seen[j])
					d->access[k++] = "rwm"[j];
			d->access[k] = '\0';
		}
	}
	return 0;
}

static int parse_network(json_t *net, const char *path,
			 struct cove_cgroup_resources *res,
			 struct cove_error *err)
{
	json_t *prio = NULL, *e;
	size_t i;
	int r;

	r = cove_json_uint32(net, path, "classID", &res->net_class_id,
			     &res->has_net_class_id, err);
	if (r < 0)
		return r;
	r = cove_json_array(net, path, "priorities", &prio, err);
	if (r < 0 || !prio)
		return r;
	json_array_foreach(prio, i, e)
	{
		const char *name = NULL;
		uint32_t v = 0;
		bool present = false;
		char p[512];

		snprintf(p, sizeof(p), "%s.priorities[%zu]", path, i);
		if (!json_is_object(e))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': expected an "
					      "object",
					      p);
		r = cove_json_string(e, p, "name", &name, err);
		if (r < 0)
			return r;
		if (!name || !*name || strchr(name, ' ') || strchr(name, '\n'))
			return cove_error_set(err, EINVAL,
					      "invalid '%s.name': expected an "
					      "interface name",
					      p);
		r = cove_json_uint32(e, p, "priority", &v, &present, err);
		if (r < 0)
			return r;
		if (!present)
			return cove_error_set(err, EINVAL,
					      "missing '%s.priority'", p);
	}
	res->net_priorities = json_array_size(prio) ? prio : NULL;
	return 0;
}

/*
 * Keys of linux.resources.unified become file names in the container's
 * cgroup directory: a key with '/' (or "..") would write outside it, and
 * the membership files would move processes behind the runtime's back.
 */
static int check_unified(json_t *unified, const char *path,
			 struct cove_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(unified, key, v)
	{
		if (!*key || key[0] == '.' || strchr(key, '/') ||
		    strstr(key, "..") || !strchr(key, '.'))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': key '%s' is not "
					      "a cgroup file name such as "
					      "\"memory.high\"",
					      path, key);
		if (!strcmp(key, "cgroup.procs") ||
		    !strcmp(key, "cgroup.threads") ||
		    !strcmp(key, "cgroup.kill"))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': key '%s' may not "
					      "be set",
					      path, key);
		if (!json_is_string(v))
			return cove_error_set(err, EINVAL,
					      "invalid '%s.%s': expected a "
					      "string",
					      path, key);
	}
	return 0;
}

static int parse_all(json_t *resources, const char *path,
		     struct cove_cgroup_resources *res, struct cove_error *err)
{
	json_t *o = NULL;
	char p[256];
	int r;

	if (!json_is_object(resources))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);

	snprintf(p, sizeof(p), "%s.memory", path);
	r = cove_json_object(resources, path, "memory", &o, err);
	if (r < 0)
		return r;
	if (o) {
		r = parse_fields(o, p, memory_fields, ARRAY_SIZE(memory_fields),
				 res, err);
		if (r < 0)
			return r;
		if (res->has_mem_swap && res->has_mem_limit &&
		    res->mem_swap != -1 && res->mem_limit != -1 &&
		    res->mem_swap < res->mem_limit)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.swap': must be >= '%s.limit' "
			    "(it is the memory+swap total)",
			    p, p);
	}

	snprintf(p, sizeof(p), "%s.cpu", path);
	r = cove_json_object(resources, path, "cpu", &o, err);
	if (r < 0)
		return r;
	if (o) {
		r = parse_fields(o, p, cpu_fields, ARRAY_SIZE(cpu_fields), res,
				 err);
		if (r >= 0)
			r = parse_cpu_list(o, p, "cpus", &res->cpu_cpus, err);
		if (r >= 0)
			r = parse_cpu_list(o, p, "mems", &res->cpu_mems, err);
		if (r < 0)
			return r;
	}

	snprintf(p, sizeof(p), "%s.pids", path);
	r = cove_json_object(resources, path, "pids", &o, err);
	if (r < 0)
		return r;
	if (o) {
		r = cove_json_int64(o, p, "limit", &res->pids_limit,
				    &res->has_pids_limit, err);
		if (r < 0)
			return r;
		/* 0 leaves the limit alone and < 0 removes it, as in runc */
		if (res->has_pids_limit && res->pids_limit == 0)
			res->has_pids_limit = false;
	}

	snprintf(p, sizeof(p), "%s.blockIO", path);
	r = cove_json_object(resources, path, "blockIO", &o, err);
	if (r < 0)
		return r;
	if (o) {
		r = parse_blkio(o, p, res, err);
		if (r < 0)
			return r;
	}

	r = cove_json_array(resources, path, "hugepageLimits", &o, err);
	if (r < 0)
		return r;
	if (o) {
		r = parse_hugepages(o, path, res, err);
		if (r < 0)
			return r;
	}

	r = cove_json_array(resources, path, "devices", &o, err);
	if (r < 0)
		return r;
	if (o) {
		r = parse_devices(o, path, res, err);
		if (r < 0)
			return r;
	}

	snprintf(p, sizeof(p), "%s.network", path);
	r = cove_json_object(resources, path, "network", &o, err);
	if (r < 0)
		return r;
	if (o) {
		r = parse_network(o, p, res, err);
		if (r < 0)
			return r;
	}

	r = cove_json_object(resources, path, "rdma", &o, err);
	if (r < 0)
		return r;
	if (o && json_object_size(o) > 0)
		return cove_error_set(err, EOPNOTSUPP,
				      "invalid '%s.rdma': rdma limits are not "
				      "supported by cove",
				      path);

	snprintf(p, sizeof(p), "%s.unified", path);
	r = cove_json_object(resources, path, "unified", &o, err);
	if (r < 0)
		return r;
	if (o && json_object_size(o) > 0) {
		r = check_unified(o, p, err);
		if (r < 0)
			return r;
		res->unified = o;
	}
	return 0;
}

int cove_cgroup_resources_parse(json_t *resources, const char *path,
				struct cove_cgroup_resources *res,
				struct cove_error *err)
{
	int r;

	memset(res, 0, sizeof(*res));
	if (!path)
		path = "linux.resources";
	if (!resources || json_is_null(resources))
		return 0;
	r = parse_all(resources, path, res, err);
	if (r < 0)
		cove_cgroup_resources_release(res);
	return r;
}

void cove_cgroup_resources_release(struct cove_cgroup_resources *res)
{
	if (!res)
		return;
	free(res->cpu_cpus);
	free(res->cpu_mems);
	free(res->blkio_weight_device);
	for (size_t i = 0; i < 4; i++)
		free(res->throttle[i]);
	for (size_t i = 0; i < res->n_hugepages; i++)
		free(res->hugepages[i].page_size);
	free(res->hugepages);
	free(res->devices);
	memset(res, 0, sizeof(*res));
}

bool cove_cgroup_resources_empty(const struct cove_cgroup_resources *res)
{
	if (!res)
		return true;
	if (res->has_mem_limit || res->has_mem_reservation ||
	    res->has_mem_swap || res->has_mem_kernel ||
	    res->has_mem_kernel_tcp || res->has_mem_swappiness ||
	    res->has_mem_disable_oom_killer || res->has_mem_use_hierarchy)
		return false;
	if (res->has_cpu_shares || res->has_cpu_period || res->has_cpu_quota ||
	    res->has_cpu_realtime_period || res->has_cpu_realtime_runtime ||
	    res->has_cpu_burst || res->has_cpu_idle || res->cpu_cpus ||
	    res->cpu_mems)
		return false;
	if (res->has_pids_limit || res->has_blkio_weight ||
	    res->has_blkio_leaf_weight || res->n_blkio_weight_device)
		return false;
	for (size_t i = 0; i < 4; i++)
		if (res->n_throttle[i])
			return false;
	return !res->n_hugepages && !res->n_devices && !res->has_net_class_id &&
	       !res->net_priorities && !res->unified;
}
