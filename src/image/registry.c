/*
 * The distribution-spec operations (manifests, blobs, uploads, tags) on
 * top of registry-http.c.
 */
#include "image/registry-internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util/cleanup.h"
#include "util/json.h"
#include "util/strutil.h"

#define TAGS_BODY_MAX (8 * 1024 * 1024)
#define TAGS_MAX 100000
#define TAG_PAGES_MAX 1000

static const char *const default_accept[] = {
    COVE_MEDIA_OCI_INDEX, COVE_MEDIA_OCI_MANIFEST, COVE_MEDIA_DOCKER_LIST,
    COVE_MEDIA_DOCKER_MANIFEST, NULL};

/* ---- names --------------------------------------------------------------- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool cove_registry_repository_valid(const char *repository)
{
	const char *p = repository;

	if (!p || !*p || strlen(p) > 255)
		return false;
	for (;;) {
		/* component: alnum+ (separator alnum+)* */
		if (!is_lower_alnum(*p))
			return false;
		while (is_lower_alnum(*p))
			p++;
		if (*p == '\0')
			return true;
		if (*p == '/') {
			p++;
			continue;
		}
		if (*p == '.') {
			p++;
		} else if (*p == '_') {
			p++;
			if (*p == '_')
				p++;
		} else if (*p == '-') {
			while (*p == '-')
				p++;
		} else {
			return false;
		}
		if (!is_lower_alnum(*p))
			return false;
	}
}

bool cove_registry_tag_valid(const char *tag)
{
	size_t n;

	if (!tag)
		return false;
	n = strlen(tag);
	if (n == 0 || n > 128)
		return false;
	if (!(isalnum((unsigned char)tag[0]) || tag[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)tag[i]) || tag[i] == '_' ||
		      tag[i] == '.' || tag[i] == '-'))
			return false;
	return true;
}

static int check_repository(const char *repository, struct cove_error *err)
{
	if (!cove_registry_repository_valid(repository))
		return cove_error_set(err, EINVAL,
				      "invalid repository name '%.256s'",
				      repository ? repository : "");
	return 0;
}

/* A tag or a digest. */
static int check_reference(const char *reference, bool *ret_is_digest,
			   struct cove_error *err)
{
	if (reference && strchr(reference, ':')) {
		*ret_is_digest = true;
		return cove_digest_validate(reference, NULL, err);
	}
	*ret_is_digest = false;
	if (!cove_registry_tag_valid(reference))
		return cove_error_set(err, EINVAL, "invalid tag '%.256s'",
				      reference ? reference : "");
	return 0;
}

/* ---- manifests ----------------------------------------------------------- */

void cove_registry_manifest_release(struct cove_registry_manifest *m)
{
	if (!m)
		return;
	free(m->data);
	free(m->media_type);
	memset(m, 0, sizeof(*m));
}

static char *pull_scope(const char *repository)
{
	return cove_strdup_printf("repository:%s:pull", repository);
}

static char *push_scope(const char *repository)
{
	return cove_strdup_printf("repository:%s:pull,push", repository);
}

static char *subject_of(struct cove_registry_client *c, const char *repo,
			const char *reference)
{
	return cove_strdup_printf("%s/%s%s%s", c->registry, repo,
				  strchr(reference, ':') ? "@" : ":",
				  reference);
}

/* A Docker-Content-Digest header, if valid. */
static void docker_digest(struct cove_registry_client *c, char *out)
{
	_cleanup_free_ char *v =
	    cove_registry_header(c->curl, "Docker-Content-Digest");

	out[0] = '\0';
	if (v && strlen(v) < COVE_DIGEST_MAX &&
	    cove_digest_validate(v, NULL, NULL) == 0)
		memcpy(out, v, strlen(v) + 1);
}

static int verify_content(const char *what, const void *data, size_t len,
			  const char *want, char *ret_digest,
			  struct cove_error *err)
{
	enum cove_digest_algo algo = COVE_DIGEST_SHA256;
	char got[COVE_DIGEST_MAX];
	int r;

