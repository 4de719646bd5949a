#pragma once
/*
 * An OCI distribution-spec client (the /v2/ API that docker-registry,
 * Docker Hub, quay.io, ghcr.io, ... serve), on libcurl.
 *
 * One client talks to one registry.  It
 *   - uses HTTPS with certificate verification, always, unless the caller
 *     marked the registry insecure (registries.conf `insecure = true`, or
 *     @insecure_localhost for localhost / 127.0.0.1 / [::1]); an insecure
 *     registry is tried over HTTPS without verification first, then plain
 *     HTTP;
 *   - trusts the system CAs plus @ca_file plus the *.crt files of
 *     /etc/containers/certs.d/REGISTRY/ and /etc/docker/certs.d/REGISTRY/;
 *   - takes proxies from the environment as curl does (https_proxy,
 *     no_proxy, ...);
 *   - authenticates anonymously, with Basic credentials, or with the
 *     Bearer token flow (token endpoint from the WWW-Authenticate
 *     challenge, fetched with the Basic credentials if any, cached per
 *     scope until it expires); a 401 is retried once with fresh
 *     authentication; credentials come from the options or auth.h;
 *   - retries transient failures (connection errors, 429, 5xx) of
 *     idempotent requests with exponential backoff, and resumes blob
 *     downloads with a Range request from where the download stopped;
 *   - never sends credentials to another host: redirects (a blob served
 *     from a CDN) and upload locations on other hosts get no
 *     Authorization header, and an HTTPS registry cannot redirect to HTTP.
 *
 * Everything that comes back is hostile: sizes are capped, digests are
 * verified, and error messages quote the registry's text only sanitized.
 * Functions return >= 0 on success and -errno on failure with @err set
 * (see registry-parse.h for the mapping of HTTP statuses).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"
#include "image/store.h"
#include "util/error.h"

/* Accept header media types for manifests, in order of preference. */
#define COVE_MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define COVE_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define COVE_MEDIA_DOCKER_LIST                                                 \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define COVE_MEDIA_DOCKER_MANIFEST                                             \
	"application/vnd.docker.distribution.manifest.v2+json"

/* Manifests larger than this are refused (the spec's recommended limit). */
#define COVE_REGISTRY_MANIFEST_MAX (4 * 1024 * 1024)

/*
 * Called while a blob moves: @done of @total bytes (@total -1 when
 * unknown).  Called at most every 64 KiB and once at the end.
 */
typedef void (*cove_registry_progress_fn)(void *userdata, const char *digest,
					  int64_t done, int64_t total);

/* Zero-initialised options are the defaults. */
struct cove_registry_options {
	bool insecure;		 /* allow unverified TLS or plain HTTP */
	bool insecure_localhost; /* same, only for loopback registries */
	const char *ca_file;	 /* extra trusted CA certificates (PEM) */
	/* Directory of per-registry CA dirs; NULL: certs.d paths above. */
	const char *certs_dir;
	const char *authfile; /* auth.h lookup when NULL */
	const char *username; /* explicit credentials, override authfile */
	const char *password;
	const char *user_agent; /* NULL: "cove/VERSION" */
	long connect_timeout;	/* seconds; 0: 30 */
	long stall_timeout;	/* seconds below 1 byte/s; 0: 60 */
	int max_retries;	/* transient failures; 0: 4; < 0: none */
	long retry_delay_ms;	/* first backoff, doubles; 0: 500 */
	/*
	 * Push: blobs larger than this go up in PATCH chunks of this size;
	 * 0: 64 MiB; < 0: always one monolithic PUT.
	 */
	int64_t chunk_size;
	/* Tag lists: ask for pages of this many tags (n=); 0: the default. */
	int tag_page_size;
	cove_registry_progress_fn progress;
	void *progress_data;
};

struct cove_registry_client;

/*
 * A client for @registry ("localhost:5000", "quay.io", "docker.io"; the
 * latter is served by registry-1.docker.io).  @opts may be NULL.  The
 * option strings are copied.  No network traffic until the first call.
 */
int cove_registry_client_new(const char *registry,
			     const struct cove_registry_options *opts,
			     struct cove_registry_client **ret,
			     struct cove_error *err);
void cove_registry_client_free(struct cove_registry_client *c);

/* The base URL in use ("https://localhost:5000"), NULL before a ping. */
const char *cove_registry_client_base_url(const struct cove_registry_client *c);

/*
 * GET /v2/: reachability, scheme (HTTPS or, if insecure, HTTP) and the
 * authentication the registry wants.  With credentials (or a Bearer
 * challenge), also authenticates, so that `cove login` can check a
 * password: -EACCES when the registry refuses it.
 */
