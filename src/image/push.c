/*
 * Push (see pull.h): a local image to a registry, blobs first (each one
 * skipped when the registry has it), then the manifest byte for byte, so
 * that the image keeps its digest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/pull.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static void image_releasep(struct cove_image *img)
{
	cove_image_release(img);
}

static void image_ref_releasep(struct cove_image_ref *r)
{
	cove_image_ref_release(r);
}

static void registry_client_freep(struct cove_registry_client **c)
{
	cove_registry_client_free(*c);
}

static int push_one(struct cove_registry_client *c, struct cove_store *s,
		    const char *repository, const struct cove_descriptor *d,
		    const char *what, struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	int64_t size;
	int r;

	fd = cove_store_open_blob(s, d->digest);
	if (fd < 0)
		return cove_error_setx(err, fd,
				       "%s %s is not in the store (run `cove "
				       "image fsck`)",
				       what, d->digest);
	size = cove_store_blob_size(s, d->digest);
	if (size != d->size)
		return cove_error_set(err, EBADMSG,
				      "%s %s is %lld bytes in the store, the "
				      "manifest says %lld",
				      what, d->digest, (long long)size,
				      (long long)d->size);
	r = cove_registry_push_blob(c, repository, d->digest, size, fd, NULL,
				    err);
	return r < 0 ? r : 0;
}

int cove_image_push(struct cove_store *s, struct cove_images *db,
		    const char *source, const char *dest,
		    const struct cove_remote_opts *o, char *ret_digest,
		    struct cove_error *err)
{
	_cleanup_(image_releasep) struct cove_image img = {0};
	_cleanup_(image_ref_releasep) struct cove_image_ref ref = {0};
	_cleanup_(registry_client_freep) struct cove_registry_client *c = NULL;
	char digest[COVE_DIGEST_MAX];
	const char *target;
	int r;

	r = cove_image_open(s, db, source, &img, err);
	if (r < 0)
		return r;
	target = dest ? dest : source;
	if (cove_str_has_prefix(target, "docker://"))
		target += strlen("docker://");
	r = cove_image_ref_parse(target, &ref, err);
	if (r < 0)
		return dest ? r
			    : cove_error_wrap(err, "no destination given and "
						   "the source is not a name");
	if (ref.digest && strcmp(ref.digest, img.rec.manifest_digest))
		return cove_error_set(err, EINVAL,
				      "cannot push image %s to '%s': its "
				      "manifest digest is %s",
				      img.rec.id, target,
				      img.rec.manifest_digest);
	r = cove_remote_client(ref.registry, ref.repository, o, false, &c, err);
	if (r < 0)
		return r;

	for (size_t i = 0; i < img.manifest->n_layers; i++) {
		r = push_one(c, s, ref.repository, &img.manifest->layers[i],
			     "layer", err);
		if (r < 0)
			return r;
	}
	r = push_one(c, s, ref.repository, &img.manifest->config, "config",
		     err);
	if (r < 0)
		return r;
	r = cove_registry_put_manifest(
	    c, ref.repository, ref.tag ? ref.tag : img.rec.manifest_digest,
	    img.manifest->media_type, img.manifest_data, img.manifest_len,
	    digest, err);
	if (r < 0)
		return r;
	if (strcmp(digest, img.rec.manifest_digest))
		return cove_error_set(err, EBADMSG,
				      "pushed manifest of %s hashes to %s, "
				      "not %s",
				      img.rec.id, digest,
				      img.rec.manifest_digest);
	if (ret_digest)
		memcpy(ret_digest, digest, strlen(digest) + 1);
	return 0;
}
