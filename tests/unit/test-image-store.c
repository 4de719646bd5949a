/*
 * Unit tests for src/image/store.c and src/image/gc.c: ingest and commit,
 * digest and size verification that leaves nothing behind, concurrent
 * ingest of one blob from two processes, a writer killed mid-ingest, stale
 * ingest cleanup that spares live writers, leases, fsck and prune.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image/gc.h"
#include "image/images.h"
#include "image/manifest.h"
#include "image/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define SHA256_ABC                                                             \
	"sha256:"                                                              \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_EMPTY                                                           \
	"sha256:"                                                              \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- fixtures ----------------------------------------------------------- */

static int setup_tmpdir(void **state)
{
	char *dir = strdup("/tmp/cove-test-store-XXXXXX");

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

static struct cove_store *open_store(void **state)
{
	struct cove_store *s = NULL;
	struct cove_error err = {0};
	_cleanup_free_ char *root =
	    cove_strdup_printf("%s/store", (char *)*state);

	if (cove_store_open(root, &s, &err) < 0)
		fail_msg("open: %s", err.msg);
	return s;
}

static int count_dir(struct cove_store *s, const char *sub)
{
	_cleanup_free_ char *p =
	    cove_strdup_printf("%s/%s", cove_store_root(s), sub);
	_cleanup_closedir_ DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	return n;
}

/* Deterministic pseudo-random content. */
static char *make_data(size_t len, unsigned seed)
{
	char *buf = malloc(len);

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (char)(seed >> 16);
	}
	return buf;
}

static void digest_of(const void *buf, size_t len, char *out)
{
	assert_int_equal(cove_digest_buffer(COVE_DIGEST_SHA256, buf, len, out),
			 0);
}

/* ---- ingest ------------------------------------------------------------- */

static void test_ingest_commit(void **state)
{
	struct cove_store *s = open_store(state);
	struct cove_ingest *in = NULL;
	struct cove_error err = {0};
	_cleanup_free_ char *data = make_data(300000, 1);
	_cleanup_free_ char *path = NULL, *back = NULL;
	char d[COVE_DIGEST_MAX], got[COVE_DIGEST_MAX];
	size_t len = 0;
	int fd;

	digest_of(data, 300000, d);
	assert_false(cove_store_has(s, d));
	assert_int_equal(cove_ingest_begin(s, d, 300000, &in, &err), 0);
	for (size_t off = 0; off < 300000; off += 7001) {
		size_t n = 300000 - off < 7001 ? 300000 - off : 7001;
		assert_int_equal(cove_ingest_write(in, data + off, n, &err), 0);
		assert_int_equal(cove_ingest_offset(in), (int64_t)(off + n));
	}
	assert_int_equal(count_dir(s, "ingest"), 1);
	assert_int_equal(cove_ingest_commit(in, got, &err), 0);
	assert_string_equal(got, d);
	assert_true(cove_store_has(s, d));
	assert_int_equal(count_dir(s, "ingest"), 0);
	assert_int_equal(cove_store_blob_size(s, d), 300000);

	path = cove_store_blob_path(s, d);
	assert_non_null(path);
	assert_non_null(strstr(path, "/blobs/sha256/"));
	assert_non_null(strstr(path, d + 7));

	fd = cove_store_open_blob(s, d);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	assert_int_equal(cove_store_get(s, d, 1 << 20, &back, &len, &err), 0);
	assert_int_equal(len, 300000);
	assert_memory_equal(back, data, 300000);
	free(TAKE_PTR(back));
	assert_int_equal(cove_store_get(s, d, 1000, &back, &len, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "larger than 1000 bytes"));

	/* Unknown digest and size: computed and reported. */
	assert_int_equal(cove_ingest_begin(s, NULL, -1, &in, &err), 0);
	assert_int_equal(cove_ingest_write(in, "abc", 3, &err), 0);
	assert_int_equal(cove_ingest_commit(in, got, &err), 0);
	assert_string_equal(got, SHA256_ABC);
	assert_true(cove_store_has(s, SHA256_ABC));

	/* An empty blob is a blob. */
	assert_int_equal(cove_store_put(s, "", 0, SHA256_EMPTY, got, &err), 0);
	assert_true(cove_store_has(s, SHA256_EMPTY));
	assert_int_equal(cove_store_blob_size(s, SHA256_EMPTY), 0);

	/* Idempotent put of a present blob. */
	assert_int_equal(cove_store_put(s, "abc", 3, SHA256_ABC, got, &err), 0);
	assert_string_equal(got, SHA256_ABC);

	/* Abort leaves nothing. */
	assert_int_equal(cove_ingest_begin(s, NULL, -1, &in, &err), 0);
	assert_int_equal(cove_ingest_write(in, "xyz", 3, &err), 0);
	cove_ingest_abort(in);
	cove_ingest_abort(NULL);
	assert_int_equal(count_dir(s, "ingest"), 0);
	cove_store_free(s);
}

