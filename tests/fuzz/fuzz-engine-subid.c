/*
 * libFuzzer target for the /etc/subuid parser (src/engine/rootless.c).
 * Accepted ranges must be what the maps can use: non-empty, above host id
 * 0, below 2^32-1, disjoint, at most COVE_SUBID_MAX_RANGES; a refusal must
 * name the file and a line.  The maps built from accepted ranges must be
 * contiguous on the container side.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rootless.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cove_subid_range *v = NULL;
	struct cove_rootless_maps m;
	struct cove_error err = {0};
	size_t n = 0;
	uint64_t next = 1;
	int r;

	if (size > 1 << 16)
		return 0;
	r = cove_subid_parse((const char *)data, size, "/etc/subuid", "alice",
			     1000, &v, &n, &err);
	if (r < 0) {
		if (r == -ENOMEM)
			return 0;
		if (v || !strstr(err.msg, "/etc/subuid") ||
		    !strstr(err.msg, "line ") || err.code != -r)
			abort();
		return 0;
	}
	if (n > COVE_SUBID_MAX_RANGES || (n > 0) != (v != NULL))
		abort();
	for (size_t i = 0; i < n; i++) {
		if (v[i].count == 0 || v[i].start == 0 ||
		    (uint64_t)v[i].start + v[i].count > UINT32_MAX)
			abort();
		for (size_t j = 0; j < i; j++)
			if (v[i].start < (uint64_t)v[j].start + v[j].count &&
			    v[j].start < (uint64_t)v[i].start + v[i].count)
				abort();
	}
	err = (struct cove_error){0};
	r = cove_rootless_maps_build(1000, 1000, v, n, v, n, &m, &err);
	if (r == 0) {
		if (n == 0 ? !m.single_id : m.uid_map_len != n + 1)
			abort();
		for (size_t i = 1; i < m.uid_map_len; i++) {
			if (m.uid_map[i].container_id != next)
				abort();
			next += m.uid_map[i].size;
		}
	} else if (r != -EINVAL || !err.msg[0]) {
		abort(); /* only the user's own id inside a range */
	}
	free(v);
	return 0;
}
