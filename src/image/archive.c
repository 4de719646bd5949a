/*
 * OCI and docker archives (see archive.h), read and written with
 * libarchive.
 */
#include "image/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/digest.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "image/reference.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define COPY_CHUNK (128 * 1024)
/* Metadata files (index.json, manifest.json, ...) held in memory. */
#define META_MAX COVE_MANIFEST_MAX
/* Entries of an archive read; far more than any image has. */
#define MAX_ENTRIES (1u << 20)
#define MAX_LINK_HOPS 16

#define ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOT_CONTAINERD_NAME "io.containerd.image.name"

static void manifest_freep(struct cove_manifest **m)
{
	cove_manifest_free(*m);
}

static void archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static void archive_entry_freep(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}

static void hasher_freep(struct cove_hasher **h)
{
	cove_hasher_free(*h);
}

static int nomem(struct cove_error *err)
{
	return cove_error_set(err, ENOMEM, "out of memory");
}

int cove_archive_format_parse(const char *s, enum cove_archive_format *ret,
			      struct cove_error *err)
{
	if (!strcmp(s, "oci-archive") || !strcmp(s, "oci")) {
		*ret = COVE_ARCHIVE_OCI;
		return 0;
	}
	if (!strcmp(s, "docker-archive") || !strcmp(s, "docker")) {
		*ret = COVE_ARCHIVE_DOCKER;
		return 0;
	}
	return cove_error_set(err, EINVAL,
			      "unknown archive format '%s': expected "
			      "oci-archive or docker-archive",
			      s);
}

/* The compression of a blob, from its first bytes. */
static int blob_compression(int fd, enum cove_compression *ret)
{
	unsigned char m[4] = {0};
	ssize_t n = pread(fd, m, sizeof(m), 0);

	if (n < 0)
		return -errno;
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		*ret = COVE_COMPRESSION_GZIP;
	else if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f &&
		 m[3] == 0xfd)
		*ret = COVE_COMPRESSION_ZSTD;
	else
		*ret = COVE_COMPRESSION_NONE;
	return 0;
}

/* ======================================================================== */
/* save                                                                     */
/* ======================================================================== */

struct save_image {
	struct cove_image img;
	char **names;
};

struct saver {
	struct cove_store *s;
	struct archive *a;
	const char *tmpdir;
	char **written; /* paths already in the archive */
};

static int tar_error(struct saver *w, const char *path, struct cove_error *err)
{
	return cove_error_set(err, EIO, "cannot write '%s' to the archive: %s",
			      path, archive_error_string(w->a));
}

static int tar_header(struct saver *w, const char *path, bool dir, int64_t size,
		      struct cove_error *err)
{
	_cleanup_(archive_entry_freep) struct archive_entry *e =
	    archive_entry_new();

	if (!e)
		return nomem(err);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0755 : 0644);
	archive_entry_set_size(e, dir ? 0 : size);
	/* Fixed times and owners: saving twice gives the same bytes. */
	archive_entry_set_mtime(e, 0, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		return tar_error(w, path, err);
	return 0;
}

