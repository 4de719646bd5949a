/*
 * Unit tests for src/image/pull.c (committing an image whose blobs are in
 * the store, and what it refuses) and src/image/archive.c (save and load
 * round trips in both formats, archives that link their files, hostile
 * archives), on scratch stores in /tmp.  No registry, no unpacking.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/archive.h"
#include "image/digest.h"
#include "image/images.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "image/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

struct fixture {
	char dir[64];
	char *root1, *root2;
	struct cove_store *s1, *s2;
	struct cove_images *db1, *db2;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cove-test-archive-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->root1 = cove_strdup_printf("%s/one", f->dir);
	f->root2 = cove_strdup_printf("%s/two", f->dir);
	if (cove_store_open(f->root1, &f->s1, NULL) < 0 ||
	    cove_store_open(f->root2, &f->s2, NULL) < 0 ||
	    cove_images_open(f->root1, &f->db1, NULL) < 0 ||
	    cove_images_open(f->root2, &f->db2, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cove_images_free(f->db1);
	cove_images_free(f->db2);
	cove_store_free(f->s1);
	cove_store_free(f->s2);
	cove_rm_rf(f->dir);
	free(f->root1);
	free(f->root2);
	free(f);
	return 0;
}

/* ---- building blocks ---------------------------------------------------- */

/* A regular file of a test archive. */
struct member {
	const char *path;
	const char *data;
};