int cove_registry_ping(struct cove_registry_client *c, struct cove_error *err);

struct cove_registry_manifest {
	char *data; /* the exact bytes (NUL-terminated, not counted) */
	size_t len;
	char *media_type; /* Content-Type without parameters; may be NULL */
	char digest[COVE_DIGEST_MAX]; /* verified digest of @data */
};
void cove_registry_manifest_release(struct cove_registry_manifest *m);

/*
 * GET a manifest by tag or digest.  @accept: NULL-terminated media types,
 * NULL for the four above.  When @reference is a digest, the bytes must
 * hash to it (digest pinning); with a tag, they must hash to the
 * Docker-Content-Digest header if the registry sent one.  @max: size cap
 * (0: COVE_REGISTRY_MANIFEST_MAX).
 */
int cove_registry_get_manifest(struct cove_registry_client *c,
			       const char *repository, const char *reference,
			       const char *const *accept, size_t max,
			       struct cove_registry_manifest *ret,
			       struct cove_error *err);

/*
 * HEAD a manifest: returns 1 when it exists (then *ret_digest gets the
 * Docker-Content-Digest, "" if the registry sent none; *ret_media_type
 * (caller frees, may be NULL) and *ret_size (-1 unknown) if the pointers
 * are not NULL), 0 when the registry says 404, -errno on other errors.
 */
int cove_registry_head_manifest(struct cove_registry_client *c,
				const char *repository, const char *reference,
				char *ret_digest, char **ret_media_type,
				int64_t *ret_size, struct cove_error *err);

/*
 * PUT a manifest under @reference (a tag, or its digest) with
 * Content-Type @media_type.  @ret_digest (may be NULL) gets the digest of
 * @data (COVE_DIGEST_MAX bytes); a Docker-Content-Digest answer that
 * differs is an error.
 */
int cove_registry_put_manifest(struct cove_registry_client *c,
			       const char *repository, const char *reference,
			       const char *media_type, const void *data,
			       size_t len, char *ret_digest,
			       struct cove_error *err);

/*
 * HEAD a blob: 1 when present (*ret_size set if not NULL, -1 if the
 * registry did not say), 0 when absent.
 */
int cove_registry_blob_exists(struct cove_registry_client *c,
			      const char *repository, const char *digest,
			      int64_t *ret_size, struct cove_error *err);

/*
 * Stream blob @digest into @in, starting at cove_ingest_offset(@in): an
 * ingest that already holds a prefix is resumed with a Range request, as
 * is a download that breaks off (up to max_retries times).  Redirects are
 * followed.  @size is the size from the descriptor (-1 unknown): more
 * bytes than that are refused.  The caller commits @in, which verifies the
 * digest (begin it with the expected digest and size).
 */
int cove_registry_fetch_blob(struct cove_registry_client *c,
			     const char *repository, const char *digest,
			     int64_t size, struct cove_ingest *in,
			     struct cove_error *err);

/*
 * Fetch blob @digest into @store unless it is already there: ingest,
 * fetch, commit (which verifies digest and size).  Returns 1 when
 * downloaded, 0 when it was present.
 */
int cove_registry_pull_blob(struct cove_registry_client *c,
			    struct cove_store *store, const char *repository,
			    const char *digest, int64_t size,
			    struct cove_error *err);

/*
 * Push @size bytes read from @fd (with pread, from offset 0) as blob
 * @digest.  Skips the upload when the registry already has the blob
 * (HEAD).  With @mount_from (another repository of the same registry
 * that has the blob, may be NULL), first asks for a cross-repository
 * mount.  Then uploads: one POST + PUT ?digest=, or POST + PATCH chunks
 * (Content-Range) + PUT when @size exceeds the chunk size.  Returns 0
 * when uploaded, 1 when it existed or was mounted.
 */
int cove_registry_push_blob(struct cove_registry_client *c,
			    const char *repository, const char *digest,
			    int64_t size, int fd, const char *mount_from,
			    struct cove_error *err);

/*
 * All tags of @repository (following Link rel="next" pagination), as a
 * NULL-terminated vector (caller frees with cove_strv_free).  At most
 * 100000 tags and 1000 pages are read.
 */
int cove_registry_list_tags(struct cove_registry_client *c,
			    const char *repository, char ***ret_tags,
			    struct cove_error *err);

/*
 * Syntax checks for what goes into a URL path, so that nothing a caller
 * passes can change the request: repository names per the distribution
 * spec ([a-z0-9]+ separated by '.', '_', '__', '-'+, components by '/'),
 * tags [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
 */
bool cove_registry_repository_valid(const char *repository);
bool cove_registry_tag_valid(const char *tag);