static void test_wrong_digest(void **state)
{
	struct cove_store *s = open_store(state);
	struct cove_ingest *in = NULL;
	struct cove_error err = {0};
	char got[COVE_DIGEST_MAX] = "untouched";

	assert_int_equal(cove_ingest_begin(s, SHA256_ABC, -1, &in, &err), 0);
	assert_int_equal(cove_ingest_write(in, "abd", 3, &err), 0);
	assert_int_equal(cove_ingest_commit(in, got, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "digest mismatch"));
	assert_non_null(strstr(err.msg, SHA256_ABC));
	assert_string_equal(got, "untouched");
	assert_false(cove_store_has(s, SHA256_ABC));
	assert_int_equal(count_dir(s, "ingest"), 0);
	assert_int_equal(count_dir(s, "blobs/sha256"), 0);

	/* The same through put */
	assert_int_equal(cove_store_put(s, "abd", 3, SHA256_ABC, NULL, &err),
			 -EBADMSG);
	assert_false(cove_store_has(s, SHA256_ABC));
	assert_int_equal(count_dir(s, "ingest"), 0);

	/* An invalid expected digest never creates a file. */
	assert_int_equal(cove_ingest_begin(s, "sha256:../../x", -1, &in, &err),
			 -EINVAL);
	assert_int_equal(count_dir(s, "ingest"), 0);
	assert_null(cove_store_blob_path(s, "sha256:../../etc"));
	assert_int_equal(errno, EINVAL);
	assert_false(cove_store_has(s, "sha256:../../etc"));
	assert_int_equal(cove_store_open_blob(s, "../x"), -EINVAL);
	assert_int_equal(cove_store_open_blob(s, SHA256_ABC), -ENOENT);
	assert_int_equal(cove_store_blob_size(s, SHA256_ABC), -ENOENT);
	cove_store_free(s);
}

static void test_wrong_size(void **state)
{
	struct cove_store *s = open_store(state);
	struct cove_ingest *in = NULL;
	struct cove_error err = {0};

	/* Too short: refused at commit */
	assert_int_equal(cove_ingest_begin(s, SHA256_ABC, 4, &in, &err), 0);
	assert_int_equal(cove_ingest_write(in, "abc", 3, &err), 0);
	assert_int_equal(cove_ingest_commit(in, NULL, &err), -EBADMSG);
	assert_non_null(
	    strstr(err.msg, "size mismatch: expected 4 bytes, got 3"));
	assert_false(cove_store_has(s, SHA256_ABC));
	assert_int_equal(count_dir(s, "ingest"), 0);

	/* Too long: refused at the write that overflows, and stays failed */
	assert_int_equal(cove_ingest_begin(s, SHA256_ABC, 2, &in, &err), 0);
	assert_int_equal(cove_ingest_write(in, "ab", 2, &err), 0);
	assert_int_equal(cove_ingest_write(in, "c", 1, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "more data than the expected 2 bytes"));
	assert_int_equal(cove_ingest_write(in, "", 0, &err), -EBADMSG);
	assert_int_equal(cove_ingest_commit(in, NULL, &err), -EBADMSG);
	assert_false(cove_store_has(s, SHA256_ABC));
	assert_int_equal(count_dir(s, "ingest"), 0);

	/* Size right, digest unknown: fine */
	assert_int_equal(cove_ingest_begin(s, NULL, 3, &in, &err), 0);
	assert_int_equal(cove_ingest_write(in, "abc", 3, &err), 0);
	assert_int_equal(cove_ingest_commit(in, NULL, &err), 0);
	assert_true(cove_store_has(s, SHA256_ABC));

	assert_int_equal(cove_ingest_begin(s, NULL, -2, &in, &err), -EINVAL);
	cove_store_free(s);
}