/* A tar of @m in memory (caller frees). */
static char *make_tar(const struct member *m, size_t n, size_t *ret_len)
{
	struct archive *a = archive_write_new();
	size_t cap = 1 << 20, used = 0;
	char *buf = malloc(cap);

	assert_non_null(a);
	assert_non_null(buf);
	assert_int_equal(archive_write_set_format_pax_restricted(a),
			 ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1),
			 ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used),
			 ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, m[i].path);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)strlen(m[i].data));
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (*m[i].data)
			assert_int_equal(
			    archive_write_data(a, m[i].data, strlen(m[i].data)),
			    (la_ssize_t)strlen(m[i].data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*ret_len = used;
	return buf;
}

struct image {
	char layer[COVE_DIGEST_MAX];
	char config[COVE_DIGEST_MAX];
	char manifest[COVE_DIGEST_MAX];
	char *layer_buf, *config_buf, *manifest_buf;
	size_t layer_len;
};

static void image_release(struct image *img)
{
	free(img->layer_buf);
	free(img->config_buf);
	free(img->manifest_buf);
}

/*
 * One image with one uncompressed layer holding "hello" in @s.  The
 * manifest's layer size is off by @size_delta, and the config lists
 * @diff_id (NULL: the right one).
 */
static void put_image(struct cove_store *s, struct image *img,
		      int64_t size_delta, const char *diff_id)
{
	static const struct member m[] = {{"hello", "hello world\n"}};

	*img = (struct image){0};
	img->layer_buf = make_tar(m, 1, &img->layer_len);
	assert_int_equal(cove_store_put(s, img->layer_buf, img->layer_len, NULL,
					img->layer, NULL),
			 0);
	img->config_buf = cove_strdup_printf(
	    "{\"architecture\":\"amd64\",\"os\":\"linux\","
	    "\"created\":\"2024-05-06T07:08:09Z\","
	    "\"config\":{\"Cmd\":[\"sh\"]},"
	    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
	    diff_id ? diff_id : img->layer);
	assert_int_equal(cove_store_put(s, img->config_buf,
					strlen(img->config_buf), NULL,
					img->config, NULL),
			 0);
	img->manifest_buf = cove_strdup_printf(
	    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"" COVE_MT_OCI_CONFIG "\","
	    "\"digest\":\"%s\",\"size\":%zu},"
	    "\"layers\":[{\"mediaType\":\"" COVE_MT_OCI_LAYER "\","
	    "\"digest\":\"%s\",\"size\":%lld}]}",
	    img->config, strlen(img->config_buf), img->layer,
	    (long long)img->layer_len + (long long)size_delta);
	assert_int_equal(cove_store_put(s, img->manifest_buf,
					strlen(img->manifest_buf), NULL,
					img->manifest, NULL),
			 0);
}

static int mem_fd(void)
{
	int fd = memfd_create("archive", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* ---- commit -------------------------------------------------------------- */

static void test_commit(void **state)
{
	struct fixture *f = *state;
	const char *names[] = {"example.com/app:1", "app:2", NULL};
	struct cove_image_record rec = {0};
	struct cove_error err = {0};
	struct image img;

	put_image(f->s1, &img, 0, NULL);
	assert_int_equal(cove_image_commit(f->s1, f->db1, NULL, img.manifest,
					   NULL, names, &rec, &err),
			 0);
	assert_string_equal(rec.id, img.config);
	assert_string_equal(rec.manifest_digest, img.manifest);
	assert_string_equal(rec.index_digest, "");
	assert_int_equal(rec.created, 1714979289);
	assert_int_equal(rec.size,
			 (int64_t)(strlen(img.manifest_buf) +
				   strlen(img.config_buf) + img.layer_len));
	assert_int_equal(cove_strv_length(rec.names), 2);
	assert_true(cove_strv_contains(rec.names, "example.com/app:1"));
	assert_true(cove_strv_contains(rec.names, "docker.io/library/app:2"));
	cove_image_record_release(&rec);
	image_release(&img);
}

static void expect_refused(struct fixture *f, struct image *img, int code,
			   const char *needle)
{
	struct cove_image_record rec = {0};
	struct cove_image_record *recs = NULL;
	struct cove_error err = {0};
	size_t n = 0;

	assert_int_equal(cove_image_commit(f->s1, f->db1, NULL, img->manifest,
					   NULL, NULL, &rec, &err),
			 -code);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, err.msg);
	assert_int_equal(cove_images_list(f->db1, &recs, &n, NULL), 0);
	assert_int_equal(n, 0); /* nothing recorded */
	cove_image_records_free(recs, n);
}

static void test_commit_refusals(void **state)
{
	struct fixture *f = *state;
	struct cove_error err = {0};
	struct image img;

	/* the manifest says another size than the blob has */
	put_image(f->s1, &img, 1, NULL);
	expect_refused(f, &img, EBADMSG, "the manifest says");
	image_release(&img);

	/* an uncompressed layer that is not its diff_id */
	put_image(f->s1, &img, 0,
		  "sha256:"
		  "0000000000000000000000000000000000000000000000000000000000"
		  "000000");
	expect_refused(f, &img, EBADMSG, "diff_id");
	image_release(&img);

	/* a layer missing from the store */
	put_image(f->s1, &img, 0, NULL);
	assert_int_equal(cove_store_delete(f->s1, img.layer, &err), 0);
	expect_refused(f, &img, ENOENT, "not in the store");
	image_release(&img);

	/* an index is not an image */
	{
		char digest[COVE_DIGEST_MAX];
		static const char index[] =
		    "{\"schemaVersion\":2,\"mediaType\":\"" COVE_MT_OCI_INDEX
		    "\",\"manifests\":[]}";
		struct cove_image_record rec = {0};

		assert_int_equal(cove_store_put(f->s1, index, strlen(index),
						NULL, digest, NULL),
				 0);
		assert_int_equal(cove_image_commit(f->s1, f->db1, NULL, digest,
						   NULL, NULL, &rec, &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "is an index"));
	}
}

/* ---- save and load ------------------------------------------------------- */

static void round_trip(struct fixture *f, enum cove_archive_format format)
{
	const char *names[] = {"example.com/app:1", NULL};
	char *refs[] = {(char *)"example.com/app:1", NULL};
	struct cove_image_record a = {0}, b = {0};
	struct cove_error err = {0};
	_cleanup_close_ int fd = mem_fd();
	char **loaded = NULL;
	struct image img;

	put_image(f->s1, &img, 0, NULL);
	assert_int_equal(cove_image_commit(f->s1, f->db1, NULL, img.manifest,
					   NULL, names, &a, &err),
			 0);
	if (cove_image_save_fd(f->s1, f->db1, refs, format, fd, f->dir, &err) <
	    0)
		fail_msg("save: %s", err.msg);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	if (cove_image_load(f->s2, f->db2, fd, "test", NULL, &loaded, &err) < 0)
		fail_msg("load: %s", err.msg);
	assert_non_null(loaded);
	assert_string_equal(loaded[0], "example.com/app:1");
	assert_null(loaded[1]);
	assert_int_equal(
	    cove_images_lookup(f->db2, "example.com/app:1", &b, &err), 0);
	assert_string_equal(a.id, b.id);
	if (format == COVE_ARCHIVE_OCI)
		assert_string_equal(a.manifest_digest, b.manifest_digest);
	assert_true(cove_store_has(f->s2, img.layer));
	cove_strv_free(loaded);
	cove_image_record_release(&a);
	cove_image_record_release(&b);
	image_release(&img);
}

static void test_round_trip_oci(void **state)
{
	round_trip(*state, COVE_ARCHIVE_OCI);
}

static void test_round_trip_docker(void **state)
{
	round_trip(*state, COVE_ARCHIVE_DOCKER);
}

/*
 * docker-archive writers share layers through links (skopeo: a legacy
 * directory's layer.tar symlinked to the real file); they are followed by
 * name, and "./", ".." in metadata paths are resolved.
 */
static void test_load_docker_links(void **state)
{
	struct fixture *f = *state;
	struct cove_image_record rec = {0};
	struct cove_error err = {0};
	_cleanup_close_ int fd = mem_fd();
	_cleanup_free_ char *manifest = NULL, *tar = NULL, *cfg_name = NULL,
			    *cfg = NULL;
	struct archive *a = archive_write_new();
	size_t cap = 1 << 20, used = 0;
	char **loaded = NULL, d[COVE_DIGEST_MAX];
	struct image img;

	put_image(f->s1, &img, 0, NULL);
	/* two layers, the same blob twice, each reached through a link */
	cfg = cove_strdup_printf("{\"architecture\":\"amd64\",\"os\":"
				 "\"linux\",\"rootfs\":{\"type\":\"layers\","
				 "\"diff_ids\":[\"%s\",\"%s\"]}}",
				 img.layer, img.layer);
	assert_int_equal(
	    cove_digest_buffer(COVE_DIGEST_SHA256, cfg, strlen(cfg), d), 0);
	cfg_name = cove_strdup_printf("%s.json", d + 7);
	manifest = cove_strdup_printf(
	    "[{\"Config\":\"./dir/../%s\",\"RepoTags\":[\"linked:1\"],"
	    "\"Layers\":[\"legacy/layer.tar\",\"hard.tar\"]}]",
	    cfg_name);
	struct {
		const char *path, *data;
		size_t len;
		const char *sym, *hard;
	} m[] = {
	    {"real.tar", img.layer_buf, img.layer_len, NULL, NULL},
	    {"legacy/layer.tar", NULL, 0, "../real.tar", NULL},
	    {"hard.tar", NULL, 0, NULL, "real.tar"},
	    {cfg_name, cfg, strlen(cfg), NULL, NULL},
	    {"legacy/json", "{}", 2, NULL, NULL},
	    {"manifest.json", manifest, strlen(manifest), NULL, NULL},
	};

	/* The layer has NUL bytes: not for the string-based make_tar(). */
	tar = malloc(cap);
	assert_non_null(tar);
	assert_int_equal(archive_write_set_format_pax_restricted(a),
			 ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, tar, cap, &used),
			 ARCHIVE_OK);
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, m[i].path);
		archive_entry_set_perm(e, 0644);
		if (m[i].sym) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, m[i].sym);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			if (m[i].hard)
				archive_entry_set_hardlink(e, m[i].hard);
			else
				archive_entry_set_size(e, (la_int64_t)m[i].len);
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (m[i].data)
			assert_int_equal(
			    archive_write_data(a, m[i].data, m[i].len),
			    (la_ssize_t)m[i].len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	assert_int_equal(cove_write_all(fd, tar, used), (ssize_t)used);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);

	if (cove_image_load(f->s2, f->db2, fd, "test", NULL, &loaded, &err) < 0)
		fail_msg("load: %s", err.msg);
	assert_string_equal(loaded[0], "docker.io/library/linked:1");
	assert_int_equal(cove_images_lookup(f->db2, "linked:1", &rec, &err), 0);
	assert_string_equal(rec.id, d);
	cove_strv_free(loaded);
	cove_image_record_release(&rec);
	image_release(&img);
}

