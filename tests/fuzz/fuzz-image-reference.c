/*
 * libFuzzer target for image references (and the small grammars next to
 * them: digests, platforms).  A reference that parses must format to a
 * fully qualified string that parses again to the same thing; a refusal
 * must say why.  Everything is freed, so LeakSanitizer sees any leak.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/digest.h"
#include "image/manifest.h"
#include "image/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	struct cove_image_ref ref, again;
	struct cove_platform p;
	char *s, *fmt, *fmt2;
	int r;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	r = cove_image_ref_parse(s, &ref, &err);
	check_error(r, &err);
	if (r == 0) {
		if (!ref.registry || !ref.repository ||
		    (!ref.tag && !ref.digest))
			abort();
		if (ref.digest &&
		    cove_digest_validate(ref.digest, NULL, NULL) < 0)
			abort();
		fmt = cove_image_ref_format(&ref);
		if (fmt) {
			err = (struct cove_error){0};
			if (cove_image_ref_parse(fmt, &again, &err) < 0)
				abort(); /* formatted form must parse */
			fmt2 = cove_image_ref_format(&again);
			if (fmt2 && strcmp(fmt, fmt2) != 0)
				abort(); /* and be a fixed point */
			free(fmt2);
			cove_image_ref_release(&again);
		}
		free(fmt);
		cove_image_ref_release(&ref);
	} else if (ref.registry || ref.repository || ref.tag || ref.digest) {
		abort(); /* failure leaves the output empty */
	}

	err = (struct cove_error){0};
	r = cove_digest_validate(s, NULL, &err);
	check_error(r, &err);

	err = (struct cove_error){0};
	r = cove_platform_parse(s, &p, &err);
	check_error(r, &err);
	if (r == 0) {
		char *pf = cove_platform_format(&p);
		struct cove_platform p2;
		if (pf && cove_platform_parse(pf, &p2, NULL) == 0) {
			if (cove_platform_match(&p, &p2) != 0)
				abort(); /* normalised forms match themselves */
			cove_platform_release(&p2);
		}
		free(pf);
		cove_platform_release(&p);
	}
	free(s);
	return 0;
}
