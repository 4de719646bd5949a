/*
 * cove update: change the cgroup limits of containers (podman's and
 * docker's update), and the limit options it shares with create and run.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cove/cli.h"
#include "engine/engine.h"
#include "util/cleanup.h"
#include "util/strutil.h"

int cove_cli_resource_opt(const char *cmd, const char *opt, const char *arg,
			  json_t *host)
{
	struct cove_error err = {0};
	int64_t v;
	const char *key = NULL;

	if (!strcmp(opt, "memory") || !strcmp(opt, "memory-reservation")) {
		bool mem = !strcmp(opt, "memory");
		if (cove_cli_parse_size(arg, &v) < 0 ||
		    (mem && v < 6 * 1024 * 1024))
			return cove_cli_failf("%s: invalid --%s '%s'%s", cmd,
					      opt, arg,
					      mem ? ": at least 6m" : "");
		key = mem ? "Memory" : "MemoryReservation";
	} else if (!strcmp(opt, "memory-swap")) {
		if (!strcmp(arg, "-1"))
			v = -1;
		else if (cove_cli_parse_size(arg, &v) < 0)
			return cove_cli_failf("%s: invalid --memory-swap '%s'",
					      cmd, arg);
		key = "MemorySwap";
	} else if (!strcmp(opt, "memory-swappiness")) {
		if (cove_parse_int64(arg, &v) < 0 || v < -1 || v > 100)
			return cove_cli_failf("%s: invalid --memory-swappiness "
					      "'%s': must be between 0 and 100",
					      cmd, arg);
		key = "MemorySwappiness";
	} else if (!strcmp(opt, "cpus")) {
		char *end;
		double d = strtod(arg, &end);
		if (*end || end == arg || !(d > 0) || d > 1024)
			return cove_cli_failf("%s: invalid --cpus '%s'", cmd,
					      arg);
		v = (int64_t)(d * 1e9 + 0.5);
		key = "NanoCpus";
	} else if (!strcmp(opt, "cpu-shares")) {
		if (cove_parse_int64(arg, &v) < 0 || v < 2 || v > 262144)
			return cove_cli_failf("%s: invalid --cpu-shares '%s'",
					      cmd, arg);
		key = "CpuShares";
	} else if (!strcmp(opt, "cpu-period")) {
		/* the kernel's range for cfs_period_us: 1 ms to 1 s */
		if (cove_parse_int64(arg, &v) < 0 || v < 1000 || v > 1000000)
			return cove_cli_failf("%s: invalid --cpu-period '%s': "
					      "must be between 1000 and "
					      "1000000 (microseconds)",
					      cmd, arg);
		key = "CpuPeriod";
	} else if (!strcmp(opt, "cpu-quota")) {
		if (cove_parse_int64(arg, &v) < 0 || (v < 1000 && v != -1))
			return cove_cli_failf("%s: invalid --cpu-quota '%s': "
					      "must be at least 1000 "
					      "(microseconds), or -1",
					      cmd, arg);
		key = "CpuQuota";
	} else if (!strcmp(opt, "cpuset-cpus") || !strcmp(opt, "cpuset-mems")) {
		bool mems = !strcmp(opt, "cpuset-mems");
		_cleanup_free_ char *o = cove_strdup_printf("--%s", opt);
		if (!o)
			return cove_cli_failf("out of memory");
		if (cove_engine_cpuset_check(o, arg, mems, &err) < 0)
			return cove_cli_failf("%s: %s", cmd, err.msg);
		json_object_set_new(host, mems ? "CpusetMems" : "CpusetCpus",
				    json_string(arg));
		return -1;
	} else if (!strcmp(opt, "pids-limit")) {
		if (cove_parse_int64(arg, &v) < 0 || v < -1)
			return cove_cli_failf("%s: invalid --pids-limit '%s'",
					      cmd, arg);
		if (v < 0)
			v = 0;
		key = "PidsLimit";
	} else if (!strcmp(opt, "blkio-weight")) {
		if (cove_parse_int64(arg, &v) < 0 || v < 10 || v > 1000)
			return cove_cli_failf(
			    "%s: invalid --blkio-weight '%s': "
			    "must be between 10 and 1000",
			    cmd, arg);
		key = "BlkioWeight";
	} else {
		return cove_cli_failf("%s: unknown option --%s", cmd, opt);
	}
	json_object_set_new(host, key, json_integer(v));
	return -1;
}