static void test_get_corrupt(void **state)
{
	struct cove_store *s = open_store(state);
	struct cove_error err = {0};
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len;

	assert_int_equal(cove_store_put(s, "abc", 3, NULL, NULL, &err), 0);
	path = cove_store_blob_path(s, SHA256_ABC);
	chmod(path, 0644);
	assert_int_equal(cove_write_file(path, "abd", 3), 0);
	assert_int_equal(cove_store_get(s, SHA256_ABC, 100, &buf, &len, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.msg, "is corrupt"));
	assert_null(buf);
	assert_int_equal(cove_store_get(s, SHA256_EMPTY, 100, &buf, &len, &err),
			 -ENOENT);
	assert_int_equal(cove_store_delete(s, SHA256_ABC, &err), 0);
	assert_false(cove_store_has(s, SHA256_ABC));
	assert_int_equal(cove_store_delete(s, SHA256_ABC, &err), 0);
	assert_int_equal(cove_store_delete(s, "nope", &err), -EINVAL);
	cove_store_free(s);
}

/* ---- processes ---------------------------------------------------------- */

static void wait_ok(pid_t pid)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child %d failed: status 0x%x", (int)pid, status);
}

#define BIG (4u << 20)

/* Ingest @data in small writes after the parent says go; exit status. */
static int child_ingest(const char *root, const char *digest, const char *data,
			int go_fd)
{
	struct cove_store *s = NULL;
	struct cove_ingest *in = NULL;
	struct cove_error err = {0};
	char c;

	if (cove_store_open(root, &s, &err) < 0)
		return 10;
	if (read(go_fd, &c, 1) != 1)
		return 11;
	if (cove_ingest_begin(s, digest, BIG, &in, &err) < 0)
		return 12;
	for (size_t off = 0; off < BIG; off += 65536) {
		if (cove_ingest_write(in, data + off, 65536, &err) < 0)
			return 13;
		if (off % (1 << 20) == 0)
			usleep(1000); /* let the other writer interleave */
	}
	if (cove_ingest_commit(in, NULL, &err) < 0) {
		fprintf(stderr, "commit: %s\n", err.msg);
		return 14;
	}
	cove_store_free(s);
	return 0;
}

static void test_concurrent_ingest(void **state)
{
	struct cove_store *s = open_store(state);
	_cleanup_free_ char *data = make_data(BIG, 7);
	_cleanup_free_ char *root = strdup(cove_store_root(s));
	_cleanup_free_ char *back = NULL;
	char d[COVE_DIGEST_MAX];
	struct cove_error err = {0};
	int go[2];
	pid_t a, b;
	size_t len;

	digest_of(data, BIG, d);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	a = fork();
	assert_true(a >= 0);
	if (a == 0)
		_exit(child_ingest(root, d, data, go[0]));
	b = fork();
	assert_true(b >= 0);
	if (b == 0)
		_exit(child_ingest(root, d, data, go[0]));
	assert_int_equal(write(go[1], "gg", 2), 2);
	wait_ok(a);
	wait_ok(b);
	close(go[0]);
	close(go[1]);

	assert_true(cove_store_has(s, d));
	assert_int_equal(cove_store_get(s, d, BIG, &back, &len, &err), 0);
	assert_int_equal(len, BIG);
	assert_int_equal(count_dir(s, "ingest"), 0);
	assert_int_equal(count_dir(s, "blobs/sha256"), 1);
	cove_store_free(s);
}