static void load_expect(struct fixture *f, const struct member *m, size_t n,
			int code, const char *needle)
{
	_cleanup_close_ int fd = mem_fd();
	_cleanup_free_ char *tar = NULL;
	struct cove_error err = {0};
	char **loaded = NULL;
	size_t len = 0;

	tar = make_tar(m, n, &len);
	assert_int_equal(cove_write_all(fd, tar, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(
	    cove_image_load(f->s2, f->db2, fd, "bad.tar", NULL, &loaded, &err),
	    -code);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, err.msg);
	assert_null(loaded);
}

static void test_load_refusals(void **state)
{
	struct fixture *f = *state;
	static const struct member none[] = {{"README", "hello"}};
	static const struct member absent[] = {
	    {"oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"},
	    {"index.json",
	     "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
	     "\"" COVE_MT_OCI_MANIFEST "\",\"digest\":\"sha256:"
	     "1111111111111111111111111111111111111111111111111111111111111111"
	     "\",\"size\":10}]}"},
	};
	static const struct member badjson[] = {{"manifest.json", "[{"}};
	static const struct member nolayer[] = {
	    {"c.json", "{\"architecture\":\"amd64\",\"os\":\"linux\","
		       "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"},
	    {"manifest.json",
	     "[{\"Config\":\"c.json\",\"Layers\":[\"missing.tar\"]}]"},
	};
	static const struct member bad_blob[] = {
	    {"blobs/sha256/"
	     "2222222222222222222222222222222222222222222222222222222222222222",
	     "not that"},
	};

	load_expect(f, none, ARRAY_SIZE(none), EINVAL, "neither an OCI");
	load_expect(f, absent, ARRAY_SIZE(absent), ENOENT,
		    "is not in the archive");
	load_expect(f, badjson, ARRAY_SIZE(badjson), EINVAL, "manifest.json");
	load_expect(f, nolayer, ARRAY_SIZE(nolayer), ENOENT, "missing.tar");
	load_expect(f, bad_blob, ARRAY_SIZE(bad_blob), EBADMSG,
		    "digest mismatch");
}

static void test_format_parse(void **state)
{
	enum cove_archive_format fmt;
	struct cove_error err = {0};

	(void)state;
	assert_int_equal(cove_archive_format_parse("oci-archive", &fmt, &err),
			 0);
	assert_int_equal(fmt, COVE_ARCHIVE_OCI);
	assert_int_equal(cove_archive_format_parse("docker", &fmt, &err), 0);
	assert_int_equal(fmt, COVE_ARCHIVE_DOCKER);
	assert_int_equal(cove_archive_format_parse("zip", &fmt, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'zip'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_refusals, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_oci, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_docker, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_load_docker_links, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_load_refusals, setup,
					    teardown),
	    cmocka_unit_test(test_format_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
