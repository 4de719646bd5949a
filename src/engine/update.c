/*
 * cove update: new cgroup limits for a container, applied in place by the
 * runtime library (the same call as `cove-runtime update`) while it runs,
 * and written to its stored options and to its bundle's config.json, from
 * which every later start is made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine-internal.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* The members of linux.resources that update rewrites as a whole. */
static const char *const sections[] = {"memory", "cpu", "pids", "blockIO"};

/*
 * @host with @changes applied.  --cpus and an explicit period or quota
 * are two ways to say the same: the newer one replaces the other (an
 * older --cpus becomes its period and quota first, so that changing the
 * quota alone keeps its period).
 */
static json_t *merged_host(const json_t *host, const json_t *changes)
{
	json_t *h = json_is_object(host) ? json_deep_copy(host) : json_object();
	int64_t nano = json_integer_value(json_object_get(h, "NanoCpus"));

	if (!h)
		return NULL;
	if (json_object_get(changes, "NanoCpus")) {
		json_object_del(h, "CpuPeriod");
		json_object_del(h, "CpuQuota");
	} else if ((json_object_get(changes, "CpuPeriod") ||
		    json_object_get(changes, "CpuQuota")) &&
		   nano > 0) {
		json_object_del(h, "NanoCpus");
		json_object_set_new(h, "CpuPeriod", json_integer(100000));
		json_object_set_new(h, "CpuQuota",
				    json_integer(nano * 100000 / 1000000000));
	}
	json_object_update(h, (json_t *)changes);
	return h;
}

/* The bundle's linux.resources: memory, cpu, pids and blockIO anew. */
static int update_bundle(struct cove_engine *e, const struct cove_ctr *c,
			 const json_t *res, struct cove_error *err)
{
	_cleanup_free_ char *dir = cove_engine_ctr_dir(e, c->id);
	_cleanup_free_ char *path = NULL;
	_cleanup_json_ json_t *spec = NULL;
	json_t *lx, *old;
	int r;

	path = dir ? cove_strdup_printf("%s/config.json", dir) : NULL;
	if (!path)
		return -ENOMEM;
	r = cove_json_load_file(path, 16 << 20, &spec, err);
	if (r < 0)
		return r;
	lx = cove_json_object_member(spec, "linux");
	old = cove_json_object_member(lx, "resources");
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		json_t *v = json_object_get(res, sections[i]);
		if (v)
			json_object_set(old, sections[i], v);
		else
			json_object_del(old, sections[i]);
	}
	/* pids -1 is "unlimited" in the spec too; the default is the same */
	return cove_engine_spec_save(path, spec, err);
}

int cove_engine_update(struct cove_engine *e, struct cove_ctr *c,
		       const json_t *changes, struct cove_error *err)
{
	_cleanup_json_ json_t *host = NULL, *res = NULL, *live = NULL;
	bool running;
	sqlite3 *db;
	int r;

	if (e->rootless)
		return cove_error_set(err, EOPNOTSUPP,
				      "cannot update container %s: rootless "
				      "containers run without cgroup limits",
				      c->name);
	host = merged_host(json_object_get(c->config, "HostConfig"), changes);
	res = json_object();
	if (!host || !res)
		return -ENOMEM;
	cove_engine_resources_fill(res, host, true);
	running =
	    (!strcmp(c->state, "running") || !strcmp(c->state, "paused")) &&
	    cove_ctr_process_alive(c);
	if (running) {
		/*
		 * Only the sections that changed go to the cgroup: writing
		 * back an unchanged memory limit could fail on v1 when the
		 * swap limit moves the other way.
		 */
		static const struct {
			const char *key, *section;
		} keys[] = {
		    {"Memory", "memory"},
		    {"MemorySwap", "memory"},
		    {"MemoryReservation", "memory"},
		    {"NanoCpus", "cpu"},
		    {"CpuShares", "cpu"},
		    {"CpuPeriod", "cpu"},
		    {"CpuQuota", "cpu"},
		    {"CpusetCpus", "cpu"},
		    {"CpusetMems", "cpu"},
		    {"PidsLimit", "pids"},
		    {"BlkioWeight", "blockIO"},
		};
		live = json_object();
		if (!live)
			return -ENOMEM;
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			json_t *v = json_object_get(res, keys[i].section);
			if (json_object_get(changes, keys[i].key) && v)
				json_object_set(live, keys[i].section, v);
		}
		r = cove_container_update(e->runtime_root, c->id, live, err);
		if (r < 0)
			return cove_error_wrap(
			    err, "cannot update container %s", c->name);
	}
	r = update_bundle(e, c, res, err);
	if (r < 0)
		return r;
	json_object_set(c->config, "HostConfig", host);
	r = cove_engine_db(e, &db, err);
	if (r < 0)
		return r;
	return cove_ctr_config_set(db, c->id, "HostConfig", host, err);
}