	if (want && want[0] && cove_digest_validate(want, &algo, err) < 0)
		return cove_error_wrap(err, "%s", what);
	r = cove_digest_buffer(algo, data, len, got);
	if (r < 0)
		return cove_error_setx(err, r, "%s: cannot compute digest",
				       what);
	if (want && want[0] && strcmp(want, got) != 0)
		return cove_error_set(err, EBADMSG,
				      "%s: digest mismatch: expected %s, the "
				      "content hashes to %s",
				      what, want, got);
	memcpy(ret_digest, got, strlen(got) + 1);
	return 0;
}

static char *accept_header(const char *const *accept)
{
	_cleanup_free_ char *out = strdup("Accept: ");

	for (const char *const *a = accept; out && *a; a++) {
		char *n = cove_strdup_printf("%s%s%s", out,
					     a == accept ? "" : ", ", *a);
		free(out);
		out = n;
	}
	return TAKE_PTR(out);
}

/* What a GET or HEAD of /v2/<repository>/manifests/<reference> needs. */
struct manifest_req {
	char *url, *scope, *subject, *accept;
	const char *headers[2];
	bool by_digest;
};

static void manifest_req_release(struct manifest_req *q)
{
	free(q->url);
	free(q->scope);
	free(q->subject);
	free(q->accept);
}

/* Check the names, ping, and fill @x (borrowing from @q) for @method. */
static int manifest_req_init(struct cove_registry_client *c,
			     const char *repository, const char *reference,
			     const char *const *accept, const char *method,
			     struct manifest_req *q, struct cove_xfer *x,
			     struct cove_error *err)
{
	int r;

	if ((r = check_repository(repository, err)) < 0 ||
	    (r = check_reference(reference, &q->by_digest, err)) < 0)
		return r;
	r = cove_registry_ensure_ping(c, err);
	if (r < 0)
		return r;
	q->url = cove_strdup_printf("%s/v2/%s/manifests/%s", c->base,
				    repository, reference);
	q->scope = pull_scope(repository);
	q->subject = subject_of(c, repository, reference);
	q->accept = accept_header(accept);
	if (!q->url || !q->scope || !q->subject || !q->accept)
		return -ENOMEM;
	q->headers[0] = q->accept;
	x->method = method;
	x->url = q->url;
	x->scope = q->scope;
	x->extra = q->headers;
	x->retry = true;
	return 0;
}

int cove_registry_get_manifest(struct cove_registry_client *c,
			       const char *repository, const char *reference,
			       const char *const *accept, size_t max,
			       struct cove_registry_manifest *ret,
			       struct cove_error *err)
{
	_cleanup_(manifest_req_release) struct manifest_req q = {0};
	_cleanup_free_ char *ctype = NULL;
	struct cove_registry_manifest m = {0};
	char header_digest[COVE_DIGEST_MAX];
	struct cove_xfer x = {0};
	int r;

	r = manifest_req_init(c, repository, reference,
			      accept ? accept : default_accept, "GET", &q, &x,
			      err);
	if (r < 0)
		return r;
	x.max_body = max ? max : COVE_REGISTRY_MANIFEST_MAX;
	r = cove_registry_request(c, &x, err);
	if (r == -EFBIG)
		r = cove_error_set(err, EFBIG,
				   "manifest %s: larger than %zu bytes",
				   q.subject, x.max_body);
	if (r >= 0 && x.status != 200)
		r = cove_registry_http_fail(c, &x, q.subject, err);
	if (r < 0) {
		cove_registry_xfer_release(&x);
		return r;
	}
	docker_digest(c, header_digest);
	ctype = cove_registry_header(c->curl, "Content-Type");
	/*
	 * Digest pinning: by digest, the bytes must hash to it, whatever
	 * the registry says; by tag, they must agree with its header.
	 */
	r = verify_content(q.subject, x.body ? x.body : "", x.len,
			   q.by_digest ? reference : header_digest, m.digest,
			   err);
	if (r < 0) {
		cove_registry_xfer_release(&x);
		return r;
	}
	if (!x.body) {
		x.body = calloc(1, 1);
		if (!x.body)
			return -ENOMEM;
	}
	m.data = TAKE_PTR(x.body);
	m.len = x.len;
	m.media_type = cove_content_type_media_type(ctype);
	*ret = m;
	return 0;
}

