#pragma once
/*
 * Rootless: an unprivileged user's cove works in a user namespace of its
 * own, as podman does, but without a long-lived pause process: every
 * command that touches storage enters a fresh namespace with the same maps,
 * so the files it made last time have the same owners this time.
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
 * Once entered, the process is uid/gid 0 of the namespace, with its own
 * mount namespace whose mounts do not propagate back to the host: they
 * vanish with the process.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * For an unprivileged caller (geteuid() != 0), once per process: read the
 * sub-id files, unshare the user namespace and have its maps written, become
 * uid/gid 0 in it, then unshare a mount namespace and make "/" a recursive
 * slave so that mounts stay private.  No-op for root or when already done.
 * The process must be single-threaded.  A failure after the user namespace
 * was created leaves the process in it: the caller should exit.
 */
int cove_rootless_enter(struct cove_error *err);

/* True once cove_rootless_enter() has put the process in its namespace. */
bool cove_rootless_active(void);

/* The maps in force when active, else NULL.  Owned by the module. */
const struct cove_rootless_maps *cove_rootless_maps(void);
