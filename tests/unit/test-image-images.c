/*
 * Unit tests for src/image/images.c: the image metadata database (records,
 * names, lookups by name, id and short id, removal rules, GC roots), that
 * a failed change leaves nothing behind, and that two processes changing
 * the same name at once both complete and leave the database consistent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "image/images.h"
#include "image/manifest.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define IA                                                                     \
	"sha256:"                                                              \
	"aaaa111111111111111111111111111111111111111111111111111111111111"
#define IB                                                                     \
	"sha256:"                                                              \
	"aaaa222222222222222222222222222222222222222222222222222222222222"
#define IC                                                                     \
	"sha256:"                                                              \
	"cccc333333333333333333333333333333333333333333333333333333333333"
#define MA                                                                     \
	"sha256:"                                                              \
	"0a00000000000000000000000000000000000000000000000000000000000000"
#define MB                                                                     \
	"sha256:"                                                              \
	"0b00000000000000000000000000000000000000000000000000000000000000"
#define MC                                                                     \
	"sha256:"                                                              \
	"0c00000000000000000000000000000000000000000000000000000000000000"
#define XC                                                                     \
	"sha256:"                                                              \
	"1c00000000000000000000000000000000000000000000000000000000000000"

static int setup_tmpdir(void **state)
{
	char *dir = strdup("/tmp/cove-test-images-XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_tmpdir(void **state)
{
	char *dir = *state;

	if (dir) {
		cove_rm_rf(dir);
		free(dir);
	}
	return 0;
}

static struct cove_images *open_db(void **state)
{
	struct cove_images *db = NULL;
	struct cove_error err = {0};

	if (cove_images_open((char *)*state, &db, &err) < 0)
		fail_msg("open: %s", err.msg);
	return db;
}

static void add(struct cove_images *db, const char *id, const char *manifest,
		const char *index, int64_t created, const char *const *names)
{
	struct cove_image_record rec = {0};
	struct cove_error err = {0};

	snprintf(rec.id, sizeof(rec.id), "%s", id);
	snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s",
		 manifest);
	if (index)
		snprintf(rec.index_digest, sizeof(rec.index_digest), "%s",
			 index);
	rec.manifest_media_type = (char *)COVE_MT_OCI_MANIFEST;
	rec.created = created;
	rec.size = 1000;
	if (cove_images_add(db, &rec, names, &err) < 0)
		fail_msg("add %s: %s", id, err.msg);
}

/* The id @s resolves to, or "" */
static const char *resolve(struct cove_images *db, const char *s,
			   struct cove_error *err)
{
	static char id[COVE_DIGEST_MAX];
	struct cove_image_record rec;

	id[0] = '\0';
	if (cove_images_lookup(db, s, &rec, err) == 0) {
		snprintf(id, sizeof(id), "%s", rec.id);
		cove_image_record_release(&rec);
	}
	return id;
}

static void test_add_lookup(void **state)
{
	struct cove_images *db = open_db(state);
	struct cove_image_record rec;
	struct cove_error err = {0};
	const char *na[] = {"busybox", "localhost:5000/bb:1.36", NULL};
	const char *nc[] = {"quay.io/x/c:v1", NULL};
	struct stat st;
	_cleanup_free_ char *wal =
	    cove_strdup_printf("%s/cove.db-wal", (char *)*state);

	add(db, IA, MA, NULL, 1700000000, na);
	add(db, IB, MB, NULL, 1700000001, NULL);
	add(db, IC, MC, XC, 0, nc);
	/* WAL mode */
	assert_int_equal(stat(wal, &st), 0);

	assert_int_equal(cove_images_lookup(db, "busybox", &rec, &err), 0);
	assert_string_equal(rec.id, IA);
	assert_string_equal(rec.manifest_digest, MA);
	assert_string_equal(rec.manifest_media_type, COVE_MT_OCI_MANIFEST);
	assert_string_equal(rec.index_digest, "");
	assert_true(rec.created == 1700000000);
	assert_true(rec.size == 1000);
	assert_true(rec.added > 1600000000);
	assert_int_equal(cove_strv_length(rec.names), 2);
	assert_string_equal(rec.names[0], "docker.io/library/busybox:latest");
	assert_string_equal(rec.names[1], "localhost:5000/bb:1.36");
	cove_image_record_release(&rec);

	/* names, normalised */
	assert_string_equal(
	    resolve(db, "docker.io/library/busybox:latest", &err), IA);
	assert_string_equal(resolve(db, "library/busybox", &err), IA);
	assert_string_equal(resolve(db, "localhost:5000/bb:1.36", &err), IA);
	assert_string_equal(resolve(db, "quay.io/x/c:v1", &err), IC);
	/* full ids, with and without the algorithm */
	assert_string_equal(resolve(db, IB, &err), IB);
	assert_string_equal(resolve(db, IB + 7, &err), IB);
	/* short ids */
	assert_string_equal(resolve(db, "cccc33", &err), IC);
	assert_string_equal(resolve(db, "sha256:cccc", &err), IC);
	assert_string_equal(resolve(db, "aaaa2", &err), IB);
	assert_string_equal(resolve(db, "aaaa", &err), "");
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(
	    err.msg,
	    "short id 'aaaa' is ambiguous: more than one image matches");
	assert_string_equal(resolve(db, "cc", &err), "");
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, "cc: image not known");
	assert_string_equal(resolve(db, "sha512:cccc", &err), "");
	assert_string_equal(resolve(db, "busybox:1.36", &err), "");
	assert_string_equal(err.msg, "busybox:1.36: image not known");
	assert_string_equal(resolve(db, "Not A Name!", &err), "");
	assert_int_equal(err.code, ENOENT);
	assert_int_equal(cove_images_lookup(db, "", &rec, &err), -EINVAL);

	/* pinned by digest: the manifest's, or the index's */
	assert_string_equal(resolve(db, "localhost:5000/bb@" MA, &err), IA);
	assert_string_equal(resolve(db, "busybox@" MA, &err), IA);
	assert_string_equal(resolve(db, "quay.io/x/c@" XC, &err), IC);
	assert_string_equal(resolve(db, "quay.io/x/c:v9@" MC, &err), IC);
	/* but only in a repository that names the image */
	assert_string_equal(resolve(db, "quay.io/x/other@" MC, &err), "");
	assert_string_equal(resolve(db, "busybox@" MB, &err), "");
	cove_images_free(db);
}

