/*
 * What `cove top` shows of a container's processes: read from
 * /proc/<pid>/{stat,status,cmdline,attr/current} of the pids of its
 * cgroup, ids mapped through the container's maps to the names of its
 * /etc/passwd and /etc/group.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/top.h"
#include "util/capnames.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

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
void cove_go_duration(uint64_t ns, char *buf, size_t size)
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

struct cove_top_descriptor {
	const char *name, *code, *header;
	enum top_field field;
};

static const struct cove_top_descriptor top_descriptors[] = {
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

const struct cove_top_descriptor *cove_top_descriptor(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(top_descriptors); i++)
		if (!strcmp(s, top_descriptors[i].name) ||
		    (top_descriptors[i].code &&
		     !strcmp(s, top_descriptors[i].code)))
			return &top_descriptors[i];
	return NULL;
}

const char *cove_top_descriptor_header(const struct cove_top_descriptor *d)
{
	return d->header;
}

int cove_top_descriptors_parse(char *const *args,
			       const struct cove_top_descriptor ***ret,
			       size_t *ret_n)
{
	_cleanup_free_ const struct cove_top_descriptor **desc = NULL;
	size_t nd = 0;

	for (size_t i = 0; args && args[i]; i++) {
		_cleanup_free_ char *copy = strdup(args[i]);
		char *save = NULL;
		if (!copy)
			return -ENOMEM;
		for (char *w = strtok_r(copy, ",", &save); w;
		     w = strtok_r(NULL, ",", &save)) {
			const struct cove_top_descriptor *d =
			    cove_top_descriptor(w);
			const struct cove_top_descriptor **more;
			if (!d)
				return -EINVAL;
			more = realloc(desc, (nd + 1) * sizeof(*desc));
			if (!more)
				return -ENOMEM;
			desc = more;
			desc[nd++] = d;
		}
	}
	*ret = TAKE_PTR(desc);
	*ret_n = nd;
	return 0;
}

int cove_top_stat_parse(const char *text, struct cove_top_stat *ret)
{
	const char *open_p = strchr(text, '('), *close_p = strrchr(text, ')');

	memset(ret, 0, sizeof(*ret));
	if (!open_p || !close_p || close_p < open_p ||
	    sscanf(close_p + 2,
		   "%c %d %d %*d %d %*d %*u %*u %*u %*u %*u %llu %llu %*d "
		   "%*d %*d %d %*d %*d %llu",
		   &ret->state, &ret->ppid, &ret->pgid, &ret->tty, &ret->ut,
		   &ret->st, &ret->nice, &ret->start) != 8)
		return -EINVAL;
	ret->comm = strndup(open_p + 1, (size_t)(close_p - open_p - 1));
	return ret->comm ? 0 : -ENOMEM;
}

/* What /proc tells of one process; ids as the host sees them */
struct top_proc {
	pid_t hpid;
	struct cove_top_stat s;
	char *args, *status;
};

static void top_proc_release(struct top_proc *p)
{
	free(p->s.comm);
	free(p->args);
	free(p->status);
}

