/*
 * libFuzzer target for linux.resources: arbitrary bytes, parsed as JSON
 * (any type at the top, as a config may hold), go through
 * cove_cgroup_resources_parse.  Nothing is written to any cgroup.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "runtime/cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cove_cgroup_resources res;
	struct cove_error err = {0};
	json_error_t jerr;
	json_t *root;
	int r;

	if (size > 256 * 1024)
		return 0;
	root = json_loadb((const char *)data, size,
			  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return 0;
	r = cove_cgroup_resources_parse(root, "linux.resources", &res, &err);
	if (r < 0) {
		/* Failures say why, and leave nothing behind to release. */
		if (r != -ENOMEM && (err.msg[0] == '\0' || err.code != -r))
			abort();
		if (!cove_cgroup_resources_empty(&res))
			abort();
	} else {
		(void)cove_cgroup_resources_empty(&res);
	}
	cove_cgroup_resources_release(&res);
	/* Release twice is harmless: it resets the struct. */
	cove_cgroup_resources_release(&res);
	json_decref(root);
	return 0;
}
