/*
 * Unit tests for src/image/layer.c: layers are built here with libarchive's
 * writer (so every hostile case is exact), applied into a temporary
 * directory, and the result checked - above all that nothing outside the
 * target changed.
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
#include <grp.h>
#include <openssl/evp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define OCI_TAR "application/vnd.oci.image.layer.v1.tar"
#define OCI_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"

/* Per test: <base>/root is the target, <base>/outside must stay as is. */
struct fixture {
	char base[64];
	char root[96];
	char outside[96];
	int root_fd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[160];

	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "/tmp/cove-layer-XXXXXX");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->root, sizeof(f->root), "%s/root", f->base);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
	assert_int_equal(mkdir(f->root, 0755), 0);
	assert_int_equal(mkdir(f->outside, 0755), 0);
	snprintf(p, sizeof(p), "%s/secret", f->outside);
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, p, "s3cret", 6, 0644), 0);
	f->root_fd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->root_fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->root_fd);
	assert_int_equal(cove_rm_rf(f->base), 0);
	free(f);
	return 0;
}

/* <base>/outside holds exactly "secret" with its content. */
static void assert_outside_intact(struct fixture *f)
{
	_cleanup_closedir_ DIR *d = opendir(f->outside);
	_cleanup_free_ char *buf = NULL;
	struct dirent *de;
	char p[160];
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			assert_string_equal(de->d_name, "secret");
			n++;
		}
	assert_int_equal(n, 1);
	snprintf(p, sizeof(p), "%s/secret", f->outside);
	assert_int_equal(cove_read_file(p, 100, &buf, NULL), 0);
	assert_string_equal(buf, "s3cret");
}

/* ---- building layers ---- */

struct layer {
	struct archive *a;
	int fd;
};

static struct layer layer_new(int filter)
{
	struct layer l = {archive_write_new(), -1};

	l.fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	assert_true(l.fd >= 0);
	assert_int_equal(archive_write_set_format_pax_restricted(l.a),
			 ARCHIVE_OK);
	if (filter == ARCHIVE_FILTER_GZIP)
		assert_int_equal(archive_write_add_filter_gzip(l.a),
				 ARCHIVE_OK);
	else if (filter == ARCHIVE_FILTER_ZSTD)
		assert_int_equal(archive_write_add_filter_zstd(l.a),
				 ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(l.a, 1),
			 ARCHIVE_OK);
	assert_int_equal(archive_write_open_fd(l.a, l.fd), ARCHIVE_OK);
	return l;
}

/* Close the writer; returns the fd, rewound. */
static int layer_done(struct layer *l)
{
	assert_int_equal(archive_write_close(l->a), ARCHIVE_OK);
	archive_write_free(l->a);
	assert_int_equal(lseek(l->fd, 0, SEEK_SET), 0);
	return l->fd;
}

struct ent {
	const char *path;
	mode_t type;
	mode_t perm;
	const char *data; /* regular files */
	const char *link; /* symlink target */
	const char *hardlink;
	int64_t uid, gid;
	time_t mtime;
	dev_t rdev;
	const char *xname; /* one xattr */
	const void *xvalue;
	size_t xsize;
};

static void add(struct layer *l, struct ent e)
{
	struct archive_entry *ae = archive_entry_new();
	size_t len = e.data ? strlen(e.data) : 0;

	archive_entry_set_pathname(ae, e.path);
	archive_entry_set_filetype(ae, e.type ? e.type : AE_IFREG);
	archive_entry_set_perm(ae, e.perm ? e.perm : 0644);
	archive_entry_set_uid(ae, e.uid);
	archive_entry_set_gid(ae, e.gid);
	archive_entry_set_mtime(ae, e.mtime ? e.mtime : 1000000000, 0);
	if (e.link)
		archive_entry_set_symlink(ae, e.link);
	if (e.hardlink) {
		archive_entry_set_hardlink(ae, e.hardlink);
		len = 0;
	}
	if (e.rdev)
		archive_entry_set_rdev(ae, e.rdev);
	if (e.xname)
		archive_entry_xattr_add_entry(ae, e.xname, e.xvalue, e.xsize);
	archive_entry_set_size(ae, (la_int64_t)len);
	/* ARCHIVE_WARN: a name not in the locale's charset, stored raw */
	assert_true(archive_write_header(l->a, ae) >= ARCHIVE_WARN);
	if (len)
		assert_int_equal(archive_write_data(l->a, e.data, len),
				 (la_ssize_t)len);
	archive_entry_free(ae);
}

#define FILE_(p, d) add(&l, (struct ent){.path = (p), .data = (d)})
#define DIR_(p)                                                                \
	add(&l, (struct ent){.path = (p), .type = AE_IFDIR, .perm = 0755})
#define LINK_(p, t)                                                            \
	add(&l, (struct ent){                                                  \
		    .path = (p), .type = AE_IFLNK, .perm = 0777, .link = (t)})
#define HARD_(p, t) add(&l, (struct ent){.path = (p), .hardlink = (t)})

static int apply(struct fixture *f, int fd, const char *mt,
		 const struct cove_layer_opts *o, struct cove_layer_stats *st,
		 struct cove_error *err)
{
	int r;

	cove_error_clear(err);
	r = cove_layer_apply(fd, mt, f->root_fd, o, st, err);
	close(fd);
	if (r < 0) {
		assert_true(err->code == -r);
		assert_true(err->msg[0] != '\0');
	}
	return r;
}

static void apply_ok(struct fixture *f, int fd, const struct cove_layer_opts *o)
{
	struct cove_error err = {0};
	int r = apply(f, fd, NULL, o, NULL, &err);

	if (r < 0)
		fail_msg("apply: %s", err.msg);
}

static char *rd(struct fixture *f, const char *rel)
{
	char *buf = NULL;
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", f->root, rel);
	if (cove_read_file(p, 1 << 20, &buf, NULL) < 0)
		return NULL;
	return buf;
}

