#pragma once
/*
 * `cove top`: the processes of a running container (the pids of its
 * cgroup, cove_engine_pids()) as rows of text read from /proc: the
 * ps(1)-style descriptors podman knows (pid, user, args, etime, pcpu,
 * caps...), pids and ids as the container sees them (its pid namespace,
 * its uid_map/gid_map and its /etc/passwd and /etc/group).
 */
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "util/error.h"

/* One column: a descriptor ("pid") or its AIX code ("%p"); opaque. */
struct cove_top_descriptor;

/* The descriptor named @word ("pid" or "%p"); NULL when there is none. */
const struct cove_top_descriptor *cove_top_descriptor(const char *word);
/* Its column header ("PID"), static. */
const char *cove_top_descriptor_header(const struct cove_top_descriptor *d);

/*
 * The descriptors of @args (NULL-terminated), each argument split at
 * commas, empty words skipped, in order.  0 with *@ret (caller frees the
 * array, NULL when there is none) and *@ret_n; -EINVAL when a word is not
 * a descriptor (the arguments are then for ps(1)); -ENOMEM.
 */
int cove_top_descriptors_parse(char *const *args,
			       const struct cove_top_descriptor ***ret,
			       size_t *ret_n);

/* The fields of a /proc/PID/stat line that top shows */
struct cove_top_stat {
	char state;
	int ppid, pgid, nice, tty;
	unsigned long long ut, st, start; /* clock ticks */
	char *comm;			  /* caller frees */
};

/*
 * Parse the /proc/PID/stat text @text: comm is what lies between the
 * first '(' and the last ')', whatever it holds (spaces, parentheses).
 * 0, -EINVAL when malformed, -ENOMEM.
 */
int cove_top_stat_parse(const char *text, struct cove_top_stat *ret);

/*
 * @ns as Go prints a duration: "0s", "894.486124ms", "1m30.5s", "2h0m0s"
 * (the elapsed and CPU times of top, the UpTime of stats).
 */
void cove_go_duration(uint64_t ns, char *buf, size_t size);

/*
 * The processes of running container @c, one row of @nd cells per process
 * (descriptors @d, in order; no header row), row after row in *@ret_cells
 * (NULL-terminated, caller frees with cove_strv_free(); every cell set).
 * A process gone meanwhile is left out.  0, or -errno with @err filled.
 */
int cove_engine_top(struct cove_engine *e, const struct cove_ctr *c,
		    const struct cove_top_descriptor *const *d, size_t nd,
		    char ***ret_cells, struct cove_error *err);

/*
 * Without descriptors: COVE_TOP_DEFAULT_COLUMNS cells a process, as
 * cove_engine_top() lays them out: USER (host uid), PID, PPID (host),
 * %CPU, ELAPSED, TIME (seconds), COMMAND ("?" when it has no arguments).
 */
#define COVE_TOP_DEFAULT_COLUMNS 7
int cove_engine_top_default(struct cove_engine *e, const struct cove_ctr *c,
			    char ***ret_cells, struct cove_error *err);