static void test_killed_mid_ingest(void **state)
{
	struct cove_store *s = open_store(state);
	_cleanup_free_ char *data = make_data(BIG, 9);
	_cleanup_free_ char *root = strdup(cove_store_root(s));
	struct cove_fsck_report rep;
	struct cove_images *db = NULL;
	struct cove_error err = {0};
	char d[COVE_DIGEST_MAX], c;
	int ready[2];
	pid_t pid;

	digest_of(data, BIG, d);
	cove_store_free(s);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cove_store *cs = NULL;
		struct cove_ingest *in = NULL;
		alarm(60); /* never outlive a failed test */
		if (cove_store_open(root, &cs, &err) < 0 ||
		    cove_ingest_begin(cs, d, BIG, &in, &err) < 0 ||
		    cove_ingest_write(in, data, BIG / 2, &err) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);

	/* While it lives, nobody may take its ingest file away. */
	s = open_store(state);
	assert_int_equal(count_dir(s, "ingest"), 1);
	cove_store_free(s);

	assert_int_equal(kill(pid, SIGKILL), 0);
	{
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
	}
	/* Reopening removes what the dead writer left. */
	s = open_store(state);
	assert_int_equal(count_dir(s, "ingest"), 0);
	assert_false(cove_store_has(s, d));
	assert_int_equal(cove_images_open(root, &db, &err), 0);
	assert_int_equal(cove_store_fsck(s, db, 0, &rep, &err), 0);
	assert_true(cove_fsck_report_clean(&rep));
	assert_int_equal(rep.stale_ingest, 0);
	cove_fsck_report_release(&rep);

	/* And the same blob goes in again. */
	assert_int_equal(cove_store_put(s, data, BIG, d, NULL, &err), 0);
	assert_true(cove_store_has(s, d));
	assert_int_equal(cove_store_fsck(s, db, 0, &rep, &err), 0);
	assert_true(cove_fsck_report_clean(&rep));
	assert_int_equal(rep.blobs, 1);
	cove_fsck_report_release(&rep);
	cove_images_free(db);
	cove_store_free(s);
}

static void test_stale_ingest(void **state)
{
	struct cove_store *s = open_store(state), *s2;
	struct cove_ingest *live = NULL;
	struct cove_error err = {0};
	struct cove_fsck_report rep;
	_cleanup_free_ char *junk = NULL, *junkdir = NULL;
	size_t removed = 99;

	/* A file nobody holds (a writer died), a directory, a symlink */
	junk = cove_strdup_printf("%s/ingest/deadbeef", cove_store_root(s));
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, junk, "x", 1, 0644), 0);
	junkdir = cove_strdup_printf("%s/ingest/dir", cove_store_root(s));
	assert_int_equal(mkdir(junkdir, 0755), 0);
	free(junk);
	junk = cove_strdup_printf("%s/ingest/link", cove_store_root(s));
	assert_int_equal(symlink("/etc/passwd", junk), 0);

	assert_int_equal(cove_ingest_begin(s, NULL, -1, &live, &err), 0);
	assert_int_equal(cove_ingest_write(live, "abc", 3, &err), 0);
	assert_int_equal(count_dir(s, "ingest"), 4);

	/* Another opener (its own lock context) spares the live file. */
	assert_int_equal(cove_store_open(cove_store_root(s), &s2, &err), 0);
	assert_int_equal(count_dir(s, "ingest"), 1);
	assert_int_equal(cove_store_clean_ingest(s2, &removed, &err), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(cove_store_fsck(s2, NULL, 0, &rep, &err), 0);
	assert_int_equal(rep.stale_ingest, 0);
	cove_fsck_report_release(&rep);
	cove_store_free(s2);

	assert_int_equal(cove_ingest_commit(live, NULL, &err), 0);
	assert_true(cove_store_has(s, SHA256_ABC));

	/* fsck counts what it removes */
	free(junk);
	junk = cove_strdup_printf("%s/ingest/0123", cove_store_root(s));
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, junk, "x", 1, 0644), 0);
	assert_int_equal(cove_store_fsck(s, NULL, 0, &rep, &err), 0);
	assert_int_equal(rep.stale_ingest, 1);
	assert_true(cove_fsck_report_clean(&rep));
	cove_fsck_report_release(&rep);
	cove_store_free(s);
}

static bool readable_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

