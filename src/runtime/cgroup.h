#pragma once
/*
 * Control groups: one small ops table, one backend per hierarchy layout
 * (cgroup-v1.c, cgroup-v2.c), chosen by cove_cgroup_detect().
 *
 * Layouts:
 *  - COVE_CGROUP_V2: /sys/fs/cgroup is cgroup2 (unified).
 *  - COVE_CGROUP_V1: one mount per v1 controller under /sys/fs/cgroup.
 *  - COVE_CGROUP_HYBRID: v1 controllers plus a cgroup2 mount at
 *    /sys/fs/cgroup/unified (possibly with controllers such as hugetlb
 *    enabled on it).  Resources go to v1 as runc does; the process is also
 *    placed into the same path in the unified hierarchy, and controllers that
 *    exist only there are driven through it.
 *
 * The fs root ("/sys/fs/cgroup") is a parameter so that unit tests can run
 * the backends against a fake directory tree.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

#define COVE_CGROUP_DEFAULT_ROOT "/sys/fs/cgroup"

enum cove_cgroup_mode {
	COVE_CGROUP_NONE = 0, /* cgroups disabled (--cgroup-manager=disabled) */
	COVE_CGROUP_V1,
	COVE_CGROUP_V2,
	COVE_CGROUP_HYBRID,
};

struct cove_blkio_device {
	int64_t major, minor;
	uint16_t weight, leaf_weight;
	bool has_weight, has_leaf_weight;
	uint64_t rate; /* throttle entries */
};

struct cove_hugepage_limit {
	char *page_size; /* "2MB", "1GB" */
	uint64_t limit;
};

struct cove_device_rule {
	bool allow;
	char type;	/* 'a', 'c', 'b' */
	int64_t major;	/* -1 = wildcard */
	int64_t minor;	/* -1 = wildcard */
	char access[4]; /* subset of "rwm" */
};

/* linux.resources, every member optional (has_* / NULL / n == 0). */
struct cove_cgroup_resources {
	/* memory */
	int64_t mem_limit, mem_reservation, mem_swap, mem_kernel,
	    mem_kernel_tcp;
	bool has_mem_limit, has_mem_reservation, has_mem_swap, has_mem_kernel,
	    has_mem_kernel_tcp;
	uint64_t mem_swappiness;
	bool has_mem_swappiness;
	bool mem_disable_oom_killer, has_mem_disable_oom_killer;
	bool mem_use_hierarchy, has_mem_use_hierarchy;
	bool mem_check_before_update;
	/* cpu */
	uint64_t cpu_shares, cpu_period, cpu_realtime_period, cpu_burst;
	int64_t cpu_quota, cpu_realtime_runtime, cpu_idle;
	bool has_cpu_shares, has_cpu_period, has_cpu_quota,
	    has_cpu_realtime_period, has_cpu_realtime_runtime, has_cpu_burst,
	    has_cpu_idle;
	char *cpu_cpus, *cpu_mems;
	/* pids */
	int64_t pids_limit;
	bool has_pids_limit;
	/* blockIO */
	uint16_t blkio_weight, blkio_leaf_weight;
	bool has_blkio_weight, has_blkio_leaf_weight;
	struct cove_blkio_device *blkio_weight_device;
	size_t n_blkio_weight_device;
	struct cove_blkio_device
	    *throttle[4]; /* read bps, write bps, read iops, write iops */
	size_t n_throttle[4];
	/* hugepageLimits */
	struct cove_hugepage_limit *hugepages;
	size_t n_hugepages;
	/* devices */
	struct cove_device_rule *devices;
	size_t n_devices;
	/* network (v1 net_cls / net_prio) */
	uint32_t net_class_id;
	bool has_net_class_id;
	json_t *net_priorities; /* borrowed */
	/* rdma: refused when set */
	/* unified: v2 key -> value, borrowed */
	json_t *unified;
};

/*
 * Parse linux.resources.  @path is its dotted path for error messages
 * ("linux.resources").  @res is zeroed first; release with
 * cove_cgroup_resources_release().
 */
int cove_cgroup_resources_parse(json_t *resources, const char *path,
				struct cove_cgroup_resources *res,
				struct cove_error *err);
void cove_cgroup_resources_release(struct cove_cgroup_resources *res);

/* Detect the layout under @fsroot (NULL = /sys/fs/cgroup). */
int cove_cgroup_detect(const char *fsroot, enum cove_cgroup_mode *ret);

struct cove_cgroup;

enum cove_cgroup_flags {
	/*
	 * Rootless without delegation: failures to create the cgroup are not
	 * errors when no resources were requested.
	 */
	COVE_CGROUP_BEST_EFFORT = 1 << 0,
};

/* Is any member of @res set?  (NULL counts as empty.) */
bool cove_cgroup_resources_empty(const struct cove_cgroup_resources *res);

/*
 * Check a cgroupsPath: absolute, normalized (no empty, "." or ".."
 * components, no trailing slash), not "/" itself, components at most
 * NAME_MAX long.  @field names it in the error ("linux.cgroupsPath").
 */
int cove_cgroup_path_check(const char *path, const char *field,
			   struct cove_error *err);