int cove_registry_head_manifest(struct cove_registry_client *c,
				const char *repository, const char *reference,
				char *ret_digest, char **ret_media_type,
				int64_t *ret_size, struct cove_error *err)
{
	_cleanup_(manifest_req_release) struct manifest_req q = {0};
	struct cove_xfer x = {0};
	curl_off_t cl = -1;
	int r;

	r = manifest_req_init(c, repository, reference, default_accept, "HEAD",
			      &q, &x, err);
	if (r < 0)
		return r;
	r = cove_registry_request(c, &x, err);
	if (r >= 0 && x.status == 404) {
		cove_registry_xfer_release(&x);
		return 0;
	}
	if (r >= 0 && x.status != 200)
		r = cove_registry_http_fail(c, &x, q.subject, err);
	cove_registry_xfer_release(&x);
	if (r < 0)
		return r;
	if (ret_digest)
		docker_digest(c, ret_digest);
	if (ret_media_type) {
		_cleanup_free_ char *ct =
		    cove_registry_header(c->curl, "Content-Type");
		*ret_media_type = cove_content_type_media_type(ct);
	}
	if (ret_size) {
		curl_easy_getinfo(c->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
				  &cl);
		*ret_size = cl;
	}
	return 1;
}

static bool media_type_ok(const char *t)
{
	if (!t || !*t || strlen(t) > 255 || !strchr(t, '/'))
		return false;
	for (; *t; t++)
		if (!(isalnum((unsigned char)*t) || strchr("+-./_", *t)))
			return false;
	return true;
}

int cove_registry_put_manifest(struct cove_registry_client *c,
			       const char *repository, const char *reference,
			       const char *media_type, const void *data,
			       size_t len, char *ret_digest,
			       struct cove_error *err)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *subject = NULL,
			    *ct = NULL;
	const char *headers[2] = {NULL, NULL};
	char digest[COVE_DIGEST_MAX], answered[COVE_DIGEST_MAX];
	struct cove_upload up = {.buf = data, .fd = -1, .len = (int64_t)len};
	struct cove_xfer x = {0};
	bool by_digest;
	int r;

	if ((r = check_repository(repository, err)) < 0 ||
	    (r = check_reference(reference, &by_digest, err)) < 0)
		return r;
	if (!media_type_ok(media_type))
		return cove_error_set(err, EINVAL,
				      "invalid manifest media type '%.256s'",
				      media_type ? media_type : "");
	subject = subject_of(c, repository, reference);
	if (!subject)
		return -ENOMEM;
	r = verify_content(subject, data, len, by_digest ? reference : NULL,
			   digest, err);
	if (r < 0)
		return r;
	r = cove_registry_ensure_ping(c, err);
	if (r < 0)
		return r;
	url = cove_strdup_printf("%s/v2/%s/manifests/%s", c->base, repository,
				 reference);
	scope = push_scope(repository);
	ct = cove_strdup_printf("Content-Type: %s", media_type);
	if (!url || !scope || !ct)
		return -ENOMEM;
	headers[0] = ct;
	x.method = "PUT";
	x.url = url;
	x.scope = scope;
	x.extra = headers;
	x.up = &up;
	/* PUT of the same manifest is idempotent. */
	x.retry = true;
	r = cove_registry_request(c, &x, err);
	if (r >= 0 && x.status != 201 && x.status != 200)
		r = cove_registry_http_fail(c, &x, subject, err);
	cove_registry_xfer_release(&x);
	if (r < 0)
		return r;
	docker_digest(c, answered);
	if (answered[0] &&
	    strncmp(answered, digest, strcspn(digest, ":") + 1) == 0 &&
	    strcmp(answered, digest) != 0)
		return cove_error_set(err, EBADMSG,
				      "manifest %s: registry stored digest %s, "
				      "expected %s",
				      subject, answered, digest);
	if (ret_digest)
		memcpy(ret_digest, digest, strlen(digest) + 1);
	return 0;
}

/* ---- blobs --------------------------------------------------------------- */

static int blob_head(struct cove_registry_client *c, const char *repository,
		     const char *digest, const char *scope, int64_t *ret_size,
		     struct cove_error *err)
{
	_cleanup_free_ char *url = NULL, *subject = NULL;
	struct cove_xfer x = {0};
	curl_off_t cl = -1;
	int r;