static int tar_data(struct saver *w, const char *path, const void *buf,
		    size_t len, struct cove_error *err)
{
	const char *p = buf;

	while (len > 0) {
		la_ssize_t n = archive_write_data(w->a, p, len);

		if (n <= 0)
			return tar_error(w, path, err);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* True (and remembered) the first time @path is asked for. */
static int first_time(struct saver *w, const char *path)
{
	if (cove_strv_contains(w->written, path))
		return 0;
	return cove_strv_push(&w->written, path) < 0 ? -ENOMEM : 1;
}

static int tar_dir(struct saver *w, const char *path, struct cove_error *err)
{
	int r = first_time(w, path);

	if (r <= 0)
		return r < 0 ? nomem(err) : 0;
	return tar_header(w, path, true, 0, err);
}

static int tar_buffer(struct saver *w, const char *path, const void *buf,
		      size_t len, struct cove_error *err)
{
	int r = first_time(w, path);

	if (r <= 0)
		return r < 0 ? nomem(err) : 0;
	r = tar_header(w, path, false, (int64_t)len, err);
	if (r < 0)
		return r;
	return tar_data(w, path, buf, len, err);
}

/* @size bytes of @fd from offset 0; a file that changes size fails. */
static int tar_fd(struct saver *w, const char *path, int fd, int64_t size,
		  struct cove_error *err)
{
	_cleanup_free_ char *buf = malloc(COPY_CHUNK);
	int64_t off = 0;
	int r;

	if (!buf)
		return nomem(err);
	r = tar_header(w, path, false, size, err);
	if (r < 0)
		return r;
	while (off < size) {
		size_t want =
		    (size_t)(size - off < COPY_CHUNK ? size - off : COPY_CHUNK);
		ssize_t n = pread(fd, buf, want, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cove_error_setx(
			    err, errno, "cannot read data for '%s'", path);
		if (n == 0)
			return cove_error_set(
			    err, EIO, "'%s' shrank while it was saved", path);
		r = tar_data(w, path, buf, (size_t)n, err);
		if (r < 0)
			return r;
		off += n;
	}
	return 0;
}

static int tar_blob(struct saver *w, const char *path, const char *digest,
		    struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	int64_t size;
	int r = first_time(w, path);

	if (r <= 0)
		return r < 0 ? nomem(err) : 0;
	fd = cove_store_open_blob(w->s, digest);
	if (fd < 0)
		return cove_error_setx(err, fd,
				       "blob %s is not in the store (run `cove "
				       "image fsck`)",
				       digest);
	size = cove_store_blob_size(w->s, digest);
	if (size < 0)
		return cove_error_setx(err, (int)size, "blob %s", digest);
	return tar_fd(w, path, fd, size, err);
}

static char *blob_name(const char *digest)
{
	const char *colon = strchr(digest, ':');

	if (!colon)
		return NULL;
	return cove_strdup_printf("blobs/%.*s/%s", (int)(colon - digest),
				  digest, colon + 1);
}

static int tmpfile_in(const char *dir)
{
	_cleanup_free_ char *tmpl = NULL;
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd < 0 ? -errno : fd;
	tmpl = cove_strdup_printf("%s/.cove-layer-XXXXXX", dir);
	if (!tmpl)
		return -ENOMEM;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	(void)unlink(tmpl);
	return fd;
}

/*
 * The uncompressed tar of layer @digest, checked against @diff_id: the
 * blob itself when it is not compressed, else a temporary file.
 */
static int uncompressed_layer(struct saver *w, const char *digest,
			      const char *diff_id, int *ret_fd,
			      int64_t *ret_size, struct cove_error *err)
{
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	_cleanup_(hasher_freep) struct cove_hasher *h = NULL;
	_cleanup_close_ int bfd = -1, tfd = -1;
	_cleanup_free_ char *buf = NULL;
	struct archive_entry *e;
	enum cove_compression comp;
	char got[COVE_DIGEST_MAX];
	int64_t total = 0;
	int r;

	bfd = cove_store_open_blob(w->s, digest);
	if (bfd < 0)
		return cove_error_setx(err, bfd,
				       "layer %s is not in the store (run "
				       "`cove image fsck`)",
				       digest);
	r = blob_compression(bfd, &comp);
	if (r < 0)
		return cove_error_setx(err, r, "cannot read layer %s", digest);
	if (comp == COVE_COMPRESSION_NONE) {
		if (strcmp(digest, diff_id))
			return cove_error_set(err, EBADMSG,
					      "uncompressed layer %s does not "
					      "match its diff_id %s",
					      digest, diff_id);
		*ret_size = cove_store_blob_size(w->s, digest);
		*ret_fd = TAKE_FD(bfd);
		return 0;
	}
	tfd = tmpfile_in(w->tmpdir);
	if (tfd < 0)
		return cove_error_setx(err, tfd,
				       "cannot create a temporary file in '%s'",
				       w->tmpdir);
	buf = malloc(COPY_CHUNK);
	a = archive_read_new();
	if (!buf || !a || cove_hasher_new(COVE_DIGEST_SHA256, &h) < 0)
		return nomem(err);
	if ((comp == COVE_COMPRESSION_GZIP
		 ? archive_read_support_filter_gzip(a)
		 : archive_read_support_filter_zstd(a)) != ARCHIVE_OK ||
	    archive_read_support_format_raw(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, bfd, COPY_CHUNK) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK)
		return cove_error_set(err, EBADMSG,
				      "cannot decompress layer %s: %s", digest,
				      archive_error_string(a));
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, COPY_CHUNK);

		if (n == 0)
			break;
		if (n < 0)
			return cove_error_set(err, EBADMSG,
					      "cannot decompress layer %s: %s",
					      digest, archive_error_string(a));
		if (cove_write_all(tfd, buf, (size_t)n) < 0)
			return cove_error_setx(err, errno,
					       "cannot write a temporary file "
					       "in '%s'",
					       w->tmpdir);
		if (cove_hasher_update(h, buf, (size_t)n) < 0)
			return nomem(err);
		total += n;
	}
	if (cove_hasher_final(h, got) < 0)
		return nomem(err);
	if (strcmp(got, diff_id))
		return cove_error_set(err, EBADMSG,
				      "layer %s does not match its diff_id: "
				      "config says %s, content is %s",
				      digest, diff_id, got);
	*ret_size = total;
	*ret_fd = TAKE_FD(tfd);
	return 0;
}

static int save_oci(struct saver *w, struct save_image *imgs, size_t n,
		    struct cove_error *err)
{
	_cleanup_json_ json_t *index = NULL;
	_cleanup_free_ char *index_buf = NULL;
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	json_t *manifests;
	int r;

	index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
			  COVE_MT_OCI_INDEX, "manifests");
	if (!index)
		return nomem(err);
	manifests = json_object_get(index, "manifests");
	r = tar_buffer(w, "oci-layout", layout, strlen(layout), err);
	if (r >= 0)
		r = tar_dir(w, "blobs", err);
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct cove_image *img = &imgs[i].img;
		const char *algo_end = strchr(img->rec.manifest_digest, ':');
		_cleanup_free_ char *algo_dir = NULL, *mpath = NULL,
				    *cpath = NULL;
		size_t nn;

		algo_dir = cove_strdup_printf(
		    "blobs/%.*s", (int)(algo_end - img->rec.manifest_digest),
		    img->rec.manifest_digest);
		mpath = blob_name(img->rec.manifest_digest);
		cpath = blob_name(img->manifest->config.digest);
		if (!algo_dir || !mpath || !cpath)
			return nomem(err);
		r = tar_dir(w, algo_dir, err);
		if (r >= 0)
			r = tar_buffer(w, mpath, img->manifest_data,
				       img->manifest_len, err);
		if (r >= 0)
			r = tar_blob(w, cpath, img->manifest->config.digest,
				     err);
		for (size_t j = 0; j < img->manifest->n_layers && r >= 0; j++) {
			_cleanup_free_ char *lpath =
			    blob_name(img->manifest->layers[j].digest);

			if (!lpath)
				return nomem(err);
			r = tar_blob(w, lpath, img->manifest->layers[j].digest,
				     err);
		}
		nn = cove_strv_length(imgs[i].names);
		/* One entry per name; an image without one gets one too. */
		for (size_t j = 0; r >= 0 && j < (nn ? nn : 1); j++) {
			const char *nm = nn ? imgs[i].names[j] : NULL;
			json_t *d;

			d = json_pack("{s:s, s:s, s:I}", "mediaType",
				      img->manifest->media_type, "digest",
				      img->rec.manifest_digest, "size",
				      (json_int_t)img->manifest_len);
			if (d && nm &&
			    json_object_set_new(
				d, "annotations",
				json_pack("{s:s, s:s}", ANNOT_CONTAINERD_NAME,
					  nm, ANNOT_REF_NAME, nm)) < 0) {
				json_decref(d);
				d = NULL;
			}
			if (!d || json_array_append_new(manifests, d) < 0)
				return nomem(err);
		}
	}
	if (r < 0)
		return r;
	index_buf = json_dumps(index, JSON_COMPACT);
	if (!index_buf)
		return nomem(err);
	return tar_buffer(w, "index.json", index_buf, strlen(index_buf), err);
}

