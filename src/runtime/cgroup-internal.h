#pragma once
/*
 * Internals shared by cgroup.c (common code) and the two backends
 * (cgroup-v1.c, cgroup-v2.c).  Not part of libcove's API.
 *
 * A struct cove_cgroup is a list of hierarchies, each with the directory
 * of the container's cgroup in it: one per v1 mount, plus the unified
 * hierarchy in hybrid mode, or the single cgroup2 tree.  Operations that
 * are the same for every layout (creating directories, joining, listing
 * pids, removing) live in cgroup.c; writing resources, freezing, stats
 * and OOM notification are in the ops table of the layout.
 */
#include <stdarg.h>

#include "runtime/cgroup.h"

struct cove_cg_hier {
	/* v1: controllers of the mount ("cpu", "cpu,cpuacct",
	 * "name=systemd"); NULL for cgroup2 */
	char *controllers;
	char *mount; /* root of the hierarchy, "/sys/fs/cgroup/memory" */
	char *dir;   /* mount + cgroup path */
	bool v2;
	/*
	 * Index of the first path component that cove created in this
	 * hierarchy (depth when it created none); -1 when unknown because
	 * the cgroup was opened rather than created.
	 */
	int created_from;
};

struct cove_cg_ops {
	/*
	 * Called for each level of the path on the way down, once @dir
	 * exists, with its @parent; @created tells whether cove made it.
	 */
	int (*level)(struct cove_cgroup *cg, struct cove_cg_hier *h,
		     const char *parent, const char *dir, bool created,
		     struct cove_error *err);
	int (*apply)(struct cove_cgroup *cg,
		     const struct cove_cgroup_resources *res,
		     struct cove_error *err);
	int (*freeze)(struct cove_cgroup *cg, bool frozen,
		      struct cove_error *err);
	int (*is_frozen)(struct cove_cgroup *cg, bool *ret);
	/* Fill the members of @data (an object prepared by the caller). */
	int (*stats)(struct cove_cgroup *cg, json_t *data,
		     struct cove_error *err);
	int (*oom_fd)(struct cove_cgroup *cg, int *ret_fd,
		      struct cove_error *err);
	int (*oom_count)(struct cove_cgroup *cg, uint64_t *ret);
};

struct cove_cgroup {
	enum cove_cgroup_mode mode;
	const struct cove_cg_ops *ops; /* NULL when there is no hierarchy */
	char *fsroot;
	char *path; /* validated, "/a/b/c" */
	size_t depth;
	struct cove_cg_hier *hiers;
	size_t n_hiers;
};

extern const struct cove_cg_ops cove_cg_v1_ops;
extern const struct cove_cg_ops cove_cg_v2_ops;

/*
 * Test seams: called right after cove creates a cgroup directory, so that
 * a unit test can populate a fake tree with the files the kernel would
 * provide, and before it removes one (cgroupfs lets rmdir remove a
 * directory full of control files; a fake tree needs them deleted).  NULL
 * outside tests.
 */
extern void (*cove_cg_mkdir_hook)(const char *dir, void *data);
/* Called before cove removes a cgroup directory (same purpose). */
extern void (*cove_cg_rmdir_hook)(const char *dir, void *data);
extern void *cove_cg_hook_data;

/* "@dir/@file"; NULL on allocation failure. */
char *cove_cg_join(const char *dir, const char *file);

/*
 * Write @value to @dir/@file, truncating (cove_cg_write) or appending
 * (cove_cg_append, for list files such as devices.allow where every write
 * adds an entry).  Errors name the value and the file.
 */
int cove_cg_write(const char *dir, const char *file, const char *value,
		  struct cove_error *err);
int cove_cg_append(const char *dir, const char *file, const char *value,
		   struct cove_error *err);
