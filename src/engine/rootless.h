#pragma once
/*
 * Rootless: an unprivileged user's cove works in a user namespace of its
 * own, with a mount namespace of its own, as podman does.  The first
 * command creates both and leaves a pause process in them (comm
 * "cove-pause", doing nothing until SIGTERM or SIGKILL) that keeps them
 * alive; every later command joins them.  So a container started by one
 * command can be exec'd into by the next (its namespaces are owned by that
 * user namespace), and what one command mounts (container root file
 * systems, `cove image mount`) the next one sees.
 *
 * The pause process is found through <runroot>/pause.pid, "PID STARTTIME"
 * (the start time tells a reused pid apart), written under the lock
 * <runroot>/pause.lock so that two first commands make one pause process.
 * If it is gone (killed, a reboot), the next command creates namespaces
 * and a pause process anew: containers still running in the old ones keep
 * running but cannot be joined any more.
 *
 * The maps come from /etc/subuid and /etc/subgid (the ranges shadow's
 * getsubids reports for the user, by name or by uid):
 *
 *     container 0        -> the user's own uid/gid (size 1)
 *     container 1, 2, .. -> the subordinate ranges, in file order
 *
 * written by the setuid helpers newuidmap/newgidmap.  Without a
 * subordinate range (or without the helpers) the namespace has one id
 * only, 0 -> the user, written directly (setgroups denied); files of other
 * owners in image layers are then all owned by that one id.
 *
 * Once entered, the process is uid/gid 0 of the namespace; "/" of its
 * mount namespace is a recursive slave of the host's, so mounts made there
 * never reach the host while the host's later mounts still show.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/layer.h"
#include "util/error.h"

/* Most subordinate ranges used per file (the kernel takes 340 map lines). */
#define COVE_SUBID_MAX_RANGES 32

/* One line of /etc/subuid or /etc/subgid: host ids [start, start+count). */
struct cove_subid_range {
	uint32_t start;
	uint32_t count;
};

/*
 * The ranges of the user @user (may be NULL: no passwd entry) with uid
 * @uid in the contents @data (@len bytes) of the sub-id file @file (for
 * messages): lines "OWNER:START:COUNT" whose OWNER is @user or the decimal
 * @uid.  Blank lines, '#' comments and other users' lines are skipped
 * unread.  A line of this user that is malformed, has trailing junk, a zero
 * count, a range that includes host id 0 or passes 2^32-1, or that
 * overlaps an earlier range is -EINVAL, with @err naming @file and the
 * line number; more than COVE_SUBID_MAX_RANGES ranges is -E2BIG.  On
 * success *ret (caller frees; NULL when none) holds *ret_n ranges.
 */
int cove_subid_parse(const char *data, size_t len, const char *file,
		     const char *user, uint32_t uid,
		     struct cove_subid_range **ret, size_t *ret_n,
		     struct cove_error *err);

/* The same on the file @path; a missing file has no ranges. */
int cove_subid_read(const char *path, const char *user, uint32_t uid,
		    struct cove_subid_range **ret, size_t *ret_n,
		    struct cove_error *err);

/* The id maps of the namespace, host side (what uid_map/gid_map hold). */
struct cove_rootless_maps {
	struct cove_idmap_range uid_map[COVE_SUBID_MAX_RANGES + 1];
	size_t uid_map_len;
	struct cove_idmap_range gid_map[COVE_SUBID_MAX_RANGES + 1];
	size_t gid_map_len;
	/* Ids that exist in the namespace: 0 .. n_uids-1, 0 .. n_gids-1. */
	uint32_t n_uids;
	uint32_t n_gids;
	/* Only 0 exists (no subordinate ids): why, for a warning. */
	bool single_id;
	char single_reason[256];
};

/*
 * The maps for host @uid/@gid with the subordinate ranges @subuid and
 * @subgid: 0 -> uid, then the ranges; with either list empty the single
 * mapping 0 -> uid / 0 -> gid.  A range that contains the user's own id is
 * -EINVAL; more ids than fit in 32 bits is -E2BIG.
 */
int cove_rootless_maps_build(uint32_t uid, uint32_t gid,
			     const struct cove_subid_range *subuid,
			     size_t n_subuid,
			     const struct cove_subid_range *subgid,
			     size_t n_subgid, struct cove_rootless_maps *ret,
			     struct cove_error *err);

/*
 * For an unprivileged caller (geteuid() != 0), once per process: join the
 * namespaces of the user's pause process found in @runroot (created,
 * with mode 0700, if missing; it must be the user's own directory), or
 * create them: read the sub-id files, unshare the user namespace and have
 * its maps written, become uid/gid 0 in it, unshare a mount namespace and
 * make "/" a recursive slave, then start the pause process and record it
 * in @runroot/pause.pid.  Joining keeps the working directory (by path).
 * No-op for root or when already done.  The process must be
 * single-threaded.  A failure after the user namespace was created or
 * joined leaves the process in it: the caller should exit.
 */
int cove_rootless_enter(const char *runroot, struct cove_error *err);

/* The pause process in @runroot/pause.pid (see rootless.h's top). */
struct cove_pause_id {
	pid_t pid;
	uint64_t start_time; /* field 22 of /proc/PID/stat */
};

/*
 * Parse the contents @data (@len bytes) of a pause.pid file: "PID
 * STARTTIME" in decimal, one space between, an optional final newline, a
 * pid > 0.  Anything else is -EINVAL.
 */
int cove_pause_id_parse(const char *data, size_t len,
			struct cove_pause_id *ret);

/* The pause.pid line for @id ("PID STARTTIME\n") in @buf; its length. */
int cove_pause_id_format(const struct cove_pause_id *id, char *buf,
			 size_t size);

/*
 * From the contents @data (@len bytes) of /proc/PID/stat: the command name
 * (between the first '(' and the last ')', truncated to fit @comm_size
 * bytes with its NUL) and the start time (field 22, counted after the
 * name, which may hold spaces and parentheses).  -EINVAL when malformed,
 * @comm and *ret_start_time untouched.
 */
int cove_proc_stat_parse(const char *data, size_t len, char *comm,
			 size_t comm_size, uint64_t *ret_start_time);

/*
 * Parse /proc/PID/uid_map or gid_map as the kernel prints it ("ID HOSTID
 * COUNT" lines, blanks around the numbers) into @ret (@max entries at
 * most); the number of entries in *ret_n.  -EINVAL when malformed, -E2BIG
 * beyond @max.
 */
int cove_proc_idmap_parse(const char *data, size_t len,
			  struct cove_idmap_range *ret, size_t max,
			  size_t *ret_n);

/* True once cove_rootless_enter() has put the process in its namespace. */
bool cove_rootless_active(void);

/* The maps in force when active, else NULL.  Owned by the module. */
const struct cove_rootless_maps *cove_rootless_maps(void);
