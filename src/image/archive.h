#pragma once
/*
 * Image archives, both ways (`cove save` / `cove load`), in the two
 * formats the ecosystem exchanges:
 *
 *   oci-archive     a tar of an OCI image layout: "oci-layout",
 *                   "index.json" (one entry per image name, annotated with
 *                   org.opencontainers.image.ref.name and
 *                   io.containerd.image.name) and blobs/<algo>/<hex>, the
 *                   manifest, config and layers exactly as stored, so
 *                   that digests survive the trip.  skopeo's and podman's
 *                   oci-archive: transport.
 *   docker-archive  what `docker save` writes: "manifest.json" ([{Config,
 *                   RepoTags, Layers}]), the config as <hex>.json and every
 *                   layer as an uncompressed tar named <diff_id hex>.tar.
 *                   The image id (config digest) survives; the manifest is
 *                   rebuilt on load (OCI, uncompressed layers).
 *
 * Loading reads the tar once, as a stream (stdin works; compressed
 * archives too): every blob is ingested into the store while it is read,
 * verified against its name where the name is a digest; small metadata
 * files are held in memory (size-capped).  Links inside the archive (how
 * some writers share layers) are followed by name, never on disk.  Then
 * every image the archive describes is committed as a pull commits one
 * (image/pull.h: sizes, diff_ids, unpacking).  Blobs the archive brought
 * that no image uses stay until garbage collection (image/gc.h), which
 * alone can tell that no concurrent pull needs them.
 */
#include <stdbool.h>
#include <stddef.h>

#include "image/images.h"
#include "image/snapshot.h"
#include "image/store.h"
#include "util/error.h"

enum cove_archive_format {
	COVE_ARCHIVE_OCI,
	COVE_ARCHIVE_DOCKER,
};

/* "oci-archive" (or "oci"), "docker-archive" (or "docker"). */
int cove_archive_format_parse(const char *s, enum cove_archive_format *ret,
			      struct cove_error *err);

/*
 * Write the images @refs (NULL-terminated names or ids) to @fd as a tar
 * of @format.  An image asked for by name is saved under that name; by
 * id, without a name.  @tmpdir holds the temporary uncompressed layers of
 * a docker-archive (NULL: /var/tmp).
 */
int cove_image_save_fd(struct cove_store *s, struct cove_images *db,
		       char *const *refs, enum cove_archive_format format,
		       int fd, const char *tmpdir, struct cove_error *err);

/* As above into @path, replaced atomically (a temporary file renamed). */
int cove_image_save(struct cove_store *s, struct cove_images *db,
		    char *const *refs, enum cove_archive_format format,
		    const char *path, struct cove_error *err);

struct cove_load_opts {
	/* Unpack (and verify) the layers into snapshots; may be NULL. */
	struct cove_snapshotter *unpack;
	/* For an index in the archive: "os/arch[/variant]"; NULL: host. */
	const char *platform;
};

/*
 * Load every image of the archive read from @fd (either format, detected
 * from its content; @name labels it in errors).  *ret_loaded (may be
 * NULL; caller frees with cove_strv_free) gets one line per image: its
 * names, or its id when it has none.
 */
int cove_image_load(struct cove_store *s, struct cove_images *db, int fd,
		    const char *name, const struct cove_load_opts *o,
		    char ***ret_loaded, struct cove_error *err);