int cove_cli_cpu_opts_check(const char *cmd, const json_t *host)
{
	if (json_object_get(host, "NanoCpus") &&
	    (json_object_get(host, "CpuPeriod") ||
	     json_object_get(host, "CpuQuota")))
		return cove_cli_failf("%s: --cpus cannot be combined with "
				      "--cpu-period or --cpu-quota",
				      cmd);
	return -1;
}

static const char update_help[] =
    "NAME:\n"
    "   cove update - change the resource limits of containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove update [options] CONTAINER...\n"
    "\n"
    "DESCRIPTION:\n"
    "   Changes the cgroup limits of each container: a running or paused\n"
    "   one's at once, in place, and for every container its stored\n"
    "   configuration, so that the new limits hold at every later start.\n"
    "   Limits not named keep their values.  Rootless containers have no\n"
    "   cgroup limits to change.  Prints the name of each container\n"
    "   updated.\n"
    "\n"
    "OPTIONS:\n"
    "   -m, --memory SIZE          memory limit (b, k, m, g; at least 6m)\n"
    "   --memory-swap SIZE         memory + swap limit (-1: unlimited)\n"
    "   --memory-reservation SIZE  memory soft limit\n"
    "   --cpus N                   CPU limit (e.g. 1.5)\n"
    "   --cpu-shares N             CPU weight (relative)\n"
    "   --cpu-period US            CFS period (1000..1000000)\n"
    "   --cpu-quota US             CFS quota per period (-1: none)\n"
    "   --cpuset-cpus LIST         CPUs allowed (e.g. 0-3,5)\n"
    "   --cpuset-mems LIST         memory nodes allowed\n"
    "   --pids-limit N             process limit (0 or -1: none)\n"
    "   --blkio-weight N           block I/O weight (10..1000)\n"
    "   -h, --help                 show this help\n";

int cmd_update(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"memory", required_argument, NULL, 'm'},
	    {"memory-swap", required_argument, NULL, 0},
	    {"memory-reservation", required_argument, NULL, 0},
	    {"cpus", required_argument, NULL, 0},
	    {"cpu-shares", required_argument, NULL, 0},
	    {"cpu-period", required_argument, NULL, 0},
	    {"cpu-quota", required_argument, NULL, 0},
	    {"cpuset-cpus", required_argument, NULL, 0},
	    {"cpuset-mems", required_argument, NULL, 0},
	    {"pids-limit", required_argument, NULL, 0},
	    {"blkio-weight", required_argument, NULL, 0},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_json_ json_t *changes = json_object();
	struct cove_engine *e = NULL;
	int c, idx, r;

	if (!changes)
		return cove_cli_failf("out of memory");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+m:h", opts, &idx)) != -1) {
		const char *name;
		if (c == 'h')
			return cove_cli_help(update_help);
		if (c == 'm')
			name = "memory";
		else if (c == 0)
			name = opts[idx].name;
		else
			return cove_cli_unknown_option("update", argv);
		r = cove_cli_resource_opt("update", name, optarg, changes);
		if (r >= 0)
			return r;
	}
	r = cove_cli_cpu_opts_check("update", changes);
	if (r >= 0)
		return r;
	if (optind >= argc)
		return cove_cli_failf("update: a container is required (see "
				      "'cove update --help')");
	if (!json_object_size(changes))
		return cove_cli_failf("update: no limit to change (see 'cove "
				      "update --help')");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	for (int i = optind; i < argc; i++) {
		struct cove_error err = {0};
		struct cove_ctr ctr = {0};
		int k = cove_engine_lookup(e, argv[i], &ctr, &err);
		if (k >= 0)
			k = cove_engine_update(e, &ctr, changes, &err);
		if (k < 0)
			r = cove_cli_fail(&err);
		else
			printf("%s\n", argv[i]);
		cove_ctr_release(&ctr);
	}
	cove_engine_free(e);
	return r;
}