static int save_docker(struct saver *w, struct save_image *imgs, size_t n,
		       struct cove_error *err)
{
	_cleanup_json_ json_t *top = json_array();
	_cleanup_free_ char *top_buf = NULL;
	int r;

	if (!top)
		return nomem(err);
	for (size_t i = 0; i < n; i++) {
		const struct cove_image *img = &imgs[i].img;
		const struct cove_image_config *c = img->config;
		_cleanup_free_ char *cpath = NULL;
		json_t *entry, *tags, *layers;

		r = cove_manifest_check_config(img->manifest, c,
					       img->rec.manifest_digest, err);
		if (r < 0)
			return r;
		cpath =
		    cove_strdup_printf("%s.json", strchr(img->rec.id, ':') + 1);
		if (!cpath)
			return nomem(err);
		r = tar_blob(w, cpath, img->rec.id, err);
		if (r < 0)
			return r;
		entry = json_pack("{s:s, s:[], s:[]}", "Config", cpath,
				  "RepoTags", "Layers");
		if (!entry || json_array_append_new(top, entry) < 0)
			return nomem(err);
		tags = json_object_get(entry, "RepoTags");
		layers = json_object_get(entry, "Layers");
		for (char **nm = imgs[i].names; nm && *nm; nm++) {
			_cleanup_free_ char *tagged = strdup(*nm);
			char *at;

			if (!tagged)
				return nomem(err);
			/* RepoTags hold tags; a pinned name has none. */
			at = strchr(tagged, '@');
			if (at)
				*at = '\0';
			if (!strchr(strrchr(tagged, '/') ? strrchr(tagged, '/')
							 : tagged,
				    ':'))
				continue;
			if (json_array_append_new(tags, json_string(tagged)) <
			    0)
				return nomem(err);
		}
		for (size_t j = 0; j < img->manifest->n_layers; j++) {
			const char *diff_id = c->diff_ids[j];
			_cleanup_free_ char *lpath = cove_strdup_printf(
			    "%s.tar", strchr(diff_id, ':') + 1);
			_cleanup_close_ int fd = -1;
			int64_t size = 0;

			if (!lpath || json_array_append_new(
					  layers, json_string(lpath)) < 0)
				return nomem(err);
			if (cove_strv_contains(w->written, lpath))
				continue;
			r = uncompressed_layer(w,
					       img->manifest->layers[j].digest,
					       diff_id, &fd, &size, err);
			if (r < 0)
				return r;
			r = first_time(w, lpath);
			if (r < 0)
				return nomem(err);
			r = tar_fd(w, lpath, fd, size, err);
			if (r < 0)
				return r;
		}
	}
	top_buf = json_dumps(top, JSON_COMPACT);
	if (!top_buf)
		return nomem(err);
	return tar_buffer(w, "manifest.json", top_buf, strlen(top_buf), err);
}

