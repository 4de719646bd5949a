#pragma once
/*
 * Linux capabilities (process.capabilities), applied with libcap.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

enum cove_cap_set {
	COVE_CAP_BOUNDING,
	COVE_CAP_EFFECTIVE,
	COVE_CAP_INHERITABLE,
	COVE_CAP_PERMITTED,
	COVE_CAP_AMBIENT,
	COVE_CAP_SET_MAX,
};

struct cove_caps {
	uint64_t sets[COVE_CAP_SET_MAX]; /* bit n = capability n */
};

/*
 * Parse process.capabilities (@path for errors).  Unknown names are errors;
 * capabilities this kernel does not have (above CAP_LAST_CAP) are dropped
 * silently, as runc does.  A NULL @caps yields all sets empty.
 */
int cove_caps_parse(json_t *caps, const char *path, struct cove_caps *ret,
		    struct cove_error *err);

/* "CAP_SYS_ADMIN" (or "SYS_ADMIN", any case) -> number, or -EINVAL. */
int cove_cap_from_name(const char *name);
/* Number -> "CAP_SYS_ADMIN" (static string) or NULL. */
const char *cove_cap_to_name(int cap);
/* Highest capability number known to the running kernel. */
int cove_cap_last_cap(void);

/*
 * Drop every capability not in the bounding set from the bounding set
 * (PR_CAPBSET_DROP).  Must run while the process still has CAP_SETPCAP.
 */
int cove_caps_apply_bounding(const struct cove_caps *c, struct cove_error *err);

/*
 * Set effective, permitted and inheritable sets, then raise the ambient
 * set.  Runs after the switch to the container user (with PR_SET_KEEPCAPS
 * set before the switch so permitted capabilities survive it).
 */
int cove_caps_apply(const struct cove_caps *c, struct cove_error *err);

/* The default capability list of runc/podman (for `spec`), a JSON array. */
json_t *cove_caps_default_json(void);
/* All capability names known to cove, a JSON array (for `features`). */
json_t *cove_caps_all_json(void);