static void test_lease(void **state)
{
	struct cove_store *s = open_store(state);
	_cleanup_free_ char *root = strdup(cove_store_root(s));
	struct cove_error err = {0};
	int lease, lease2, p[2];
	pid_t pid;
	char c;

	lease = cove_store_lease(s, &err);
	assert_true(lease >= 0);
	lease2 = cove_store_lease(s, &err); /* shared among writers */
	assert_true(lease2 >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cove_store *cs = NULL;
		struct cove_prune_report rep;
		alarm(60);
		close(p[0]);
		/* The leases are ours, not the child's (flock is per file). */
		close(lease);
		close(lease2);
		if (cove_store_open(root, &cs, &err) < 0)
			_exit(1);
		/* prune waits for the lease */
		if (cove_store_prune(cs, NULL, NULL, COVE_PRUNE_DRY_RUN, &rep,
				     &err) < 0)
			_exit(2);
		cove_prune_report_release(&rep);
		_exit(write(p[1], "d", 1) == 1 ? 0 : 3);
	}
	close(p[1]);
	assert_false(readable_within(p[0], 300));
	close(lease);
	assert_false(readable_within(p[0], 200));
	close(lease2);
	assert_true(readable_within(p[0], 10000));
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	wait_ok(pid);
	cove_store_free(s);
}

/* ---- fsck and prune ----------------------------------------------------- */

/* Put @text into the store; its digest into @d. */
static void put_text(struct cove_store *s, const char *text, char *d)
{
	struct cove_error err = {0};

	if (cove_store_put(s, text, strlen(text), NULL, d, &err) < 0)
		fail_msg("put: %s", err.msg);
}

static char *manifest_json(const char *config, size_t config_size,
			   const char *const *layers, const size_t *sizes,
			   const char *layer_type)
{
	char buf[8192];
	size_t off;

	off = (size_t)snprintf(
	    buf, sizeof(buf),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\","
	    "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
	    "\"layers\":[",
	    COVE_MT_OCI_MANIFEST, COVE_MT_OCI_CONFIG, config, config_size);
	for (size_t i = 0; layers[i]; i++)
		off += (size_t)snprintf(
		    buf + off, sizeof(buf) - off,
		    "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}",
		    i ? "," : "",
		    layer_type ? layer_type : COVE_MT_OCI_LAYER_GZIP, layers[i],
		    sizes[i]);
	snprintf(buf + off, sizeof(buf) - off, "]}");
	return strdup(buf);
}

static const char config_a[] =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
    "\"layers\",\"diff_ids\":[]}}";
static const char config_b[] =
    "{\"architecture\":\"arm64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
    "\"layers\",\"diff_ids\":[]}}";

struct fixture {
	char l1[COVE_DIGEST_MAX], l2[COVE_DIGEST_MAX], x[COVE_DIGEST_MAX],
	    y[COVE_DIGEST_MAX], missing[COVE_DIGEST_MAX];
	char ca[COVE_DIGEST_MAX], cb[COVE_DIGEST_MAX];
	char ma[COVE_DIGEST_MAX], mb[COVE_DIGEST_MAX], idx[COVE_DIGEST_MAX];
};

/*
 * Image A: manifest ma -> config ca, layers l1, l2.
 * Image B: index idx -> mb (present, arm64) and a missing amd64 manifest;
 *          mb -> config cb, layer l2 (shared with A).
 * Unreferenced: x, y.
 */
static void build_fixture(struct cove_store *s, struct cove_images *db,
			  struct fixture *f)
{
	struct cove_error err = {0};
	char idx_json[2048];
	_cleanup_free_ char *ma = NULL, *mb = NULL;
	const char *la[3], *lb[2];
	size_t sa[2] = {5, 5}, sb[1] = {5};
	struct cove_image_record rec = {0};
	const char *na[] = {"a:1", NULL}, *nb[] = {"b:1", NULL};

	put_text(s, "lay-1", f->l1);
	put_text(s, "lay-2", f->l2);
	put_text(s, "junk-x", f->x);
	put_text(s, "junk-y", f->y);
	digest_of("never stored", 12, f->missing);
	put_text(s, config_a, f->ca);
	put_text(s, config_b, f->cb);
	la[0] = f->l1;
	la[1] = f->l2;
	la[2] = NULL;
	lb[0] = f->l2;
	lb[1] = NULL;
	ma = manifest_json(f->ca, strlen(config_a), la, sa, NULL);
	mb = manifest_json(f->cb, strlen(config_b), lb, sb, NULL);
	put_text(s, ma, f->ma);
	put_text(s, mb, f->mb);
	snprintf(
	    idx_json, sizeof(idx_json),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}",
	    COVE_MT_OCI_INDEX, COVE_MT_OCI_MANIFEST, f->missing, (size_t)100,
	    COVE_MT_OCI_MANIFEST, f->mb, strlen(mb));
	put_text(s, idx_json, f->idx);

	snprintf(rec.id, sizeof(rec.id), "%s", f->ca);
	snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s", f->ma);
	rec.manifest_media_type = (char *)COVE_MT_OCI_MANIFEST;
	if (cove_images_add(db, &rec, na, &err) < 0)
		fail_msg("add: %s", err.msg);
	snprintf(rec.id, sizeof(rec.id), "%s", f->cb);
	snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s", f->mb);
	snprintf(rec.index_digest, sizeof(rec.index_digest), "%s", f->idx);
	if (cove_images_add(db, &rec, nb, &err) < 0)
		fail_msg("add: %s", err.msg);
}