	url = cove_strdup_printf("%s/v2/%s/blobs/%s", c->base, repository,
				 digest);
	subject =
	    cove_strdup_printf("%s/%s@%s", c->registry, repository, digest);
	if (!url || !subject)
		return -ENOMEM;
	x.method = "HEAD";
	x.url = url;
	x.scope = scope;
	x.retry = true;
	r = cove_registry_request(c, &x, err);
	if (r >= 0 && x.status == 404) {
		cove_registry_xfer_release(&x);
		return 0;
	}
	if (r >= 0 && x.status != 200)
		r = cove_registry_http_fail(c, &x, subject, err);
	cove_registry_xfer_release(&x);
	if (r < 0)
		return r;
	if (ret_size) {
		curl_easy_getinfo(c->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
				  &cl);
		*ret_size = cl;
	}
	return 1;
}

int cove_registry_blob_exists(struct cove_registry_client *c,
			      const char *repository, const char *digest,
			      int64_t *ret_size, struct cove_error *err)
{
	_cleanup_free_ char *scope = NULL;
	int r;

	if ((r = check_repository(repository, err)) < 0 ||
	    (r = cove_digest_validate(digest, NULL, err)) < 0)
		return r;
	r = cove_registry_ensure_ping(c, err);
	if (r < 0)
		return r;
	scope = pull_scope(repository);
	if (!scope)
		return -ENOMEM;
	return blob_head(c, repository, digest, scope, ret_size, err);
}

int cove_registry_fetch_blob(struct cove_registry_client *c,
			     const char *repository, const char *digest,
			     int64_t size, struct cove_ingest *in,
			     struct cove_error *err)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *subject = NULL;
	struct cove_download down = {.in = in, .limit = size, .digest = digest};
	int failures = 0, total = 0;
	int r;

	if ((r = check_repository(repository, err)) < 0 ||
	    (r = cove_digest_validate(digest, NULL, err)) < 0)
		return r;
	r = cove_registry_ensure_ping(c, err);
	if (r < 0)
		return r;
	url = cove_strdup_printf("%s/v2/%s/blobs/%s", c->base, repository,
				 digest);
	scope = pull_scope(repository);
	subject = cove_strdup_printf("blob %s/%s@%s", c->registry, repository,
				     digest);
	if (!url || !scope || !subject)
		return -ENOMEM;
	down.reported = cove_ingest_offset(in);
	for (;;) {
		int64_t before = cove_ingest_offset(in);
		struct cove_xfer x = {0};
		bool transient;

		if (size >= 0 && before == size && (size > 0 || total > 0))
			break;
		x.method = "GET";
		x.url = url;
		x.scope = scope;
		x.down = &down;
		/* Resumption with Range is this loop's job. */
		x.retry = false;
		r = cove_registry_request(c, &x, err);
		total++;
		if (r >= 0 && (x.status == 200 || x.status == 206)) {
			/* Complete unless the connection ended early. */
			if (size < 0 || cove_ingest_offset(in) == size) {
				cove_registry_xfer_release(&x);
				break;
			}
			r = cove_error_set(err, EPIPE,
					   "%s: transfer ended after %" PRId64
					   " of %" PRId64 " bytes",
					   subject, cove_ingest_offset(in),
					   size);
			transient = true;
		} else if (r >= 0 && x.status == 416 && before > 0 &&
			   size < 0) {
			/* Nothing after @before: the commit will verify. */
			cove_registry_xfer_release(&x);
			break;
		} else if (r >= 0) {
			transient = x.status == 429 || x.status >= 500;
			r = cove_registry_http_fail(c, &x, subject, err);
		} else {
			transient =
			    !x.sink_failed && cove_registry_transient(x.cc);
		}
		cove_registry_xfer_release(&x);
		if (cove_ingest_offset(in) > before)
			failures = 0;
		if (!transient || failures >= c->max_retries ||
		    total > 10 * (c->max_retries + 1))
			return r;
		cove_registry_backoff(c, failures, -1);
		failures++;
	}
	cove_registry_report(c, digest, cove_ingest_offset(in), size,
			     &down.reported, true);
	return 0;
}

int cove_registry_pull_blob(struct cove_registry_client *c,
			    struct cove_store *store, const char *repository,
			    const char *digest, int64_t size,
			    struct cove_error *err)
{
	struct cove_ingest *in = NULL;
	int64_t reported = 0;
	int r;