static int top_proc_read(pid_t pid, struct top_proc *ret)
{
	_cleanup_free_ char *path = NULL, *stat = NULL, *cmd = NULL;
	size_t len = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->hpid = pid;
	path = cove_strdup_printf("/proc/%d/stat", pid);
	if (!path || cove_read_file(path, 4096, &stat, NULL) < 0)
		return -ESRCH;
	r = cove_top_stat_parse(stat, &ret->s);
	if (r == -EINVAL)
		return r;
	free(path);
	path = cove_strdup_printf("/proc/%d/cmdline", pid);
	if (path && cove_read_file(path, 1 << 16, &cmd, &len) >= 0 && len) {
		for (size_t k = 0; k + 1 < len; k++)
			if (!cmd[k])
				cmd[k] = ' ';
		ret->args = TAKE_PTR(cmd);
	} else {
		ret->args = cove_strdup_printf("[%s]", ret->s.comm ?: "");
	}
	free(path);
	path = cove_strdup_printf("/proc/%d/status", pid);
	if (!path || cove_read_file(path, 1 << 16, &ret->status, NULL) < 0)
		ret->status = strdup("");
	if (!ret->s.comm || !ret->args || !ret->status) {
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
	uint64_t start_ns = p->s.start * 1000000000ULL / (uint64_t)clk->hz;
	uint64_t cpu_ns =
	    (p->s.ut + p->s.st) * 1000000000ULL / (uint64_t)clk->hz;
	uint64_t el = clk->boot_ns > start_ns ? clk->boot_ns - start_ns : 0;
	size_t depth = ns_depth(p->status);
	char buf[96];

	switch (f) {
	case F_ARGS:
		return strdup(p->args);
	case F_COMM:
		return strdup(p->s.comm);
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
		cove_go_duration(el, buf, sizeof(buf));
		return strdup(buf);
	case F_TIME:
		cove_go_duration(cpu_ns, buf, sizeof(buf));
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
		return cove_strdup_printf("%llu", ns_pid(p->s.ppid, depth));
	case F_PGID:
		return cove_strdup_printf("%llu", ns_pid(p->s.pgid, depth));
	case F_NICE:
		return cove_strdup_printf("%d", p->s.nice);
	case F_STATE:
		return cove_strdup_printf("%c", p->s.state);
	case F_TTY:
		tty_name(p->s.tty, buf, sizeof(buf));
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

/* A rows x cols table, one more slot for the NULL ending it */
static char **cells_new(size_t rows, size_t cols, struct cove_error *err)
{
	char **cells = calloc(rows * cols + 1, sizeof(*cells));

	if (!cells)
		cove_error_set(err, ENOMEM, "out of memory");
	return cells;
}

/* Every cell of the first @rows rows set, else ENOMEM (and all freed) */
static int cells_check(char ***cells, size_t rows, size_t cols,
		       struct cove_error *err)
{
	for (size_t k = 0; k < rows * cols; k++)
		if (!(*cells)[k]) {
			for (size_t i = 0; i < rows * cols; i++)
				free((*cells)[i]);
			free(*cells);
			*cells = NULL;
			return cove_error_set(err, ENOMEM, "out of memory");
		}
	return 0;
}

int cove_engine_top(struct cove_engine *e, const struct cove_ctr *c,
		    const struct cove_top_descriptor *const *d, size_t nd,
		    char ***ret_cells, struct cove_error *err)
{
	struct top_clock clk = {.hz = sysconf(_SC_CLK_TCK),
				.boot_ns = now_ns(CLOCK_BOOTTIME),
				.real_ns = now_ns(CLOCK_REALTIME)};
	_cleanup_free_ pid_t *pids = NULL;
	char **cells;
	size_t n = 0, rows = 0;
	int r = cove_engine_pids(e, c, &pids, &n, err);

	if (r < 0)
		return r;
	cells = cells_new(n, nd, err);
	if (!cells)
		return -ENOMEM;
	if (clk.hz <= 0)
		clk.hz = 100;
	for (size_t i = 0; i < n; i++) {
		struct top_proc p;
		if (top_proc_read(pids[i], &p) < 0)
			continue; /* gone meanwhile */
		for (size_t k = 0; k < nd; k++)
			cells[rows * nd + k] = top_cell(&clk, &p, d[k]->field);
		top_proc_release(&p);
		rows++;
	}
	r = cells_check(&cells, rows, nd, err);
	if (r < 0)
		return r;
	*ret_cells = cells;
	return 0;
}

int cove_engine_top_default(struct cove_engine *e, const struct cove_ctr *c,
			    char ***ret_cells, struct cove_error *err)
{
	const size_t nc = COVE_TOP_DEFAULT_COLUMNS;
	_cleanup_free_ pid_t *pids = NULL;
	long hz = sysconf(_SC_CLK_TCK);
	double uptime = 0;
	char **cells;
	size_t n = 0, rows = 0;
	int r = cove_engine_pids(e, c, &pids, &n, err);

	if (r < 0)
		return r;
	cells = cells_new(n, nc, err);
	if (!cells)
		return -ENOMEM;
	{
		_cleanup_free_ char *up = NULL;
		if (cove_read_file("/proc/uptime", 256, &up, NULL) >= 0)
			uptime = strtod(up, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL, *stat = NULL, *cmd = NULL,
				    *status = NULL;
		struct cove_top_stat s;
		char **row = cells + rows * nc;
		size_t len = 0;
		double el, cpu;

		path = cove_strdup_printf("/proc/%d/stat", pids[i]);
		if (!path || cove_read_file(path, 4096, &stat, NULL) < 0 ||
		    cove_top_stat_parse(stat, &s) < 0)
			continue;
		free(s.comm);
		free(path);
		path = cove_strdup_printf("/proc/%d/cmdline", pids[i]);
		if (path && cove_read_file(path, 4096, &cmd, &len) >= 0) {
			for (size_t k = 0; k + 1 < len; k++)
				if (!cmd[k])
					cmd[k] = ' ';
		}
		free(path);
		path = cove_strdup_printf("/proc/%d/status", pids[i]);
		if (path)
			(void)cove_read_file(path, 16384, &status, NULL);
		el = uptime - (double)s.start / (double)hz;
		cpu = el > 0 ? 100.0 * (double)(s.ut + s.st) / (double)hz / el
			     : 0;
		row[0] = cove_strdup_printf(
		    "%u", status ? status_id(status, "Uid", 0) : 0);
		row[1] = cove_strdup_printf("%d", pids[i]);
		row[2] = cove_strdup_printf("%d", s.ppid);
		row[3] = cove_strdup_printf("%.1f", cpu);
		row[4] = cove_strdup_printf("%.0fs", el);
		row[5] = cove_strdup_printf("%.2fs",
					    (double)(s.ut + s.st) / (double)hz);
		row[6] = strdup(cmd && *cmd ? cmd : "?");
		rows++;
	}
	r = cells_check(&cells, rows, nc, err);
	if (r < 0)
		return r;
	*ret_cells = cells;
	return 0;
}
