/* cove stats and cove top: resource use and processes of containers. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "engine/engine.h"
#include "util/capnames.h"
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
    "   CPU % is measured over the interval between two samples.  A\n"
    "   container named that is not running is an error; with --all the\n"
    "   stopped ones are listed with zero figures (and so is the one\n"
    "   --latest picks), as podman shows them.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all              every container, stopped ones too\n"
    "   -l, --latest           the container created last\n"
    "   --no-stream            print one sample and exit\n"
    "   --no-trunc             full container ids\n"
    "   --no-reset             streaming to a terminal: do not clear the\n"
    "                          screen between samples\n"
    "   --format FORMAT        table (default), json, or a Go template:\n"
    "                          {{.ID}} {{.Name}} {{.CPUPerc}} {{.MemUsage}}\n"
    "                          {{.MemPerc}} {{.NetIO}} {{.BlockIO}}\n"
    "                          {{.PIDs}} {{.UpTime}} (CPU time), and the\n"
    "                          numbers {{.CPU}} {{.CPUNano}} {{.MemLimit}}\n"
    "                          {{.NetInput}} {{.NetOutput}}\n"
    "                          {{.BlockInput}} {{.BlockOutput}}\n"
    "   -i, --interval SECS    between samples when streaming (default 1)\n"
    "   -h, --help             show this help\n";

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* @digits decimals of @frac, trailing zeros dropped (Go's fmtFrac) */
static void frac_text(char *buf, size_t size, uint64_t frac, int digits)
{
	char d[16];
	int n = digits;

	snprintf(d, sizeof(d), "%0*llu", digits, (unsigned long long)frac);
	while (n > 0 && d[n - 1] == '0')
		n--;
	if (n)
		snprintf(buf, size, ".%.*s", n, d);
	else if (size)
		buf[0] = '\0';
}

/* A duration as Go prints one: "0s", "894.486124ms", "1m30.5s", "2h0m0s" */
static void go_duration(uint64_t ns, char *buf, size_t size)
{
	char frac[16];

	if (ns == 0) {
		snprintf(buf, size, "0s");
	} else if (ns < 1000) {
		snprintf(buf, size, "%lluns", (unsigned long long)ns);
	} else if (ns < 1000000) {
		frac_text(frac, sizeof(frac), ns % 1000, 3);
		snprintf(buf, size, "%llu%sµs", (unsigned long long)ns / 1000,
			 frac);
	} else if (ns < 1000000000) {
		frac_text(frac, sizeof(frac), ns % 1000000, 6);
		snprintf(buf, size, "%llu%sms",
			 (unsigned long long)ns / 1000000, frac);
	} else {
		unsigned long long s = ns / 1000000000, h = s / 3600,
				   m = s / 60 % 60;
		char hm[48] = "";
		frac_text(frac, sizeof(frac), ns % 1000000000, 9);
		if (h)
			snprintf(hm, sizeof(hm), "%lluh%llum", h, m);
		else if (m)
			snprintf(hm, sizeof(hm), "%llum", m);
		snprintf(buf, size, "%s%llu%ss", hm, s % 60, frac);
	}
}

static bool is_running(const struct cove_ctr *c)
{
	return !strcmp(c->state, "running") || !strcmp(c->state, "paused");
}

struct stats_opts {
	bool json, no_trunc, zeros_for_stopped;
	const char *tmpl;
};