	if ((r = cove_digest_validate(digest, NULL, err)) < 0)
		return r;
	if (cove_store_has(store, digest)) {
		cove_registry_report(c, digest, size, size, &reported, true);
		return 0;
	}
	r = cove_ingest_begin(store, digest, size, &in, err);
	if (r < 0)
		return r;
	r = cove_registry_fetch_blob(c, repository, digest, size, in, err);
	if (r < 0) {
		cove_ingest_abort(in);
		return r;
	}
	r = cove_ingest_commit(in, NULL, err);
	return r < 0 ? r : 1;
}

/* Resolve an upload Location against the base URL, optionally adding a
 * query parameter; refuses other schemes and HTTPS-to-HTTP. */
static int resolve_url(struct cove_registry_client *c, const char *location,
		       const char *query, char **ret, struct cove_error *err)
{
	CURLU *u = curl_url();
	char *out = NULL, *scheme = NULL;
	int r = 0;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, c->base, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		r = cove_error_set(err, EPROTO,
				   "registry %s: invalid upload location "
				   "'%.200s'",
				   c->registry, location);
		goto out;
	}
	if (strcmp(scheme, "https") != 0 &&
	    !(c->insecure && strcmp(scheme, "http") == 0)) {
		r = cove_error_set(err, EPROTO,
				   "registry %s: refusing upload location "
				   "'%.200s': not HTTPS",
				   c->registry, location);
		goto out;
	}
	if (query &&
	    curl_url_set(u, CURLUPART_QUERY, query,
			 CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK) {
		r = -ENOMEM;
		goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
		r = -ENOMEM;
		goto out;
	}
	*ret = strdup(out);
	if (!*ret)
		r = -ENOMEM;
out:
	curl_free(out);
	curl_free(scheme);
	curl_url_cleanup(u);
	return r;
}

static int take_location(struct cove_registry_client *c, char **location,
			 struct cove_error *err)
{
	_cleanup_free_ char *v = cove_registry_header(c->curl, "Location");
	char *abs = NULL;
	int r;

	if (!v || !*v)
		return cove_error_set(err, EPROTO,
				      "registry %s: upload response without a "
				      "Location",
				      c->registry);
	r = resolve_url(c, v, NULL, &abs, err);
	if (r < 0)
		return r;
	free(*location);
	*location = abs;
	return 0;
}

/* Last byte the registry says it has: "Range: 0-N" (N inclusive). */
static int64_t upload_range_end(struct cove_registry_client *c)
{
	_cleanup_free_ char *v = cove_registry_header(c->curl, "Range");
	const char *dash;
	uint64_t end;

	if (!v)
		return -2;
	dash = strchr(v, '-');
	if (!dash || cove_parse_uint64(dash + 1, &end) < 0 || end > INT64_MAX)
		return -2;
	return (int64_t)end;
}