/*
 * Create the cgroup @path (absolute, e.g. "/cove-test/run1/ctr") in every
 * hierarchy of @mode under @fsroot, apply @res (may be NULL), and move @pid
 * into it (pid 0: do not move anything).  On failure nothing created is left
 * behind.  *ret is owned by the caller (cove_cgroup_free()).
 *
 * With COVE_CGROUP_NONE nothing is created and *ret is a handle on which
 * every operation is a no-op (pids: none; stats: an empty object; freeze:
 * -EOPNOTSUPP).  The same holds for hierarchies left out under
 * COVE_CGROUP_BEST_EFFORT.
 */
int cove_cgroup_create(const char *fsroot, enum cove_cgroup_mode mode,
		       const char *path, pid_t pid,
		       const struct cove_cgroup_resources *res, unsigned flags,
		       struct cove_cgroup **ret, struct cove_error *err);

/* Reopen the cgroup of an existing container (no creation). */
int cove_cgroup_open(const char *fsroot, enum cove_cgroup_mode mode,
		     const char *path, struct cove_cgroup **ret,
		     struct cove_error *err);

/*
 * How many levels of the path, counted from the leaf, cove created
 * (1: only the leaf; 0: none).  A caller that keeps this in the
 * container's state and hands it back after cove_cgroup_open() gets
 * exactly those removed by destroy; without it, destroy of an opened
 * cgroup removes every ancestor that is empty, up to the hierarchy's root.
 *
 * On v1 and hybrid hosts the number differs between hierarchies when a
 * parent existed beforehand in some of them only (an administrator's, with
 * limits of its own): keep the map of cove_cgroup_get_created_map() and
 * hand it back with cove_cgroup_set_created_map().  The single number,
 * the most over all hierarchies, is what states of older versions hold;
 * cove_cgroup_set_created() applies it to every hierarchy.
 */
unsigned cove_cgroup_get_created(const struct cove_cgroup *cg);
void cove_cgroup_set_created(struct cove_cgroup *cg, unsigned levels);

/*
 * The levels cove created per hierarchy: an object mapping each
 * hierarchy's mount point ("/sys/fs/cgroup/memory") to its count.
 * Hierarchies of an opened handle (count unknown) are left out.  *ret is
 * a new reference; -ENOMEM.
 */
int cove_cgroup_get_created_map(const struct cove_cgroup *cg, json_t **ret);
/*
 * Hand back such a map (from the state file, so checked): a hierarchy
 * missing from @map, or whose value is not a non-negative integer, counts
 * as 0 (only the leaf is removed); values above the depth are clamped;
 * members that name no hierarchy of @cg are ignored.  Nothing is allocated.
 */
void cove_cgroup_set_created_map(struct cove_cgroup *cg, const json_t *map);

/* Move another process (exec) into the cgroup. */
int cove_cgroup_enter(struct cove_cgroup *cg, pid_t pid,
		      struct cove_error *err);

/* Apply resources to an existing cgroup (`update`). */
int cove_cgroup_apply(struct cove_cgroup *cg,
		      const struct cove_cgroup_resources *res,
		      struct cove_error *err);

/* Freeze (pause) or thaw (resume) all processes; waits until done. */
int cove_cgroup_freeze(struct cove_cgroup *cg, bool frozen,
		       struct cove_error *err);

/* Is the cgroup currently frozen? */
int cove_cgroup_is_frozen(struct cove_cgroup *cg, bool *ret);

/* All pids in the cgroup (sorted); *ret owned by the caller (free()). */
int cove_cgroup_pids(struct cove_cgroup *cg, pid_t **ret, size_t *ret_n,
		     struct cove_error *err);

/*
 * Statistics in runc's `events --stats` "data" layout (cpu, memory, pids,
 * blkio, hugetlb).  *ret owned by the caller.
 */
int cove_cgroup_stats(struct cove_cgroup *cg, json_t **ret,
		      struct cove_error *err);

/*
 * An fd that becomes readable when the cgroup sees an OOM kill (v1: an
 * eventfd registered with memory.oom_control; v2: memory.events, to poll
 * for POLLPRI and re-read).  Counter of OOM kills so far in *ret_count.
 */
int cove_cgroup_oom_fd(struct cove_cgroup *cg, int *ret_fd,
		       struct cove_error *err);
int cove_cgroup_oom_count(struct cove_cgroup *cg, uint64_t *ret_count);

/*
 * Remove the cgroup directories (leaf only; parents that cove created and
 * that are now empty are removed too).  Processes still inside are killed
 * first with SIGKILL.
 */
int cove_cgroup_destroy(struct cove_cgroup *cg, struct cove_error *err);

void cove_cgroup_free(struct cove_cgroup *cg);
static inline void cove_cgroup_freep(struct cove_cgroup **cg)
{
	cove_cgroup_free(*cg);
}
#define _cleanup_cgroup_ __attribute__((cleanup(cove_cgroup_freep)))

/* Number of hierarchies the handle covers (0: no cgroup at all). */
size_t cove_cgroup_hierarchy_count(const struct cove_cgroup *cg);

const char *cove_cgroup_mode_name(enum cove_cgroup_mode mode);

/* The cgroup path given at creation ("/cove-test/run1/ctr") and layout. */
const char *cove_cgroup_get_path(const struct cove_cgroup *cg);
enum cove_cgroup_mode cove_cgroup_get_mode(const struct cove_cgroup *cg);