static int lst(struct fixture *f, const char *rel, struct stat *st)
{
	return fstatat(f->root_fd, rel, st, AT_SYMLINK_NOFOLLOW);
}

static bool exists(struct fixture *f, const char *rel)
{
	struct stat st;

	return lst(f, rel, &st) == 0;
}

/* ---- tests ---- */

static void test_basic(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_GZIP);
	struct cove_layer_stats st;
	struct cove_error err = {0};
	_cleanup_free_ char *a = NULL, *big = malloc(3 << 20);
	char target[64];
	struct stat s;

	assert_non_null(big);
	memset(big, 'x', 3 << 20);
	big[(3 << 20) - 1] = '\0';
	DIR_("./etc/");
	add(&l, (struct ent){.path = "etc/passwd",
			     .data = "root:x:0:0::/:/bin/sh\n",
			     .perm = 0600,
			     .uid = 1000,
			     .gid = 1001,
			     .mtime = 123456789});
	LINK_("etc/link", "passwd");
	add(&l, (struct ent){.path = "usr/local/bin/tool",
			     .data = "#!/bin/sh\n",
			     .perm = 04755});
	add(&l, (struct ent){.path = "big", .data = big});
	add(&l, (struct ent){.path = "fifo", .type = AE_IFIFO, .perm = 0640});
	add(&l, (struct ent){.path = "sticky",
			     .type = AE_IFDIR,
			     .perm = 01777,
			     .mtime = 42});
	add(&l, (struct ent){.path = "sticky/f", .data = "f"});
	assert_int_equal(apply(f, layer_done(&l), OCI_GZIP, NULL, &st, &err),
			 0);
	assert_int_equal(st.compression, COVE_LAYER_GZIP);
	assert_int_equal(st.entries, 8);

	a = rd(f, "etc/passwd");
	assert_string_equal(a, "root:x:0:0::/:/bin/sh\n");
	assert_int_equal(lst(f, "etc/passwd", &s), 0);
	assert_int_equal(s.st_mode & 07777, 0600);
	assert_int_equal(s.st_uid, 1000);
	assert_int_equal(s.st_gid, 1001);
	assert_int_equal(s.st_mtim.tv_sec, 123456789);
	assert_int_equal(
	    readlinkat(f->root_fd, "etc/link", target, sizeof(target)), 6);
	/* root keeps setuid; implied parents are 0755 root */
	assert_int_equal(lst(f, "usr/local/bin/tool", &s), 0);
	assert_int_equal(s.st_mode & 07777, 04755);
	assert_int_equal(lst(f, "usr/local", &s), 0);
	assert_true(S_ISDIR(s.st_mode));
	assert_int_equal(s.st_mode & 07777, 0755);
	assert_int_equal(lst(f, "big", &s), 0);
	assert_int_equal(s.st_size, (3 << 20) - 1);
	assert_int_equal(lst(f, "fifo", &s), 0);
	assert_true(S_ISFIFO(s.st_mode));
	assert_int_equal(s.st_mode & 07777, 0640);
	/* directory times survive the entries created in them */
	assert_int_equal(lst(f, "sticky", &s), 0);
	assert_int_equal(s.st_mode & 07777, 01777);
	assert_int_equal(s.st_mtim.tv_sec, 42);
}

static void sha256_hex(const void *buf, size_t len, char out[72])
{
	unsigned char md[32];
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL), 1);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Compress @tar (whole) with libarchive's raw writer. */
static int compress_fd(int tar, int filter)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	char buf[65536];
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	if (filter == ARCHIVE_FILTER_GZIP)
		archive_write_add_filter_gzip(a);
	else
		archive_write_add_filter_zstd(a);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	archive_entry_set_filetype(e, AE_IFREG);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(lseek(tar, 0, SEEK_SET), 0);
	while ((n = read(tar, buf, sizeof(buf))) > 0)
		assert_int_equal(archive_write_data(a, buf, (size_t)n), n);
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void test_diff_id(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	struct cove_layer_stats st;
	struct cove_error err = {0};
	_cleanup_free_ char *bytes = NULL;
	char want[72];
	size_t len;
	int tar, fd;

	DIR_("d");
	FILE_("d/a", "hello");
	FILE_("d/b", "world");
	tar = layer_done(&l);
	/* trailing zero padding is part of the stream and of the diff_id */
	assert_int_equal(ftruncate(tar, lseek(tar, 0, SEEK_END) + 4096), 0);
	{
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", tar);
		assert_int_equal(cove_read_file(p, 1 << 20, &bytes, &len), 0);
	}
	sha256_hex(bytes, len, want);

	fd = dup(tar);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(apply(f, fd, OCI_TAR, NULL, &st, &err), 0);
	assert_string_equal(st.diff_id, want);
	assert_int_equal(st.uncompressed_size, len);
	assert_int_equal(st.compressed_size, len);
	assert_int_equal(st.compression, COVE_LAYER_UNCOMPRESSED);

	fd = compress_fd(tar, ARCHIVE_FILTER_GZIP);
	assert_int_equal(apply(f, fd, OCI_GZIP, NULL, &st, &err), 0);
	assert_string_equal(st.diff_id, want);
	assert_int_equal(st.compression, COVE_LAYER_GZIP);
	assert_true(st.compressed_size < len);

	fd = compress_fd(tar, ARCHIVE_FILTER_ZSTD);
	assert_int_equal(apply(f, fd, OCI_ZSTD, NULL, &st, &err), 0);
	assert_string_equal(st.diff_id, want);
	assert_int_equal(st.compression, COVE_LAYER_ZSTD);

	/* detection by magic, whatever the media type says */
	fd = compress_fd(tar, ARCHIVE_FILTER_ZSTD);
	assert_int_equal(apply(f, fd, NULL, NULL, &st, &err), 0);
	assert_string_equal(st.diff_id, want);
	/* docker archives call plain tar layers gzip */
	fd = dup(tar);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(apply(f, fd,
			       "application/vnd.docker.image.rootfs."
			       "diff.tar.gzip",
			       NULL, &st, &err),
			 0);
	assert_string_equal(st.diff_id, want);
	/* but gzip said, zstd found: refused */
	fd = compress_fd(tar, ARCHIVE_FILTER_ZSTD);
	assert_int_equal(apply(f, fd, OCI_GZIP, NULL, &st, &err),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err.msg, "zstd"));
	fd = dup(tar);
	assert_int_equal(apply(f, fd, OCI_TAR "+encrypted", NULL, &st, &err),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err.msg, "+encrypted"));
	close(tar);
}

