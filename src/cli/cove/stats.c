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
#include "engine/top.h"
#include "util/cleanup.h"
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

static bool is_running(const struct cove_ctr *c)
{
	return !strcmp(c->state, "running") || !strcmp(c->state, "paused");
}

struct stats_opts {
	bool json, no_trunc, zeros_for_stopped;
	const char *tmpl;
};

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

/* One sample of @c as the template sees it: text figures and numbers */
static json_t *stats_object(const struct stats_opts *o,
			    const struct cove_ctr *c,
			    const struct cove_ctr_stats *s, double cpu,
			    double memp)
{
	char mu[16], ml[16], rx[16], tx[16], br[16], bw[16], mem[40], net[40],
	    blk[40], pct[32], mpct[32], up[48];
	/* the numbers under their json names; the text figures replace some */
	json_t *j = stats_json(c, s, cpu, memp);

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
	cove_go_duration(s->cpu_ns, up, sizeof(up));
	json_object_set_new(
	    j, "ID", json_stringn(c->id, o->no_trunc ? strlen(c->id) : 12));
	json_object_set_new(j, "CPUPerc", json_string(pct));
	json_object_set_new(j, "MemUsage", json_string(mem));
	json_object_set_new(j, "MemPerc", json_string(mpct));
	json_object_set_new(j, "NetIO", json_string(net));
	json_object_set_new(j, "BlockIO", json_string(blk));
	json_object_set_new(j, "PIDS", json_integer((json_int_t)s->pids));
	json_object_set_new(j, "UpTime", json_string(up));
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

/* Row @r of a table: the headers @heads, then the rows of @cells */
static const char *table_cell(const char *const *heads, char **cells,
			      size_t cols, size_t r, size_t c)
{
	return r ? cells[(r - 1) * cols + c] : heads[c];
}

/*
 * Print the rows of @cells (@rows x @cols) under the headers @heads as
 * podman does: columns at least 12 wide, 2 spaces after the widest cell.
 */
static void print_columns(const char *const *heads, char **cells, size_t rows,
			  size_t cols)
{
	for (size_t r = 0; r <= rows; r++) {
		for (size_t c = 0; c < cols; c++) {
			const char *s = table_cell(heads, cells, cols, r, c);
			size_t w = 0;
			if (c + 1 == cols) {
				printf("%s\n", s);
				break;
			}
			for (size_t k = 0; k <= rows; k++) {
				size_t l = strlen(
				    table_cell(heads, cells, cols, k, c));
				w = l + 2 > w ? l + 2 : w;
			}
			printf("%-*s", (int)(w < 12 ? 12 : w), s);
		}
	}
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
	_cleanup_free_ const struct cove_top_descriptor **desc = NULL;
	_cleanup_free_ const char **heads = NULL;
	_cleanup_strv_ char **targets = NULL, **cells = NULL;
	size_t rows, nd = 0;
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
	r = cove_top_descriptors_parse(argv + optind, &desc, &nd);
	ps_args = r == -EINVAL;
	if (r == -ENOMEM) {
		r = cove_cli_failf("out of memory");
		goto out;
	}
	r = 0;
	if (cove_engine_lookup(e, targets[0], &c, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (ps_args) {
		r = top_ps(e, &c, argv + optind);
		goto out;
	}
	if (nd) {
		if (cove_engine_top(e, &c, desc, nd, &cells, &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
		heads = calloc(nd, sizeof(*heads));
		if (!heads) {
			r = cove_cli_failf("out of memory");
			goto out;
		}
		for (size_t k = 0; k < nd; k++)
			heads[k] = cove_top_descriptor_header(desc[k]);
		print_columns(heads, cells, cove_strv_length(cells) / nd, nd);
		goto out;
	}
	if (cove_engine_top_default(e, &c, &cells, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	printf("%-8s  %-8s  %-8s  %-5s  %-10s  %-9s  %s\n", "USER", "PID",
	       "PPID", "%CPU", "ELAPSED", "TIME", "COMMAND");
	rows = cove_strv_length(cells) / COVE_TOP_DEFAULT_COLUMNS;
	for (size_t i = 0; i < rows; i++) {
		char **row = cells + i * COVE_TOP_DEFAULT_COLUMNS;
		printf("%-8s  %-8s  %-8s  %-5s  %-10s  %-9s  %s\n", row[0],
		       row[1], row[2], row[3], row[4], row[5], row[6]);
	}
out:
	cove_ctr_release(&c);
	cove_engine_free(e);
	return r;
}
