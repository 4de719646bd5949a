/*
 * What `cove stats` and `cove top` read: the container's cgroup (through
 * the runtime state, which knows its path and layout) and /proc.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/engine-internal.h"
#include "runtime/cgroup.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static int open_cgroup(struct cove_engine *e, const struct cove_ctr *c,
		       struct cove_cgroup **ret, struct cove_error *err)
{
	struct cove_state *s = NULL;
	int r;

	if (strcmp(c->state, "running") && strcmp(c->state, "paused"))
		return cove_error_set(err, EINVAL,
				      "container %s is not running", c->name);
	r = cove_state_load(e->runtime_root, c->id, &s, err);
	if (r < 0)
		return r;
	if (!s->cgroup_path) {
		cove_state_free(s);
		return cove_error_set(err, ENOTSUP,
				      "container %s has no cgroup (rootless "
				      "without cgroup delegation)",
				      c->name);
	}
	r = cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, ret, err);
	cove_state_free(s);
	return r;
}

static uint64_t u64_at(const json_t *o, const char *a, const char *b,
		       const char *k)
{
	o = json_object_get(o, a);
	if (b)
		o = json_object_get(o, b);
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

/* Sum the interfaces other than lo of /proc/PID/net/dev. */
static void net_io(pid_t pid, uint64_t *rx, uint64_t *tx)
{
	_cleanup_free_ char *path = cove_strdup_printf("/proc/%d/net/dev", pid);
	_cleanup_free_ char *buf = NULL;

	*rx = *tx = 0;
	if (!path || cove_read_file(path, 1 << 20, &buf, NULL) < 0)
		return;
	for (char *line = buf; line && *line;) {
		char *next = strchr(line, '\n');
		char *colon = strchr(line, ':');
		if (next)
			*next++ = '\0';
		if (colon && (!next || colon < next)) {
			unsigned long long v[16] = {0};
			char *name = line + strspn(line, " ");
			*colon = '\0';
			if (strcmp(name, "lo") &&
			    sscanf(colon + 1,
				   "%llu %llu %llu %llu %llu %llu %llu %llu "
				   "%llu",
				   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
				   &v[6], &v[7], &v[8]) == 9) {
				*rx += v[0];
				*tx += v[8];
			}
		}
		line = next;
	}
}

int cove_engine_stats(struct cove_engine *e, const struct cove_ctr *c,
		      struct cove_ctr_stats *ret, struct cove_error *err)
{
	struct cove_cgroup *cg = NULL;
	json_t *st = NULL, *io, *v;
	size_t i;
	int r = open_cgroup(e, c, &cg, err);

	if (r < 0)
		return r;
	r = cove_cgroup_stats(cg, &st, err);
	cove_cgroup_free(cg);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	ret->cpu_ns = u64_at(st, "cpu", "usage", "total");
	ret->mem_usage = u64_at(st, "memory", "usage", "usage");
	ret->mem_limit = u64_at(st, "memory", "usage", "limit");
	ret->pids = u64_at(st, "pids", NULL, "current");
	ret->pids_limit = u64_at(st, "pids", NULL, "limit");
	io = json_object_get(json_object_get(st, "blkio"),
			     "ioServiceBytesRecursive");
	json_array_foreach(io, i, v)
	{
		const char *op = json_string_value(json_object_get(v, "op"));
		uint64_t n =
		    (uint64_t)json_integer_value(json_object_get(v, "value"));
		if (op && !strcasecmp(op, "read"))
			ret->blk_read += n;
		else if (op && !strcasecmp(op, "write"))
			ret->blk_write += n;
	}
	json_decref(st);
	net_io(c->pid, &ret->net_rx, &ret->net_tx);
	return 0;
}

int cove_engine_pids(struct cove_engine *e, const struct cove_ctr *c,
		     pid_t **ret, size_t *ret_n, struct cove_error *err)
{
	struct cove_cgroup *cg = NULL;
	int r = open_cgroup(e, c, &cg, err);

	if (r < 0)
		return r;
	r = cove_cgroup_pids(cg, ret, ret_n, err);
	cove_cgroup_free(cg);
	return r;
}
