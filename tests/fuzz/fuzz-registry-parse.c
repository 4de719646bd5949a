/*
 * libFuzzer target for what a registry sends back that cove parses by
 * hand: WWW-Authenticate challenges, Link headers, Retry-After,
 * Content-Type, the JSON error body mapping, and base64 (auth.json's
 * "auth" values).  The first byte picks the parser; the rest is the
 * header value.  Everything is freed, so LeakSanitizer sees error paths.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/auth.h"
#include "image/registry-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cove_error err = {0};
	char *s;
	int r;

	if (size < 1 || size > 64 * 1024)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 6) {
	case 0: {
		struct cove_auth_challenge c = {0};
		r = cove_auth_challenge_parse(s, &c, &err);
		if (r == 0) {
			/* A usable challenge always names its scheme. */
			if (c.scheme == COVE_AUTH_SCHEME_NONE)
				abort();
			if (c.scheme == COVE_AUTH_SCHEME_BEARER && !c.realm)
				abort();
		} else if (r != -ENOMEM && (r != -EINVAL || !err.msg[0])) {
			abort();
		}
		cove_auth_challenge_release(&c);
		break;
	}
	case 1: {
		char *url = NULL;
		r = cove_link_next(s, &url);
		if (r == 1 && (!url || strpbrk(url, " \r\n\t")))
			abort();
		free(url);
		break;
	}
	case 2:
		(void)cove_retry_after_parse(s);
		free(cove_content_type_media_type(s));
		break;
	case 3: {
		struct cove_http_failure f = {.status =
						  400 + (long)(size % 200),
					      .body = s,
					      .body_len = size - 1,
					      .registry = "r.example",
					      .subject = "r.example/a:b",
					      .retry_after = -1};
		r = cove_registry_http_error(&f, &err);
		if (r >= 0 || !err.msg[0])
			abort();
		/* Registry text reaches messages only printable. */
		for (const char *p = err.msg; *p; p++)
			if ((unsigned char)*p < 0x20)
				abort();
		break;
	}
	case 4: {
		void *out = NULL;
		size_t len = 0;
		if (cove_base64_decode(s, &out, &len) == 0) {
			char *again = NULL;
			void *back = NULL;
			size_t blen = 0;
			/* Whatever decodes re-encodes and decodes the same. */
			if (cove_base64_encode(out, len, &again) == 0 &&
			    (cove_base64_decode(again, &back, &blen) != 0 ||
			     blen != len || memcmp(back, out, len) != 0))
				abort();
			free(again);
			free(back);
		}
		free(out);
		break;
	}
	default: {
		char *n = cove_auth_normalize_key(s);
		free(n);
		break;
	}
	}
	free(s);
	return 0;
}
