/*
 * Unit tests for src/image/snapshot.c: chain ids, unpack-once, crash
 * leftovers, overlay mounts (as root, and as root of a user namespace with
 * userxattr) and the vfs copy driver.
 *
 * The whole test runs in a private mount namespace of its own, so that a
 * failing test can never leave an overlay mounted on the host.
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
#include <openssl/evp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/snapshot.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

struct fixture {
	char root[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/cove-snap-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cove_rm_rf(f->root), 0);
	free(f);
	return 0;
}

/* ---- layers ---- */

struct ent {
	const char *path;
	mode_t type; /* 0: regular file */
	const char *data;
	const char *link;
	const char *hardlink;
};

/* An uncompressed (or gzip) layer; its diff_id into @diff_id. */
static int make_layer(const struct ent *e, size_t n, bool gzip,
		      char diff_id[72])
{
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	struct archive *a = archive_write_new();
	unsigned char md[32];
	unsigned int mdlen;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char buf[65536];
	ssize_t r;
	int out;

	assert_true(fd >= 0);
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t len = e[i].data ? strlen(e[i].data) : 0;

		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_filetype(ae, e[i].type ? e[i].type : AE_IFREG);
		archive_entry_set_perm(ae, e[i].type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_mtime(ae, 1000000000, 0);
		if (e[i].link)
			archive_entry_set_symlink(ae, e[i].link);
		if (e[i].hardlink) {
			archive_entry_set_hardlink(ae, e[i].hardlink);
			len = 0;
		}
		archive_entry_set_size(ae, (la_int64_t)len);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, e[i].data, len),
					 (la_ssize_t)len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)r);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	memcpy(diff_id, "sha256:", 7);
	for (int i = 0; i < 32; i++)
		snprintf(diff_id + 7 + 2 * i, 3, "%02x", md[i]);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	if (!gzip)
		return fd;

	/* the same bytes, gzip-compressed */
	out = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	a = archive_write_new();
	archive_write_set_format_raw(a);
	archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_fd(a, out), ARCHIVE_OK);
	{
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_filetype(ae, AE_IFREG);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		archive_entry_free(ae);
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		archive_write_data(a, buf, (size_t)r);
	archive_write_close(a);
	archive_write_free(a);
	close(fd);
	assert_int_equal(lseek(out, 0, SEEK_SET), 0);
	return out;
}

/* A three-layer image: base, changes with whiteouts, one more file. */
struct image {
	int fd[3];
	char diff_id[3][72];
	struct cove_snapshot_layer l[3];
};

static void image_make(struct image *im)
{
	static const struct ent base[] = {
		{.path = "etc", .type = AE_IFDIR},
		{.path = "etc/os-release", .data = "ID=test\n"},
		{.path = "etc/motd", .data = "hello\n"},
		{.path = "bin", .type = AE_IFDIR},
		{.path = "bin/busybox", .data = "ELF"},
		{.path = "bin/sh", .hardlink = "bin/busybox"},
		{.path = "var", .type = AE_IFDIR},
		{.path = "var/cache", .type = AE_IFDIR},
		{.path = "var/cache/old", .data = "old"},
		{.path = "lib", .type = AE_IFLNK, .link = "usr/lib"},
	};
	static const struct ent upd[] = {
		{.path = "etc", .type = AE_IFDIR},
		{.path = "etc/.wh.motd", .data = ""},
		{.path = "var", .type = AE_IFDIR},
		{.path = "var/cache", .type = AE_IFDIR},
		{.path = "var/cache/.wh..wh..opq", .data = ""},
		{.path = "var/cache/new", .data = "new"},
	};
	static const struct ent top[] = {
		{.path = "app", .type = AE_IFDIR},
		{.path = "app/run", .data = "#!/bin/sh\n"},
	};

	im->fd[0] = make_layer(base, ARRAY_SIZE(base), true, im->diff_id[0]);
	im->fd[1] = make_layer(upd, ARRAY_SIZE(upd), false, im->diff_id[1]);
	im->fd[2] = make_layer(top, ARRAY_SIZE(top), true, im->diff_id[2]);
	for (int i = 0; i < 3; i++)
		im->l[i] = (struct cove_snapshot_layer){
			.diff_id = im->diff_id[i],
			.media_type = i == 1 ? "application/vnd.oci.image."
					       "layer.v1.tar"
					     : NULL,
			.name = im->diff_id[i],
			.blob_fd = im->fd[i],
		};
}