static void test_empty_and_garbage(void **state)
{
	struct fixture *f = *state;
	struct cove_layer_stats st;
	struct cove_error err = {0};
	struct layer l = layer_new(ARCHIVE_FILTER_GZIP);
	struct stat s;
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	int gz;

	/* an empty blob is an empty layer */
	assert_int_equal(apply(f, fd, NULL, NULL, &st, &err), 0);
	assert_string_equal(st.diff_id, "sha256:e3b0c44298fc1c149afbf4c8996fb"
					"92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(st.entries, 0);

	fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	assert_int_equal(write(fd, "this is not a tar archive at all", 32), 32);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_true(apply(f, fd, NULL, NULL, &st, &err) < 0);

	/* a truncated gzip stream fails, even after whole entries */
	FILE_("a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	FILE_("b", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	gz = layer_done(&l);
	assert_int_equal(fstat(gz, &s), 0);
	assert_int_equal(ftruncate(gz, s.st_size - 6), 0);
	assert_true(apply(f, gz, OCI_GZIP, NULL, &st, &err) < 0);
}

static void test_dotdot_refused(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = {"../outside/secret", "a/../../outside/secret",
			     "./..", "a/b/../../../x"};
	struct cove_error err = {0};
	struct cove_layer_opts o = {.name = "sha256:feedface"};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct layer l = layer_new(ARCHIVE_FILTER_NONE);
		add(&l, (struct ent){.path = bad[i], .data = "pwned"});
		assert_int_equal(apply(f, layer_done(&l), NULL, &o, NULL, &err),
				 -EINVAL);
		/* the message names the layer and the entry */
		assert_non_null(strstr(err.msg, "sha256:feedface"));
		assert_non_null(strstr(err.msg, bad[i]));
		assert_outside_intact(f);
	}
}

static void test_absolute_paths(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	char abs[160];
	_cleanup_free_ char *a = NULL;

	/* absolute: relative to the target, like docker */
	snprintf(abs, sizeof(abs), "%s/secret", f->outside);
	add(&l, (struct ent){.path = abs, .data = "pwned"});
	FILE_("/etc/hostname", "box");
	apply_ok(f, layer_done(&l), NULL);
	assert_outside_intact(f);
	a = rd(f, "etc/hostname");
	assert_string_equal(a, "box");
	assert_true(exists(f, abs + 1));
}

/* A symlink of the layer pointing out: later entries stay inside. */
static void test_symlink_escape_in_layer(void **state)
{
	struct fixture *f = *state;
	struct cove_error err = {0};
	char abs[160], rel[160];
	_cleanup_free_ char *a = NULL, *b = NULL;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);

	snprintf(abs, sizeof(abs), "%s", f->outside);
	snprintf(rel, sizeof(rel), "../../../../../../../..%s", f->outside);
	/* targets that exist inside too: resolved there */
	DIR_("tmp");
	LINK_("up", "../../../../../../..");
	LINK_("abs", "/");
	LINK_("etc", "/tmp");
	FILE_("up/escaped", "1");
	FILE_("abs/escaped2", "2");
	FILE_("etc/passwd", "3");
	apply_ok(f, layer_done(&l), NULL);
	assert_outside_intact(f);
	a = rd(f, "escaped");
	assert_string_equal(a, "1");
	b = rd(f, "tmp/passwd");
	assert_string_equal(b, "3");
	assert_true(exists(f, "escaped2"));

	/* targets that exist only outside: refused, nothing written */
	l = layer_new(ARCHIVE_FILTER_NONE);
	LINK_("evil", abs);
	FILE_("evil/pwned", "x");
	assert_true(apply(f, layer_done(&l), NULL, NULL, NULL, &err) < 0);
	assert_outside_intact(f);
	l = layer_new(ARCHIVE_FILTER_NONE);
	LINK_("evil2", rel);
	FILE_("evil2/secret", "x");
	assert_true(apply(f, layer_done(&l), NULL, NULL, NULL, &err) < 0);
	assert_outside_intact(f);
}

/* A symlink already in the target (a lower layer) pointing out. */
static void test_symlink_escape_in_target(void **state)
{
	struct fixture *f = *state;
	struct cove_error err = {0};
	char p[160];
	struct layer l;

	assert_int_equal(symlinkat(f->outside, f->root_fd, "lower"), 0);
	assert_int_equal(symlinkat("../outside", f->root_fd, "lower2"), 0);
	snprintf(p, sizeof(p), "%s/secret", f->outside);
	assert_int_equal(symlinkat(p, f->root_fd, "lowerfile"), 0);

	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("lower/secret", "pwned");
	assert_true(apply(f, layer_done(&l), NULL, NULL, NULL, &err) < 0);
	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("lower2/secret", "pwned");
	assert_true(apply(f, layer_done(&l), NULL, NULL, NULL, &err) < 0);
	assert_outside_intact(f);

	/* a file over a symlink replaces the link, not its target */
	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("lowerfile", "pwned");
	apply_ok(f, layer_done(&l), NULL);
	assert_outside_intact(f);
	{
		_cleanup_free_ char *a = rd(f, "lowerfile");
		struct stat s;
		assert_string_equal(a, "pwned");
		assert_int_equal(lst(f, "lowerfile", &s), 0);
		assert_true(S_ISREG(s.st_mode));
	}
	/* so does a directory */
	l = layer_new(ARCHIVE_FILTER_NONE);
	DIR_("lower");
	FILE_("lower/x", "inside");
	apply_ok(f, layer_done(&l), NULL);
	assert_outside_intact(f);
	assert_true(exists(f, "lower/x"));
}

