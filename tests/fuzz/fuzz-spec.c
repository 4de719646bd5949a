/*
 * libFuzzer target for config.json: arbitrary bytes go through the same
 * path as `cove-runtime create` (cove_json_load_buffer, then
 * cove_spec_parse), and the "process" member also through
 * cove_process_parse as `exec --process` uses it.  Everything is freed, so
 * that LeakSanitizer reports any leak on an error path.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "runtime/spec.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every failure but ENOMEM must say why (house rule: errors name fields). */
static void check_error(int r, const struct cove_error *err)
{
	if (r < 0 && r != -ENOMEM && (err->msg[0] == '\0' || err->code == 0))
		abort();
	if (r < 0 && r != -err->code && r != -ENOMEM)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cove_error err = {0};
	struct cove_spec *spec = NULL;
	struct cove_process p;
	json_t *root = NULL;
	int r;

	/* Bound the work per input; the size cap itself is tested elsewhere. */
	if (size > 1 << 20)
		return 0;
	if (cove_json_load_buffer("config.json", (const char *)data, size,
				  &root, &err) < 0)
		return 0;

	err = (struct cove_error){0};
	r = cove_process_parse(json_object_get(root, "process"), "process", &p,
			       &err);
	check_error(r, &err);
	cove_process_release(&p);

	err = (struct cove_error){0};
	r = cove_spec_parse(root, "/bundle", &spec, &err);
	check_error(r, &err);
	if (r < 0) {
		/* On failure the caller keeps its reference. */
		if (spec)
			abort();
		json_decref(root);
		return 0;
	}
	if (spec->root != root || !spec->root_path || !spec->oci_version)
		abort();
	cove_spec_free(spec);
	return 0;
}