static void image_rewind(struct image *im)
{
	for (int i = 0; i < 3; i++)
		assert_int_equal(lseek(im->fd[i], 0, SEEK_SET), 0);
}

static void image_free(struct image *im)
{
	for (int i = 0; i < 3; i++)
		close(im->fd[i]);
}

static void snapshotter_freep(struct cove_snapshotter **s)
{
	cove_snapshotter_free(*s);
}
#define _cleanup_snap_ _cleanup_(snapshotter_freep)

static struct cove_snapshotter *open_driver(struct fixture *f,
					    const char *driver)
{
	struct cove_snapshotter *s = NULL;
	struct cove_snapshot_opts o = {.driver = driver};
	struct cove_error err = {0};

	if (cove_snapshotter_open(f->root, &o, &s, &err) < 0)
		fail_msg("open: %s", err.msg);
	return s;
}

static bool path_exists(const char *dir, const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0;
}

static char *read_in(const char *dir, const char *rel)
{
	char p[512], *buf = NULL;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (cove_read_file(p, 1 << 20, &buf, NULL) < 0)
		return NULL;
	return buf;
}

/* ---- tests ---- */

static void test_chain_id(void **state)
{
	const char *a = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4"
			"e72b9807785afee48bb";
	const char *b = "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42"
			"c4acb73eeaed59c009d";
	struct cove_error err = {0};
	char out[COVE_CHAIN_ID_MAX];

	assert_int_equal(cove_chain_id(NULL, a, out, &err), 0);
	assert_string_equal(out, a);
	/* sha256("<a> <b>") */
	assert_int_equal(cove_chain_id(a, b, out, &err), 0);
	assert_string_equal(out, "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0"
				 "f3cbe09c5a34a97dce85c3889676");
	assert_int_equal(cove_chain_id(NULL, "sha256:xyz", out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "sha256:xyz"));
	assert_int_equal(cove_chain_id("md5:00", b, out, &err), -EINVAL);
	assert_int_equal(cove_chain_id(NULL, "SHA256:CA978112CA1BBDCAFAC231B3"
					     "9A23DC4DA786EFF8147C4E72B98077"
					     "85AFEE48BB",
				       out, &err),
			 -EINVAL);
}

static void prepare_ok(struct cove_snapshotter *s, struct image *im, size_t n,
		       char *chain, size_t *unpacked)
{
	struct cove_error err = {0};

	image_rewind(im);
	if (cove_snapshot_prepare(s, im->l, n, chain, unpacked, &err) < 0)
		fail_msg("prepare: %s", err.msg);
}

static void test_prepare_once(void **state)
{
	struct fixture *f = *state;
	_cleanup_snap_ struct cove_snapshotter *s = open_driver(f, "overlay");
	struct image im;
	char chain[COVE_CHAIN_ID_MAX], want[COVE_CHAIN_ID_MAX];
	_cleanup_free_ struct cove_snapshot_info *list = NULL;
	_cleanup_free_ char *p = NULL;
	struct cove_error err = {0};
	size_t unpacked, n;
	struct stat st;

	image_make(&im);
	prepare_ok(s, &im, 2, chain, &unpacked);
	assert_int_equal(unpacked, 2);
	assert_int_equal(cove_chain_id(im.diff_id[0], im.diff_id[1], want,
				       &err),
			 0);
	assert_string_equal(chain, want);
	assert_true(cove_snapshot_exists(s, im.diff_id[0]));
	assert_true(cove_snapshot_exists(s, chain));

	/* again: nothing unpacked; one more layer: only that one */
	prepare_ok(s, &im, 2, chain, &unpacked);
	assert_int_equal(unpacked, 0);
	prepare_ok(s, &im, 3, chain, &unpacked);
	assert_int_equal(unpacked, 1);

	/* overlay format in the diffs */
	p = cove_snapshot_path(s, want);
	assert_non_null(p);
	{
		char w[512];
		snprintf(w, sizeof(w), "%s/etc/motd", p);
		assert_int_equal(lstat(w, &st), 0);
		assert_true(S_ISCHR(st.st_mode));
	}

	assert_int_equal(cove_snapshot_list(s, &list, &n, &err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i].chain_id, im.diff_id[0]))
			assert_string_equal(list[i].parent, "");
		else if (!strcmp(list[i].chain_id, want))
			assert_string_equal(list[i].parent, im.diff_id[0]);
	image_free(&im);
}

