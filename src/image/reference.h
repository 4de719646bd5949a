#pragma once
/*
 * Image references as the ecosystem writes them:
 *   [registry[:port]/]path[:tag][@algo:hex]
 * normalised like docker/podman: no registry -> docker.io; a single path
 * component on docker.io -> library/NAME; no tag and no digest -> latest.
 * A first component is a registry when it contains '.' or ':' or is
 * "localhost".
 */
#include "util/error.h"

struct cove_image_ref {
	char *registry;	  /* "docker.io", "localhost:5000" */
	char *repository; /* "library/busybox" */
	char *tag;	  /* NULL when only a digest was given */
	char *digest;	  /* NULL unless pinned */
};

int cove_image_ref_parse(const char *s, struct cove_image_ref *ret,
			 struct cove_error *err);
/* "registry/repository:tag@digest" (fully qualified); caller frees. */
char *cove_image_ref_format(const struct cove_image_ref *ref);
void cove_image_ref_release(struct cove_image_ref *ref);