static void test_hardlink_escape(void **state)
{
	struct fixture *f = *state;
	struct cove_error err = {0};
	char p[160];
	struct layer l;
	struct stat s, host;

	snprintf(p, sizeof(p), "%s/secret", f->outside);
	/* "..": refused */
	l = layer_new(ARCHIVE_FILTER_NONE);
	HARD_("h", "../outside/secret");
	assert_int_equal(apply(f, layer_done(&l), NULL, NULL, NULL, &err),
			 -EINVAL);
	/* absolute: inside the root, where it does not exist */
	l = layer_new(ARCHIVE_FILTER_NONE);
	HARD_("h", p);
	assert_int_equal(apply(f, layer_done(&l), NULL, NULL, NULL, &err),
			 -ENOENT);
	/* through a symlink, even one that stays inside: refused */
	l = layer_new(ARCHIVE_FILTER_NONE);
	LINK_("out", f->outside);
	HARD_("h", "out/secret");
	assert_int_equal(apply(f, layer_done(&l), NULL, NULL, NULL, &err),
			 -ELOOP);
	l = layer_new(ARCHIVE_FILTER_NONE);
	DIR_("d");
	FILE_("d/f", "in");
	LINK_("in", "d");
	HARD_("h", "in/f");
	assert_int_equal(apply(f, layer_done(&l), NULL, NULL, NULL, &err),
			 -ELOOP);
	assert_false(exists(f, "h"));
	/* to a symlink itself: the link is linked, not followed */
	l = layer_new(ARCHIVE_FILTER_NONE);
	LINK_("sl", p);
	HARD_("h2", "sl");
	apply_ok(f, layer_done(&l), NULL);
	assert_int_equal(lst(f, "h2", &s), 0);
	assert_true(S_ISLNK(s.st_mode));
	assert_int_equal(stat(p, &host), 0);
	assert_int_equal(host.st_nlink, 1);
	assert_outside_intact(f);
}

/* Data is never written through a link that was there before. */
static void test_no_write_through_links(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	_cleanup_free_ char *a = NULL, *b = NULL;

	FILE_("etc/shadow", "root:secret");
	HARD_("h", "etc/shadow");
	FILE_("h", "overwritten");
	apply_ok(f, layer_done(&l), NULL);
	a = rd(f, "etc/shadow");
	b = rd(f, "h");
	assert_string_equal(a, "root:secret");
	assert_string_equal(b, "overwritten");
}

