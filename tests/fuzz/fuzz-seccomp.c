/*
 * libFuzzer target for linux.seccomp: arbitrary bytes, parsed as JSON, go
 * through the whole validation and filter compilation (libseccomp and the
 * BPF export).  Nothing is loaded into the fuzzer process.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "runtime/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cove_error err = {0};
	struct cove_seccomp *s = NULL;
	json_error_t jerr;
	json_t *root;

	/* Profiles are a few hundred KiB at most; bound the work per input. */
	if (size > 64 * 1024)
		return 0;
	root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	if (!root)
		return 0;
	if (cove_seccomp_compile(root, "linux.seccomp", &s, &err) == 0) {
		(void)cove_seccomp_uses_notify(s);
		(void)cove_seccomp_listener_path(s);
		(void)cove_seccomp_listener_metadata(s);
	}
	cove_seccomp_free(s);
	json_decref(root);
	return 0;
}
