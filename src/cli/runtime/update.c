/* update: change the resource limits of a running container. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/runtime/cli.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strutil.h"

static const char update_help[] =
    "NAME:\n"
    "   cove-runtime update - update the resource limits of a container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime update [command options] <container-id>\n"
    "\n"
    "DESCRIPTION:\n"
    "   Applies new limits to the container's cgroup. With -r, the file\n"
    "   holds a runtime-spec linux.resources object ('-' reads stdin);\n"
    "   the flags below override its values. Sizes accept the suffixes\n"
    "   k, m, g (powers of 1024); -1 means unlimited.\n"
    "\n"
    "OPTIONS:\n"
    "   -r, --resources FILE         resources JSON\n"
    "   --memory BYTES               memory limit\n"
    "   --memory-reservation BYTES   memory soft limit\n"
    "   --memory-swap BYTES          memory plus swap limit\n"
    "   --kernel-memory BYTES        kernel memory limit (cgroup v1)\n"
    "   --kernel-memory-tcp BYTES    kernel TCP memory limit (cgroup v1)\n"
    "   --cpu-shares N               relative CPU weight\n"
    "   --cpu-quota USEC             CFS quota per period (-1: none)\n"
    "   --cpu-period USEC            CFS period\n"
    "   --cpu-rt-period USEC         realtime period\n"
    "   --cpu-rt-runtime USEC        realtime runtime\n"
    "   --cpuset-cpus LIST           CPUs allowed (e.g. 0-1)\n"
    "   --cpuset-mems LIST           memory nodes allowed\n"
    "   --pids-limit N               maximum number of processes\n"
    "   --blkio-weight N             block IO weight (10..1000)\n"
    "   -h, --help                   show this help\n";

enum {
	OPT_MEMORY = 256,
	OPT_MEMORY_RES,
	OPT_MEMORY_SWAP,
	OPT_KMEM,
	OPT_KMEM_TCP,
	OPT_CPU_SHARES,
	OPT_CPU_QUOTA,
	OPT_CPU_PERIOD,
	OPT_CPU_RT_PERIOD,
	OPT_CPU_RT_RUNTIME,
	OPT_CPUSET_CPUS,
	OPT_CPUSET_MEMS,
	OPT_PIDS,
	OPT_BLKIO,
	OPT_L3,
	OPT_MEMBW,
};

/* "512m" -> 536870912; "-1" stays -1. */
static int parse_size(const char *s, int64_t *ret)
{
	char *end;
	long long v;
	int64_t mult = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		mult = 1024;
		break;
	case 'm':
		mult = 1024 * 1024;
		break;
	case 'g':
		mult = 1024LL * 1024 * 1024;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] &&
	    !(tolower((unsigned char)end[1]) == 'b' && !end[2]))
		return -EINVAL;
	if (v > 0 && v > INT64_MAX / mult)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