static void test_diff_id_mismatch(void **state)
{
	struct fixture *f = *state;
	_cleanup_snap_ struct cove_snapshotter *s = open_driver(f, "overlay");
	struct image im;
	struct cove_error err = {0};
	char bad[72];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char dir[128];

	image_make(&im);
	memcpy(bad, im.diff_id[2], sizeof(bad));
	im.l[0].diff_id = bad; /* layer 0's content, layer 2's diff_id */
	image_rewind(&im);
	assert_int_equal(cove_snapshot_prepare(s, im.l, 1, NULL, NULL, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.msg, bad));
	assert_non_null(strstr(err.msg, im.diff_id[0]));
	assert_false(cove_snapshot_exists(s, bad));
	/* and nothing left behind */
	snprintf(dir, sizeof(dir), "%s/overlay", f->root);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_true(de->d_name[0] == '.');
	image_free(&im);
}

static void test_stale_temporaries(void **state)
{
	struct fixture *f = *state;
	_cleanup_snap_ struct cove_snapshotter *s = open_driver(f, "overlay");
	struct image im;
	char p[256], lock[256];
	int pipefd[2];
	pid_t pid;
	char c;

	image_make(&im);
	/* a crash mid-unpack and mid-remove */
	snprintf(p, sizeof(p), "%s/overlay/tmp-0123456789ab-Zx9Q1a/diff/usr",
		 f->root);
	assert_int_equal(cove_mkdir_p(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/overlay/rm-abc/diff", f->root);
	assert_int_equal(cove_mkdir_p(p, 0755), 0);

	/* while another prepare runs (holds the lock shared): kept */
	snprintf(lock, sizeof(lock), "%s/overlay/.lock", f->root);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || flock(fd, LOCK_SH) < 0)
			_exit(1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		/*
		 * Hold the lock until killed; reading the pipe here could
		 * take back our own byte before the parent sees it.
		 */
		for (;;)
			pause();
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	prepare_ok(s, &im, 1, NULL, NULL);
	snprintf(p, sizeof(p), "%s/overlay/tmp-0123456789ab-Zx9Q1a", f->root);
	assert_true(path_exists(p, "diff/usr"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pipefd[0]);

	/* the next prepare, alone, removes them */
	prepare_ok(s, &im, 1, NULL, NULL);
	assert_false(path_exists(p, ""));
	snprintf(p, sizeof(p), "%s/overlay/rm-abc", f->root);
	assert_false(path_exists(p, ""));
	assert_true(cove_snapshot_exists(s, im.diff_id[0]));
	image_free(&im);
}

static void check_rootfs(const char *rootfs)
{
	_cleanup_free_ char *os = read_in(rootfs, "etc/os-release");
	_cleanup_free_ char *nw = read_in(rootfs, "var/cache/new");
	struct stat a, b;
	char p[512];

	assert_non_null(os);
	assert_string_equal(os, "ID=test\n");
	assert_false(path_exists(rootfs, "etc/motd"));      /* whiteout */
	assert_false(path_exists(rootfs, "var/cache/old")); /* opaque */
	assert_string_equal(nw, "new");
	assert_true(path_exists(rootfs, "app/run"));
	snprintf(p, sizeof(p), "%s/bin/sh", rootfs);
	assert_int_equal(lstat(p, &a), 0);
	snprintf(p, sizeof(p), "%s/bin/busybox", rootfs);
	assert_int_equal(lstat(p, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	snprintf(p, sizeof(p), "%s/lib", rootfs);
	assert_int_equal(lstat(p, &a), 0);
	assert_true(S_ISLNK(a.st_mode));
}

static void test_overlay_mount(void **state)
{
	struct fixture *f = *state;
	_cleanup_snap_ struct cove_snapshotter *s = open_driver(f, "overlay");
	_cleanup_free_ char *path = NULL, *again = NULL, *upper = NULL;
	_cleanup_free_ struct cove_snapshot_container *cs = NULL;
	struct cove_error err = {0};
	struct image im;
	char chain[COVE_CHAIN_ID_MAX];
	size_t n;
	char p[512];

	if (geteuid() != 0)
		skip();
	image_make(&im);
	prepare_ok(s, &im, 3, chain, NULL);
	if (cove_snapshot_mount(s, "c1", chain, &path, &err) < 0)
		fail_msg("mount: %s", err.msg);
	check_rootfs(path);

	/* writes go to the container's upper dir */
	snprintf(p, sizeof(p), "%s/app/state", path);
	assert_int_equal(cove_write_file_atomic_at(AT_FDCWD, p, "1", 1, 0644),
			 0);
	upper = cove_strdup_printf("%s/overlay-containers/c1/upper", f->root);
	assert_true(path_exists(upper, "app/state"));

	/* mounting again: the same path, no second mount */
	assert_int_equal(cove_snapshot_mount(s, "c1", chain, &again, &err), 0);
	assert_string_equal(path, again);
	/* another image for the same container: refused */
	{
		_cleanup_free_ char *x = NULL;
		assert_int_equal(cove_snapshot_mount(s, "c1", im.diff_id[0], &x,
						     &err),
				 -EEXIST);
	}

	/* layers in use cannot go */
	assert_int_equal(cove_snapshot_remove(s, im.diff_id[0], &err), -EBUSY);
	assert_int_equal(cove_snapshot_remove(s, chain, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "c1"));
	assert_int_equal(cove_snapshot_list_containers(s, &cs, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(cs[0].id, "c1");
	assert_string_equal(cs[0].chain_id, chain);

	assert_int_equal(cove_snapshot_unmount(s, "c1", &err), 0);
	assert_false(path_exists(path, "etc"));
	assert_int_equal(cove_snapshot_unmount(s, "c1", &err), 0);
	/* remount: the container's changes are still there */
	free(again);
	again = NULL;
	assert_int_equal(cove_snapshot_mount(s, "c1", chain, &again, &err), 0);
	assert_true(path_exists(again, "app/state"));

	assert_int_equal(cove_snapshot_remove_container(s, "c1", &err), 0);
	assert_false(path_exists(upper, ""));
	assert_int_equal(cove_snapshot_remove(s, chain, &err), 0);
	assert_false(cove_snapshot_exists(s, chain));
	image_free(&im);
}

static void test_empty_image(void **state)
{
	struct fixture *f = *state;
	_cleanup_snap_ struct cove_snapshotter *s = open_driver(f, "overlay");
	_cleanup_free_ char *path = NULL;
	struct cove_error err = {0};

	if (geteuid() != 0)
		skip();
	assert_int_equal(cove_snapshot_mount(s, "scratch", NULL, &path, &err),
			 0);
	assert_int_equal(cove_snapshot_remove_container(s, "scratch", &err), 0);
}

static void test_invalid(void **state)
{
	struct fixture *f = *state;
	_cleanup_snap_ struct cove_snapshotter *s = open_driver(f, "vfs");
	struct cove_snapshotter *bad = NULL;
	struct cove_snapshot_opts o = {.driver = "btrfs"};
	_cleanup_free_ char *path = NULL;
	struct cove_error err = {0};

	assert_int_equal(cove_snapshotter_open(f->root, &o, &bad, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "btrfs"));
	assert_int_equal(cove_snapshot_mount(s, "../x", NULL, &path, &err),
			 -EINVAL);
	assert_int_equal(cove_snapshot_mount(s, "a/b", NULL, &path, &err),
			 -EINVAL);
	assert_int_equal(cove_snapshot_mount(s, "ok", "sha256:../../x", &path,
					     &err),
			 -EINVAL);
	assert_int_equal(cove_snapshot_remove(s, "sha256:0000", &err), -EINVAL);
	assert_string_equal(cove_snapshotter_driver(s), "vfs");
}

static void test_vfs(void **state)
{
	struct fixture *f = *state;
	_cleanup_snap_ struct cove_snapshotter *s = open_driver(f, "vfs");
	_cleanup_free_ char *path = NULL, *base = NULL;
	struct cove_error err = {0};
	struct image im;
	char chain[COVE_CHAIN_ID_MAX];
	size_t unpacked;

	image_make(&im);
	prepare_ok(s, &im, 3, chain, &unpacked);
	assert_int_equal(unpacked, 3);
	prepare_ok(s, &im, 3, chain, &unpacked);
	assert_int_equal(unpacked, 0);
	/* each vfs snapshot is its whole chain, flattened */
	base = cove_snapshot_path(s, im.diff_id[0]);
	assert_true(path_exists(base, "etc/motd"));

	assert_int_equal(cove_snapshot_mount(s, "v1", chain, &path, &err), 0);
	check_rootfs(path);
	/* flattened: no whiteout devices anywhere */
	assert_false(path_exists(path, "etc/.wh.motd"));
	/* snapshots are independent copies: the base can go */
	assert_int_equal(cove_snapshot_remove(s, im.diff_id[0], &err), 0);
	check_rootfs(path);
	assert_int_equal(cove_snapshot_unmount(s, "v1", &err), 0);
	assert_int_equal(cove_snapshot_remove_container(s, "v1", &err), 0);
	assert_false(path_exists(path, ""));
	image_free(&im);
}

/*
 * Rootless: in a user namespace (root mapped to 100000..165535) and a
 * mount namespace of its own, the child unpacks with user.overlay.*
 * xattrs and mounts overlay with userxattr.
 */
static int rootless_child(const char *root, struct image *im, int syncfd)
{
	const struct cove_idmap_range map[] = {{0, 0, 65536}};
	struct cove_snapshot_opts o = {.driver = "overlay", .rootless = true,
				       .uid_map = map, .uid_map_len = 1,
				       .gid_map = map, .gid_map_len = 1};
	struct cove_snapshotter *s = NULL;
	struct cove_error err = {0};
	char chain[COVE_CHAIN_ID_MAX], p[512], v[4];
	char *path = NULL;
	char c;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return 10;
	if (write(syncfd, "u", 1) != 1 || read(syncfd, &c, 1) != 1)
		return 11;
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return 12;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 13;
	if (cove_snapshotter_open(root, &o, &s, &err) < 0)
		return 14;
	image_rewind(im);
	if (cove_snapshot_prepare(s, im->l, 3, chain, NULL, &err) < 0) {
		fprintf(stderr, "prepare: %s\n", err.msg);
		return 15;
	}
	snprintf(p, sizeof(p), "%s/overlay/%s/diff/var/cache", root,
		 chain[0] ? "" : "");
	{
		char l1[COVE_CHAIN_ID_MAX];
		if (cove_chain_id(im->diff_id[0], im->diff_id[1], l1, &err) < 0)
			return 16;
		snprintf(p, sizeof(p), "%s/overlay/%s/diff/var/cache", root,
			 l1 + 7);
		if (getxattr(p, "user.overlay.opaque", v, sizeof(v)) != 1)
			return 17;
	}
	if (cove_snapshot_mount(s, "rootless", chain, &path, &err) < 0) {
		fprintf(stderr, "mount: %s\n", err.msg);
		return 18;
	}
	snprintf(p, sizeof(p), "%s/var/cache/old", path);
	if (access(p, F_OK) == 0)
		return 19;
	snprintf(p, sizeof(p), "%s/etc/motd", path);
	if (access(p, F_OK) == 0)
		return 20;
	snprintf(p, sizeof(p), "%s/var/cache/new", path);
	if (access(p, F_OK) != 0)
		return 21;
	if (cove_snapshot_remove_container(s, "rootless", &err) < 0) {
		fprintf(stderr, "remove: %s\n", err.msg);
		return 22;
	}
	free(path);
	cove_snapshotter_free(s);
	return 0;
}

static void test_rootless_overlay(void **state)
{
	struct fixture *f = *state;
	struct image im;
	int sv[2], status;
	char c, map[64];
	pid_t pid;

	if (geteuid() != 0)
		skip();
	image_make(&im);
	/* the store belongs to the user namespace's root */
	assert_int_equal(chown(f->root, 100000, 100000), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(rootless_child(f->root, &im, sv[1]));
	}
	close(sv[1]);
	if (read(sv[0], &c, 1) == 1) {
		snprintf(map, sizeof(map), "/proc/%d/uid_map", (int)pid);
		assert_int_equal(cove_write_file(map, "0 100000 65536", 14), 0);
		snprintf(map, sizeof(map), "/proc/%d/gid_map", (int)pid);
		assert_int_equal(cove_write_file(map, "0 100000 65536", 14), 0);
		assert_int_equal(write(sv[0], "g", 1), 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(sv[0]);
	image_free(&im);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_id),
		cmocka_unit_test_setup_teardown(test_prepare_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_diff_id_mismatch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_temporaries, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_overlay_mount, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_empty_image, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rootless_overlay, setup,
						teardown),
	};

	/* mounts made here die with this process's mount namespace */
	if (geteuid() == 0 &&
	    (unshare(CLONE_NEWNS) < 0 ||
	     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)) {
		perror("mount namespace");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