static void test_tag_untag_remove(void **state)
{
	struct cove_images *db = open_db(state);
	struct cove_image_record rec;
	struct cove_error err = {0};
	const char *na[] = {"app:1", NULL};

	add(db, IA, MA, NULL, 0, na);
	add(db, IB, MB, NULL, 0, NULL);

	/* tag moves a name */
	assert_int_equal(cove_images_tag(db, IB, "app:1", &err), 0);
	assert_string_equal(resolve(db, "app:1", &err), IB);
	assert_int_equal(cove_images_lookup(db, IA, &rec, &err), 0);
	assert_null(rec.names);
	cove_image_record_release(&rec);
	assert_int_equal(
	    cove_images_tag(db, IB, "docker.io/library/app:2", &err), 0);
	assert_int_equal(cove_images_lookup(db, IB, &rec, &err), 0);
	assert_int_equal(cove_strv_length(rec.names), 2);
	cove_image_record_release(&rec);

	assert_int_equal(cove_images_tag(db, IC, "x", &err), -ENOENT);
	assert_string_equal(err.msg, "image '" IC "' not known");
	assert_int_equal(cove_images_tag(db, "aaaa", "x", &err), -EINVAL);
	assert_int_equal(cove_images_tag(db, IB, "Bad", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "must be lowercase"));

	/* untag */
	assert_int_equal(cove_images_untag(db, "app:2", &err), 0);
	assert_int_equal(cove_images_untag(db, "app:2", &err), -ENOENT);
	assert_string_equal(err.msg,
			    "no image is named 'docker.io/library/app:2'");

	/* remove: refused while named, unless forced */
	assert_int_equal(cove_images_remove(db, IB, false, &err), -EBUSY);
	assert_string_equal(
	    err.msg, "image " IB " is still named 'docker.io/library/app:1': "
		     "remove the name first or force");
	assert_string_equal(resolve(db, IB, &err), IB);
	assert_int_equal(cove_images_remove(db, IA, false, &err), 0);
	assert_string_equal(resolve(db, IA, &err), "");
	assert_int_equal(cove_images_remove(db, IA, false, &err), -ENOENT);
	assert_int_equal(cove_images_remove(db, IB, true, &err), 0);
	assert_string_equal(resolve(db, "app:1", &err), "");
	assert_int_equal(cove_images_remove(db, "junk", true, &err), -EINVAL);
	cove_images_free(db);
}

/*
 * A short name resolves to localhost's image first (what `cove commit`
 * and `cove tag foo` name), then to docker.io's, as podman resolves short
 * names locally; a name with a registry is taken as written.
 */