/* One upload session, from POST to the final PUT.  0 uploaded, 1 mounted. */
static int upload_blob(struct cove_registry_client *c, const char *repository,
		       const char *digest, int64_t size, int fd,
		       const char *mount_from, const char *scope,
		       const char *subject, struct cove_error *err)
{
	_cleanup_free_ char *url = NULL, *location = NULL, *final = NULL,
			    *query = NULL;
	static const char *const octet[] = {
	    "Content-Type: application/octet-stream", NULL};
	struct cove_xfer x = {0};
	int64_t reported = 0;
	bool chunked = c->chunk_size > 0 && size > c->chunk_size;
	int r;

	if (mount_from) {
		char *e = curl_easy_escape(NULL, digest, 0);
		char *f = curl_easy_escape(NULL, mount_from, 0);
		url = e && f ? cove_strdup_printf(
				   "%s/v2/%s/blobs/uploads/?mount=%s&from=%s",
				   c->base, repository, e, f)
			     : NULL;
		curl_free(e);
		curl_free(f);
	} else {
		url = cove_strdup_printf("%s/v2/%s/blobs/uploads/", c->base,
					 repository);
	}
	if (!url)
		return -ENOMEM;
	x.method = "POST";
	x.url = url;
	x.scope = scope;
	r = cove_registry_request(c, &x, err);
	if (r >= 0 && mount_from && x.status == 201) {
		cove_registry_xfer_release(&x);
		cove_registry_report(c, digest, size, size, &reported, true);
		return 1;
	}
	if (r >= 0 && x.status != 202)
		r = cove_registry_http_fail(c, &x, subject, err);
	cove_registry_xfer_release(&x);
	if (r < 0)
		return r;
	r = take_location(c, &location, err);
	if (r < 0)
		return r;

	if (chunked) {
		for (int64_t off = 0; off < size; off += c->chunk_size) {
			int64_t n = size - off < c->chunk_size ? size - off
							       : c->chunk_size;
			struct cove_upload up = {.fd = fd,
						 .off = off,
						 .len = n,
						 .digest = digest,
						 .base = off,
						 .total = size,
						 .reported = off};
			char range[80];
			const char *hdrs[3] = {octet[0], range, NULL};
			int64_t end;

			snprintf(range, sizeof(range),
				 "Content-Range: %" PRId64 "-%" PRId64, off,
				 off + n - 1);
			memset(&x, 0, sizeof(x));
			x.method = "PATCH";
			x.url = location;
			x.scope = scope;
			x.extra = hdrs;
			x.up = &up;
			r = cove_registry_request(c, &x, err);
			if (r >= 0 && x.status != 202)
				r = cove_registry_http_fail(c, &x, subject,
							    err);
			cove_registry_xfer_release(&x);
			if (r < 0)
				return r;
			end = upload_range_end(c);
			if (end != -2 && end != off + n - 1)
				return cove_error_set(
				    err, EPROTO,
				    "%s: registry acknowledged bytes up to "
				    "%" PRId64 " of an upload at %" PRId64,
				    subject, end, off + n - 1);
			r = take_location(c, &location, err);
			if (r < 0)
				return r;
		}
	}

	query = cove_strdup_printf("digest=%s", digest);
	if (!query)
		return -ENOMEM;
	r = resolve_url(c, location, query, &final, err);
	if (r < 0)
		return r;
	{
		struct cove_upload up = {.fd = fd,
					 .len = chunked ? 0 : size,
					 .digest = digest,
					 .base = chunked ? size : 0,
					 .total = size};
		memset(&x, 0, sizeof(x));
		x.method = "PUT";
		x.url = final;
		x.scope = scope;
		x.extra = octet;
		x.up = &up;
		r = cove_registry_request(c, &x, err);
		if (r >= 0 && x.status != 201)
			r = cove_registry_http_fail(c, &x, subject, err);
		cove_registry_xfer_release(&x);
		if (r < 0)
			return r;
	}
	cove_registry_report(c, digest, size, size, &reported, true);
	return 0;
}

int cove_registry_push_blob(struct cove_registry_client *c,
			    const char *repository, const char *digest,
			    int64_t size, int fd, const char *mount_from,
			    struct cove_error *err)
{
	_cleanup_free_ char *scope = NULL, *subject = NULL;
	int64_t reported = 0;
	int r;

	if ((r = check_repository(repository, err)) < 0 ||
	    (r = cove_digest_validate(digest, NULL, err)) < 0)
		return r;
	if (size < 0)
		return cove_error_set(err, EINVAL, "blob %s: unknown size",
				      digest);
	if (mount_from && strcmp(mount_from, repository) == 0)
		mount_from = NULL;
	if (mount_from && (r = check_repository(mount_from, err)) < 0)
		return r;
	r = cove_registry_ensure_ping(c, err);
	if (r < 0)
		return r;
	scope = mount_from ? cove_strdup_printf("repository:%s:pull,push "
						"repository:%s:pull",
						repository, mount_from)
			   : push_scope(repository);
	subject = cove_strdup_printf("blob %s/%s@%s", c->registry, repository,
				     digest);
	if (!scope || !subject)
		return -ENOMEM;
	r = blob_head(c, repository, digest, scope, NULL, err);
	if (r < 0)
		return r;
	if (r == 1) {
		cove_registry_report(c, digest, size, size, &reported, true);
		return 1;
	}
	/* A broken upload session is not resumable: start a new one. */
	for (int attempt = 0;; attempt++) {
		struct cove_error e = {0};

		r = upload_blob(c, repository, digest, size, fd, mount_from,
				scope, subject, &e);
		if (r >= 0 || attempt >= c->max_retries ||
		    !(e.code == EIO || e.code == ECONNREFUSED ||
		      e.code == ETIMEDOUT || e.code == EAGAIN)) {
			if (r < 0 && err)
				*err = e;
			return r;
		}
		cove_registry_backoff(c, attempt, -1);
	}
}