/* One sample of @c as the template sees it: text figures and numbers */
static json_t *stats_object(const struct stats_opts *o,
			    const struct cove_ctr *c,
			    const struct cove_ctr_stats *s, double cpu,
			    double memp)
{
	char mu[16], ml[16], rx[16], tx[16], br[16], bw[16], mem[40], net[40],
	    blk[40], pct[32], mpct[32], up[48];
	json_t *j = json_object();

	cove_cli_size(s->mem_usage, mu, sizeof(mu));
	cove_cli_size(s->mem_limit, ml, sizeof(ml));
	cove_cli_size(s->net_rx, rx, sizeof(rx));
	cove_cli_size(s->net_tx, tx, sizeof(tx));
	cove_cli_size(s->blk_read, br, sizeof(br));
	cove_cli_size(s->blk_write, bw, sizeof(bw));
	snprintf(mem, sizeof(mem), "%s / %s", mu,
		 s->mem_limit < (1ULL << 62) ? ml : "-");
	snprintf(net, sizeof(net), "%s / %s", rx, tx);
	snprintf(blk, sizeof(blk), "%s / %s", br, bw);
	snprintf(pct, sizeof(pct), "%.2f%%", cpu);
	snprintf(mpct, sizeof(mpct), "%.2f%%", memp);
	go_duration(s->cpu_ns, up, sizeof(up));
	json_object_set_new(
	    j, "ID", json_stringn(c->id, o->no_trunc ? strlen(c->id) : 12));
	json_object_set_new(j, "Name", json_string(c->name));
	json_object_set_new(j, "CPUPerc", json_string(pct));
	json_object_set_new(j, "MemUsage", json_string(mem));
	json_object_set_new(j, "MemPerc", json_string(mpct));
	json_object_set_new(j, "NetIO", json_string(net));
	json_object_set_new(j, "BlockIO", json_string(blk));
	json_object_set_new(j, "PIDs", json_integer((json_int_t)s->pids));
	json_object_set_new(j, "PIDS", json_integer((json_int_t)s->pids));
	json_object_set_new(j, "UpTime", json_string(up));
	json_object_set_new(j, "CPU", json_real(cpu));
	json_object_set_new(j, "CPUNano", json_integer((json_int_t)s->cpu_ns));
	json_object_set_new(j, "MemLimit",
			    json_integer((json_int_t)s->mem_limit));
	json_object_set_new(j, "NetInput", json_integer((json_int_t)s->net_rx));
	json_object_set_new(j, "NetOutput",
			    json_integer((json_int_t)s->net_tx));
	json_object_set_new(j, "BlockInput",
			    json_integer((json_int_t)s->blk_read));
	json_object_set_new(j, "BlockOutput",
			    json_integer((json_int_t)s->blk_write));
	return j;
}

/* --format json: the numbers themselves */
static json_t *stats_json(const struct cove_ctr *c,
			  const struct cove_ctr_stats *s, double cpu,
			  double memp)
{
	json_t *j = json_object();

	json_object_set_new(j, "ID", json_string(c->id));
	json_object_set_new(j, "Name", json_string(c->name));
	json_object_set_new(j, "CPU", json_real(cpu));
	json_object_set_new(j, "CPUNano", json_integer((json_int_t)s->cpu_ns));
	json_object_set_new(j, "MemUsage",
			    json_integer((json_int_t)s->mem_usage));
	json_object_set_new(j, "MemLimit",
			    json_integer((json_int_t)s->mem_limit));
	json_object_set_new(j, "MemPerc", json_real(memp));
	json_object_set_new(j, "NetInput", json_integer((json_int_t)s->net_rx));
	json_object_set_new(j, "NetOutput",
			    json_integer((json_int_t)s->net_tx));
	json_object_set_new(j, "BlockInput",
			    json_integer((json_int_t)s->blk_read));
	json_object_set_new(j, "BlockOutput",
			    json_integer((json_int_t)s->blk_write));
	json_object_set_new(j, "PIDs", json_integer((json_int_t)s->pids));
	return j;
}