static void test_short_names_localhost_first(void **state)
{
	struct cove_images *db = open_db(state);
	struct cove_error err = {0};
	const char *na[] = {"localhost/app:1", NULL};
	const char *nb[] = {"docker.io/library/app:1", "docker.io/library/hub",
			    NULL};

	add(db, IA, MA, NULL, 0, na);
	assert_string_equal(resolve(db, "app:1", &err), IA);
	assert_string_equal(resolve(db, "localhost/app:1", &err), IA);
	assert_string_equal(resolve(db, "docker.io/library/app:1", &err), "");
	add(db, IB, MB, NULL, 0, nb);
	assert_string_equal(resolve(db, "app:1", &err), IA);
	assert_string_equal(resolve(db, "docker.io/library/app:1", &err), IB);
	assert_string_equal(resolve(db, "library/app:1", &err), IB);
	assert_string_equal(resolve(db, "hub", &err), IB);
	/* untag of a short name: localhost's first, then docker.io's */
	assert_int_equal(cove_images_untag(db, "app:1", &err), 0);
	assert_string_equal(resolve(db, "app:1", &err), IB);
	assert_string_equal(resolve(db, "localhost/app:1", &err), "");
	assert_int_equal(cove_images_untag(db, "app:1", &err), 0);
	assert_string_equal(resolve(db, "app:1", &err), "");
	assert_int_equal(cove_images_untag(db, "app:1", &err), -ENOENT);
	assert_string_equal(err.msg,
			    "no image is named 'docker.io/library/app:1'");
	cove_images_free(db);
}

