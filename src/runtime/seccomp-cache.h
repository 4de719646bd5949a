#pragma once
/*
 * On-disk cache of compiled seccomp programs, internal to the runtime (the
 * public entry is cove_seccomp_compile_cached() in seccomp.h).
 *
 * libseccomp needs ~10 ms to turn a Docker-sized allowlist into BPF; the
 * result depends only on the profile and on the software and kernel doing
 * the compiling, so it is kept in a file named by a 64-bit hash of that
 * key material.  The file holds the full key next to the program and a load
 * compares it byte for byte: a hash collision can only miss.
 *
 * File layout (native byte order; the key names the architecture):
 *   struct cache_header (magic "COVESCMP", format version, key length,
 *   program length in instructions, FNV-1a 64 of key and program bytes),
 *   the key bytes, the program (struct sock_filter[]).
 */
#include <jansson.h>
#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* FNV-1a 64 of @len bytes at @data, continuing from @hash. */
#define COVE_FNV64_INIT UINT64_C(0xcbf29ce484222325)
uint64_t cove_fnv1a64(uint64_t hash, const void *data, size_t len);

struct cove_seccomp_cache {
	int dirfd;	/* -1: no usable cache */
	char *key;	/* key material, NUL-terminated */
	size_t key_len; /* without the NUL */
	uint64_t hash;	/* cove_fnv1a64() of the key */
	char name[32];	/* "<hash>.bpf" */
};

/*
 * Prepare @c for the profile @seccomp with the cache directory @dir
 * (created 0700 if missing; its parent must exist).  On failure (an
 * untrusted directory, no build id to key on, ...) @c is left unusable
 * (dirfd -1) and the reason returned as -errno: a cache problem never fails
 * a compile.  @c is released with cove_seccomp_cache_release() either way.
 */
int cove_seccomp_cache_open(struct cove_seccomp_cache *c, const char *dir,
			    json_t *seccomp);

/*
 * Look the program up.  0 and *ret_prog (owned by the caller), *ret_len
 * (instructions) on a hit; -ENOENT when there is no file, -EBADMSG for a
 * short, corrupt or foreign file, -ESTALE when it holds another key, -EPERM
 * when the file is not one this process trusts.
 */
int cove_seccomp_cache_load(const struct cove_seccomp_cache *c,
			    struct sock_filter **ret_prog, size_t *ret_len);

/* Write (or replace) the file for @c's key: temp file + rename, 0600. */
int cove_seccomp_cache_store(const struct cove_seccomp_cache *c,
			     const struct sock_filter *prog, size_t len);

void cove_seccomp_cache_release(struct cove_seccomp_cache *c);

/*
 * Check a cache file image (@buf, @size bytes) against @key and copy its
 * program out; returns as cove_seccomp_cache_load().  Exposed for the fuzz
 * target.
 */
int cove_seccomp_cache_parse(const void *buf, size_t size, const char *key,
			     size_t key_len, struct sock_filter **ret_prog,
			     size_t *ret_len);

/*
 * Build a cache file image for @key and @prog (@len instructions);
 * *ret_buf owned by the caller.  Exposed for tests.
 */
int cove_seccomp_cache_format(const char *key, size_t key_len,
			      const struct sock_filter *prog, size_t len,
			      char **ret_buf, size_t *ret_size);