int cmd_stats(struct cove_ctx *ctx, int argc, char **argv)
{
	enum { OPT_NO_STREAM = 1, OPT_FORMAT, OPT_NO_TRUNC, OPT_NO_RESET };
	static const struct option opts[] = {
	    {"no-stream", no_argument, NULL, OPT_NO_STREAM},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
	    {"no-reset", no_argument, NULL, OPT_NO_RESET},
	    {"interval", required_argument, NULL, 'i'},
	    {"all", no_argument, NULL, 'a'},
	    {"latest", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr *cs = NULL;
	struct cove_ctr_stats *prev = NULL;
	struct stats_opts o = {0};
	_cleanup_strv_ char **targets = NULL;
	bool no_stream = false, no_reset = false, named;
	unsigned sel = 0;
	int interval = 1, ch, r = 0;
	size_t n = 0;
	uint64_t t0;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "ai:hl", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return cove_cli_help(stats_help);
		case OPT_NO_STREAM:
			no_stream = true;
			break;
		case OPT_FORMAT:
			o.json = !strcmp(optarg, "json");
			o.tmpl = NULL;
			if (cove_cli_is_template(optarg))
				o.tmpl = optarg;
			else if (!o.json && strcmp(optarg, "table"))
				return cove_cli_failf(
				    "stats: invalid --format '%s': expected "
				    "table, json or a template ('{{.Name}}')",
				    optarg);
			break;
		case OPT_NO_TRUNC:
			o.no_trunc = true;
			break;
		case OPT_NO_RESET:
			no_reset = true;
			break;
		case 'i':
			if (cove_parse_int(optarg, &interval) < 0 ||
			    interval < 1)
				return cove_cli_failf("stats: invalid "
						      "--interval '%s'",
						      optarg);
			break;
		case 'a':
			sel |= COVE_CLI_SEL_ALL;
			break;
		case 'l':
			sel |= COVE_CLI_SEL_LATEST;
			break;
		default:
			return cove_cli_unknown_option("stats", argv);
		}
	}
	/*
	 * No name and no flag: every running container.  A name that is
	 * not running is an error; --all and --latest show zeros for it.
	 */
	named = optind < argc;
	o.zeros_for_stopped = sel != 0;
	if (sel || optind < argc) {
		r = cove_cli_select_check("stats", sel, argc - optind);
		if (r)
			return r;
	}
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	r = cove_cli_select(e, "stats",
			    sel || optind < argc ? sel : COVE_CLI_SEL_ALL,
			    sel || optind < argc ? NULL : is_running,
			    argc - optind, argv + optind, &targets);
	if (r)
		goto out;
	for (size_t i = 0; targets && targets[i]; i++)
		n++;
	cs = calloc(n ? n : 1, sizeof(*cs));
	prev = calloc(n ? n : 1, sizeof(*prev));
	if (!cs || !prev) {
		r = cove_cli_failf("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (cove_engine_lookup(e, targets[i], &cs[i], &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
	for (size_t i = 0; i < n; i++)
		(void)cove_engine_stats(e, &cs[i], &prev[i], &err);
	cove_error_clear(&err);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (;;) {
		uint64_t t1;
		json_t *out = o.json ? json_array() : NULL;
		usleep(no_stream ? 500000 : (useconds_t)interval * 1000000);
		t1 = now_ns(CLOCK_MONOTONIC);
		/* streaming to a terminal: each sample on a clean screen */
		if (!no_stream && !no_reset && !o.json && !o.tmpl &&
		    isatty(STDOUT_FILENO))
			fputs("\033[2J\033[H", stdout);
		if (!o.json && !o.tmpl)
			printf("%-12s  %-20s  %-7s  %-21s  %-6s  %-19s  %-19s  "
			       "%s\n",
			       "ID", "NAME", "CPU %", "MEM USAGE / LIMIT",
			       "MEM %", "NET IO", "BLOCK IO", "PIDS");
		for (size_t i = 0; i < n; i++) {
			struct cove_ctr_stats s = {0};
			json_t *j;
			double cpu, memp;

			if (o.zeros_for_stopped)
				(void)cove_engine_refresh(e, &cs[i], &err);
			cove_error_clear(&err);
			if (o.zeros_for_stopped && !is_running(&cs[i])) {
				/* podman's figures of a stopped one: zeros */
				prev[i] = s;
			} else if (cove_engine_stats(e, &cs[i], &s, &err) < 0) {
				if (named) {
					r = cove_cli_fail(&err);
					json_decref(out);
					goto out;
				}
				cove_error_clear(&err);
				continue;
			}
			cpu = t1 > t0 && s.cpu_ns >= prev[i].cpu_ns
				  ? 100.0 *
					(double)(s.cpu_ns - prev[i].cpu_ns) /
					(double)(t1 - t0)
				  : 0;
			memp = s.mem_limit && s.mem_limit < (1ULL << 62)
				   ? 100.0 * (double)s.mem_usage /
					 (double)s.mem_limit
				   : 0;
			prev[i] = s;
			if (o.json) {
				json_array_append_new(
				    out, stats_json(&cs[i], &s, cpu, memp));
				continue;
			}
			j = stats_object(&o, &cs[i], &s, cpu, memp);
			if (o.tmpl) {
				r = cove_cli_render_template(o.tmpl, j);
			} else {
				printf(
				    "%-12s  %-20.20s  %6.2f%%  %-21s  "
				    "%5.2f%%  %-19s  %-19s  %llu\n",
				    json_string_value(json_object_get(j, "ID")),
				    cs[i].name, cpu,
				    json_string_value(
					json_object_get(j, "MemUsage")),
				    memp,
				    json_string_value(
					json_object_get(j, "NetIO")),
				    json_string_value(
					json_object_get(j, "BlockIO")),
				    (unsigned long long)s.pids);
			}
			json_decref(j);
			if (r)
				goto out;
		}
		if (o.json) {
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

/* ---- top ------------------------------------------------------------------
 */

static const char top_help[] =
    "NAME:\n"
    "   cove top - show the processes of a container\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove top [options] CONTAINER [DESCRIPTOR...]\n"
    "   cove top [options] CONTAINER [PS-ARGS...]\n"
    "   cove top -l [DESCRIPTOR...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Lists every process of the container's cgroup, read from /proc.\n"
    "   Without descriptors: USER, PID (host), PPID, %CPU, ELAPSED, TIME,\n"
    "   COMMAND.  With descriptors (separate arguments or comma-separated)\n"
    "   those columns, pids and ids as the container sees them:\n"
    "     args comm etime group groups hgroup hgroups hpid huser label\n"
    "     nice pcpu pgid pid ppid rgroup rss ruser seccomp state stime\n"
    "     time tty user vsz capamb capbnd capeff capinh capprm\n"
    "   and the AIX codes %C %G %P %U %a %c %g %n %p %r %t %u %x %y %z.\n"
    "   Arguments that are not descriptors (\"-eo pid,comm\") are given to\n"
    "   ps(1) run inside the container instead, whose output is printed\n"
    "   but for the lines that show these arguments (ps itself).\n"
    "\n"
    "OPTIONS:\n"
    "   -l, --latest    the container created last\n"
    "   -h, --help      show this help\n";

enum top_field {
	F_ARGS,
	F_CAPAMB,
	F_CAPBND,
	F_CAPEFF,
	F_CAPINH,
	F_CAPPRM,
	F_COMM,
	F_ETIME,
	F_GROUP,
	F_GROUPS,
	F_HGROUP,
	F_HGROUPS,
	F_HPID,
	F_HUSER,
	F_LABEL,
	F_NICE,
	F_PCPU,
	F_PGID,
	F_PID,
	F_PPID,
	F_RGROUP,
	F_RSS,
	F_RUSER,
	F_SECCOMP,
	F_STATE,
	F_STIME,
	F_TIME,
	F_TTY,
	F_USER,
	F_VSZ,
};

static const struct top_descriptor {
	const char *name, *code, *header;
	enum top_field field;
} top_descriptors[] = {
    {"args", "%a", "COMMAND", F_ARGS},
    {"capamb", NULL, "AMBIENT CAPS", F_CAPAMB},
    {"capbnd", NULL, "BOUNDING CAPS", F_CAPBND},
    {"capeff", NULL, "EFFECTIVE CAPS", F_CAPEFF},
    {"capinh", NULL, "INHERITED CAPS", F_CAPINH},
    {"capprm", NULL, "PERMITTED CAPS", F_CAPPRM},
    {"comm", "%c", "COMMAND", F_COMM},
    {"etime", "%t", "ELAPSED", F_ETIME},
    {"group", "%G", "GROUP", F_GROUP},
    {"groups", NULL, "GROUPS", F_GROUPS},
    {"hgroup", NULL, "HGROUP", F_HGROUP},
    {"hgroups", NULL, "HGROUPS", F_HGROUPS},
    {"hpid", NULL, "HPID", F_HPID},
    {"huser", NULL, "HUSER", F_HUSER},
    {"label", NULL, "LABEL", F_LABEL},
    {"nice", "%n", "NI", F_NICE},
    {"pcpu", "%C", "%CPU", F_PCPU},
    {"pgid", "%r", "PGID", F_PGID},
    {"pid", "%p", "PID", F_PID},
    {"ppid", "%P", "PPID", F_PPID},
    {"rgroup", "%g", "RGROUP", F_RGROUP},
    {"rss", NULL, "RSS", F_RSS},
    {"ruser", "%u", "RUSER", F_RUSER},
    {"seccomp", NULL, "SECCOMP", F_SECCOMP},
    {"state", NULL, "STATE", F_STATE},
    {"stime", NULL, "STIME", F_STIME},
    {"time", "%x", "TIME", F_TIME},
    {"tty", "%y", "TTY", F_TTY},
    {"user", "%U", "USER", F_USER},
    {"vsz", "%z", "VSZ", F_VSZ},
};

static const struct top_descriptor *top_descriptor(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(top_descriptors); i++)
		if (!strcmp(s, top_descriptors[i].name) ||
		    (top_descriptors[i].code &&
		     !strcmp(s, top_descriptors[i].code)))
			return &top_descriptors[i];
	return NULL;
}

/* What /proc tells of one process; ids as the host sees them */
struct top_proc {
	pid_t hpid;
	char state;
	int ppid, pgid, nice, tty;
	unsigned long long ut, st, start; /* clock ticks */
	char *comm, *args, *status;
};

static void top_proc_release(struct top_proc *p)
{
	free(p->comm);
	free(p->args);
	free(p->status);
}

static int top_proc_read(pid_t pid, struct top_proc *ret)
{
	_cleanup_free_ char *path = NULL, *stat = NULL, *cmd = NULL;
	size_t len = 0;
	char *open_p, *close_p;

	memset(ret, 0, sizeof(*ret));
	ret->hpid = pid;
	path = cove_strdup_printf("/proc/%d/stat", pid);
	if (!path || cove_read_file(path, 4096, &stat, NULL) < 0)
		return -ESRCH;
	open_p = strchr(stat, '(');
	close_p = strrchr(stat, ')');
	if (!open_p || !close_p || close_p < open_p ||
	    sscanf(close_p + 2,
		   "%c %d %d %*d %d %*d %*u %*u %*u %*u %*u %llu %llu %*d "
		   "%*d %*d %d %*d %*d %llu",
		   &ret->state, &ret->ppid, &ret->pgid, &ret->tty, &ret->ut,
		   &ret->st, &ret->nice, &ret->start) != 8)
		return -EINVAL;
	ret->comm = strndup(open_p + 1, (size_t)(close_p - open_p - 1));
	free(path);
	path = cove_strdup_printf("/proc/%d/cmdline", pid);
	if (path && cove_read_file(path, 1 << 16, &cmd, &len) >= 0 && len) {
		for (size_t k = 0; k + 1 < len; k++)
			if (!cmd[k])
				cmd[k] = ' ';
		ret->args = TAKE_PTR(cmd);
	} else {
		ret->args = cove_strdup_printf("[%s]", ret->comm ?: "");
	}
	free(path);
	path = cove_strdup_printf("/proc/%d/status", pid);
	if (!path || cove_read_file(path, 1 << 16, &ret->status, NULL) < 0)
		ret->status = strdup("");
	if (!ret->comm || !ret->args || !ret->status) {
		top_proc_release(ret);
		return -ENOMEM;
	}
	return 0;
}

/* The value of "Key:" in a /proc/PID/status text; NULL when absent */
static const char *status_field(const char *status, const char *key)
{
	size_t klen = strlen(key);

	for (const char *l = status; l && *l;) {
		if (!strncmp(l, key, klen) && l[klen] == ':')
			return l + klen + 1 + strspn(l + klen + 1, " \t");
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	return NULL;
}

/* The @i-th number of the line at @v (0 when there is none) */
static unsigned long long nth_number(const char *v, int i)
{
	unsigned long long x = 0;

	for (int k = 0; v && k <= i; k++) {
		char *end;
		v += strspn(v, " \t");
		if (*v < '0' || *v > '9')
			return 0;
		x = strtoull(v, &end, 10);
		v = end;
	}
	return x;
}

/* How many pid namespaces deep @status's process is seen (NSpid) */
static size_t ns_depth(const char *status)
{
	const char *v = status_field(status, "NSpid");
	size_t n = 0;

	while (v && *v && *v != '\n') {
		v += strspn(v, " \t");
		if (*v < '0' || *v > '9')
			break;
		n++;
		v += strspn(v, "0123456789");
	}
	return n;
}

/*
 * Host pid @hpid as a namespace @depth levels deep sees it: the last of
 * its NSpid when it lives that deep, else 0 (outside: podman's 0 for the
 * parent of the container's pid 1).
 */
static unsigned long long ns_pid(pid_t hpid, size_t depth)
{
	_cleanup_free_ char *path = cove_strdup_printf("/proc/%d/status", hpid);
	_cleanup_free_ char *status = NULL;

	if (hpid <= 0 || !path ||
	    cove_read_file(path, 1 << 16, &status, NULL) < 0 ||
	    ns_depth(status) != depth || depth == 0)
		return 0;
	return nth_number(status_field(status, "NSpid"), (int)depth - 1);
}

/* Host id @id inside @pid's user namespace (its uid_map or gid_map) */
static uint32_t id_inside(pid_t pid, const char *map, uint32_t id)
{
	_cleanup_free_ char *path = cove_strdup_printf("/proc/%d/%s", pid, map);
	_cleanup_free_ char *text = NULL;

	if (!path || cove_read_file(path, 1 << 16, &text, NULL) < 0)
		return id;
	for (char *l = text; l && *l;) {
		unsigned long long in, out, n;
		if (sscanf(l, "%llu %llu %llu", &in, &out, &n) == 3 &&
		    id >= out && id - out < n)
			return (uint32_t)(in + (id - out));
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	return 65534; /* unmapped: the overflow id */
}

/* The name of @id in a passwd/group file @path, else the number */
static char *id_name(const char *path, uint32_t id)
{
	_cleanup_free_ char *text = NULL;

	if (cove_read_file(path, 4 << 20, &text, NULL) >= 0)
		for (char *l = text; l && *l;) {
			char *nl = strchr(l, '\n'), *c1, *c2;
			uint32_t v;
			if (nl)
				*nl = '\0';
			c1 = strchr(l, ':');
			c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (c2) {
				char *c3 = strchr(c2 + 1, ':');
				if (c3)
					*c3 = '\0';
				*c1 = '\0';
				if (cove_parse_uint32(c2 + 1, &v) == 0 &&
				    v == id)
					return strdup(l);
			}
			l = nl ? nl + 1 : NULL;
		}
	return cove_strdup_printf("%u", id);
}

/* The ids of status field @key (Uid, Gid: real effective saved fs) */
static uint32_t status_id(const char *status, const char *key, int i)
{
	return (uint32_t)nth_number(status_field(status, key), i);
}

/* The name of user or group @id of process @p: in the container or host */
static char *top_id(const struct top_proc *p, bool group, bool host,
		    uint32_t id)
{
	_cleanup_free_ char *path = NULL;

	if (host)
		return id_name(group ? "/etc/group" : "/etc/passwd", id);
	id = id_inside(p->hpid, group ? "gid_map" : "uid_map", id);
	path = cove_strdup_printf("/proc/%d/root/etc/%s", p->hpid,
				  group ? "group" : "passwd");
	return path ? id_name(path, id) : NULL;
}

static char *top_groups(const struct top_proc *p, bool host)
{
	const char *v = status_field(p->status, "Groups");
	_cleanup_strv_ char **names = NULL;

	while (v && *v && *v != '\n') {
		_cleanup_free_ char *name = NULL;
		char *end;
		unsigned long g;
		v += strspn(v, " \t");
		if (*v < '0' || *v > '9')
			break;
		g = strtoul(v, &end, 10);
		v = end;
		name = top_id(p, true, host, (uint32_t)g);
		if (!name || cove_strv_push(&names, name) < 0)
			return NULL;
	}
	return names ? cove_strv_join(names, ",") : strdup("");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A capability set: "none", "full", or the names sorted, as podman */
static char *top_caps(const struct top_proc *p, const char *key)
{
	const char *v = status_field(p->status, key);
	unsigned long long set = v ? strtoull(v, NULL, 16) : 0, full;
	_cleanup_free_ char *lc = NULL;
	_cleanup_strv_ char **names = NULL;
	int last = 40;
	size_t n = 0;

	if (cove_read_file("/proc/sys/kernel/cap_last_cap", 64, &lc, NULL) >=
	    0) {
		lc[strcspn(lc, "\n")] = '\0';
		(void)cove_parse_int(lc, &last);
	}
	full = last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1;
	if (!set)
		return strdup("none");
	if ((set & full) == full)
		return strdup("full");
	for (size_t i = 0; i < 64; i++) {
		if (!(set & (1ULL << i)))
			continue;
		if (i < cove_cap_names_n
			? cove_strv_push(&names, cove_cap_names[i] + 4)
			: cove_strv_push(&names, "?") < 0)
			return NULL;
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	return cove_strv_join(names, ",");
}

static void tty_name(int nr, char *buf, size_t size)
{
	unsigned major = ((unsigned)nr >> 8) & 0xfff;
	unsigned minor =
	    ((unsigned)nr & 0xff) | (((unsigned)nr >> 12) & 0xfff00);

	if (major >= 136 && major <= 143)
		snprintf(buf, size, "pts/%u", (major - 136) * 256 + minor);
	else if (major == 4 && minor < 64)
		snprintf(buf, size, "tty%u", minor);
	else if (major == 4)
		snprintf(buf, size, "ttyS%u", minor - 64);
	else if (major == 5 && minor == 1)
		snprintf(buf, size, "console");
	else
		snprintf(buf, size, "?");
}

struct top_clock {
	long hz;
	uint64_t boot_ns, real_ns; /* now: CLOCK_BOOTTIME, CLOCK_REALTIME */
};

static char *top_cell(const struct top_clock *clk, const struct top_proc *p,
		      enum top_field f)
{
	uint64_t start_ns = p->start * 1000000000ULL / (uint64_t)clk->hz;
	uint64_t cpu_ns = (p->ut + p->st) * 1000000000ULL / (uint64_t)clk->hz;
	uint64_t el = clk->boot_ns > start_ns ? clk->boot_ns - start_ns : 0;
	size_t depth = ns_depth(p->status);
	char buf[96];

	switch (f) {
	case F_ARGS:
		return strdup(p->args);
	case F_COMM:
		return strdup(p->comm);
	case F_CAPAMB:
		return top_caps(p, "CapAmb");
	case F_CAPBND:
		return top_caps(p, "CapBnd");
	case F_CAPEFF:
		return top_caps(p, "CapEff");
	case F_CAPINH:
		return top_caps(p, "CapInh");
	case F_CAPPRM:
		return top_caps(p, "CapPrm");
	case F_ETIME:
		go_duration(el, buf, sizeof(buf));
		return strdup(buf);
	case F_TIME:
		go_duration(cpu_ns, buf, sizeof(buf));
		return strdup(buf);
	case F_PCPU:
		return cove_strdup_printf(
		    "%.3f", el ? 100.0 * (double)cpu_ns / (double)el : 0.0);
	case F_USER:
	case F_HUSER:
		return top_id(p, false, f == F_HUSER,
			      status_id(p->status, "Uid", 1));
	case F_RUSER:
		return top_id(p, false, false, status_id(p->status, "Uid", 0));
	case F_GROUP:
	case F_HGROUP:
		return top_id(p, true, f == F_HGROUP,
			      status_id(p->status, "Gid", 1));
	case F_RGROUP:
		return top_id(p, true, false, status_id(p->status, "Gid", 0));
	case F_GROUPS:
	case F_HGROUPS:
		return top_groups(p, f == F_HGROUPS);
	case F_HPID:
		return cove_strdup_printf("%d", p->hpid);
	case F_PID:
		return cove_strdup_printf(
		    "%llu", nth_number(status_field(p->status, "NSpid"),
				       depth ? (int)depth - 1 : 0));
	case F_PPID:
		return cove_strdup_printf("%llu", ns_pid(p->ppid, depth));
	case F_PGID:
		return cove_strdup_printf("%llu", ns_pid(p->pgid, depth));
	case F_NICE:
		return cove_strdup_printf("%d", p->nice);
	case F_STATE:
		return cove_strdup_printf("%c", p->state);
	case F_TTY:
		tty_name(p->tty, buf, sizeof(buf));
		return strdup(buf);
	case F_VSZ:
		return cove_strdup_printf(
		    "%llu", nth_number(status_field(p->status, "VmSize"), 0));
	case F_RSS:
		return cove_strdup_printf(
		    "%llu", nth_number(status_field(p->status, "VmRSS"), 0));
	case F_SECCOMP: {
		static const char *const modes[] = {"disabled", "strict",
						    "filter"};
		unsigned long long m =
		    nth_number(status_field(p->status, "Seccomp"), 0);
		return strdup(m < 3 ? modes[m] : "?");
	}
	case F_STIME: {
		time_t t = (time_t)((clk->real_ns - clk->boot_ns + start_ns) /
				    1000000000ULL);
		struct tm tm;
		if (!localtime_r(&t, &tm) ||
		    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z %Z", &tm))
			return strdup("?");
		return strdup(buf);
	}
	case F_LABEL: {
		_cleanup_free_ char *path =
		    cove_strdup_printf("/proc/%d/attr/current", p->hpid);
		_cleanup_free_ char *l = NULL;
		if (!path || cove_read_file(path, 4096, &l, NULL) < 0 || !*l)
			return strdup("?");
		l[strcspn(l, "\n")] = '\0';
		return *l ? strdup(l) : strdup("?");
	}
	}
	return strdup("?");
}

/*
 * Print the rows of @cells (@rows x @cols, row 0 the headers) as podman
 * does: columns at least 12 wide, 2 spaces after the widest cell.
 */
static void print_columns(char **cells, size_t rows, size_t cols)
{
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < cols; c++) {
			const char *s = cells[r * cols + c] ?: "";
			size_t w = 0;
			if (c + 1 == cols) {
				printf("%s\n", s);
				break;
			}
			for (size_t k = 0; k < rows; k++) {
				size_t l = strlen(cells[k * cols + c] ?: "");
				w = l + 2 > w ? l + 2 : w;
			}
			printf("%-*s", (int)(w < 12 ? 12 : w), s);
		}
	}
}

static int top_descriptors_print(pid_t *pids, size_t n,
				 const struct top_descriptor **d, size_t nd)
{
	struct top_clock clk = {.hz = sysconf(_SC_CLK_TCK),
				.boot_ns = now_ns(CLOCK_BOOTTIME),
				.real_ns = now_ns(CLOCK_REALTIME)};
	char **cells = calloc((n + 1) * nd, sizeof(*cells));
	size_t rows = 1;
	int r = 0;

	if (!cells)
		return cove_cli_failf("out of memory");
	if (clk.hz <= 0)
		clk.hz = 100;
	for (size_t c = 0; c < nd; c++)
		cells[c] = strdup(d[c]->header);
	for (size_t i = 0; i < n; i++) {
		struct top_proc p;
		if (top_proc_read(pids[i], &p) < 0)
			continue; /* gone meanwhile */
		for (size_t c = 0; c < nd; c++)
			cells[rows * nd + c] = top_cell(&clk, &p, d[c]->field);
		top_proc_release(&p);
		rows++;
	}
	for (size_t k = 0; k < rows * nd && !r; k++)
		if (!cells[k])
			r = cove_cli_failf("out of memory");
	if (!r)
		print_columns(cells, rows, nd);
	for (size_t k = 0; k < (n + 1) * nd; k++)
		free(cells[k]);
	free(cells);
	return r;
}

/*
 * Not descriptors: ps(1) in the container with @args, its output caught
 * in a memfd to leave out the lines that show @args (ps itself, when it
 * prints its arguments), as podman does.
 */
static int top_ps(struct cove_engine *e, struct cove_ctr *c, char **args)
{
	_cleanup_strv_ char **argv = NULL;
	_cleanup_free_ char *joined = NULL, *out = NULL;
	_cleanup_close_ int mfd = -1, saved = -1;
	struct cove_error err = {0};
	struct cove_exec_req req = {0};
	int status = 0, r;

	if (cove_strv_push(&argv, "ps") < 0)
		return cove_cli_failf("out of memory");
	for (size_t i = 0; args[i]; i++)
		if (cove_strv_push(&argv, args[i]) < 0)
			return cove_cli_failf("out of memory");
	joined = cove_strv_join(args, " ");
	mfd = memfd_create("cove-top", MFD_CLOEXEC);
	saved = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (!joined || mfd < 0 || saved < 0)
		return cove_cli_failf("top: cannot capture the output of ps: "
				      "%s",
				      strerror(errno));
	fflush(stdout);
	req.argv = argv;
	dup2(mfd, STDOUT_FILENO);
	r = cove_engine_exec(e, c, &req, &status, &err);
	dup2(saved, STDOUT_FILENO);
	if (r < 0)
		return cove_cli_fail(&err);
	if (status != 0)
		return cove_cli_failf("top: executing ps(1) in the container: "
				      "exit status %d",
				      status);
	lseek(mfd, 0, SEEK_SET);
	{
		_cleanup_fclose_ FILE *f = fdopen(TAKE_FD(mfd), "re");
		char *line = NULL;
		size_t cap = 0;
		if (!f)
			return cove_cli_failf("out of memory");
		while (getline(&line, &cap, f) > 0)
			if (!strstr(line, joined))
				fputs(line, stdout);
		free(line);
	}
	return 0;
}

int cmd_top(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"latest", no_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	_cleanup_free_ pid_t *pids = NULL;
	_cleanup_free_ const struct top_descriptor **desc = NULL;
	_cleanup_strv_ char **targets = NULL;
	size_t n = 0, nd = 0;
	long hz = sysconf(_SC_CLK_TCK);
	double uptime = 0;
	unsigned sel = 0;
	bool ps_args = false;
	int r = 0, ch;

	/* "+": what follows the container is for the descriptors or ps */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+lh", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return cove_cli_help(top_help);
		case 'l':
			sel = COVE_CLI_SEL_LATEST;
			break;
		default:
			return cove_cli_unknown_option("top", argv);
		}
	}
	if (!sel && optind >= argc)
		return cove_cli_failf("top: a container is required (see 'cove "
				      "top --help')");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	r = cove_cli_select(e, "top", sel, NULL, sel ? 0 : 1, argv + optind,
			    &targets);
	if (r)
		goto out;
	if (!sel)
		optind++;
	/* descriptors: each argument, split at commas */
	for (int i = optind; i < argc && !ps_args; i++) {
		_cleanup_free_ char *copy = strdup(argv[i]);
		char *save = NULL;
		if (!copy) {
			r = cove_cli_failf("out of memory");
			goto out;
		}
		for (char *w = strtok_r(copy, ",", &save); w && !ps_args;
		     w = strtok_r(NULL, ",", &save)) {
			const struct top_descriptor *d = top_descriptor(w);
			const struct top_descriptor **more;
			if (!d) {
				ps_args = true;
				break;
			}
			more = realloc(desc, (nd + 1) * sizeof(*desc));
			if (!more) {
				r = cove_cli_failf("out of memory");
				goto out;
			}
			desc = more;
			desc[nd++] = d;
		}
	}
	if (cove_engine_lookup(e, targets[0], &c, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (ps_args) {
		r = top_ps(e, &c, argv + optind);
		goto out;
	}
	if (cove_engine_pids(e, &c, &pids, &n, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (nd) {
		r = top_descriptors_print(pids, n, desc, nd);
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
