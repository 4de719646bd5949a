/*
 * libFuzzer target for manifests, indexes and image configs: the bytes go
 * through cove_manifest_parse (strict and with artifacts allowed) and
 * cove_image_config_parse.  Whatever parses must serialise and parse back
 * to the same bytes (the digest of a written manifest is stable), and an
 * index must answer platform selection.  Refusals must say why.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(int r, const struct cove_error *err)
{
	if (r < 0 && r != -ENOMEM && (err->msg[0] == '\0' || err->code == 0))
		abort();
	if (r < 0 && r != -err->code && r != -ENOMEM)
		abort();
}

static void manifest(const char *buf, size_t len, const char *hint,
		     unsigned flags)
{
	struct cove_error err = {0};
	struct cove_manifest *m = NULL, *m2 = NULL;
	struct cove_platform want;
	char *out = NULL, *out2 = NULL;
	size_t olen = 0, olen2 = 0;
	int r;

	r = cove_manifest_parse(buf, len, "fuzz", hint, flags, &m, &err);
	check_error(r, &err);
	if (r < 0) {
		if (m)
			abort();
		return;
	}
	if (cove_manifest_to_json(m, &out, &olen, &err) < 0)
		abort();
	err = (struct cove_error){0};
	if (cove_manifest_parse(out, olen, "fuzz", m->media_type, flags, &m2,
				&err) < 0)
		abort(); /* what we write, we read */
	if (cove_manifest_to_json(m2, &out2, &olen2, &err) < 0)
		abort();
	if (olen != olen2 || memcmp(out, out2, olen) != 0)
		abort();
	if (cove_manifest_is_index(m)) {
		r = cove_index_select(m, "fuzz", NULL, &err);
		check_error(r, &err);
		if (r >= 0 && (size_t)r >= m->n_manifests)
			abort();
		if (cove_platform_parse("linux/arm/v7", &want, NULL) == 0) {
			r = cove_index_select(m, "fuzz", &want, &err);
			check_error(r, &err);
			cove_platform_release(&want);
		}
	}
	free(out);
	free(out2);
	cove_manifest_free(m);
	cove_manifest_free(m2);
}

static void config(const char *buf, size_t len)
{
	struct cove_error err = {0};
	struct cove_image_config *c = NULL, *c2 = NULL;
	char *out = NULL, *out2 = NULL;
	size_t olen = 0, olen2 = 0;
	int r;

	r = cove_image_config_parse(buf, len, "fuzz", &c, &err);
	check_error(r, &err);
	if (r < 0) {
		if (c)
			abort();
		return;
	}
	if (cove_image_config_to_json(c, &out, &olen, &err) < 0)
		abort();
	if (cove_image_config_parse(out, olen, "fuzz", &c2, &err) < 0)
		abort();
	if (cove_image_config_to_json(c2, &out2, &olen2, &err) < 0)
		abort();
	if (olen != olen2 || memcmp(out, out2, olen) != 0)
		abort();
	free(out);
	free(out2);
	cove_image_config_free(c);
	cove_image_config_free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* What a registry's Content-Type may say, parameters and all. */
	static const char *const hints[] = {
	    COVE_MT_OCI_MANIFEST,    COVE_MT_OCI_INDEX "; charset=utf-8",
	    COVE_MT_DOCKER_MANIFEST, COVE_MT_DOCKER_LIST,
	    "application/json",
	};

	if (size > 1 << 20)
		return 0;
	manifest((const char *)data, size, NULL, 0);
	manifest((const char *)data, size, NULL, COVE_MANIFEST_ALLOW_ARTIFACTS);
	manifest((const char *)data, size, hints[size % 5], 0);
	config((const char *)data, size);
	return 0;
}
