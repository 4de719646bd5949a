#pragma once
/*
 * Image manifests, indexes and image configs, as the OCI image-spec and
 * Docker's image manifest v2 schema 2 define them:
 *   - OCI image manifest          application/vnd.oci.image.manifest.v1+json
 *   - OCI image index             application/vnd.oci.image.index.v1+json
 *   - Docker v2 schema 2 manifest
 * application/vnd.docker.distribution.manifest.v2+json
 *   - Docker manifest list
 * application/vnd.docker.distribution.manifest.list.v2+json
 *   - image config (OCI and Docker share the format)
 *
 * These documents come from strangers.  Parsers cap their size
 * (COVE_MANIFEST_MAX, COVE_CONFIG_MAX), validate every digest, size and
 * media type they will later act on, and say which document and field is
 * wrong: "manifest sha256:...: invalid 'layers[2].digest': ...".  Unknown
 * members are ignored, as the specs require.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"
#include "util/error.h"

#define COVE_MANIFEST_MAX (4u << 20) /* manifests and indexes */
#define COVE_CONFIG_MAX (16u << 20)  /* image configs */

#define COVE_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define COVE_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define COVE_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define COVE_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define COVE_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define COVE_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define COVE_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define COVE_MT_OCI_LAYER_ND                                                   \
	"application/vnd.oci.image.layer.nondistributable.v1.tar"
#define COVE_MT_OCI_LAYER_ND_GZIP                                              \
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define COVE_MT_OCI_LAYER_ND_ZSTD                                              \
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define COVE_MT_DOCKER_MANIFEST                                                \
	"application/vnd.docker.distribution.manifest.v2+json"
#define COVE_MT_DOCKER_LIST                                                    \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define COVE_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define COVE_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define COVE_MT_DOCKER_LAYER_TAR "application/vnd.docker.image.rootfs.diff.tar"
#define COVE_MT_DOCKER_LAYER_FOREIGN                                           \
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* The Accept header for manifest requests, preferred types first. */
#define COVE_MANIFEST_ACCEPT                                                   \
	COVE_MT_OCI_INDEX ", " COVE_MT_OCI_MANIFEST ", " COVE_MT_DOCKER_LIST   \
			  ", " COVE_MT_DOCKER_MANIFEST

enum cove_compression {
	COVE_COMPRESSION_NONE,
	COVE_COMPRESSION_GZIP,
	COVE_COMPRESSION_ZSTD,
};

/*
 * Classify a layer media type.  Returns 0 and fills @ret_comp (and
 * @ret_foreign: nondistributable / foreign layers, fetched from their urls)
 * for a known layer type; -EINVAL otherwise.  Both may be NULL.
 */
int cove_media_type_layer(const char *media_type,
			  enum cove_compression *ret_comp, bool *ret_foreign);
bool cove_media_type_is_manifest(const char *media_type); /* image manifest */
bool cove_media_type_is_index(const char *media_type);	  /* index or list */
/* RFC 6838 "type/subtype" syntax. */
bool cove_media_type_valid(const char *media_type);

struct cove_kv {
	char *key;
	char *value;
};

struct cove_platform {
	char *os;	    /* "linux" */
	char *architecture; /* "amd64", "arm64", "arm" */
	char *variant;	    /* "v7", "v8"; NULL when absent */
	char *os_version;   /* NULL when absent */
	char **os_features; /* NULL when absent */
};

/*
 * "os/arch[/variant]" or "arch" (os linux), normalised the way containerd
 * does: x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7, arm -> arm/v7,
 * i386 -> 386, arm64/v8 -> arm64.  Release with cove_platform_release().
 */
int cove_platform_parse(const char *s, struct cove_platform *ret,
			struct cove_error *err);
/* The platform this binary runs on (linux/<arch>[/<variant>]). */
int cove_platform_host(struct cove_platform *ret);
/* "os/arch[/variant]"; caller frees. */
char *cove_platform_format(const struct cove_platform *p);
void cove_platform_release(struct cove_platform *p);
/*
 * Whether an image for @have runs on @want, and how well: 0 is an exact
 * match, larger is a worse but compatible one (arm/v6 on arm/v7, amd64/v2
 * on amd64/v3), -1 is no match.  Both are normalised first.
 */
int cove_platform_match(const struct cove_platform *want,
			const struct cove_platform *have);

struct cove_descriptor {
	char *media_type;
	char digest[COVE_DIGEST_MAX];
	int64_t size;
	char **urls;		     /* NULL when absent */
	struct cove_kv *annotations; /* n_annotations entries */
	size_t n_annotations;
	struct cove_platform *platform; /* index entries; NULL when absent */
	char *artifact_type;		/* NULL when absent */
};