/* Is @ref one of the names of @rec (rather than an id)?  Its normal form. */
static char *name_of(const char *ref, const struct cove_image_record *rec)
{
	struct cove_image_ref parsed;
	char *norm;

	if (cove_image_ref_parse(ref, &parsed, NULL) < 0)
		return NULL;
	norm = cove_image_ref_format(&parsed);
	cove_image_ref_release(&parsed);
	if (norm && !cove_strv_contains(rec->names, norm)) {
		free(norm);
		return NULL;
	}
	return norm;
}

static void save_images_free(struct save_image *imgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cove_image_release(&imgs[i].img);
		cove_strv_free(imgs[i].names);
	}
	free(imgs);
}

int cove_image_save_fd(struct cove_store *s, struct cove_images *db,
		       char *const *refs, enum cove_archive_format format,
		       int fd, const char *tmpdir, struct cove_error *err)
{
	_cleanup_(archive_write_freep) struct archive *a = NULL;
	struct saver w = {.s = s, .tmpdir = tmpdir ? tmpdir : "/var/tmp"};
	struct save_image *imgs = NULL;
	size_t n = 0, nrefs = cove_strv_length(refs);
	int r = 0;

	if (nrefs == 0)
		return cove_error_set(err, EINVAL, "no image to save");
	imgs = calloc(nrefs, sizeof(*imgs));
	if (!imgs)
		return nomem(err);
	for (size_t i = 0; i < nrefs && r >= 0; i++) {
		struct cove_image_record rec = {0};
		_cleanup_free_ char *nm = NULL;
		size_t k;

		r = cove_images_lookup(db, refs[i], &rec, err);
		if (r < 0)
			break;
		nm = name_of(refs[i], &rec);
		for (k = 0; k < n; k++)
			if (!strcmp(imgs[k].img.rec.id, rec.id))
				break;
		if (k == n) {
			r = cove_image_open_record(s, &rec, &imgs[n].img, err);
			if (r < 0) {
				cove_image_record_release(&rec);
				break;
			}
			n++;
		}
		cove_image_record_release(&rec);
		if (nm && !cove_strv_contains(imgs[k].names, nm) &&
		    cove_strv_push(&imgs[k].names, nm) < 0)
			r = nomem(err);
	}
	if (r < 0)
		goto out;

	a = archive_write_new();
	if (!a) {
		r = nomem(err);
		goto out;
	}
	w.a = a;
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		r = cove_error_set(err, EIO, "cannot start the archive: %s",
				   archive_error_string(a));
		goto out;
	}
	if (format == COVE_ARCHIVE_OCI)
		r = save_oci(&w, imgs, n, err);
	else
		r = save_docker(&w, imgs, n, err);
	if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
		r = cove_error_set(err, EIO, "cannot finish the archive: %s",
				   archive_error_string(a));
out:
	cove_strv_free(w.written);
	save_images_free(imgs, nrefs);
	return r;
}

int cove_image_save(struct cove_store *s, struct cove_images *db,
		    char *const *refs, enum cove_archive_format format,
		    const char *path, struct cove_error *err)
{
	_cleanup_free_ char *tmp = NULL, *dir = NULL;
	_cleanup_close_ int fd = -1;
	char *slash;
	int r;

	dir = strdup(path);
	tmp = cove_strdup_printf("%s.tmp-XXXXXX", path);
	if (!dir || !tmp)
		return nomem(err);
	slash = strrchr(dir, '/');
	if (!slash) {
		free(dir);
		dir = strdup(".");
		if (!dir)
			return nomem(err);
	} else if (slash == dir) {
		dir[1] = '\0';
	} else {
		*slash = '\0';
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot create '%s'", path);
	if (fchmod(fd, 0644) < 0) {
		r = cove_error_setx(err, errno, "cannot create '%s'", path);
		goto fail;
	}
	r = cove_image_save_fd(s, db, refs, format, fd, dir, err);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		r = cove_error_setx(err, errno, "cannot write '%s'", path);
		goto fail;
	}
	return 0;
fail:
	(void)unlink(tmp);
	return r;
}

/* ======================================================================== */
/* load                                                                     */
/* ======================================================================== */

struct file {
	char *name;
	char digest[COVE_DIGEST_MAX];
	int64_t size;
};

struct alias {
	char *name;
	char *target;
};

struct loader {
	struct cove_store *s;
	struct cove_images *db;
	const struct cove_load_opts *o;
	const char *label;
	struct file *files;
	size_t n_files;
	struct alias *aliases;
	size_t n_aliases;
	char *oci_layout, *index_json, *manifest_json;
	size_t index_len, manifest_len;
	char **loaded; /* what to report */
};

static void loader_release(struct loader *l)
{
	for (size_t i = 0; i < l->n_files; i++)
		free(l->files[i].name);
	free(l->files);
	for (size_t i = 0; i < l->n_aliases; i++) {
		free(l->aliases[i].name);
		free(l->aliases[i].target);
	}
	free(l->aliases);
	free(l->oci_layout);
	free(l->index_json);
	free(l->manifest_json);
	cove_strv_free(l->loaded);
}

