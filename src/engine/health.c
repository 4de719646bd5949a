/*
 * Health checks (docker's HEALTHCHECK, podman's --health-cmd): the check
 * runs as an exec in the container, its output captured in a memfd; the
 * verdict and the last results go into the container's row, where inspect
 * shows them as State.Health.  The monitor runs a check every interval
 * (monitor.c); `cove healthcheck run` runs one now.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine-internal.h"
#include "engine/logfile.h"
#include "engine/events.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define HEALTH_LOG_KEEP 5
#define HEALTH_OUTPUT_MAX 4096

int64_t cove_engine_health_interval(const struct cove_ctr *c)
{
	const json_t *h = json_object_get(c->config, "Healthcheck");
	const json_t *test = json_object_get(h, "Test");
	const char *kind = json_string_value(json_array_get(test, 0));
	int64_t v;

	/* none, or --no-healthcheck's ["NONE"] */
	if (!json_array_size(test) || (kind && !strcmp(kind, "NONE")))
		return 0;
	v = json_integer_value(json_object_get(h, "Interval"));
	return v > 0 ? v : 30LL * 1000000000;
}

static char **test_argv(const json_t *test)
{
	const char *kind = json_string_value(json_array_get(test, 0));
	char **v = NULL;
	size_t i;
	json_t *s;

	if (!kind || !strcmp(kind, "NONE"))
		return NULL;
	if (!strcmp(kind, "CMD-SHELL")) {
		if (cove_strv_push(&v, "/bin/sh") < 0 ||
		    cove_strv_push(&v, "-c") < 0 ||
		    cove_strv_push(&v,
				   json_string_value(json_array_get(test, 1))
				       ?: "") < 0) {
			cove_strv_free(v);
			return NULL;
		}
		return v;
	}
	json_array_foreach(test, i, s)
	{
		if (i == 0 && !strcmp(kind, "CMD"))
			continue;
		if (cove_strv_push(&v, json_string_value(s) ?: "") < 0) {
			cove_strv_free(v);
			return NULL;
		}
	}
	return v;
}

int cove_engine_healthcheck(struct cove_engine *e, struct cove_ctr *c,
			    bool *ret_healthy, struct cove_error *err)
{
	const json_t *hc = json_object_get(c->config, "Healthcheck");
	_cleanup_strv_ char **argv = test_argv(json_object_get(hc, "Test"));
	_cleanup_close_ int mfd = -1;
	struct cove_exec_req req = {0};
	int64_t retries = json_integer_value(json_object_get(hc, "Retries"));
	int64_t timeout = json_integer_value(json_object_get(hc, "Timeout"));
	int64_t start_period =
	    json_integer_value(json_object_get(hc, "StartPeriod"));
	bool starting;
	int saved[2] = {-1, -1}, code = -1, r;
	char start[64], end[64], out[HEALTH_OUTPUT_MAX + 1];
	ssize_t n = 0;
	json_t *health, *log, *entry;
	int64_t streak;
	sqlite3 *db;

	if (!argv)
		return cove_error_set(
		    err, ENOENT, "container %s has no health check", c->name);
	if (retries <= 0)
		retries = 3;
	if (timeout <= 0)
		timeout = 30LL * 1000000000;
	req.argv = argv;
	req.timeout_ms = (int)(timeout / 1000000);
	mfd = memfd_create("cove-health", MFD_CLOEXEC);
	if (mfd < 0)
		return cove_error_setx(err, errno, "memfd_create");
	cove_log_time_format(cove_now_ns(), start);
	/* the check's stdout and stderr: ours, pointed at the memfd */
	for (int i = 0; i < 2; i++) {
		saved[i] = fcntl(i + 1, F_DUPFD_CLOEXEC, 3);
		dup2(mfd, i + 1);
	}
	r = cove_engine_exec(e, c, &req, &code, err);
	for (int i = 0; i < 2; i++) {
		if (saved[i] >= 0) {
			dup2(saved[i], i + 1);
			close(saved[i]);
		}
	}
	cove_log_time_format(cove_now_ns(), end);
	if (r < 0) {
		/* a check that cannot run is a failed check */
		n = snprintf(out, sizeof(out), "%s", err->msg);
		code = 125;
		cove_error_clear(err);
	} else {
		n = pread(mfd, out, HEALTH_OUTPUT_MAX, 0);
		if (n < 0)
			n = 0;
	}
	out[n] = '\0';
	/* stored as JSON text: only printable ASCII, tabs and newlines */
	for (ssize_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)out[i];
		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch >= 0x7f)
			out[i] = '?';
	}

	health = json_object_get(c->config, "Health");
	if (!health) {
		health = json_object();
		json_object_set_new(c->config, "Health", health);
		json_object_set_new(health, "Status", json_string("starting"));
		json_object_set_new(health, "FailingStreak", json_integer(0));
		json_object_set_new(health, "Log", json_array());
	}
	streak = json_integer_value(json_object_get(health, "FailingStreak"));
	/*
	 * --health-start-period: a failure while the container is still
	 * starting up is logged but counts toward no retry (podman's rule).
	 */
	starting = start_period > 0 && c->started_at > 0 &&
		   cove_now_ns() - c->started_at < start_period;
	if (code == 0)
		streak = 0;
	else if (!starting)
		streak++;
	json_object_set_new(health, "FailingStreak", json_integer(streak));
	if (code == 0)
		json_object_set_new(health, "Status", json_string("healthy"));
	else if (streak >= retries)
		json_object_set_new(health, "Status", json_string("unhealthy"));
	log = json_object_get(health, "Log");
	entry = json_object();
	json_object_set_new(entry, "Start", json_string(start));
	json_object_set_new(entry, "End", json_string(end));
	json_object_set_new(entry, "ExitCode", json_integer(code));
	json_object_set_new(entry, "Output", json_stringn(out, (size_t)n));
	json_array_append_new(log, entry);
	while (json_array_size(log) > HEALTH_LOG_KEEP)
		json_array_remove(log, 0);
	r = cove_engine_db(e, &db, err);
	if (r >= 0)
		r = cove_ctr_config_set(db, c->id, "Health", health, err);
	if (r < 0)
		return r;
	cove_events_ctr_health(
	    c, json_string_value(json_object_get(health, "Status")));
	if (ret_healthy)
		*ret_healthy = code == 0;
	return 0;
}