static void test_hardlinks(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	struct stat a, b, c;

	FILE_("bin/busybox", "ELF");
	HARD_("bin/sh", "bin/busybox");
	HARD_("./bin/ls", "./bin/busybox");
	apply_ok(f, layer_done(&l), NULL);
	assert_int_equal(lst(f, "bin/busybox", &a), 0);
	assert_int_equal(lst(f, "bin/sh", &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 3);

	/* to content of a lower layer already in the target */
	l = layer_new(ARCHIVE_FILTER_NONE);
	HARD_("usr/bin/sh", "bin/busybox");
	apply_ok(f, layer_done(&l), NULL);
	assert_int_equal(lst(f, "usr/bin/sh", &c), 0);
	assert_int_equal(a.st_ino, c.st_ino);

	/* a missing target is an error naming it */
	l = layer_new(ARCHIVE_FILTER_NONE);
	HARD_("x", "no/such");
	{
		struct cove_error err = {0};
		assert_int_equal(
		    apply(f, layer_done(&l), NULL, NULL, NULL, &err), -ENOENT);
		assert_non_null(strstr(err.msg, "no/such"));
	}
}

static void test_whiteouts_flat(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	struct cove_layer_stats st;
	struct cove_error err = {0};

	/* lower layer */
	FILE_("a", "a");
	DIR_("gone");
	FILE_("gone/f", "f");
	DIR_("opq");
	FILE_("opq/old", "old");
	DIR_("opq/sub");
	FILE_("opq/sub/old", "old");
	DIR_("late");
	FILE_("late/old", "old");
	FILE_("keep", "keep");
	apply_ok(f, layer_done(&l), NULL);

	l = layer_new(ARCHIVE_FILTER_GZIP);
	FILE_(".wh.a", "");
	FILE_(".wh.gone", "");
	FILE_(".wh.nonexistent", "");
	/* opaque marker first, as the spec recommends */
	DIR_("opq");
	FILE_("opq/.wh..wh..opq", "");
	FILE_("opq/new", "new");
	DIR_("opq/sub");
	FILE_("opq/sub/new", "new");
	/* opaque marker after this layer's entries: they stay */
	DIR_("late");
	FILE_("late/new", "new");
	FILE_("late/.wh..wh..opq", "");
	/* a whiteout never hides its own layer's entry */
	FILE_("mine", "mine");
	FILE_(".wh.mine", "");
	FILE_(".wh..wh.plnk", ""); /* aufs bookkeeping */
	assert_int_equal(apply(f, layer_done(&l), NULL, NULL, &st, &err), 0);
	assert_int_equal(st.whiteouts, 6);
	assert_int_equal(st.skipped_other, 1);

	assert_false(exists(f, "a"));
	assert_false(exists(f, "gone"));
	assert_false(exists(f, ".wh.a"));
	assert_false(exists(f, "opq/old"));
	assert_false(exists(f, "opq/sub/old"));
	assert_true(exists(f, "opq/new"));
	assert_true(exists(f, "opq/sub/new"));
	assert_false(exists(f, "opq/.wh..wh..opq"));
	assert_false(exists(f, "late/old"));
	assert_true(exists(f, "late/new"));
	assert_true(exists(f, "mine"));
	assert_true(exists(f, "keep"));
}

static void test_whiteout_escape(void **state)
{
	struct fixture *f = *state;
	struct cove_error err = {0};
	struct layer l;

	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_(".wh..", "");
	assert_int_equal(apply(f, layer_done(&l), NULL, NULL, NULL, &err),
			 -EINVAL);
	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("../outside/.wh.secret", "");
	assert_int_equal(apply(f, layer_done(&l), NULL, NULL, NULL, &err),
			 -EINVAL);
	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("x/.wh...", "");
	assert_int_equal(apply(f, layer_done(&l), NULL, NULL, NULL, &err),
			 -EINVAL);
	/* through symlinks: resolved inside, where nothing is */
	l = layer_new(ARCHIVE_FILTER_NONE);
	LINK_("out", f->outside);
	LINK_("up", "../outside");
	FILE_("out/.wh.secret", "");
	FILE_("up/.wh.secret", "");
	FILE_("up/.wh..wh..opq", "");
	apply_ok(f, layer_done(&l), NULL);
	assert_outside_intact(f);
	/* a whiteout of the root's parent: nothing */
	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("/.wh..wh..opq", "");
	apply_ok(f, layer_done(&l), NULL);
	assert_outside_intact(f);
	assert_false(exists(f, "out")); /* the root was made opaque */
}

static void test_whiteouts_overlay(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	struct cove_layer_opts o = {.overlay_whiteouts = true};
	char v[8];
	struct stat s;

	DIR_("etc");
	FILE_("etc/.wh.motd", "");
	DIR_("var");
	FILE_("var/.wh..wh..opq", "");
	FILE_("var/new", "");
	FILE_("deep/dir/.wh..wh..opq", ""); /* missing parents: made */
	apply_ok(f, layer_done(&l), &o);
	assert_int_equal(lst(f, "etc/motd", &s), 0);
	assert_true(S_ISCHR(s.st_mode));
	assert_int_equal(s.st_rdev, makedev(0, 0));
	{
		char p[256];
		snprintf(p, sizeof(p), "%s/var", f->root);
		assert_int_equal(
		    getxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
		assert_int_equal(v[0], 'y');
		snprintf(p, sizeof(p), "%s/deep/dir", f->root);
		assert_int_equal(
		    getxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
		assert_true(exists(f, "var/new"));
	}

	/* user.overlay.* for overlay in a user namespace */
	o.userxattr = true;
	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("u/.wh..wh..opq", "");
	apply_ok(f, layer_done(&l), &o);
	{
		char p[256];
		snprintf(p, sizeof(p), "%s/u", f->root);
		assert_int_equal(
		    getxattr(p, "user.overlay.opaque", v, sizeof(v)), 1);
		assert_true(
		    getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0);
	}
}

/* A lower layer dir <base>/NAME, as an O_PATH fd. */
static int lower_dir(struct fixture *f, const char *name)
{
	char p[160];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", f->base, name);
	assert_int_equal(mkdir(p, 0755), 0);
	fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void test_overlay_implied_parents(void **state)
{
	struct fixture *f = *state;
	_cleanup_close_ int low = lower_dir(f, "low"),
			    top = lower_dir(f, "top");
	int lowers[2] = {top, low};
	struct cove_layer_opts o = {
	    .overlay_whiteouts = true, .lower_dirfds = lowers, .n_lower = 2};
	bool root = geteuid() == 0;
	struct layer l;
	struct stat s;
	char p[256], v[8];

	/* low: app 0750 1000:1000 with an xattr, opaque; hidden, link */
	assert_int_equal(mkdirat(low, "app", 0750), 0);
	assert_int_equal(mkdirat(low, "app/sub", 0700), 0);
	assert_int_equal(mkdirat(low, "hidden", 0700), 0);
	assert_int_equal(mkdirat(low, "opq", 0755), 0);
	assert_int_equal(mkdirat(low, "opq/x", 0711), 0);
	assert_int_equal(symlinkat(f->outside, low, "link"), 0);
	snprintf(p, sizeof(p), "%s/low/app", f->base);
	assert_int_equal(chmod(p, 0750), 0);
	assert_int_equal(setxattr(p, "user.k", "v", 1, 0), 0);
	if (root) {
		assert_int_equal(chown(p, 1000, 1000), 0);
		assert_int_equal(
		    setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
		/* top (newer): "hidden" whited out, "opq" opaque */
		assert_int_equal(
		    mknodat(top, "hidden", S_IFCHR | 0000, makedev(0, 0)), 0);
		assert_int_equal(mkdirat(top, "opq", 0755), 0);
		snprintf(p, sizeof(p), "%s/top/opq", f->base);
		assert_int_equal(
		    setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
	}

	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("app/sub/f", "x");
	FILE_("hidden/f", "x");
	FILE_("opq/x/f", "x");
	FILE_("link/f", "x");
	apply_ok(f, layer_done(&l), &o);
	assert_int_equal(lst(f, "app", &s), 0);
	assert_int_equal(s.st_mode & 07777, 0750);
	if (root) {
		assert_int_equal(s.st_uid, 1000);
		assert_int_equal(s.st_gid, 1000);
	}
	snprintf(p, sizeof(p), "%s/app", f->root);
	assert_int_equal(getxattr(p, "user.k", v, sizeof(v)), 1);
	/* overlay's own xattrs are never copied */
	assert_true(getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0);
	assert_int_equal(lst(f, "app/sub", &s), 0);
	assert_int_equal(s.st_mode & 07777, 0700);
	/* a symlink below is not followed: a plain directory */
	assert_int_equal(lst(f, "link", &s), 0);
	assert_true(S_ISDIR(s.st_mode));
	assert_int_equal(s.st_mode & 07777, 0755);
	assert_outside_intact(f);
	if (root) {
		/* whited out, or hidden by an opaque dir: root 0755 */
		assert_int_equal(lst(f, "hidden", &s), 0);
		assert_int_equal(s.st_mode & 07777, 0755);
		assert_int_equal(lst(f, "opq/x", &s), 0);
		assert_int_equal(s.st_mode & 07777, 0755);
		assert_int_equal(lst(f, "opq", &s), 0);
		assert_int_equal(s.st_mode & 07777, 0755);
	}
}

static void test_overlay_hardlink_copy_up(void **state)
{
	struct fixture *f = *state;
	_cleanup_close_ int low = lower_dir(f, "low"),
			    top = lower_dir(f, "top");
	int lowers[2] = {top, low};
	struct cove_layer_opts o = {
	    .overlay_whiteouts = true, .lower_dirfds = lowers, .n_lower = 2};
	const struct timespec ts[2] = {{1000, 0}, {123456789, 0}};
	bool root = geteuid() == 0;
	_cleanup_free_ char *a = NULL, *b = NULL;
	struct cove_error err = {0};
	struct layer l;
	struct stat s, s2;
	char p[256], v[8];

	assert_int_equal(mkdirat(low, "d", 0750), 0);
	snprintf(p, sizeof(p), "%s/low/d/f", f->base);
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, p, "lower", 5, 0640), 0);
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(setxattr(p, "user.k", "v", 1, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	if (root)
		assert_int_equal(chown(p, 1000, 1001), 0);
	/* the newer lower has its own "d/f": that one wins */
	assert_int_equal(mkdirat(top, "e", 0755), 0);
	snprintf(p, sizeof(p), "%s/top/e/f", f->base);
	assert_int_equal(cove_write_file_atomic_at(AT_FDCWD, p, "top", 3, 0644),
			 0);
	snprintf(p, sizeof(p), "%s/low/e", f->base);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/low/e/f", f->base);
	assert_int_equal(cove_write_file_atomic_at(AT_FDCWD, p, "low", 3, 0644),
			 0);
	assert_int_equal(symlinkat(f->outside, low, "link"), 0);

	l = layer_new(ARCHIVE_FILTER_NONE);
	HARD_("g", "d/f");
	HARD_("h", "e/f");
	apply_ok(f, layer_done(&l), &o);
	a = rd(f, "d/f");
	b = rd(f, "h");
	assert_string_equal(a, "lower");
	assert_string_equal(b, "top");
	assert_int_equal(lst(f, "d/f", &s), 0);
	assert_int_equal(lst(f, "g", &s2), 0);
	assert_int_equal(s.st_ino, s2.st_ino);
	assert_int_equal(s.st_nlink, 2);
	assert_int_equal(s.st_mode & 07777, 0640);
	assert_int_equal(s.st_mtim.tv_sec, 123456789);
	if (root) {
		assert_int_equal(s.st_uid, 1000);
		assert_int_equal(s.st_gid, 1001);
	}
	snprintf(p, sizeof(p), "%s/g", f->root);
	assert_int_equal(getxattr(p, "user.k", v, sizeof(v)), 1);
	assert_int_equal(lst(f, "d", &s), 0);
	assert_int_equal(s.st_mode & 07777, 0750);

	/* not below, or only through a symlink: still an error */
	l = layer_new(ARCHIVE_FILTER_NONE);
	HARD_("x", "nowhere");
	assert_int_equal(apply(f, layer_done(&l), NULL, &o, NULL, &err),
			 -ENOENT);
	l = layer_new(ARCHIVE_FILTER_NONE);
	HARD_("x", "link/secret");
	assert_true(apply(f, layer_done(&l), NULL, &o, NULL, &err) < 0);
	assert_false(exists(f, "link/secret"));
	assert_outside_intact(f);
	if (root) {
		/* a newer whiteout hides the lower file */
		assert_int_equal(
		    mknodat(top, "w", S_IFCHR | 0000, makedev(0, 0)), 0);
		snprintf(p, sizeof(p), "%s/low/w", f->base);
		assert_int_equal(
		    cove_write_file_atomic_at(AT_FDCWD, p, "w", 1, 0644), 0);
		l = layer_new(ARCHIVE_FILTER_NONE);
		HARD_("x", "w");
		assert_int_equal(apply(f, layer_done(&l), NULL, &o, NULL, &err),
				 -ENOENT);
		assert_false(exists(f, "w"));
	}
}

/* Hard links to lower symlinks, fifos and devices copy those up too. */
static void test_overlay_hardlink_copy_up_special(void **state)
{
	struct fixture *f = *state;
	_cleanup_close_ int low = lower_dir(f, "low");
	int lowers[1] = {low};
	struct cove_layer_opts o = {
	    .overlay_whiteouts = true, .lower_dirfds = lowers, .n_lower = 1};
	const struct timespec ts[2] = {{1000, 0}, {222222222, 0}};
	bool root = geteuid() == 0;
	struct stat s, s2;
	struct layer l;
	char t[64];

	/* a symlink pointing out of the rootfs: copied, never followed */
	assert_int_equal(symlinkat(f->outside, low, "sl"), 0);
	assert_int_equal(utimensat(low, "sl", ts, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(mkfifoat(low, "fifo", 0620), 0);
	assert_int_equal(fchmodat(low, "fifo", 0620, 0), 0);
	if (root)
		assert_int_equal(
		    mknodat(low, "null", S_IFCHR | 0666, makedev(1, 3)), 0);

	l = layer_new(ARCHIVE_FILTER_NONE);
	HARD_("hs", "sl");
	HARD_("hf", "fifo");
	if (root)
		HARD_("hn", "null");
	apply_ok(f, layer_done(&l), &o);

	assert_int_equal(lst(f, "sl", &s), 0);
	assert_true(S_ISLNK(s.st_mode));
	assert_int_equal(s.st_mtim.tv_sec, 222222222);
	assert_int_equal(lst(f, "hs", &s2), 0);
	assert_int_equal(s.st_ino, s2.st_ino);
	memset(t, 0, sizeof(t));
	assert_true(readlinkat(f->root_fd, "hs", t, sizeof(t) - 1) > 0);
	assert_string_equal(t, f->outside);
	assert_outside_intact(f);

	assert_int_equal(lst(f, "fifo", &s), 0);
	assert_true(S_ISFIFO(s.st_mode));
	assert_int_equal(s.st_mode & 07777, 0620);
	assert_int_equal(lst(f, "hf", &s2), 0);
	assert_int_equal(s.st_ino, s2.st_ino);
	if (root) {
		assert_int_equal(lst(f, "hn", &s), 0);
		assert_true(S_ISCHR(s.st_mode));
		assert_int_equal(s.st_rdev, makedev(1, 3));
	}
}

static void test_xattrs(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	struct cove_layer_stats st;
	struct cove_error err = {0};
	/* vfs_cap_data v2: cap_net_raw (13) permitted+effective */
	const uint32_t cap[5] = {0x02000001, 1u << 13, 0, 0, 0};
	char p[256], v[64];

	add(&l, (struct ent){.path = "ping",
			     .data = "ELF",
			     .perm = 0755,
			     .xname = "security.capability",
			     .xvalue = cap,
			     .xsize = sizeof(cap)});
	add(&l, (struct ent){.path = "u",
			     .data = "u",
			     .xname = "user.k",
			     .xvalue = "val",
			     .xsize = 3});
	/* a layer must not steer the overlay mount */
	add(&l, (struct ent){.path = "d",
			     .type = AE_IFDIR,
			     .perm = 0755,
			     .xname = "trusted.overlay.opaque",
			     .xvalue = "y",
			     .xsize = 1});
	add(&l, (struct ent){.path = "r",
			     .type = AE_IFDIR,
			     .perm = 0755,
			     .xname = "trusted.overlay.redirect",
			     .xvalue = "/etc",
			     .xsize = 4});
	assert_int_equal(apply(f, layer_done(&l), NULL, NULL, &st, &err), 0);
	assert_int_equal(st.skipped_xattrs, 2);
	snprintf(p, sizeof(p), "%s/ping", f->root);
	assert_int_equal(getxattr(p, "security.capability", v, sizeof(v)),
			 sizeof(cap));
	assert_memory_equal(v, cap, sizeof(cap));
	snprintf(p, sizeof(p), "%s/u", f->root);
	assert_int_equal(getxattr(p, "user.k", v, sizeof(v)), 3);
	snprintf(p, sizeof(p), "%s/d", f->root);
	assert_true(getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0);
	snprintf(p, sizeof(p), "%s/r", f->root);
	assert_true(getxattr(p, "trusted.overlay.redirect", v, sizeof(v)) < 0);
}

static void test_idmap(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	const struct cove_idmap_range map[] = {{0, 100000, 1000},
					       {1000, 201000, 10}};
	struct cove_layer_opts o = {
	    .uid_map = map, .uid_map_len = 2, .gid_map = map, .gid_map_len = 2};
	struct cove_error err = {0};
	struct stat s;
	uint32_t out;

	assert_int_equal(cove_idmap_range_map(map, 2, 5, &out), 0);
	assert_int_equal(out, 100005);
	assert_int_equal(cove_idmap_range_map(map, 2, 1010, &out), -EOVERFLOW);
	assert_int_equal(cove_idmap_range_map(NULL, 0, 7, &out), 0);
	assert_int_equal(out, 7);

	add(&l, (struct ent){
		    .path = "home/u/f", .data = "x", .uid = 1003, .gid = 7});
	apply_ok(f, layer_done(&l), &o);
	assert_int_equal(lst(f, "home/u/f", &s), 0);
	assert_int_equal(s.st_uid, 201003);
	assert_int_equal(s.st_gid, 100007);
	/* implied parents belong to the mapped root */
	assert_int_equal(lst(f, "home/u", &s), 0);
	assert_int_equal(s.st_uid, 100000);

	l = layer_new(ARCHIVE_FILTER_NONE);
	add(&l, (struct ent){.path = "bad", .data = "x", .uid = 5000});
	assert_int_equal(apply(f, layer_done(&l), NULL, &o, NULL, &err),
			 -EOVERFLOW);
	assert_non_null(strstr(err.msg, "5000"));
	assert_non_null(strstr(err.msg, "'bad'"));
}

static void test_devices_root(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	struct stat s;

	if (cove_in_user_namespace() || geteuid() != 0)
		skip();
	add(&l, (struct ent){.path = "dev/null",
			     .type = AE_IFCHR,
			     .perm = 0666,
			     .rdev = makedev(1, 3)});
	add(&l, (struct ent){.path = "dev/loop9",
			     .type = AE_IFBLK,
			     .perm = 0660,
			     .rdev = makedev(7, 9)});
	apply_ok(f, layer_done(&l), NULL);
	assert_int_equal(lst(f, "dev/null", &s), 0);
	assert_true(S_ISCHR(s.st_mode));
	assert_int_equal(s.st_rdev, makedev(1, 3));
	assert_int_equal(s.st_mode & 07777, 0666);
	assert_int_equal(lst(f, "dev/loop9", &s), 0);
	assert_true(S_ISBLK(s.st_mode));
}

/* In a child: become root of a new user namespace (own ids mapped). */
static int enter_userns(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int n;

	if (unshare(CLONE_NEWUSER) < 0)
		return -1;
	n = snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (cove_write_file("/proc/self/uid_map", map, (size_t)n) < 0)
		return -1;
	cove_write_file("/proc/self/setgroups", "deny", 4);
	n = snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if (cove_write_file("/proc/self/gid_map", map, (size_t)n) < 0)
		return -1;
	return 0;
}

static int wait_child(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

static void test_devices_userns(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	int fd;
	pid_t pid;

	add(&l, (struct ent){.path = "dev/null",
			     .type = AE_IFCHR,
			     .perm = 0666,
			     .rdev = makedev(1, 3)});
	FILE_("after", "x");
	fd = layer_done(&l);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cove_layer_opts o = {.skip_devices = true};
		struct cove_layer_stats st;
		struct cove_error err = {0};

		if (enter_userns() < 0)
			_exit(10);
		if (!cove_in_user_namespace())
			_exit(11);
		if (cove_layer_apply(fd, NULL, f->root_fd, NULL, NULL, &err) !=
			-EPERM ||
		    !strstr(err.msg, "dev/null"))
			_exit(12);
		lseek(fd, 0, SEEK_SET);
		if (cove_layer_apply(fd, NULL, f->root_fd, &o, &st, &err) < 0)
			_exit(13);
		if (st.skipped_devices != 1)
			_exit(14);
		_exit(0);
	}
	assert_int_equal(wait_child(pid), 0);
	close(fd);
	assert_false(exists(f, "dev/null"));
	assert_true(exists(f, "after"));
}

/* setuid/setgid bits only for root; unprivileged users keep the rest. */
static void test_setuid_unprivileged(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	int fd;
	pid_t pid;
	struct stat s;

	if (geteuid() != 0)
		skip();
	add(&l, (struct ent){.path = "su", .data = "x", .perm = 06755});
	add(&l, (struct ent){.path = "ro", .type = AE_IFDIR, .perm = 0555});
	FILE_("ro/f", "in a read-only directory");
	fd = layer_done(&l);
	assert_int_equal(fchownat(f->root_fd, "", 65534, 65534, AT_EMPTY_PATH),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cove_layer_opts o = {.no_chown = true};
		struct cove_error err = {0};

		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(10);
		if (cove_layer_apply(fd, NULL, f->root_fd, &o, NULL, &err) < 0)
			_exit(11);
		_exit(0);
	}
	assert_int_equal(wait_child(pid), 0);
	close(fd);
	assert_int_equal(lst(f, "su", &s), 0);
	assert_int_equal(s.st_mode & 07777, 0755);
	assert_int_equal(lst(f, "ro", &s), 0);
	assert_int_equal(s.st_mode & 07777, 0555);
	assert_true(exists(f, "ro/f"));
}

static void test_replace_types(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	struct stat s;

	DIR_("x");
	FILE_("x/inner", "i");
	FILE_("y", "y");
	apply_ok(f, layer_done(&l), NULL);
	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("x", "now a file");
	DIR_("y");
	FILE_("y/z", "z");
	apply_ok(f, layer_done(&l), NULL);
	assert_int_equal(lst(f, "x", &s), 0);
	assert_true(S_ISREG(s.st_mode));
	assert_int_equal(lst(f, "y", &s), 0);
	assert_true(S_ISDIR(s.st_mode));
	assert_true(exists(f, "y/z"));

	/* a path through what is now a file: error */
	l = layer_new(ARCHIVE_FILTER_NONE);
	FILE_("x/sub", "no");
	{
		struct cove_error err = {0};
		assert_int_equal(
		    apply(f, layer_done(&l), NULL, NULL, NULL, &err), -ENOTDIR);
	}
}

/* Names are bytes: non-UTF-8 and UTF-8 ones come through unchanged. */
static void test_names(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	char longname[300];

	FILE_("caf\xc3\xa9", "utf8");
	FILE_("raw\xff\xfe", "binary");
	FILE_("sp ace/new\nline", "nl");
	memset(longname, 'n', 200);
	memcpy(longname + 200, "/leaf", 6);
	FILE_(longname, "deep");
	apply_ok(f, layer_done(&l), NULL);
	assert_true(exists(f, "caf\xc3\xa9"));
	assert_true(exists(f, "raw\xff\xfe"));
	assert_true(exists(f, "sp ace/new\nline"));
	assert_true(exists(f, longname));
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct layer l = layer_new(ARCHIVE_FILTER_NONE);
	struct cove_layer_opts o = {.max_entries = 3, .name = "L"};
	struct cove_error err = {0};
	char name[16];

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		FILE_(name, "");
	}
	assert_int_equal(apply(f, layer_done(&l), NULL, &o, NULL, &err),
			 -E2BIG);
	assert_non_null(strstr(err.msg, "layer L"));

	/* a bound on the uncompressed bytes (decompression bombs) */
	{
		_cleanup_free_ char *big = malloc(1 << 20);
		assert_non_null(big);
		memset(big, 'z', 1 << 20);
		big[(1 << 20) - 1] = '\0';
		l = layer_new(ARCHIVE_FILTER_GZIP);
		FILE_("bomb", big);
		o = (struct cove_layer_opts){.max_size = 1 << 19};
		assert_int_equal(apply(f, layer_done(&l), NULL, &o, NULL, &err),
				 -EFBIG);
		assert_non_null(strstr(err.msg, "524288"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_diff_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_and_garbage, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_dotdot_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_absolute_paths, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_escape_in_layer, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_escape_in_target,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hardlink_escape, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_no_write_through_links, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_hardlinks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_whiteouts_flat, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_whiteout_escape, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_whiteouts_overlay, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_overlay_implied_parents, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_overlay_hardlink_copy_up,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_overlay_hardlink_copy_up_special, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idmap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_devices_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_devices_userns, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_setuid_unprivileged, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_replace_types, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
