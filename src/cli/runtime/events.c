/* events: container statistics and OOM notifications, as runc prints them. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/runtime/cli.h"
#include "runtime/cgroup.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static const char events_help[] =
    "NAME:\n"
    "   cove-runtime events - print container statistics and events\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime events [command options] <container-id>\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints one JSON object per line: {\"type\":\"stats\",\"id\":ID,\n"
    "   \"data\":{cpu, memory, pids, blkio, hugetlb}} every interval, and\n"
    "   {\"type\":\"oom\",\"id\":ID} when the kernel OOM-kills a process of\n"
    "   the container. Stops when the container stops.\n"
    "\n"
    "OPTIONS:\n"
    "   --stats            print the statistics once and exit\n"
    "   --interval DUR     interval between statistics (default 5s;\n"
    "                      units ms, s, m)\n"
    "   -h, --help         show this help\n";

enum { OPT_STATS = 256, OPT_INTERVAL };

static int parse_duration_ms(const char *s, int *ret)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		*ret = (int)v;
	else if (!strcmp(end, "s") || !*end)
		*ret = (int)(v * 1000);
	else if (!strcmp(end, "m"))
		*ret = (int)(v * 60000);
	else
		return -EINVAL;
	if (*ret <= 0)
		return -EINVAL;
	return 0;
}

static int print_event(const char *type, const char *id, json_t *data)
{
	json_t *j = json_object();
	char *s;

	json_object_set_new(j, "type", json_string(type));
	json_object_set_new(j, "id", json_string(id));
	if (data)
		json_object_set(j, "data", data);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	return 0;
}

int cmd_events(struct cove_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"stats", no_argument, NULL, OPT_STATS},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_state_ struct cove_state *s = NULL;
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	struct cove_error err = {0};
	bool once = false;
	int interval = 5000, c, oom_fd = -1;
	const char *id;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STATS:
			once = true;
			break;
		case OPT_INTERVAL:
			if (parse_duration_ms(optarg, &interval) < 0)
				return cli_failf(cli, "invalid --interval '%s'",
						 optarg);
			break;
		case 'h':
			return cli_help(events_help);
		default:
			return cli_unknown_option(cli, "events", argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage(cli, "events",
				 "exactly one container id is required");
	id = argv[optind];
	if (cove_state_load(cli->root, id, &s, &err) < 0)
		return cli_fail(cli, &err);
	if (s->status == COVE_STATUS_STOPPED)
		return cli_failf(cli, "container '%s' is not running", id);
	if (!s->cgroup_path)
		return cli_failf(cli, "container '%s' has no cgroup", id);
	if (cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, &cg, &err) <
	    0)
		return cli_fail(cli, &err);
	if (!once && cove_cgroup_oom_fd(cg, &oom_fd, NULL) < 0)
		oom_fd = -1;
	for (;;) {
		_cleanup_json_ json_t *stats = NULL;
		struct timespec start, now;
		int left = interval;

		if (cove_cgroup_stats(cg, &stats, &err) < 0)
			return cli_fail(cli, &err);
		print_event("stats", id, stats);
		if (once)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &start);
		while (left > 0) {
			struct pollfd p = {.fd = oom_fd,
					   .events = POLLIN | POLLPRI};
			int r = poll(&p, oom_fd >= 0 ? 1 : 0,
				     left > 500 ? 500 : left);
			if (r > 0 && (p.revents & (POLLIN | POLLPRI))) {
				uint64_t v;
				if (read(oom_fd, &v, sizeof(v)) < 0) {
					/* v2: memory.events changed; re-arm by
					 * reading */
				}
				print_event("oom", id, NULL);
			}
			cove_state_refresh(s);
			if (s->status == COVE_STATUS_STOPPED)
				return 0;
			clock_gettime(CLOCK_MONOTONIC, &now);
			left = interval -
			       (int)((now.tv_sec - start.tv_sec) * 1000 +
				     (now.tv_nsec - start.tv_nsec) / 1000000);
		}
	}
}