/* ---- tags ---------------------------------------------------------------- */

static int parse_tags(struct cove_registry_client *c, const char *body,
		      size_t len, char ***tags, size_t *n,
		      struct cove_error *err)
{
	_cleanup_json_ json_t *root = NULL;
	json_t *arr = NULL, *v;
	size_t i;
	int r;

	r = cove_json_load_buffer("tag list", body ? body : "", len, &root,
				  err);
	if (r < 0)
		return cove_error_wrap(err, "registry %s", c->registry);
	if (!json_is_object(root))
		return cove_error_set(err, EPROTO,
				      "registry %s: tag list is not a JSON "
				      "object",
				      c->registry);
	/* "tags": null is what docker-registry says for none. */
	v = json_object_get(root, "tags");
	if (!v || json_is_null(v))
		return 0;
	r = cove_json_array(root, "", "tags", &arr, err);
	if (r < 0)
		return cove_error_wrap(err, "registry %s: tag list",
				       c->registry);
	json_array_foreach(arr, i, v)
	{
		const char *t = json_string_value(v);

		if (!t || !cove_registry_tag_valid(t))
			return cove_error_set(
			    err, EPROTO,
			    "registry %s: invalid 'tags[%zu]' "
			    "in tag list",
			    c->registry, i);
		if (*n >= TAGS_MAX)
			return cove_error_set(err, EFBIG,
					      "registry %s: more than %d tags",
					      c->registry, TAGS_MAX);
		if ((r = cove_strv_push(tags, t)) < 0)
			return r;
		(*n)++;
	}
	return 0;
}

int cove_registry_list_tags(struct cove_registry_client *c,
			    const char *repository, char ***ret_tags,
			    struct cove_error *err)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *subject = NULL;
	_cleanup_strv_ char **tags = NULL;
	size_t n = 0;
	int r;

	if ((r = check_repository(repository, err)) < 0)
		return r;
	r = cove_registry_ensure_ping(c, err);
	if (r < 0)
		return r;
	url =
	    c->tag_page_size
		? cove_strdup_printf("%s/v2/%s/tags/list?n=%d", c->base,
				     repository, c->tag_page_size)
		: cove_strdup_printf("%s/v2/%s/tags/list", c->base, repository);
	scope = pull_scope(repository);
	subject = cove_strdup_printf("%s/%s", c->registry, repository);
	if (!url || !scope || !subject)
		return -ENOMEM;
	for (int page = 0;; page++) {
		_cleanup_free_ char *link = NULL, *next = NULL;
		struct cove_xfer x = {0};

		if (page >= TAG_PAGES_MAX)
			return cove_error_set(err, EFBIG,
					      "registry %s: more than %d pages "
					      "of tags",
					      c->registry, TAG_PAGES_MAX);
		x.method = "GET";
		x.url = url;
		x.scope = scope;
		x.retry = true;
		x.max_body = TAGS_BODY_MAX;
		r = cove_registry_request(c, &x, err);
		if (r >= 0 && x.status != 200)
			r = cove_registry_http_fail(c, &x, subject, err);
		if (r >= 0)
			r = parse_tags(c, x.body, x.len, &tags, &n, err);
		cove_registry_xfer_release(&x);
		if (r < 0)
			return r;
		link = cove_registry_header(c->curl, "Link");
		if (!link)
			break;
		r = cove_link_next(link, &next);
		if (r < 0)
			return cove_error_set(err, EPROTO,
					      "registry %s: malformed Link "
					      "header",
					      c->registry);
		if (r == 0)
			break;
		free(url);
		url = NULL;
		r = resolve_url(c, next, NULL, &url, err);
		if (r < 0)
			return r;
		/* The next page must come from the registry itself. */
		if (!cove_registry_same_origin(c->base, url))
			return cove_error_set(err, EPROTO,
					      "registry %s: tag list continues "
					      "on another host",
					      c->registry);
	}
	if (!tags) {
		tags = calloc(1, sizeof(char *));
		if (!tags)
			return -ENOMEM;
	}
	*ret_tags = TAKE_PTR(tags);
	return 0;
}
