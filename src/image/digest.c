#include "image/digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/cleanup.h"

struct cove_hasher {
	EVP_MD_CTX *ctx;
	enum cove_digest_algo algo;
	bool done;
};

static const struct {
	const char *name;
	size_t hex_len;
} algos[] = {
    [COVE_DIGEST_SHA256] = {"sha256", 64},
    [COVE_DIGEST_SHA512] = {"sha512", 128},
};

const char *cove_digest_algo_name(enum cove_digest_algo algo)
{
	return (size_t)algo < ARRAY_SIZE(algos) ? algos[algo].name : "unknown";
}

size_t cove_digest_hex_len(enum cove_digest_algo algo)
{
	return (size_t)algo < ARRAY_SIZE(algos) ? algos[algo].hex_len : 0;
}

static const EVP_MD *algo_md(enum cove_digest_algo algo)
{
	switch (algo) {
	case COVE_DIGEST_SHA256:
		return EVP_sha256();
	case COVE_DIGEST_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

int cove_digest_validate(const char *digest, enum cove_digest_algo *ret_algo,
			 struct cove_error *err)
{
	const char *colon, *hex;
	size_t i, n;

	if (!digest || !*digest)
		return cove_error_set(err, EINVAL, "invalid digest '': empty");
	colon = strchr(digest, ':');
	if (!colon)
		return cove_error_set(
		    err, EINVAL,
		    "invalid digest '%.200s': expected algorithm:hex", digest);
	for (i = 0; i < ARRAY_SIZE(algos); i++)
		if ((size_t)(colon - digest) == strlen(algos[i].name) &&
		    !strncmp(digest, algos[i].name, strlen(algos[i].name)))
			break;
	if (i == ARRAY_SIZE(algos))
		return cove_error_set(
		    err, EINVAL,
		    "invalid digest '%.200s': unsupported algorithm '%.*s' "
		    "(sha256 or sha512)",
		    digest, (int)(colon - digest > 32 ? 32 : colon - digest),
		    digest);
	hex = colon + 1;
	n = strlen(hex);
	if (n != algos[i].hex_len)
		return cove_error_set(err, EINVAL,
				      "invalid digest '%.200s': %s needs %zu "
				      "hex characters, got %zu",
				      digest, algos[i].name, algos[i].hex_len,
				      n);
	for (size_t k = 0; k < n; k++)
		if (!((hex[k] >= '0' && hex[k] <= '9') ||
		      (hex[k] >= 'a' && hex[k] <= 'f')))
			return cove_error_set(
			    err, EINVAL,
			    "invalid digest '%.200s': expected lowercase hex",
			    digest);
	if (ret_algo)
		*ret_algo = (enum cove_digest_algo)i;
	return 0;
}

int cove_hasher_new(enum cove_digest_algo algo, struct cove_hasher **ret)
{
	const EVP_MD *md = algo_md(algo);
	struct cove_hasher *h;

	if (!md)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->algo = algo;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
		cove_hasher_free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

int cove_hasher_update(struct cove_hasher *h, const void *buf, size_t len)
{
	if (h->done)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (EVP_DigestUpdate(h->ctx, buf, len) != 1)
		return -EIO;
	return 0;
}

int cove_hasher_final(struct cove_hasher *h, char *out)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t off;

	if (h->done)
		return -EINVAL;
	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1)
		return -EIO;
	h->done = true;
	off =
	    (size_t)snprintf(out, COVE_DIGEST_MAX, "%s:", algos[h->algo].name);
	for (unsigned int i = 0; i < n && off + 2 < COVE_DIGEST_MAX; i++) {
		out[off++] = hexd[md[i] >> 4];
		out[off++] = hexd[md[i] & 0xf];
	}
	out[off] = '\0';
	return 0;
}

void cove_hasher_free(struct cove_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int cove_digest_buffer(enum cove_digest_algo algo, const void *buf, size_t len,
		       char *out)
{
	struct cove_hasher *h = NULL;
	int r;

	r = cove_hasher_new(algo, &h);
	if (r < 0)
		return r;
	r = cove_hasher_update(h, buf, len);
	if (r >= 0)
		r = cove_hasher_final(h, out);
	cove_hasher_free(h);
	return r;
}
