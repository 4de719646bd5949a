/*
 * libFuzzer target for the seccomp cache file parser
 * (cove_seccomp_cache_parse): arbitrary bytes as a cache file image.  The
 * first byte picks a mode: odd, the checksum field is recomputed over the
 * rest, so inputs get past it to the key comparison and the copy; the key
 * expected is the one the image claims (or a fixed one when it claims
 * more than it holds).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/seccomp-cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fixed_key[] = "cove seccomp cache 1\nprofile {}\n";
	struct sock_filter *prog = NULL;
	const char *key = fixed_key;
	size_t key_len = sizeof(fixed_key) - 1, n = 0;
	uint8_t *img;
	uint32_t claimed;
	bool fixup;

	if (size < 1 || size > 256 * 1024)
		return 0;
	fixup = data[0] & 1;
	data++;
	size--;
	img = malloc(size ? size : 1);
	if (!img)
		return 0;
	memcpy(img, data, size);
	if (size >= 32) {
		memcpy(&claimed, img + 12, sizeof(claimed));
		if (claimed <= size - 32) {
			key = (const char *)img + 32;
			key_len = claimed;
		}
		if (fixup) {
			uint64_t sum =
			    cove_fnv1a64(COVE_FNV64_INIT, img + 32, size - 32);
			memcpy(img + 24, &sum, sizeof(sum));
		}
	}
	if (cove_seccomp_cache_parse(img, size, key, key_len, &prog, &n) == 0 &&
	    (n == 0 || n > BPF_MAXINSNS))
		abort();
	free(prog);
	free(img);
	return 0;
}