/*
 * A path of the archive in a canonical form: no leading "/" or "./", no
 * empty or "." components, ".." resolved lexically.  NULL when it climbs
 * above the top (such entries are ignored: nothing is ever written by
 * archive path, but they cannot name anything either).
 */
static char *norm_path(const char *in)
{
	_cleanup_free_ char *out = malloc(strlen(in) + 1);
	size_t n = 0;
	const char *p = in;

	if (!out)
		return NULL;
	while (*p) {
		const char *s;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 1 && s[0] == '.')
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (n == 0)
				return NULL;
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			continue;
		}
		if (n)
			out[n++] = '/';
		memcpy(out + n, s, len);
		n += len;
	}
	out[n] = '\0';
	return TAKE_PTR(out);
}

/* A symlink target, relative to the link's directory. */
static char *link_target(const char *link, const char *target)
{
	_cleanup_free_ char *joined = NULL;
	const char *slash = strrchr(link, '/');

	if (target[0] == '/' || !slash)
		return norm_path(target);
	joined =
	    cove_strdup_printf("%.*s/%s", (int)(slash - link), link, target);
	return joined ? norm_path(joined) : NULL;
}

static const struct file *find_file(const struct loader *l, const char *name)
{
	const char *cur = name;

	for (int hop = 0; hop <= MAX_LINK_HOPS; hop++) {
		bool followed = false;

		for (size_t i = 0; i < l->n_files; i++)
			if (!strcmp(l->files[i].name, cur))
				return &l->files[i];
		for (size_t i = 0; i < l->n_aliases; i++)
			if (!strcmp(l->aliases[i].name, cur)) {
				cur = l->aliases[i].target;
				followed = true;
				break;
			}
		if (!followed)
			return NULL;
	}
	return NULL;
}

/* The file @name of the archive, or an error naming it. */
static int need_file(const struct loader *l, const char *name,
		     const struct file **ret, struct cove_error *err)
{
	_cleanup_free_ char *norm = norm_path(name);

	*ret = norm ? find_file(l, norm) : NULL;
	if (!*ret)
		return cove_error_set(err, ENOENT,
				      "%s: '%.300s' is named in the archive's "
				      "metadata but not in the archive",
				      l->label, name);
	return 0;
}

static int read_meta(struct loader *l, struct archive *a, const char *name,
		     int64_t size, char **ret, size_t *ret_len,
		     struct cove_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t got = 0;

	if (*ret)
		return cove_error_set(err, EINVAL, "%s: '%s' appears twice",
				      l->label, name);
	if (size < 0 || size > META_MAX)
		return cove_error_set(err, EFBIG,
				      "%s: '%s' is larger than %u bytes",
				      l->label, name, META_MAX);
	buf = malloc((size_t)size + 1);
	if (!buf)
		return nomem(err);
	while (got < (size_t)size) {
		la_ssize_t n =
		    archive_read_data(a, buf + got, (size_t)size - got);
		if (n <= 0)
			return cove_error_set(
			    err, EIO, "%s: cannot read '%s': %s", l->label,
			    name,
			    n < 0 ? archive_error_string(a) : "truncated");
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = got;
	return 0;
}

/* "blobs/<algo>/<hex>" -> "<algo>:<hex>" when that is a valid digest. */
static bool blob_path_digest(const char *name, char *ret)
{
	const char *algo, *hex;

	if (!cove_str_has_prefix(name, "blobs/"))
		return false;
	algo = name + strlen("blobs/");
	hex = strchr(algo, '/');
	if (!hex || strchr(hex + 1, '/') ||
	    (size_t)(hex - algo) + strlen(hex) >= COVE_DIGEST_MAX)
		return false;
	snprintf(ret, COVE_DIGEST_MAX, "%.*s:%s", (int)(hex - algo), algo,
		 hex + 1);
	return cove_digest_validate(ret, NULL, NULL) == 0;
}

static int add_file(struct loader *l, char *name, const char *digest,
		    int64_t size)
{
	void *p = realloc(l->files, (l->n_files + 1) * sizeof(*l->files));

	if (!p)
		return -ENOMEM;
	l->files = p;
	l->files[l->n_files].name = name;
	snprintf(l->files[l->n_files].digest, COVE_DIGEST_MAX, "%s", digest);
	l->files[l->n_files].size = size;
	l->n_files++;
	return 0;
}

static int add_alias(struct loader *l, char *name, char *target)
{
	void *p = realloc(l->aliases, (l->n_aliases + 1) * sizeof(*l->aliases));

	if (!p)
		return -ENOMEM;
	l->aliases = p;
	l->aliases[l->n_aliases].name = name;
	l->aliases[l->n_aliases].target = target;
	l->n_aliases++;
	return 0;
}

/* Stream one regular entry into the store. */
static int ingest_entry(struct loader *l, struct archive *a, char *name,
			int64_t size, const char *expected,
			struct cove_error *err)
{
	_cleanup_free_ char *owned = name, *buf = NULL;
	struct cove_ingest *in = NULL;
	char digest[COVE_DIGEST_MAX];
	int r;

	if (expected && cove_store_has(l->s, expected) &&
	    cove_store_blob_size(l->s, expected) == size) {
		if (archive_read_data_skip(a) != ARCHIVE_OK)
			return cove_error_set(
			    err, EIO, "%s: cannot read '%s': %s", l->label,
			    name, archive_error_string(a));
		r = add_file(l, name, expected, size);
		if (r < 0)
			return nomem(err);
		owned = NULL;
		return 0;
	}
	buf = malloc(COPY_CHUNK);
	if (!buf)
		return nomem(err);
	r = cove_ingest_begin(l->s, expected, size, &in, err);
	if (r < 0)
		return r;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, COPY_CHUNK);

		if (n == 0)
			break;
		if (n < 0) {
			cove_ingest_abort(in);
			return cove_error_set(
			    err, EIO, "%s: cannot read '%s': %s", l->label,
			    name, archive_error_string(a));
		}
		r = cove_ingest_write(in, buf, (size_t)n, err);
		if (r < 0) {
			cove_ingest_abort(in);
			return cove_error_wrap(err, "%s: '%s'", l->label, name);
		}
	}
	r = cove_ingest_commit(in, digest, err);
	if (r < 0)
		return cove_error_wrap(err, "%s: '%s'", l->label, name);
	r = add_file(l, name, digest, size);
	if (r < 0)
		return nomem(err);
	owned = NULL;
	return 0;
}