int cmd_update(struct cove_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"resources", required_argument, NULL, 'r'},
	    {"memory", required_argument, NULL, OPT_MEMORY},
	    {"memory-reservation", required_argument, NULL, OPT_MEMORY_RES},
	    {"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
	    {"kernel-memory", required_argument, NULL, OPT_KMEM},
	    {"kernel-memory-tcp", required_argument, NULL, OPT_KMEM_TCP},
	    {"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
	    {"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},
	    {"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},
	    {"cpu-rt-period", required_argument, NULL, OPT_CPU_RT_PERIOD},
	    {"cpu-rt-runtime", required_argument, NULL, OPT_CPU_RT_RUNTIME},
	    {"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
	    {"cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS},
	    {"pids-limit", required_argument, NULL, OPT_PIDS},
	    {"blkio-weight", required_argument, NULL, OPT_BLKIO},
	    {"l3-cache-schema", required_argument, NULL, OPT_L3},
	    {"mem-bw-schema", required_argument, NULL, OPT_MEMBW},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_error err = {0};
	_cleanup_json_ json_t *res = NULL;
	const char *file = NULL;
	struct {
		int opt;
		const char *arg;
	} flags[32];
	size_t nflags = 0;
	int c;

	while ((c = getopt_long(argc, argv, "+r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			file = optarg;
			break;
		case 'h':
			return cli_help(update_help);
		case OPT_L3:
		case OPT_MEMBW:
			return cli_failf(cli,
					 "Intel RDT is not supported by cove");
		default:
			if (c < 256 || nflags >= ARRAY_SIZE(flags))
				return cli_unknown_option(cli, "update", argv);
			flags[nflags].opt = c;
			flags[nflags++].arg = optarg;
		}
	}
	if (optind + 1 != argc)
		return cli_usage(cli, "update",
				 "exactly one container id is required");
	if (file) {
		const char *name = !strcmp(file, "-") ? "/dev/stdin" : file;
		if (cove_json_load_file(name, 1u << 20, &res, &err) < 0)
			return cli_fail(cli, &err);
		if (!json_is_object(res))
			return cli_failf(cli, "%s: expected a resources object",
					 file);
	} else {
		res = json_object();
	}
	for (size_t i = 0; i < nflags; i++) {
		const char *a = flags[i].arg;
		int64_t v;
		bool size = flags[i].opt <= OPT_KMEM_TCP;

		if (flags[i].opt == OPT_CPUSET_CPUS) {
			json_object_set_new(cove_json_object_member(res, "cpu"),
					    "cpus", json_string(a));
			continue;
		}
		if (flags[i].opt == OPT_CPUSET_MEMS) {
			json_object_set_new(cove_json_object_member(res, "cpu"),
					    "mems", json_string(a));
			continue;
		}
		if ((size ? parse_size(a, &v) : cove_parse_int64(a, &v)) < 0)
			return cli_failf(cli, "invalid value '%s' for %s", a,
					 opts[0].name ? argv[0] : "");
		switch (flags[i].opt) {
		case OPT_MEMORY:
			json_object_set_new(
			    cove_json_object_member(res, "memory"), "limit",
			    json_integer(v));
			break;
		case OPT_MEMORY_RES:
			json_object_set_new(
			    cove_json_object_member(res, "memory"),
			    "reservation", json_integer(v));
			break;
		case OPT_MEMORY_SWAP:
			json_object_set_new(
			    cove_json_object_member(res, "memory"), "swap",
			    json_integer(v));
			break;
		case OPT_KMEM:
			json_object_set_new(
			    cove_json_object_member(res, "memory"), "kernel",
			    json_integer(v));
			break;
		case OPT_KMEM_TCP:
			json_object_set_new(
			    cove_json_object_member(res, "memory"), "kernelTCP",
			    json_integer(v));
			break;
		case OPT_CPU_SHARES:
			json_object_set_new(cove_json_object_member(res, "cpu"),
					    "shares", json_integer(v));
			break;
		case OPT_CPU_QUOTA:
			json_object_set_new(cove_json_object_member(res, "cpu"),
					    "quota", json_integer(v));
			break;
		case OPT_CPU_PERIOD:
			json_object_set_new(cove_json_object_member(res, "cpu"),
					    "period", json_integer(v));
			break;
		case OPT_CPU_RT_PERIOD:
			json_object_set_new(cove_json_object_member(res, "cpu"),
					    "realtimePeriod", json_integer(v));
			break;
		case OPT_CPU_RT_RUNTIME:
			json_object_set_new(cove_json_object_member(res, "cpu"),
					    "realtimeRuntime", json_integer(v));
			break;
		case OPT_PIDS:
			json_object_set_new(
			    cove_json_object_member(res, "pids"), "limit",
			    json_integer(v));
			break;
		case OPT_BLKIO:
			json_object_set_new(
			    cove_json_object_member(res, "blockIO"), "weight",
			    json_integer(v));
			break;
		}
	}
	if (cove_container_update(cli->root, argv[optind], res, &err) < 0)
		return cli_fail(cli, &err);
	return 0;
}