static void test_list_and_roots(void **state)
{
	struct cove_images *db = open_db(state);
	struct cove_image_record *recs = NULL;
	struct cove_error err = {0};
	_cleanup_strv_ char **roots = NULL;
	const char *nc[] = {"c", "c:2", NULL};
	size_t n = 9;

	assert_int_equal(cove_images_list(db, &recs, &n, &err), 0);
	assert_int_equal(n, 0);
	cove_image_records_free(recs, n);
	assert_int_equal(cove_images_referenced_blobs(db, &roots, &err), 0);
	assert_non_null(roots);
	assert_null(roots[0]);
	cove_strv_free(TAKE_PTR(roots));

	add(db, IA, MA, NULL, 10, NULL);
	add(db, IB, MA, XC, 20, NULL); /* shares a manifest digest */
	add(db, IC, MC, XC, 30, nc);
	assert_int_equal(cove_images_list(db, &recs, &n, &err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(recs[i].id, IC))
			assert_int_equal(cove_strv_length(recs[i].names), 2);
		else
			assert_null(recs[i].names);
	cove_image_records_free(recs, n);

	assert_int_equal(cove_images_referenced_blobs(db, &roots, &err), 0);
	assert_int_equal(cove_strv_length(roots), 6);
	assert_true(cove_strv_contains(roots, IA));
	assert_true(cove_strv_contains(roots, IB));
	assert_true(cove_strv_contains(roots, IC));
	assert_true(cove_strv_contains(roots, MA));
	assert_true(cove_strv_contains(roots, MC));
	assert_true(cove_strv_contains(roots, XC));

	/* Adding again updates the record, keeps the names. */
	add(db, IC, MB, NULL, 31, NULL);
	{
		struct cove_image_record rec;
		assert_int_equal(cove_images_lookup(db, "c:2", &rec, &err), 0);
		assert_string_equal(rec.manifest_digest, MB);
		assert_string_equal(rec.index_digest, "");
		assert_true(rec.created == 31);
		cove_image_record_release(&rec);
	}
	cove_images_free(db);
}

static void test_rollback(void **state)
{
	struct cove_images *db = open_db(state);
	struct cove_image_record rec = {0}, got;
	struct cove_error err = {0};
	const char *bad[] = {"good:1", "Bad:1", NULL};
	const char *na[] = {"keep:1", NULL};

	snprintf(rec.id, sizeof(rec.id), "%s", IA);
	snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s", MA);
	rec.manifest_media_type = (char *)COVE_MT_OCI_MANIFEST;

	/* The second name fails after the image and the first name went in. */
	assert_int_equal(cove_images_add(db, &rec, bad, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'Bad:1'"));
	assert_string_equal(resolve(db, IA, &err), "");
	assert_string_equal(resolve(db, "good:1", &err), "");

	/* An update that fails leaves the old record and names intact. */
	assert_int_equal(cove_images_add(db, &rec, na, &err), 0);
	snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s", MB);
	assert_int_equal(cove_images_add(db, &rec, bad, &err), -EINVAL);
	assert_int_equal(cove_images_lookup(db, IA, &got, &err), 0);
	assert_string_equal(got.manifest_digest, MA);
	assert_int_equal(cove_strv_length(got.names), 1);
	assert_string_equal(got.names[0], "docker.io/library/keep:1");
	cove_image_record_release(&got);

	/* Invalid records never reach the database. */
	snprintf(rec.id, sizeof(rec.id), "sha256:short");
	assert_int_equal(cove_images_add(db, &rec, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid image id"));
	snprintf(rec.id, sizeof(rec.id), "%s", IB);
	snprintf(rec.index_digest, sizeof(rec.index_digest), "x");
	assert_int_equal(cove_images_add(db, &rec, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid index digest"));
	rec.index_digest[0] = '\0';
	rec.manifest_media_type = NULL;
	assert_int_equal(cove_images_add(db, &rec, NULL, &err), -EINVAL);
	assert_string_equal(resolve(db, IB, &err), "");

	/* The database is still sound, and reopens. */
	cove_images_free(db);
	db = open_db(state);
	assert_string_equal(resolve(db, "keep:1", &err), IA);
	cove_images_free(db);
}

static void test_schema_version(void **state)
{
	struct cove_images *db = open_db(state);
	struct cove_error err = {0};
	_cleanup_free_ char *path =
	    cove_strdup_printf("%s/cove.db", (char *)*state);
	sqlite3 *raw = NULL;

	cove_images_free(db);
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(raw, "PRAGMA user_version=99", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(raw);
	db = NULL;
	assert_int_equal(cove_images_open((char *)*state, &db, &err), -EPROTO);
	assert_null(db);
	assert_non_null(strstr(err.msg, "schema version 99 is newer"));
}

/* ---- two processes ------------------------------------------------------ */

#define ROUNDS 150

static int worker(const char *root, const char *mine, const char *manifest,
		  int who)
{
	struct cove_images *db = NULL;
	struct cove_error err = {0};
	struct cove_image_record rec = {0};

	if (cove_images_open(root, &db, &err) < 0) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 1;
	}
	snprintf(rec.id, sizeof(rec.id), "%s", mine);
	snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s",
		 manifest);
	rec.manifest_media_type = (char *)COVE_MT_OCI_MANIFEST;
	for (int i = 0; i < ROUNDS; i++) {
		char own[64];
		const char *names[] = {"shared:latest", own, NULL};
		struct cove_image_record got;

		snprintf(own, sizeof(own), "w%d:%d", who, i);
		if (cove_images_add(db, &rec, names, &err) < 0 ||
		    cove_images_tag(db, mine, "shared:latest", &err) < 0 ||
		    cove_images_tag(db, mine, "shared:2", &err) < 0) {
			fprintf(stderr, "worker %d round %d: %s\n", who, i,
				err.msg);
			return 2;
		}
		if (i % 3 == 0 && cove_images_untag(db, "shared:2", &err) < 0 &&
		    err.code != ENOENT) {
			fprintf(stderr, "worker %d untag: %s\n", who, err.msg);
			return 3;
		}
		if (cove_images_lookup(db, "shared:latest", &got, &err) < 0) {
			fprintf(stderr, "worker %d lookup: %s\n", who, err.msg);
			return 4;
		}
		cove_image_record_release(&got);
	}
	cove_images_free(db);
	return 0;
}

static void test_two_processes(void **state)
{
	const char *root = *state;
	struct cove_images *db;
	struct cove_image_record rec;
	struct cove_error err = {0};
	_cleanup_free_ char *path = cove_strdup_printf("%s/cove.db", root);
	sqlite3 *raw = NULL;
	sqlite3_stmt *st = NULL;
	pid_t a, b;
	int status;

	/* Both also race to create the database. */
	a = fork();
	assert_true(a >= 0);
	if (a == 0)
		_exit(worker(root, IA, MA, 1));
	b = fork();
	assert_true(b >= 0);
	if (b == 0)
		_exit(worker(root, IB, MB, 2));
	assert_int_equal(waitpid(a, &status, 0), a);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(waitpid(b, &status, 0), b);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	db = open_db(state);
	assert_int_equal(cove_images_lookup(db, "shared:latest", &rec, &err),
			 0);
	assert_true(!strcmp(rec.id, IA) || !strcmp(rec.id, IB));
	cove_image_record_release(&rec);
	/* every private name of both made it */
	for (int w = 1; w <= 2; w++)
		for (int i = 0; i < ROUNDS; i++) {
			char own[64];
			snprintf(own, sizeof(own), "w%d:%d", w, i);
			assert_string_equal(resolve(db, own, &err),
					    w == 1 ? IA : IB);
		}
	cove_images_free(db);

	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	assert_int_equal(
	    sqlite3_prepare_v2(raw, "PRAGMA foreign_key_check", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(raw, "SELECT count(*) FROM names",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	/* 2 * ROUNDS private names, shared:latest, maybe shared:2 */
	assert_true(sqlite3_column_int(st, 0) >= 2 * ROUNDS + 1);
	assert_true(sqlite3_column_int(st, 0) <= 2 * ROUNDS + 2);
	sqlite3_finalize(st);
	sqlite3_close(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_tmpdir, teardown_tmpdir)
	    T(test_add_lookup),
	    T(test_tag_untag_remove),
	    T(test_short_names_localhost_first),
	    T(test_list_and_roots),
	    T(test_rollback),
	    T(test_schema_version),
	    T(test_two_processes),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
