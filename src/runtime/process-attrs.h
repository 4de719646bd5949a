#pragma once
/*
 * Per-process attributes of process.*: rlimits, oomScoreAdj, scheduler,
 * ioPriority, execCPUAffinity, and linux.personality.  Each parse function
 * validates (errors name the field); each apply function runs in the
 * container init (or exec'd process) before execve.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

struct cove_rlimit;

struct cove_sched {
	bool set;
	int policy; /* SCHED_* */
	int nice;
	int priority;
	uint64_t flags; /* SCHED_FLAG_* */
	uint64_t runtime, deadline, period;
};

struct cove_ioprio {
	bool set;
	int klass; /* IOPRIO_CLASS_RT / BE / IDLE */
	int priority;
};

struct cove_personality {
	bool set;
	unsigned long domain; /* PER_LINUX / PER_LINUX32 */
};

int cove_sched_parse(json_t *obj, const char *path, struct cove_sched *ret,
		     struct cove_error *err);
int cove_sched_apply(const struct cove_sched *s, struct cove_error *err);

int cove_ioprio_parse(json_t *obj, const char *path, struct cove_ioprio *ret,
		      struct cove_error *err);
int cove_ioprio_apply(const struct cove_ioprio *p, struct cove_error *err);

int cove_personality_parse(json_t *obj, const char *path,
			   struct cove_personality *ret,
			   struct cove_error *err);
int cove_personality_apply(const struct cove_personality *p,
			   struct cove_error *err);

/* setrlimit() each; errors name the limit ("RLIMIT_NOFILE"). */
int cove_rlimits_apply(const struct cove_rlimit *r, size_t n,
		       struct cove_error *err);

/* Write /proc/@pid/oom_score_adj. */
int cove_oom_score_adj_apply(pid_t pid, int value, struct cove_error *err);
