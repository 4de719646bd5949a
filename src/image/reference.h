#pragma once
/*
 * Image references as the ecosystem writes them:
 *   [registry[:port]/]path[:tag][@algo:hex]
 * normalised like docker/podman: no registry -> docker.io; a single path
 * component on docker.io -> library/NAME; no tag and no digest -> latest.
 * A first component is a registry when it contains '.' or ':', is
 * "localhost", or has an uppercase letter (repositories are lowercase).
 * "index.docker.io" is spelled "docker.io".
 *
 * Grammar (docker/distribution reference):
 *   path component  [a-z0-9]+ ( ( '.' | '_' | '__' | '-'+ ) [a-z0-9]+ )*
 *   registry        domain components [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?
 *                   joined by '.', or [ipv6]; optional :port
 *   tag             [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest          sha256:<64 hex> or sha512:<128 hex>
 * and "registry/repository" at most 255 characters.
 */
#include "util/error.h"

struct cove_image_ref {
	char *registry;	  /* "docker.io", "localhost:5000" */
	char *repository; /* "library/busybox" */
	char *tag;	  /* NULL when only a digest was given */
	char *digest;	  /* NULL unless pinned */
};

/*
 * Parse and normalise @s.  On failure @ret is left zeroed and @err says
 * what is wrong ("invalid image reference 'Busybox': repository name must
 * be lowercase").  Release with cove_image_ref_release().
 */
int cove_image_ref_parse(const char *s, struct cove_image_ref *ret,
			 struct cove_error *err);
/* "registry/repository:tag@digest" (fully qualified); caller frees. */
char *cove_image_ref_format(const struct cove_image_ref *ref);
/* "registry/repository" without tag or digest; caller frees. */
char *cove_image_ref_name(const struct cove_image_ref *ref);
void cove_image_ref_release(struct cove_image_ref *ref);