static void test_prune(void **state)
{
	struct cove_store *s = open_store(state);
	struct cove_images *db = NULL;
	struct cove_error err = {0};
	struct cove_prune_report rep;
	struct cove_fsck_report frep;
	struct fixture f;
	const char *extra[] = {NULL, NULL};

	assert_int_equal(cove_images_open(cove_store_root(s), &db, &err), 0);
	build_fixture(s, db, &f);
	assert_int_equal(count_dir(s, "blobs/sha256"), 9);

	assert_int_equal(cove_store_fsck(s, db, 0, &frep, &err), 0);
	if (!cove_fsck_report_clean(&frep))
		fail_msg("fsck not clean: %s", frep.dangling ? frep.dangling[0]
					       : frep.corrupt
						   ? frep.corrupt[0]
						   : frep.invalid[0]);
	assert_int_equal(frep.blobs, 9);
	cove_fsck_report_release(&frep);

	/* Dry run: reports x and y, deletes nothing. */
	assert_int_equal(
	    cove_store_prune(s, db, NULL, COVE_PRUNE_DRY_RUN, &rep, &err), 0);
	assert_int_equal(rep.n_removed, 2);
	assert_true(cove_strv_contains(rep.removed, f.x));
	assert_true(cove_strv_contains(rep.removed, f.y));
	assert_int_equal(rep.bytes, 12);
	cove_prune_report_release(&rep);
	assert_true(cove_store_has(s, f.x));

	/* An extra root keeps y. */
	extra[0] = f.y;
	assert_int_equal(cove_store_prune(s, db, extra, 0, &rep, &err), 0);
	assert_int_equal(rep.n_removed, 1);
	assert_string_equal(rep.removed[0], f.x);
	cove_prune_report_release(&rep);
	assert_false(cove_store_has(s, f.x));
	assert_true(cove_store_has(s, f.y));

	/* Image A gone: its manifest, config and l1 go, l2 stays for B. */
	assert_int_equal(cove_images_remove(db, f.ca, true, &err), 0);
	assert_int_equal(cove_store_prune(s, db, NULL, 0, &rep, &err), 0);
	assert_int_equal(rep.n_removed, 4);
	cove_prune_report_release(&rep);
	assert_false(cove_store_has(s, f.ma));
	assert_false(cove_store_has(s, f.ca));
	assert_false(cove_store_has(s, f.l1));
	assert_false(cove_store_has(s, f.y));
	assert_true(cove_store_has(s, f.l2));
	assert_true(cove_store_has(s, f.mb));
	assert_true(cove_store_has(s, f.cb));
	assert_true(cove_store_has(s, f.idx));

	/* Nothing left to do */
	assert_int_equal(cove_store_prune(s, db, NULL, 0, &rep, &err), 0);
	assert_int_equal(rep.n_removed, 0);
	assert_null(rep.removed);
	cove_prune_report_release(&rep);

	/* Image B gone too: the store empties. */
	assert_int_equal(cove_images_remove(db, f.cb, true, &err), 0);
	assert_int_equal(cove_store_prune(s, db, NULL, 0, &rep, &err), 0);
	assert_int_equal(rep.n_removed, 4);
	cove_prune_report_release(&rep);
	assert_int_equal(count_dir(s, "blobs/sha256"), 0);
	cove_images_free(db);
	cove_store_free(s);
}

