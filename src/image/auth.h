#pragma once
/*
 * Registry credentials, stored the way podman and docker store them:
 *
 *   {"auths": {"REGISTRY": {"auth": "base64(user:password)"}}}
 *
 * Where they live (the first file that exists wins for reading):
 *   1. an explicit --authfile (then only that file is read);
 *   2. $REGISTRY_AUTH_FILE;
 *   3. $XDG_RUNTIME_DIR/containers/auth.json, or without XDG_RUNTIME_DIR
 *      /run/containers/<uid>/auth.json (podman's default);
 *   4. $XDG_CONFIG_HOME/containers/auth.json (~/.config/...);
 *   5. $DOCKER_CONFIG/config.json or ~/.docker/config.json (read only).
 * A lookup goes through every file of that list in order until one has an
 * entry for the registry.  Writes (login/logout) go to the first of 1-3.
 *
 * Keys are matched the way docker writes them too: "https://" or "http://"
 * and a trailing "/v1/" or "/v2/" are ignored, and docker.io,
 * index.docker.io and registry-1.docker.io are one registry.  A key may
 * also name a namespace ("quay.io/team"); the most specific key that
 * prefixes "registry/repository" wins.
 *
 * Credential helpers (credHelpers, credsStore) are not run: cove never
 * executes programs named by a configuration file it reads for secrets.
 */
#include <stddef.h>

#include "util/error.h"

/* Auth files are small; anything larger is refused as corrupt. */
#define COVE_AUTH_FILE_MAX (1024 * 1024)

/*
 * The file login/logout write: @authfile if set, else $REGISTRY_AUTH_FILE,
 * else the runtime-dir path above.  Caller frees; NULL on ENOMEM.
 */
char *cove_auth_default_path(const char *authfile);

/*
 * Credentials for @key ("registry" or "registry/repository").  @authfile
 * NULL means the search list above.  Returns 1 and sets *ret_user and
 * *ret_password (caller frees) when found, 0 when no file has an entry
 * (outputs untouched), -errno on a broken file (err names it).
 */
int cove_auth_get(const char *authfile, const char *key, char **ret_user,
		  char **ret_password, struct cove_error *err);

/*
 * Store credentials for @registry (normalised: scheme and /v1/ dropped)
 * in the write file, creating it (and its directory, mode 0700) when
 * needed.  Other entries and unknown members of the file are kept.  The
 * file is replaced atomically with mode 0600.
 */
int cove_auth_set(const char *authfile, const char *registry, const char *user,
		  const char *password, struct cove_error *err);

/*
 * Remove the entry for @registry from the write file.  Returns 1 when an
 * entry was removed, 0 when there was none.
 */
int cove_auth_remove(const char *authfile, const char *registry,
		     struct cove_error *err);

/*
 * "https://index.docker.io/v1/" -> "docker.io", "http://h:5000/" ->
 * "h:5000": the form keys are compared in.  Caller frees; NULL on ENOMEM.
 */
char *cove_auth_normalize_key(const char *key);

/* Standard base64 (with padding), through OpenSSL.  Caller frees. */
int cove_base64_encode(const void *buf, size_t len, char **ret);
/*
 * Decode standard base64; surrounding whitespace is ignored, anything
 * else that is not base64 fails with -EINVAL.  The result is
 * NUL-terminated (not counted in *ret_len).  Caller frees.
 */
int cove_base64_decode(const char *s, void **ret, size_t *ret_len);