int cove_cg_writef(const char *dir, const char *file, struct cove_error *err,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Read a whole cgroup file (NUL-terminated, caller frees); -errno. */
int cove_cg_read(const char *dir, const char *file, char **ret);
/* First line as a number; "max" reads as UINT64_MAX. */
int cove_cg_read_u64(const char *dir, const char *file, uint64_t *ret);
/* Value of "key N" in a flat keyed file (memory.stat, cpu.stat, ...). */
int cove_cg_read_keyed(const char *dir, const char *file, const char *key,
		       uint64_t *ret);
bool cove_cg_exists(const char *dir, const char *file);

/*
 * The directory of the first @level components of the path in @h
 * (0: the mount point; depth: the leaf); NULL on allocation failure.
 */
char *cove_cg_level_dir(struct cove_cgroup *cg, struct cove_cg_hier *h,
			size_t level);

/* The v1 hierarchy with @controller mounted, or NULL. */
struct cove_cg_hier *cove_cg_find_v1(struct cove_cgroup *cg,
				     const char *controller);
/* The cgroup2 hierarchy, or NULL. */
struct cove_cg_hier *cove_cg_find_v2(struct cove_cgroup *cg);

int64_t cove_cg_now_ms(void);
void cove_cg_sleep_ms(unsigned ms);

/* JSON helpers for stats: set @key of @obj to an unsigned number. */
int cove_cg_json_set_u64(json_t *obj, const char *key, uint64_t v);
/* The member object @key of @obj, created when missing; NULL on ENOMEM. */
json_t *cove_cg_json_child(json_t *obj, const char *key);
/* memory.stat or similar flat keyed file into an object of numbers. */
int cove_cg_json_keyed(json_t *obj, const char *dir, const char *file);

/*
 * Pieces of the v2 backend that hybrid mode uses on the unified hierarchy
 * for controllers that have no v1 mount.
 */
/* Is @controller listed in @h's root cgroup.controllers? */
bool cove_cg_v2_available(struct cove_cg_hier *h, const char *controller);
/* Enable @controller in cgroup.subtree_control from the root down to the
 * parent of the leaf. */
int cove_cg_v2_enable(struct cove_cgroup *cg, struct cove_cg_hier *h,
		      const char *controller, struct cove_error *err);
int cove_cg_v2_set_memory(struct cove_cg_hier *h,
			  const struct cove_cgroup_resources *res,
			  struct cove_error *err);
int cove_cg_v2_set_cpu(struct cove_cg_hier *h,
		       const struct cove_cgroup_resources *res,
		       struct cove_error *err);
int cove_cg_v2_set_cpuset(struct cove_cg_hier *h,
			  const struct cove_cgroup_resources *res,
			  struct cove_error *err);
int cove_cg_v2_set_pids(struct cove_cg_hier *h,
			const struct cove_cgroup_resources *res,
			struct cove_error *err);
int cove_cg_v2_set_io(struct cove_cg_hier *h,
		      const struct cove_cgroup_resources *res,
		      struct cove_error *err);
int cove_cg_v2_set_hugetlb(struct cove_cg_hier *h,
			   const struct cove_cgroup_resources *res,
			   struct cove_error *err);
int cove_cg_v2_set_devices(struct cove_cg_hier *h,
			   const struct cove_cgroup_resources *res,
			   struct cove_error *err);
int cove_cg_v2_set_unified(struct cove_cgroup *cg, struct cove_cg_hier *h,
			   json_t *unified, struct cove_error *err);
int cove_cg_v2_freeze_hier(struct cove_cg_hier *h, bool frozen,
			   struct cove_error *err);
int cove_cg_v2_is_frozen_hier(struct cove_cg_hier *h, bool *ret);
int cove_cg_v2_oom_fd_hier(struct cove_cg_hier *h, int *ret_fd,
			   struct cove_error *err);
int cove_cg_v2_oom_count_hier(struct cove_cg_hier *h, uint64_t *ret);
/* Stats of one controller ("cpu", "memory", "pids", "io", "hugetlb"). */
int cove_cg_v2_stats_of(struct cove_cg_hier *h, const char *controller,
			json_t *data);

/*
 * The device-cgroup eBPF program for @rules (exposed for unit tests).
 * *ret is an array of struct bpf_insn (malloc'ed), *ret_n its length.
 */
int cove_cg_devices_program(const struct cove_device_rule *rules, size_t n,
			    void **ret, size_t *ret_n);