static void test_fsck_problems(void **state)
{
	struct cove_store *s = open_store(state);
	struct cove_images *db = NULL;
	struct cove_error err = {0};
	struct cove_fsck_report rep;
	struct cove_prune_report prep;
	struct cove_image_record rec = {0};
	struct fixture f;
	_cleanup_free_ char *path = NULL, *junk = NULL;

	assert_int_equal(cove_images_open(cove_store_root(s), &db, &err), 0);
	build_fixture(s, db, &f);

	/* l1 rots on disk; a junk name appears; l2 vanishes */
	path = cove_store_blob_path(s, f.l1);
	assert_int_equal(cove_write_file(path, "LAY-1", 5), 0);
	junk = cove_strdup_printf("%s/blobs/sha256/not-a-digest",
				  cove_store_root(s));
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, junk, "j", 1, 0644), 0);
	assert_int_equal(cove_store_delete(s, f.l2, &err), 0);

	assert_int_equal(cove_store_fsck(s, db, 0, &rep, &err), 0);
	assert_false(cove_fsck_report_clean(&rep));
	assert_int_equal(cove_strv_length(rep.corrupt), 2);
	assert_true(cove_strv_contains(rep.corrupt, f.l1));
	assert_true(cove_strv_contains(rep.corrupt, "sha256:not-a-digest"));
	assert_int_equal(cove_strv_length(rep.dangling), 1);
	assert_string_equal(rep.dangling[0], f.l2);
	assert_null(rep.invalid);
	assert_int_equal(rep.removed, 0);
	cove_fsck_report_release(&rep);

	/* Repair removes the corrupt ones; l1 is then dangling too. */
	assert_int_equal(cove_store_fsck(s, db, COVE_FSCK_REPAIR, &rep, &err),
			 0);
	assert_int_equal(rep.removed, 2);
	assert_int_equal(cove_strv_length(rep.dangling), 2);
	assert_true(cove_strv_contains(rep.dangling, f.l1));
	cove_fsck_report_release(&rep);
	assert_false(cove_store_has(s, f.l1));

	/* An image whose "manifest" is not one: fsck says so, prune refuses. */
	snprintf(rec.id, sizeof(rec.id), "%s", f.y);
	snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s", f.x);
	rec.manifest_media_type = (char *)COVE_MT_OCI_MANIFEST;
	assert_int_equal(cove_images_add(db, &rec, NULL, &err), 0);
	assert_int_equal(cove_store_fsck(s, db, 0, &rep, &err), 0);
	assert_int_equal(cove_strv_length(rep.invalid), 1);
	assert_string_equal(rep.invalid[0], f.x);
	cove_fsck_report_release(&rep);
	assert_int_equal(cove_store_prune(s, db, NULL, 0, &prep, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.msg, f.x));
	assert_int_equal(count_dir(s, "blobs/sha256"), 7);

	cove_images_free(db);
	cove_store_free(s);
}

static int count_blob(const char *digest, int64_t size, void *userdata)
{
	size_t *n = userdata;

	assert_int_equal(size, 3);
	assert_int_equal(cove_digest_validate(digest, NULL, NULL), 0);
	(*n)++;
	return 0;
}

static void test_foreach(void **state)
{
	struct cove_store *s = open_store(state);
	struct cove_error err = {0};
	char d512[COVE_DIGEST_MAX];
	struct cove_ingest *in = NULL;
	size_t count = 0;

	assert_int_equal(cove_store_put(s, "abc", 3, NULL, NULL, &err), 0);
	assert_int_equal(cove_digest_buffer(COVE_DIGEST_SHA512, "abc", 3, d512),
			 0);
	assert_int_equal(cove_ingest_begin(s, d512, 3, &in, &err), 0);
	assert_int_equal(cove_ingest_write(in, "abc", 3, &err), 0);
	assert_int_equal(cove_ingest_commit(in, NULL, &err), 0);
	assert_true(cove_store_has(s, d512));
	assert_int_equal(count_dir(s, "blobs/sha512"), 1);

	assert_int_equal(cove_store_foreach_blob(s, count_blob, &count, &err),
			 0);
	assert_int_equal(count, 2);
	cove_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_tmpdir, teardown_tmpdir)
	    T(test_ingest_commit),
	    T(test_wrong_digest),
	    T(test_wrong_size),
	    T(test_get_corrupt),
	    T(test_concurrent_ingest),
	    T(test_killed_mid_ingest),
	    T(test_stale_ingest),
	    T(test_lease),
	    T(test_prune),
	    T(test_fsck_problems),
	    T(test_foreach),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
