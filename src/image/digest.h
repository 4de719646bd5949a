#pragma once
/*
 * Content digests ("sha256:<64 hex>", "sha512:<128 hex>") with OpenSSL's
 * EVP, streaming.  Every blob that enters the store is hashed while it is
 * written; nothing is trusted by name alone.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define COVE_DIGEST_MAX 136 /* "sha512:" + 128 hex + NUL, rounded */

enum cove_digest_algo {
	COVE_DIGEST_SHA256,
	COVE_DIGEST_SHA512,
};

/*
 * Validate "algo:hex" (lowercase hex of the right length).  On success the
 * algorithm is stored in @ret_algo (may be NULL).  Errors quote the value
 * and say what is wrong with it.
 */
int cove_digest_validate(const char *digest, enum cove_digest_algo *ret_algo,
			 struct cove_error *err);

/* "sha256" / "sha512". */
const char *cove_digest_algo_name(enum cove_digest_algo algo);
/* Number of hex characters of a digest of @algo (64 or 128). */
size_t cove_digest_hex_len(enum cove_digest_algo algo);

struct cove_hasher; /* opaque, streaming */

/* All return 0 or -errno (-ENOMEM, -EINVAL for an unknown algorithm). */
int cove_hasher_new(enum cove_digest_algo algo, struct cove_hasher **ret);
int cove_hasher_update(struct cove_hasher *h, const void *buf, size_t len);
/*
 * Writes "algo:hex" into @out (COVE_DIGEST_MAX bytes).  The hasher is then
 * spent: further updates or finals fail with -EINVAL.
 */
int cove_hasher_final(struct cove_hasher *h, char *out);
void cove_hasher_free(struct cove_hasher *h);

/* One-shot digest of a buffer. */
int cove_digest_buffer(enum cove_digest_algo algo, const void *buf, size_t len,
		       char *out);
