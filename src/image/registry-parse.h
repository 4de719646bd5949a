#pragma once
/*
 * The pure parts of the registry protocol, kept apart from the HTTP client
 * so that they can be unit-tested and fuzzed: WWW-Authenticate challenges
 * (RFC 7235), Link headers (RFC 8288, for tag-list pagination),
 * Retry-After, Content-Type, and the distribution-spec JSON error body
 * turned into a cove_error.  Every input here comes from the network.
 */
#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* Header values longer than this are refused rather than parsed. */
#define COVE_HTTP_HEADER_MAX 8192

enum cove_auth_scheme {
	COVE_AUTH_SCHEME_NONE,
	COVE_AUTH_SCHEME_BASIC,
	COVE_AUTH_SCHEME_BEARER,
};

struct cove_auth_challenge {
	enum cove_auth_scheme scheme;
	char *realm;   /* Bearer: the token endpoint URL; Basic: a label */
	char *service; /* Bearer, may be NULL */
	char *scope;   /* Bearer, may be NULL */
	char *error;   /* Bearer error="insufficient_scope", may be NULL */
};

/*
 * Parse one WWW-Authenticate header value (which may carry several
 * challenges).  Bearer wins over Basic; other schemes are ignored.
 * Returns 0 with a filled @ret (release with
 * cove_auth_challenge_release), -EINVAL when no usable challenge is found
 * or the value is malformed (err says why).
 */
int cove_auth_challenge_parse(const char *header,
			      struct cove_auth_challenge *ret,
			      struct cove_error *err);
void cove_auth_challenge_release(struct cove_auth_challenge *c);

/*
 * The target of the rel="next" link of a Link header value, unresolved
 * (often "/v2/NAME/tags/list?last=X&n=Y").  Returns 1 and *ret_url
 * (caller frees) when present, 0 when not, -EINVAL when malformed.
 */
int cove_link_next(const char *header, char **ret_url);

/*
 * Retry-After as seconds from now: delta-seconds or an HTTP-date.
 * Returns >= 0 seconds, or -EINVAL.
 */
long cove_retry_after_parse(const char *value);

/*
 * The media type of a Content-Type value, without parameters and
 * surrounding blanks, lowercased ("application/json; charset=utf-8" ->
 * "application/json").  NULL for an empty or invalid value; caller frees.
 */
char *cove_content_type_media_type(const char *value);

/* What failed, for cove_registry_http_error(). */
struct cove_http_failure {
	long status;	      /* HTTP status */
	const char *body;     /* response body (may be NULL / not JSON) */
	size_t body_len;      /* bytes of @body */
	const char *registry; /* "localhost:5000" */
	const char *subject;  /* "localhost:5000/repo:tag", "blob sha256:..." */
	long retry_after;     /* seconds from Retry-After, -1 if none */
	const char *user; /* the user whose credentials were sent, or NULL */
};

/*
 * Fill @err from a failed registry response and return its -errno:
 *   401 -EACCES  "authentication required for REG: run `cove login REG`"
 *   403 -EPERM   "access denied to SUBJECT: ..."
 *   404 -ENOENT  "manifest unknown: SUBJECT" (from the error code)
 *   429 -EAGAIN  "too many requests to REG: retry after N seconds"
 *   5xx -EIO     "registry REG failed with HTTP 503 for SUBJECT: ..."
 * The registry's own message (from {"errors":[{"code","message"}]}) is
 * appended with control characters replaced and its length capped.
 */
int cove_registry_http_error(const struct cove_http_failure *f,
			     struct cove_error *err);