enum cove_manifest_kind {
	COVE_MANIFEST_OCI,    /* OCI image manifest */
	COVE_MANIFEST_DOCKER, /* Docker v2 schema 2 manifest */
	COVE_INDEX_OCI,	      /* OCI image index */
	COVE_INDEX_DOCKER,    /* Docker manifest list */
};

struct cove_manifest {
	enum cove_manifest_kind kind;
	char *media_type;
	char *artifact_type; /* OCI 1.1, NULL when absent */
	/* image manifests */
	struct cove_descriptor config;
	struct cove_descriptor *layers;
	size_t n_layers;
	/* indexes */
	struct cove_descriptor *manifests;
	size_t n_manifests;
	/* both */
	struct cove_descriptor *subject; /* OCI 1.1 referrers, may be NULL */
	struct cove_kv *annotations;
	size_t n_annotations;
};

enum cove_manifest_flags {
	/*
	 * Accept any config and layer media type (OCI artifacts, cosign
	 * signatures); the caller must then check them before use.
	 */
	COVE_MANIFEST_ALLOW_ARTIFACTS = 1 << 0,
};

/*
 * Parse a manifest or index of @len bytes.  @name labels the document in
 * errors (its digest or reference; "manifest <name>: ...").  @media_type is
 * what the registry or layout said it is (Content-Type, a descriptor's
 * mediaType) or NULL; when both it and the document's own mediaType are
 * given they must agree.  Returns 0 and a new manifest, or -EINVAL
 * (-EFBIG beyond COVE_MANIFEST_MAX) with @err naming the field.
 */
int cove_manifest_parse(const char *buf, size_t len, const char *name,
			const char *media_type, unsigned flags,
			struct cove_manifest **ret, struct cove_error *err);
bool cove_manifest_is_index(const struct cove_manifest *m);
void cove_manifest_free(struct cove_manifest *m);

/*
 * Serialise a manifest or index (compact JSON, members in spec order) for
 * push or save.  The buffer is NUL-terminated and owned by the caller; its
 * digest is the new manifest's digest.
 */
int cove_manifest_to_json(const struct cove_manifest *m, char **ret_buf,
			  size_t *ret_len, struct cove_error *err);

/*
 * Pick the entry of an index for @want (NULL: the host platform): the best
 * cove_platform_match() among entries whose media type is an image
 * manifest; entries without a platform only when nothing else matches.
 * Returns the entry's position, or -ENOENT with @err listing what the
 * index offers.
 */
int cove_index_select(const struct cove_manifest *index, const char *name,
		      const struct cove_platform *want, struct cove_error *err);

struct cove_history {
	char *created; /* RFC 3339, NULL when absent */
	int64_t created_unix;
	char *created_by;
	char *author;
	char *comment;
	bool empty_layer;
};

struct cove_image_config {
	char *architecture;
	char *os;
	char *variant;	  /* NULL when absent */
	char *os_version; /* NULL when absent */
	char *created;	  /* RFC 3339, NULL when absent */
	int64_t created_unix;
	char *author;
	/* "config": how to run it */
	char *user;
	char **env;
	char **entrypoint;
	char **cmd;
	char *working_dir;
	char **exposed_ports; /* "80/tcp" */
	char **volumes;	      /* "/data" */
	struct cove_kv *labels;
	size_t n_labels;
	char *stop_signal;
	/* "rootfs": the uncompressed layer digests, bottom first */
	char **diff_ids;
	size_t n_diff_ids;
	struct cove_history *history;
	size_t n_history;
	/* The whole document, for members cove does not model (Healthcheck). */
	json_t *raw;
};

/* Parse an image config (at most COVE_CONFIG_MAX bytes); as above. */
int cove_image_config_parse(const char *buf, size_t len, const char *name,
			    struct cove_image_config **ret,
			    struct cove_error *err);
void cove_image_config_free(struct cove_image_config *c);
/*
 * Serialise a config: the members above from the struct, everything else
 * as it was in @c->raw (NULL raw: a fresh document).
 */
int cove_image_config_to_json(const struct cove_image_config *c, char **ret_buf,
			      size_t *ret_len, struct cove_error *err);
/*
 * Cross-check an image manifest and its config: one diff_id per layer.
 * @name labels the manifest.
 */
int cove_manifest_check_config(const struct cove_manifest *m,
			       const struct cove_image_config *c,
			       const char *name, struct cove_error *err);

/* RFC 3339 to seconds since the epoch (UTC); -EINVAL if malformed. */
int cove_parse_rfc3339(const char *s, int64_t *ret);