static bool skipped_name(const char *name)
{
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	/* docker's legacy per-layer metadata: not needed, never loaded. */
	return !strcmp(base, "json") || !strcmp(base, "VERSION") ||
	       !strcmp(name, "repositories");
}

static int read_archive(struct loader *l, int fd, struct cove_error *err)
{
	_cleanup_(archive_read_freep) struct archive *a = archive_read_new();
	struct archive_entry *e;
	unsigned entries = 0;
	int r;

	if (!a)
		return nomem(err);
	if (archive_read_support_filter_all(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, fd, COPY_CHUNK) != ARCHIVE_OK)
		return cove_error_set(err, EINVAL, "%s: cannot read: %s",
				      l->label, archive_error_string(a));
	for (;;) {
		_cleanup_free_ char *name = NULL;
		const char *raw;
		char digest[COVE_DIGEST_MAX];
		int64_t size;

		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return cove_error_set(
			    err, EINVAL, "%s: not a valid tar archive: %s",
			    l->label, archive_error_string(a));
		if (++entries > MAX_ENTRIES)
			return cove_error_set(err, E2BIG,
					      "%s: more than %u entries",
					      l->label, MAX_ENTRIES);
		raw = archive_entry_pathname(e);
		name = raw ? norm_path(raw) : NULL;
		if (!name || !*name)
			continue;
		if (archive_entry_hardlink(e)) {
			char *target = norm_path(archive_entry_hardlink(e));

			if (target && add_alias(l, name, target) < 0) {
				free(target);
				return nomem(err);
			}
			if (target)
				name = NULL;
			continue;
		}
		switch (archive_entry_filetype(e)) {
		case AE_IFLNK: {
			char *target =
			    archive_entry_symlink(e)
				? link_target(name, archive_entry_symlink(e))
				: NULL;
			if (target && add_alias(l, name, target) < 0) {
				free(target);
				return nomem(err);
			}
			if (target)
				name = NULL;
			continue;
		}
		case AE_IFREG:
			break;
		default:
			continue;
		}
		size = archive_entry_size(e);
		if (!strcmp(name, "oci-layout"))
			r = read_meta(l, a, name, size, &l->oci_layout, NULL,
				      err);
		else if (!strcmp(name, "index.json"))
			r = read_meta(l, a, name, size, &l->index_json,
				      &l->index_len, err);
		else if (!strcmp(name, "manifest.json"))
			r = read_meta(l, a, name, size, &l->manifest_json,
				      &l->manifest_len, err);
		else if (skipped_name(name))
			r = 0;
		else {
			bool pinned = blob_path_digest(name, digest);

			r = ingest_entry(l, a, TAKE_PTR(name), size,
					 pinned ? digest : NULL, err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Commit one image and remember how to report it. */
static int commit_image(struct loader *l, const char *manifest_digest,
			const char *index_digest, char *const *names,
			struct cove_error *err)
{
	struct cove_image_record rec = {0};
	int r;

	r = cove_image_commit(l->s, l->db, l->o->unpack, manifest_digest,
			      index_digest, (const char *const *)names, &rec,
			      err);
	if (r < 0)
		return r;
	if (names && *names) {
		for (char *const *nm = names; *nm && r >= 0; nm++) {
			_cleanup_free_ char *norm = NULL;
			struct cove_image_ref ref;

			if (cove_image_ref_parse(*nm, &ref, NULL) < 0)
				continue;
			norm = cove_image_ref_format(&ref);
			cove_image_ref_release(&ref);
			if (!norm || cove_strv_push(&l->loaded, norm) < 0)
				r = nomem(err);
		}
	} else if (cove_strv_push(&l->loaded, rec.id) < 0) {
		r = nomem(err);
	}
	cove_image_record_release(&rec);
	return r;
}

/* The name an index.json entry gives its image, if any. */
static const char *oci_entry_name(const struct cove_descriptor *d)
{
	const char *ref_name = NULL;

	for (size_t i = 0; i < d->n_annotations; i++) {
		if (!strcmp(d->annotations[i].key, ANNOT_CONTAINERD_NAME))
			return d->annotations[i].value;
		if (!strcmp(d->annotations[i].key, ANNOT_REF_NAME))
			ref_name = d->annotations[i].value;
	}
	/*
	 * A bare ref.name ("latest", as skopeo and umoci write it) is a tag
	 * of no repository: the image is loaded without a name.
	 */
	if (ref_name && !strchr(ref_name, '/') && !strchr(ref_name, ':'))
		return NULL;
	return ref_name;
}

struct group {
	char manifest[COVE_DIGEST_MAX];
	char index[COVE_DIGEST_MAX];
	char **names;
};

static int load_oci(struct loader *l, struct cove_error *err)
{
	_cleanup_(manifest_freep) struct cove_manifest *index = NULL;
	struct cove_platform want = {0};
	struct group *groups = NULL;
	size_t n_groups = 0;
	int r;

	r = cove_manifest_parse(l->index_json, l->index_len, "index.json",
				COVE_MT_OCI_INDEX, 0, &index, err);
	if (r < 0)
		return cove_error_wrap(err, "%s", l->label);
	if (!cove_manifest_is_index(index))
		return cove_error_set(err, EINVAL,
				      "%s: index.json is not an image index",
				      l->label);
	if (l->o->platform) {
		r = cove_platform_parse(l->o->platform, &want, err);
		if (r < 0)
			return r;
	}
	groups = calloc(index->n_manifests + 1, sizeof(*groups));
	if (!groups) {
		r = nomem(err);
		goto out;
	}
	for (size_t i = 0; i < index->n_manifests; i++) {
		const struct cove_descriptor *d = &index->manifests[i];
		const char *nm = oci_entry_name(d);
		char mdigest[COVE_DIGEST_MAX], idigest[COVE_DIGEST_MAX] = "";
		size_t g;

		if (cove_store_blob_size(l->s, d->digest) != d->size) {
			r = cove_error_set(err, ENOENT,
					   "%s: index.json entry %zu (%s, %lld "
					   "bytes) is not in the archive",
					   l->label, i, d->digest,
					   (long long)d->size);
			goto out;
		}
		snprintf(mdigest, sizeof(mdigest), "%s", d->digest);
		if (cove_media_type_is_index(d->media_type)) {
			_cleanup_(manifest_freep) struct cove_manifest *sub =
			    NULL;
			_cleanup_free_ char *buf = NULL;
			size_t len = 0;
			int k;

			r = cove_store_get(l->s, d->digest, COVE_MANIFEST_MAX,
					   &buf, &len, err);
			if (r >= 0)
				r = cove_manifest_parse(buf, len, d->digest,
							d->media_type, 0, &sub,
							err);
			if (r < 0)
				goto out;
			k = cove_index_select(
			    sub, d->digest, l->o->platform ? &want : NULL, err);
			if (k < 0) {
				r = k;
				goto out;
			}
			snprintf(idigest, sizeof(idigest), "%s", d->digest);
			snprintf(mdigest, sizeof(mdigest), "%s",
				 sub->manifests[k].digest);
		} else if (!cove_media_type_is_manifest(d->media_type)) {
			/* Artifacts (signatures, SBOMs) are not images. */
			continue;
		}
		for (g = 0; g < n_groups; g++)
			if (!strcmp(groups[g].manifest, mdigest))
				break;
		if (g == n_groups) {
			memcpy(groups[g].manifest, mdigest, sizeof(mdigest));
			memcpy(groups[g].index, idigest, sizeof(idigest));
			n_groups++;
		}
		if (nm) {
			struct cove_image_ref ref;

			if (cove_image_ref_parse(nm, &ref, err) < 0) {
				r = cove_error_wrap(err,
						    "%s: index.json entry %zu",
						    l->label, i);
				goto out;
			}
			cove_image_ref_release(&ref);
			if (!cove_strv_contains(groups[g].names, nm) &&
			    cove_strv_push(&groups[g].names, nm) < 0) {
				r = nomem(err);
				goto out;
			}
		}
	}
	if (n_groups == 0) {
		r = cove_error_set(err, ENOENT, "%s: index.json lists no image",
				   l->label);
		goto out;
	}
	for (size_t g = 0; g < n_groups && r >= 0; g++)
		r = commit_image(l, groups[g].manifest,
				 *groups[g].index ? groups[g].index : NULL,
				 groups[g].names, err);
out:
	for (size_t g = 0; groups && g < n_groups; g++)
		cove_strv_free(groups[g].names);
	free(groups);
	cove_platform_release(&want);
	return r;
}

static const char *layer_media_type(struct cove_store *s, const char *digest)
{
	_cleanup_close_ int fd = cove_store_open_blob(s, digest);
	enum cove_compression comp = COVE_COMPRESSION_NONE;

	if (fd >= 0)
		(void)blob_compression(fd, &comp);
	switch (comp) {
	case COVE_COMPRESSION_GZIP:
		return COVE_MT_OCI_LAYER_GZIP;
	case COVE_COMPRESSION_ZSTD:
		return COVE_MT_OCI_LAYER_ZSTD;
	case COVE_COMPRESSION_NONE:
		break;
	}
	return COVE_MT_OCI_LAYER;
}

/* One manifest.json entry: an OCI manifest over the archive's blobs. */
static int load_docker_entry(struct loader *l, json_t *entry, size_t i,
			     struct cove_error *err)
{
	_cleanup_json_ json_t *m = NULL;
	_cleanup_strv_ char **tags = NULL, **layers = NULL;
	_cleanup_free_ char *buf = NULL;
	const struct file *cfg, *f;
	char path[64], digest[COVE_DIGEST_MAX];
	const char *config = NULL;
	json_t *arr;
	int r;

	snprintf(path, sizeof(path), "[%zu]", i);
	if (!json_is_object(entry))
		return cove_error_set(err, EINVAL,
				      "%s: manifest.json: invalid '%s': "
				      "expected an object",
				      l->label, path);
	r = cove_json_string(entry, path, "Config", &config, err);
	if (r >= 0 && !config)
		r = cove_error_set(err, EINVAL, "missing '%s.Config'", path);
	if (r >= 0)
		r = cove_json_strv(entry, path, "RepoTags", &tags, err);
	if (r >= 0)
		r = cove_json_strv(entry, path, "Layers", &layers, err);
	if (r < 0)
		return cove_error_wrap(err, "%s: manifest.json", l->label);
	r = need_file(l, config, &cfg, err);
	if (r < 0)
		return r;
	m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[]}", "schemaVersion", 2,
		      "mediaType", COVE_MT_OCI_MANIFEST, "config", "mediaType",
		      COVE_MT_OCI_CONFIG, "digest", cfg->digest, "size",
		      (json_int_t)cfg->size, "layers");
	if (!m)
		return nomem(err);
	arr = json_object_get(m, "layers");
	for (char **p = layers; p && *p; p++) {
		json_t *d;

		r = need_file(l, *p, &f, err);
		if (r < 0)
			return r;
		d = json_pack("{s:s, s:s, s:I}", "mediaType",
			      layer_media_type(l->s, f->digest), "digest",
			      f->digest, "size", (json_int_t)f->size);
		if (!d || json_array_append_new(arr, d) < 0)
			return nomem(err);
	}
	buf = json_dumps(m, JSON_COMPACT);
	if (!buf)
		return nomem(err);
	r = cove_store_put(l->s, buf, strlen(buf), NULL, digest, err);
	if (r < 0)
		return r;
	return commit_image(l, digest, NULL, tags, err);
}

static int load_docker(struct loader *l, struct cove_error *err)
{
	_cleanup_json_ json_t *top = NULL;
	json_t *entry;
	size_t i;
	int r;

	r = cove_json_load_buffer("manifest.json", l->manifest_json,
				  l->manifest_len, &top, err);
	if (r < 0)
		return cove_error_wrap(err, "%s", l->label);
	if (!json_is_array(top) || json_array_size(top) == 0)
		return cove_error_set(err, EINVAL,
				      "%s: manifest.json: expected a non-empty "
				      "array",
				      l->label);
	json_array_foreach(top, i, entry)
	{
		r = load_docker_entry(l, entry, i, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cove_image_load(struct cove_store *s, struct cove_images *db, int fd,
		    const char *name, const struct cove_load_opts *o,
		    char ***ret_loaded, struct cove_error *err)
{
	static const struct cove_load_opts defaults = {0};
	struct loader l = {
	    .s = s,
	    .db = db,
	    .o = o ? o : &defaults,
	    .label = name ? name : "archive",
	};
	_cleanup_close_ int lease = -1;
	int r;

	/* Blobs ingested before their image is recorded are kept from prune. */
	lease = cove_store_lease(s, err);
	if (lease < 0)
		return lease;
	r = read_archive(&l, fd, err);
	if (r < 0)
		goto out;
	if (l.index_json && (l.oci_layout || !l.manifest_json))
		r = load_oci(&l, err);
	else if (l.manifest_json)
		r = load_docker(&l, err);
	else
		r = cove_error_set(err, EINVAL,
				   "%s: neither an OCI archive (no index.json) "
				   "nor a docker archive (no manifest.json)",
				   l.label);
	if (r >= 0 && ret_loaded)
		*ret_loaded = TAKE_PTR(l.loaded);
out:
	loader_release(&l);
	return r;
}
