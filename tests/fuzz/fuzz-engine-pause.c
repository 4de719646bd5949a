/*
 * libFuzzer target for what rootless.c reads to find and trust the pause
 * process: pause.pid, /proc/PID/stat and /proc/PID/uid_map.  The first
 * byte picks the parser.  An accepted pause.pid has a pid > 0 and formats
 * back to the same bytes (with the final newline); a stat line's start time
 * and name come from inside the input; accepted map lines stay below id
 * 2^32-1 and are never empty.  Failures leave the outputs alone.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rootless.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pause_id(const char *s, size_t n)
{
	struct cove_pause_id id = {.pid = -7, .start_time = 7};
	char buf[64];
	int len;

	if (cove_pause_id_parse(s, n, &id) < 0) {
		if (id.pid != -7 || id.start_time != 7)
			abort();
		return;
	}
	if (id.pid <= 0)
		abort();
	len = cove_pause_id_format(&id, buf, sizeof(buf));
	if (len < 0)
		abort();
	/* the same bytes, give or take the final newline */
	if (!((size_t)len == n && !memcmp(buf, s, n)) &&
	    !((size_t)len == n + 1 && !memcmp(buf, s, n)))
		abort();
}

static void proc_stat(const char *s, size_t n)
{
	char comm[16] = "untouched";
	uint64_t start = 7;

	if (cove_proc_stat_parse(s, n, comm, sizeof(comm), &start) < 0) {
		if (start != 7 || strcmp(comm, "untouched"))
			abort();
		return;
	}
	if (strlen(comm) >= sizeof(comm) || !memchr(s, '(', n) ||
	    !memchr(s, ')', n))
		abort();
}

static void proc_idmap(const char *s, size_t n)
{
	struct cove_idmap_range m[4];
	size_t len = 99;
	int r = cove_proc_idmap_parse(s, n, m, 4, &len);

	if (r < 0) {
		if ((r != -EINVAL && r != -E2BIG) || len != 99)
			abort();
		return;
	}
	if (len > 4)
		abort();
	for (size_t i = 0; i < len; i++)
		if (m[i].size == 0 ||
		    (uint64_t)m[i].container_id + m[i].size > UINT32_MAX ||
		    (uint64_t)m[i].host_id + m[i].size > UINT32_MAX)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;

	if (size < 1 || size > 4096)
		return 0;
	switch (data[0] % 3) {
	case 0:
		pause_id(s, size - 1);
		break;
	case 1:
		proc_stat(s, size - 1);
		break;
	default:
		proc_idmap(s, size - 1);
	}
	return 0;
}
