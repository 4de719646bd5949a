/* cove stats and cove top: resource use and processes of containers. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "engine/engine.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static const char stats_help[] =
    "NAME:\n"
    "   cove stats - show the resource use of containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove stats [options] [CONTAINER...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   CPU, memory, network, block I/O and process counts of running\n"
    "   containers (all of them when none is named), from their cgroups.\n"
    "   CPU % is measured over the interval between two samples.\n"
    "\n"
    "OPTIONS:\n"
    "   --no-stream            print one sample and exit\n"
    "   --format table|json    output format (default table)\n"
    "   -i, --interval SECS    between samples when streaming (default 1)\n"
    "   -h, --help             show this help\n";

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int cmd_stats(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"no-stream", no_argument, NULL, 1},
	    {"format", required_argument, NULL, 2},
	    {"interval", required_argument, NULL, 'i'},
	    {"all", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr *cs = NULL;
	struct cove_ctr_stats *prev = NULL;
	bool no_stream = false, json = false;
	int interval = 1, ch, r = 0;
	size_t n = 0;
	sqlite3 *db;
	uint64_t t0;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "ai:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return cove_cli_help(stats_help);
		case 1:
			no_stream = true;
			break;
		case 2:
			if (!strcmp(optarg, "json"))
				json = true;
			else if (strcmp(optarg, "table"))
				return cove_cli_failf("stats: invalid --format "
						      "'%s'",
						      optarg);
			break;
		case 'i':
			if (cove_parse_int(optarg, &interval) < 0 ||
			    interval < 1)
				return cove_cli_failf("stats: invalid "
						      "--interval '%s'",
						      optarg);
			break;
		case 'a':
			break;
		default:
			return cove_cli_unknown_option("stats", argv);
		}
	}
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (optind < argc) {
		cs = calloc((size_t)(argc - optind), sizeof(*cs));
		if (!cs) {
			cove_engine_free(e);
			return cove_cli_failf("out of memory");
		}
		for (int i = optind; i < argc; i++, n++)
			if (cove_engine_lookup(e, argv[i], &cs[n], &err) < 0) {
				r = cove_cli_fail(&err);
				goto out;
			}
	} else if (cove_engine_db(e, &db, &err) < 0 ||
		   cove_ctr_list(db, &cs, &n, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	prev = calloc(n ? n : 1, sizeof(*prev));
	if (!prev) {
		r = cove_cli_failf("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		(void)cove_engine_stats(e, &cs[i], &prev[i], &err);
	t0 = now_ns();
	for (;;) {
		uint64_t t1;
		json_t *out = json ? json_array() : NULL;
		usleep(no_stream ? 500000 : (useconds_t)interval * 1000000);
		t1 = now_ns();
		if (!json)
			printf("%-12s  %-20s  %-7s  %-21s  %-6s  %-19s  %-19s  "
			       "%s\n",
			       "ID", "NAME", "CPU %", "MEM USAGE / LIMIT",
			       "MEM %", "NET IO", "BLOCK IO", "PIDS");
		for (size_t i = 0; i < n; i++) {
			struct cove_ctr_stats s;
			char mu[16], ml[16], rx[16], tx[16], br[16], bw[16],
			    mem[40], net[40], blk[40];
			double cpu, memp;
			if (cove_engine_stats(e, &cs[i], &s, &err) < 0) {
				if (optind < argc) {
					r = cove_cli_fail(&err);
					goto out;
				}
				continue;
			}
			cpu = t1 > t0
				  ? 100.0 *
					(double)(s.cpu_ns - prev[i].cpu_ns) /
					(double)(t1 - t0)
				  : 0;
			memp = s.mem_limit && s.mem_limit < (1ULL << 62)
				   ? 100.0 * (double)s.mem_usage /
					 (double)s.mem_limit
				   : 0;
			prev[i] = s;
			if (json) {
				json_t *j = json_object();
				json_object_set_new(j, "ID",
						    json_string(cs[i].id));
				json_object_set_new(j, "Name",
						    json_string(cs[i].name));
				json_object_set_new(j, "CPU", json_real(cpu));
				json_object_set_new(
				    j, "CPUNano",
				    json_integer((json_int_t)s.cpu_ns));
				json_object_set_new(
				    j, "MemUsage",
				    json_integer((json_int_t)s.mem_usage));
				json_object_set_new(
				    j, "MemLimit",
				    json_integer((json_int_t)s.mem_limit));
				json_object_set_new(j, "MemPerc",
						    json_real(memp));
				json_object_set_new(
				    j, "NetInput",
				    json_integer((json_int_t)s.net_rx));
				json_object_set_new(
				    j, "NetOutput",
				    json_integer((json_int_t)s.net_tx));
				json_object_set_new(
				    j, "BlockInput",
				    json_integer((json_int_t)s.blk_read));
				json_object_set_new(
				    j, "BlockOutput",
				    json_integer((json_int_t)s.blk_write));
				json_object_set_new(
				    j, "PIDs",
				    json_integer((json_int_t)s.pids));
				json_array_append_new(out, j);
				continue;
			}
			cove_cli_size(s.mem_usage, mu, sizeof(mu));
			cove_cli_size(s.mem_limit, ml, sizeof(ml));
			cove_cli_size(s.net_rx, rx, sizeof(rx));
			cove_cli_size(s.net_tx, tx, sizeof(tx));
			cove_cli_size(s.blk_read, br, sizeof(br));
			cove_cli_size(s.blk_write, bw, sizeof(bw));
			snprintf(mem, sizeof(mem), "%s / %s", mu,
				 s.mem_limit < (1ULL << 62) ? ml : "-");
			snprintf(net, sizeof(net), "%s / %s", rx, tx);
			snprintf(blk, sizeof(blk), "%s / %s", br, bw);
			printf("%-12.12s  %-20.20s  %6.2f%%  %-21s  %5.2f%%  "
			       "%-19s  %-19s  %llu\n",
			       cs[i].id, cs[i].name, cpu, mem, memp, net, blk,
			       (unsigned long long)s.pids);
		}
		if (json) {
			char *txt = json_dumps(out, JSON_INDENT(4));
			printf("%s\n", txt ? txt : "[]");
			free(txt);
			json_decref(out);
		}
		fflush(stdout);
		t0 = t1;
		if (no_stream)
			break;
	}
out:
	free(prev);
	cove_ctrs_free(cs, n);
	cove_engine_free(e);
	return r;
}

static const char top_help[] =
    "NAME:\n"
    "   cove top - show the processes of a container\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove top CONTAINER\n"
    "\n"
    "DESCRIPTION:\n"
    "   Lists every process of the container's cgroup: USER, PID (host),\n"
    "   PPID, %CPU, ELAPSED, TIME, COMMAND, read from /proc.\n";

int cmd_top(struct cove_ctx *ctx, int argc, char **argv)
{
	struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	long hz = sysconf(_SC_CLK_TCK);
	double uptime = 0;
	int r = 0;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return cove_cli_help(top_help);
	if (argc < 2)
		return cove_cli_failf("top: a container is required");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (cove_engine_lookup(e, argv[1], &c, &err) < 0 ||
	    cove_engine_pids(e, &c, &pids, &n, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	{
		_cleanup_free_ char *up = NULL;
		if (cove_read_file("/proc/uptime", 256, &up, NULL) >= 0)
			uptime = strtod(up, NULL);
	}
	printf("%-8s  %-8s  %-8s  %-5s  %-10s  %-9s  %s\n", "USER", "PID",
	       "PPID", "%CPU", "ELAPSED", "TIME", "COMMAND");
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL, *stat = NULL, *cmd = NULL;
		size_t len = 0;
		unsigned long long ut = 0, st = 0, start = 0;
		int ppid = 0;
		unsigned uid = 0;
		char *p;
		double el, cpu;

		path = cove_strdup_printf("/proc/%d/stat", pids[i]);
		if (!path || cove_read_file(path, 4096, &stat, NULL) < 0)
			continue;
		p = strrchr(stat, ')');
		if (!p || sscanf(p + 2,
				 "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				 "%llu %llu %*d %*d %*d %*d %*d %*d %llu",
				 &ppid, &ut, &st, &start) != 4)
			continue;
		free(path);
		path = cove_strdup_printf("/proc/%d/cmdline", pids[i]);
		if (path && cove_read_file(path, 4096, &cmd, &len) >= 0) {
			for (size_t k = 0; k + 1 < len; k++)
				if (!cmd[k])
					cmd[k] = ' ';
		}
		free(path);
		path = cove_strdup_printf("/proc/%d/status", pids[i]);
		{
			_cleanup_free_ char *status = NULL;
			if (path &&
			    cove_read_file(path, 16384, &status, NULL) >= 0) {
				char *u = strstr(status, "\nUid:");
				if (u)
					sscanf(u + 5, "%u", &uid);
			}
		}
		el = uptime - (double)start / (double)hz;
		cpu = el > 0 ? 100.0 * (double)(ut + st) / (double)hz / el : 0;
		{
			char elapsed[32], time_s[32];
			snprintf(elapsed, sizeof(elapsed), "%.0fs", el);
			snprintf(time_s, sizeof(time_s), "%.2fs",
				 (double)(ut + st) / (double)hz);
			printf("%-8u  %-8d  %-8d  %-5.1f  %-10s  %-9s  %s\n",
			       uid, pids[i], ppid, cpu, elapsed, time_s,
			       cmd && *cmd ? cmd : "?");
		}
	}
out:
	cove_ctr_release(&c);
	cove_engine_free(e);
	return r;
}
