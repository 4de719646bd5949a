/*
 * Unit tests for src/util: checked integer parsing, string vectors, file
 * helpers (atomic replace, size cap, mkdir -p, rm -rf that stops at mount
 * points), typed JSON accessors and the error object.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* ---- fixtures ----------------------------------------------------------- */

/* A fresh temporary directory per test, removed in teardown. */
static int setup_tmpdir(void **state)
{
	char *dir = strdup("/tmp/cove-test-util-XXXXXX");

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

static char *path_in(void **state, const char *name)
{
	char *p = cove_strdup_printf("%s/%s", (char *)*state, name);

	assert_non_null(p);
	return p;
}

static void write_text(const char *path, const char *text)
{
	_cleanup_fclose_ FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
}

static void assert_file_text(const char *path, const char *want)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	assert_int_equal(cove_read_file(path, 1 << 20, &buf, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(buf, want);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Number of entries of @dir whose name contains @needle. */
static int count_entries(const char *dir, const char *needle)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, needle))
			n++;
	return n;
}

/* ---- integer parsing ---------------------------------------------------- */

static void test_parse_int64(void **state)
{
	int64_t v = 42;

	assert_int_equal(cove_parse_int64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cove_parse_int64("-0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cove_parse_int64("-17", &v), 0);
	assert_int_equal(v, -17);
	assert_int_equal(cove_parse_int64("007", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(cove_parse_int64("9223372036854775807", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(cove_parse_int64("-9223372036854775808", &v), 0);
	assert_true(v == INT64_MIN);

	v = 42;
	assert_int_equal(cove_parse_int64("9223372036854775808", &v), -ERANGE);
	assert_int_equal(cove_parse_int64("-9223372036854775809", &v), -ERANGE);
	assert_int_equal(cove_parse_int64("99999999999999999999999", &v),
			 -ERANGE);
	assert_int_equal(cove_parse_int64(NULL, &v), -EINVAL);
	assert_int_equal(cove_parse_int64("", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("-", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("12a", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("1 ", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("1\n", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("0x10", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("1.5", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("abc", &v), -EINVAL);
	/* The whole string or nothing: no leading blanks, no sign but '-'. */
	assert_int_equal(cove_parse_int64(" 1", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("\t1", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("\n-1", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("+1", &v), -EINVAL);
	assert_int_equal(cove_parse_int64("--1", &v), -EINVAL);
	/* Failures leave the output alone. */
	assert_int_equal(v, 42);
}

static void test_parse_uint64(void **state)
{
	uint64_t v = 42;

	assert_int_equal(cove_parse_uint64("0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(cove_parse_uint64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);

	v = 42;
	assert_int_equal(cove_parse_uint64("18446744073709551616", &v),
			 -ERANGE);
	assert_int_equal(cove_parse_uint64(NULL, &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("-1", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("-0", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("+1", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64(" 1", &v), -EINVAL);
	/* strtoull skips any blank and wraps negatives: neither may pass. */
	assert_int_equal(cove_parse_uint64("\t1", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("\t-1", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("\n-5", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("1 ", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("1\n", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("12k", &v), -EINVAL);
	assert_int_equal(cove_parse_uint64("max", &v), -EINVAL);
	assert_true(v == 42);
}

static void test_parse_int(void **state)
{
	int v = 42;

	assert_int_equal(cove_parse_int("2147483647", &v), 0);
	assert_int_equal(v, INT_MAX);
	assert_int_equal(cove_parse_int("-2147483648", &v), 0);
	assert_int_equal(v, INT_MIN);
	v = 42;
	assert_int_equal(cove_parse_int("2147483648", &v), -ERANGE);
	assert_int_equal(cove_parse_int("-2147483649", &v), -ERANGE);
	assert_int_equal(cove_parse_int("9223372036854775808", &v), -ERANGE);
	assert_int_equal(cove_parse_int("", &v), -EINVAL);
	assert_int_equal(cove_parse_int("3x", &v), -EINVAL);
	assert_int_equal(cove_parse_int(" 3", &v), -EINVAL);
	assert_int_equal(v, 42);
}

static void test_parse_uint32(void **state)
{
	uint32_t v = 42;

	assert_int_equal(cove_parse_uint32("4294967295", &v), 0);
	assert_true(v == UINT32_MAX);
	assert_int_equal(cove_parse_uint32("0", &v), 0);
	assert_true(v == 0);
	v = 42;
	assert_int_equal(cove_parse_uint32("4294967296", &v), -ERANGE);
	assert_int_equal(cove_parse_uint32("18446744073709551616", &v),
			 -ERANGE);
	assert_int_equal(cove_parse_uint32("-1", &v), -EINVAL);
	assert_int_equal(cove_parse_uint32("+1", &v), -EINVAL);
	assert_int_equal(cove_parse_uint32("", &v), -EINVAL);
	assert_int_equal(cove_parse_uint32("1e3", &v), -EINVAL);
	assert_true(v == 42);
}

/* ---- strings ------------------------------------------------------------ */

static void test_strv(void **state)
{
	_cleanup_strv_ char **v = NULL;
	_cleanup_strv_ char **copy = NULL;
	_cleanup_strv_ char **empty = NULL;

	assert_int_equal(cove_strv_length(NULL), 0);
	assert_false(cove_strv_contains(NULL, "a"));

	assert_int_equal(cove_strv_push(&v, "a"), 0);
	assert_int_equal(cove_strv_push(&v, ""), 0);
	assert_int_equal(cove_strv_push(&v, "ccc"), 0);
	assert_int_equal(cove_strv_length(v), 3);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "");
	assert_string_equal(v[2], "ccc");
	assert_null(v[3]);
	assert_true(cove_strv_contains(v, "a"));
	assert_true(cove_strv_contains(v, ""));
	assert_true(cove_strv_contains(v, "ccc"));
	assert_false(cove_strv_contains(v, "cc"));
	assert_false(cove_strv_contains(v, "b"));
	{
		char *j = cove_strv_join(v, ", ");
		assert_string_equal(j, "a, , ccc");
		free(j);
		j = cove_strv_join(NULL, ", ");
		assert_string_equal(j, "");
		free(j);
	}

	copy = cove_strv_copy(v);
	assert_non_null(copy);
	assert_int_equal(cove_strv_length(copy), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(copy[i], v[i]);
		assert_ptr_not_equal(copy[i], v[i]); /* deep */
	}
	assert_null(copy[3]);

	empty = cove_strv_copy(NULL);
	assert_non_null(empty);
	assert_null(empty[0]);
	cove_strv_free(NULL); /* destructors accept NULL */
}

static void test_str_helpers(void **state)
{
	_cleanup_free_ char *s =
	    cove_strdup_printf("%s-%d-%05.1f", "x", -3, 2.5);

	assert_non_null(s);
	assert_string_equal(s, "x--3-002.5");
	assert_true(cove_str_has_prefix("net.ipv4", "net."));
	assert_true(cove_str_has_prefix("net.", "net."));
	assert_true(cove_str_has_prefix("abc", ""));
	assert_false(cove_str_has_prefix("ne", "net."));
	assert_false(cove_str_has_prefix("kernel.x", "net."));
}

/* ---- files ------------------------------------------------------------- */

static void test_write_atomic(void **state)
{
	_cleanup_free_ char *file = path_in(state, "state.json");
	_cleanup_close_ int dfd = -1;
	_cleanup_close_ int old = -1;
	char buf[16] = {0};
	struct stat st1, st2;
	mode_t um = umask(022);

	dfd = open(*state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);

	assert_int_equal(
	    cove_write_file_atomic_at(dfd, "state.json", "one", 3, 0640), 0);
	assert_file_text(file, "one");
	assert_int_equal(stat(file, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0640);

	/* A reader that opened the old file keeps seeing the old content. */
	old = open(file, O_RDONLY | O_CLOEXEC);
	assert_true(old >= 0);
	assert_int_equal(
	    cove_write_file_atomic_at(dfd, "state.json", "second", 6, 0600), 0);
	assert_file_text(file, "second");
	assert_int_equal(stat(file, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0600);
	assert_true(st1.st_ino != st2.st_ino); /* replaced, not rewritten */
	assert_int_equal(read(old, buf, sizeof(buf) - 1), 3);
	assert_string_equal(buf, "one");

	/* Shorter content: no tail of the old one remains. */
	assert_int_equal(
	    cove_write_file_atomic_at(dfd, "state.json", "z", 1, 0600), 0);
	assert_file_text(file, "z");
	/* Empty content is a valid file too. */
	assert_int_equal(
	    cove_write_file_atomic_at(dfd, "state.json", "", 0, 0600), 0);
	assert_file_text(file, "");

	assert_int_equal(count_entries(*state, ".tmp"), 0);
	assert_int_equal(count_entries(*state, "state.json"), 1);
	umask(um);
}

static void test_write_replace(void **state)
{
	_cleanup_free_ char *file = path_in(state, "f");
	_cleanup_free_ char *sub = path_in(state, "d");
	_cleanup_close_ int dfd = -1;
	struct stat st;
	mode_t um = umask(022);

	dfd = open(*state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(cove_write_file_replace_at(dfd, "f", "abc", 3, 0644),
			 0);
	assert_file_text(file, "abc");
	assert_int_equal(cove_write_file_replace_at(dfd, "f", "xy", 2, 0600),
			 0);
	assert_file_text(file, "xy");
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* The umask still applies, as for any file creation. */
	assert_int_equal(cove_write_file_replace_at(dfd, "f", "m", 1, 0666), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* A relative path below the directory fd. */
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(cove_write_file_replace_at(dfd, "d/g", "in", 2, 0600),
			 0);
	{
		_cleanup_free_ char *g = path_in(state, "d/g");
		assert_file_text(g, "in");
	}

	/* Failure (missing directory) leaves nothing behind. */
	assert_int_equal(
	    cove_write_file_replace_at(dfd, "nodir/f", "x", 1, 0600), -ENOENT);
	assert_int_equal(
	    cove_write_file_atomic_at(dfd, "nodir/f", "x", 1, 0600), -ENOENT);
	/* Renaming over a directory fails and removes the temp file. */
	assert_int_equal(cove_write_file_atomic_at(dfd, "d", "x", 1, 0600),
			 -EISDIR);
	assert_int_equal(count_entries(*state, ".tmp"), 0);
	assert_int_equal(count_entries(sub, ".tmp"), 0);
	umask(um);
}

static void test_write_file(void **state)
{
	_cleanup_free_ char *file = path_in(state, "knob");
	_cleanup_free_ char *missing = path_in(state, "missing");

	/* cove_write_file() is for existing files (knobs): it never creates. */
	assert_int_equal(cove_write_file(missing, "1", 1), -ENOENT);
	assert_false(exists(missing));
	write_text(file, "0");
	assert_int_equal(cove_write_file(file, "12", 2), 0);
	assert_file_text(file, "12");
}

static void test_read_file(void **state)
{
	_cleanup_free_ char *small = path_in(state, "small");
	_cleanup_free_ char *big = path_in(state, "big");
	_cleanup_free_ char *empty = path_in(state, "empty");
	_cleanup_free_ char *missing = path_in(state, "missing");
	_cleanup_free_ char *data = malloc(3 * 4096 + 1);
	_cleanup_close_ int dfd = -1;
	char *buf = (char *)0x1; /* untouched on failure */
	size_t len = 12345;

	assert_non_null(data);
	memset(data, 'x', 3 * 4096);
	data[3 * 4096] = '\0';
	write_text(big, data);
	write_text(small, "hello\n");
	write_text(empty, "");

	assert_int_equal(cove_read_file(missing, 100, &buf, &len), -ENOENT);
	assert_ptr_equal(buf, (char *)0x1);
	assert_int_equal(len, 12345);

	/* Above the cap: -EFBIG, whatever the buffer growth steps are. */
	assert_int_equal(cove_read_file(big, 8192, &buf, &len), -EFBIG);
	assert_int_equal(cove_read_file(big, 3 * 4096 - 1, &buf, &len), -EFBIG);
	assert_ptr_equal(buf, (char *)0x1);

	assert_int_equal(cove_read_file(big, 1 << 20, &buf, &len), 0);
	assert_int_equal(len, 3 * 4096);
	assert_int_equal(buf[len], '\0');
	assert_memory_equal(buf, data, len);
	free(buf);

	dfd = open(*state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(cove_read_file_at(dfd, "small", 4096, &buf, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "hello\n");
	free(buf);
	/* ret_len is optional. */
	assert_int_equal(cove_read_file_at(dfd, "small", 4096, &buf, NULL), 0);
	assert_string_equal(buf, "hello\n");
	free(buf);

	assert_int_equal(cove_read_file_at(dfd, "empty", 4096, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);

	/* Not a regular file. */
	assert_int_equal(cove_read_file_at(dfd, ".", 4096, &buf, &len),
			 -EISDIR);
}

static void test_read_write_all(void **state)
{
	int p[2];
	char buf[8] = {0};

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(cove_write_all(p[1], "abcd", 4), 4);
	close(p[1]);
	/* Short read at EOF returns what there was. */
	assert_int_equal(cove_read_all(p[0], buf, sizeof(buf)), 4);
	assert_string_equal(buf, "abcd");
	assert_int_equal(cove_read_all(p[0], buf, sizeof(buf)), 0);
	close(p[0]);
	assert_int_equal(cove_write_all(-1, "x", 1), -EBADF);
	assert_int_equal(cove_read_all(-1, buf, 1), -EBADF);
}

static void test_mkdir_p(void **state)
{
	_cleanup_free_ char *deep = path_in(state, "a/b/c/d");
	_cleanup_free_ char *slash = path_in(state, "x/y/");
	_cleanup_free_ char *file = path_in(state, "file");
	_cleanup_free_ char *under_file = path_in(state, "file/sub");
	_cleanup_free_ char *dup = path_in(state, "p//q");
	_cleanup_free_ char *q = path_in(state, "p/q");
	char toolong[PATH_MAX + 10];
	struct stat st;
	mode_t um = umask(022);

	assert_int_equal(cove_mkdir_p(deep, 0750), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	/* Existing directories are fine. */
	assert_int_equal(cove_mkdir_p(deep, 0750), 0);
	assert_int_equal(cove_mkdir_p(*state, 0750), 0);
	assert_int_equal(cove_mkdir_p("/", 0755), 0);

	assert_int_equal(cove_mkdir_p(slash, 0755), 0);
	assert_int_equal(stat(slash, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(cove_mkdir_p(dup, 0755), 0);
	assert_int_equal(stat(q, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	write_text(file, "");
	assert_int_equal(cove_mkdir_p(under_file, 0755), -ENOTDIR);

	assert_int_equal(cove_mkdir_p("", 0755), -EINVAL);
	memset(toolong, 'a', sizeof(toolong) - 1);
	toolong[0] = '/';
	toolong[sizeof(toolong) - 1] = '\0';
	assert_int_equal(cove_mkdir_p(toolong, 0755), -EINVAL);
	umask(um);
}

static void make_tree(void **state)
{
	const char *dirs[] = {"tree", "tree/sub", "tree/sub/deeper",
			      "tree/empty", "outside"};
	const char *files[] = {"tree/f1", "tree/sub/f2", "tree/sub/deeper/f3",
			       "outside/keep"};

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *p = path_in(state, dirs[i]);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = path_in(state, files[i]);
		write_text(p, files[i]);
	}
}

static void test_rm_rf(void **state)
{
	_cleanup_free_ char *tree = path_in(state, "tree");
	_cleanup_free_ char *outside = path_in(state, "outside");
	_cleanup_free_ char *keep = path_in(state, "outside/keep");
	_cleanup_free_ char *link = path_in(state, "tree/sub/link");
	_cleanup_free_ char *dlink = path_in(state, "tree/dlink");
	_cleanup_free_ char *single = path_in(state, "single");
	_cleanup_free_ char *ro = path_in(state, "tree/sub/ro");

	make_tree(state);
	/* Symbolic links are removed, never followed. */
	assert_int_equal(symlink(keep, link), 0);
	assert_int_equal(symlink(outside, dlink), 0);
	/* A directory without write permission does not stop root. */
	assert_int_equal(mkdir(ro, 0500), 0);

	assert_int_equal(cove_rm_rf(tree), 0);
	assert_false(exists(tree));
	assert_true(exists(keep));
	assert_true(exists(outside));

	/* Missing paths are not errors; plain files are removed. */
	assert_int_equal(cove_rm_rf(tree), 0);
	write_text(single, "x");
	assert_int_equal(cove_rm_rf(single), 0);
	assert_false(exists(single));
}

/*
 * Runs in a child with its own mount namespace, so that a failed check can
 * never leave a tmpfs mounted on the host.  Returns a check number.
 */
static int rm_rf_mount_child(void *arg)
{
	const char *dir = arg;
	_cleanup_free_ char *tree = cove_strdup_printf("%s/tree", dir);
	_cleanup_free_ char *mnt = cove_strdup_printf("%s/tree/sub/mnt", dir);
	_cleanup_free_ char *inner =
	    cove_strdup_printf("%s/tree/sub/mnt/inner", dir);
	_cleanup_free_ char *sub = cove_strdup_printf("%s/tree/sub", dir);
	_cleanup_free_ char *buf = NULL;
	int fd, r;

	if (!tree || !mnt || !inner || !sub)
		return 10;
	if (unshare(CLONE_NEWNS) < 0)
		return 77;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 11;
	if (mkdir(mnt, 0755) < 0)
		return 12;
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0)
		return 77;
	fd = open(inner, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "precious", 8) != 8)
		return 13;
	close(fd);

	r = cove_rm_rf(tree);
	if (r != -EBUSY)
		return 14;
	/* The mounted file system was not touched... */
	if (cove_read_file(inner, 100, &buf, NULL) < 0 ||
	    strcmp(buf, "precious") != 0)
		return 15;
	/* ...and the mount point's parents are still there. */
	if (access(sub, F_OK) < 0)
		return 16;
	if (umount2(mnt, 0) < 0)
		return 18;
	if (cove_rm_rf(tree) != 0 || access(tree, F_OK) == 0)
		return 19;

	/*
	 * A bind mount of a directory of the same file system: same st_dev
	 * as its parent, still never entered (it could be an image layer).
	 */
	{
		_cleanup_free_ char *src = cove_strdup_printf("%s/src", dir);
		_cleanup_free_ char *keep =
		    cove_strdup_printf("%s/src/keep", dir);
		if (!src || !keep || mkdir(src, 0755) < 0)
			return 20;
		fd = open(keep, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return 21;
		close(fd);
		if (mkdir(tree, 0755) < 0 || mkdir(sub, 0755) < 0 ||
		    mkdir(mnt, 0755) < 0)
			return 22;
		if (mount(src, mnt, NULL, MS_BIND, NULL) < 0)
			return 77;
		if (cove_rm_rf(tree) != -EBUSY)
			return 23;
		if (access(keep, F_OK) < 0)
			return 24;
		if (umount2(mnt, 0) < 0 || cove_rm_rf(tree) != 0)
			return 25;
	}
	return 0;
}

static void test_rm_rf_mount_point(void **state)
{
	int status = 0;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	make_tree(state);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(rm_rf_mount_child(*state));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no permission to mount here */
	if (WEXITSTATUS(status) != 0)
		fail_msg("rm_rf mount check %d failed", WEXITSTATUS(status));
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	if (!j)
		fail_msg("bad test JSON: %s: %s", jerr.text, text);
	return j;
}

static void test_json_string_bool(void **state)
{
	_cleanup_json_ json_t *j =
	    parse("{\"s\": \"v\", \"n\": null, \"i\": 1, \"b\": true, "
		  "\"f\": false, \"bs\": \"true\"}");
	struct cove_error err = {0};
	const char *s = "sentinel";
	bool b = true;

	assert_int_equal(cove_json_string(j, "", "s", &s, &err), 0);
	assert_string_equal(s, "v");
	/* Absent and null members are not errors. */
	assert_int_equal(cove_json_string(j, "", "absent", &s, &err), 0);
	assert_null(s);
	assert_int_equal(cove_json_string(j, "", "n", &s, &err), 0);
	assert_null(s);

	assert_int_equal(cove_json_string(j, "", "i", &s, &err), -EINVAL);
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(err.msg, "invalid 'i': expected a string");
	assert_int_equal(cove_json_string(j, "process.user", "i", &s, &err),
			 -EINVAL);
	assert_string_equal(err.msg,
			    "invalid 'process.user.i': expected a string");
	/* A NULL error is allowed: the return value still says why. */
	assert_int_equal(cove_json_string(j, "", "i", &s, NULL), -EINVAL);

	assert_int_equal(cove_json_bool(j, "", "f", &b, &err), 0);
	assert_false(b);
	assert_int_equal(cove_json_bool(j, "", "b", &b, &err), 0);
	assert_true(b);
	/* Absent: untouched (the caller's default stays). */
	assert_int_equal(cove_json_bool(j, "", "absent", &b, &err), 0);
	assert_true(b);
	assert_int_equal(cove_json_bool(j, "root", "bs", &b, &err), -EINVAL);
	assert_string_equal(err.msg, "invalid 'root.bs': expected a boolean");
}

static void test_json_integers(void **state)
{
	_cleanup_json_ json_t *j =
	    parse("{\"neg\": -5, \"big\": 9223372036854775807, \"real\": 1.5, "
		  "\"u32max\": 4294967295, \"u32over\": 4294967296, "
		  "\"str\": \"7\", \"zero\": 0, \"nul\": null}");
	struct cove_error err = {0};
	int64_t i64 = 99;
	uint64_t u64 = 99;
	uint32_t u32 = 99;
	bool present = true;

	assert_int_equal(cove_json_int64(j, "a", "neg", &i64, &present, &err),
			 0);
	assert_true(present);
	assert_int_equal(i64, -5);
	assert_int_equal(
	    cove_json_int64(j, "a", "absent", &i64, &present, &err), 0);
	assert_false(present);
	assert_int_equal(i64, -5);
	assert_int_equal(cove_json_int64(j, "a", "nul", &i64, NULL, &err), 0);
	assert_int_equal(cove_json_int64(j, "a", "real", &i64, &present, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "invalid 'a.real': expected an integer");
	assert_int_equal(cove_json_int64(j, "a", "str", &i64, NULL, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "invalid 'a.str': expected an integer");

	assert_int_equal(cove_json_uint64(j, "b", "big", &u64, &present, &err),
			 0);
	assert_true(present);
	assert_true(u64 == INT64_MAX);
	assert_int_equal(cove_json_uint64(j, "b", "zero", &u64, NULL, &err), 0);
	assert_true(u64 == 0);
	assert_int_equal(cove_json_uint64(j, "b", "neg", &u64, &present, &err),
			 -EINVAL);
	assert_string_equal(err.msg,
			    "invalid 'b.neg': expected an unsigned integer");
	assert_int_equal(cove_json_uint64(j, "", "real", &u64, NULL, &err),
			 -EINVAL);
	assert_string_equal(err.msg,
			    "invalid 'real': expected an unsigned integer");

	assert_int_equal(
	    cove_json_uint32(j, "c", "u32max", &u32, &present, &err), 0);
	assert_true(present);
	assert_true(u32 == UINT32_MAX);
	u32 = 7;
	assert_int_equal(
	    cove_json_uint32(j, "c", "absent", &u32, &present, &err), 0);
	assert_false(present);
	assert_int_equal(u32, 7);
	assert_int_equal(
	    cove_json_uint32(j, "c", "u32over", &u32, &present, &err), -EINVAL);
	assert_string_equal(
	    err.msg,
	    "invalid 'c.u32over': expected an unsigned 32-bit integer");
	assert_int_equal(u32, 7);
	assert_int_equal(cove_json_uint32(j, "c", "neg", &u32, NULL, &err),
			 -EINVAL);
	assert_string_equal(err.msg,
			    "invalid 'c.neg': expected an unsigned integer");
}

static void test_json_strv(void **state)
{
	_cleanup_json_ json_t *j =
	    parse("{\"ok\": [\"a\", \"\", \"c\"], \"empty\": [], "
		  "\"bad\": [\"a\", \"b\", 3], \"obj\": {\"x\": 1}, "
		  "\"str\": \"a\", \"nul\": null, \"nested\": [[\"a\"]]}");
	struct cove_error err = {0};
	_cleanup_strv_ char **v = NULL;
	char **out = (char **)0x1;

	assert_int_equal(cove_json_strv(j, "process", "ok", &v, &err), 0);
	assert_int_equal(cove_strv_length(v), 3);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "");
	assert_string_equal(v[2], "c");
	cove_strv_free(TAKE_PTR(v));

	/* An empty array is an empty vector, not NULL. */
	assert_int_equal(cove_json_strv(j, "process", "empty", &v, &err), 0);
	assert_non_null(v);
	assert_null(v[0]);
	cove_strv_free(TAKE_PTR(v));

	assert_int_equal(cove_json_strv(j, "process", "absent", &out, &err), 0);
	assert_null(out);
	assert_int_equal(cove_json_strv(j, "process", "nul", &out, &err), 0);
	assert_null(out);

	assert_int_equal(cove_json_strv(j, "process", "bad", &out, &err),
			 -EINVAL);
	assert_null(out);
	assert_string_equal(err.msg,
			    "invalid 'process.bad[2]': expected a string");
	assert_int_equal(cove_json_strv(j, "", "nested", &out, &err), -EINVAL);
	assert_string_equal(err.msg, "invalid 'nested[0]': expected a string");
	assert_int_equal(cove_json_strv(j, "process", "obj", &out, &err),
			 -EINVAL);
	assert_string_equal(
	    err.msg, "invalid 'process.obj': expected an array of strings");
	assert_int_equal(cove_json_strv(j, "process", "str", &out, &err),
			 -EINVAL);
}

static void test_json_object_array(void **state)
{
	_cleanup_json_ json_t *j =
	    parse("{\"o\": {\"k\": 1}, \"a\": [1], \"s\": \"x\", "
		  "\"n\": null}");
	struct cove_error err = {0};
	json_t *v = (json_t *)0x1;

	assert_int_equal(cove_json_object(j, "linux", "o", &v, &err), 0);
	assert_ptr_equal(v, json_object_get(j, "o")); /* borrowed */
	assert_int_equal(cove_json_object(j, "linux", "n", &v, &err), 0);
	assert_null(v);
	assert_int_equal(cove_json_object(j, "linux", "absent", &v, &err), 0);
	assert_null(v);
	assert_int_equal(cove_json_object(j, "linux", "a", &v, &err), -EINVAL);
	assert_null(v);
	assert_string_equal(err.msg, "invalid 'linux.a': expected an object");

	assert_int_equal(cove_json_array(j, "", "a", &v, &err), 0);
	assert_ptr_equal(v, json_object_get(j, "a"));
	assert_int_equal(cove_json_array(j, "", "o", &v, &err), -EINVAL);
	assert_string_equal(err.msg, "invalid 'o': expected an array");
	assert_int_equal(cove_json_array(j, "x.y", "s", &v, &err), -EINVAL);
	assert_string_equal(err.msg, "invalid 'x.y.s': expected an array");
}

static void test_json_load_buffer(void **state)
{
	static const char dup[] = "{\n  \"a\": 1,\n  \"a\": 2\n}";
	static const char broken[] = "{\"a\": 1,\n\"b\": }";
	static const char ok[] = "{\"a\": [1, 2]}";
	struct cove_error err = {0};
	json_t *root = NULL;

	assert_int_equal(
	    cove_json_load_buffer("mem", ok, strlen(ok), &root, &err), 0);
	assert_non_null(root);
	assert_int_equal(json_array_size(json_object_get(root, "a")), 2);
	json_decref(root);
	root = NULL;

	/* Two readers must never disagree on which duplicate wins. */
	assert_int_equal(
	    cove_json_load_buffer("dup.json", dup, strlen(dup), &root, &err),
	    -EINVAL);
	assert_null(root);
	assert_int_equal(err.code, EINVAL);
	assert_non_null(strstr(err.msg, "dup.json: invalid JSON at line 3"));
	assert_non_null(strstr(err.msg, "column"));
	assert_non_null(strstr(err.msg, "duplicate"));

	assert_int_equal(cove_json_load_buffer("b.json", broken, strlen(broken),
					       &root, &err),
			 -EINVAL);
	assert_non_null(
	    strstr(err.msg, "b.json: invalid JSON at line 2 column"));

	/* The length, not a NUL, ends the buffer. */
	assert_int_equal(cove_json_load_buffer("cut", ok, 5, &root, &err),
			 -EINVAL);
	assert_int_equal(cove_json_load_buffer("empty", "", 0, &root, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "empty: invalid JSON"));
	assert_int_equal(cove_json_load_buffer("nul", "{}\0{}", 5, &root, &err),
			 -EINVAL);
	/* Trailing garbage after the document. */
	assert_int_equal(cove_json_load_buffer("t", "{} x", 4, &root, &err),
			 -EINVAL);
	assert_null(root);
}

static void test_json_load_deep(void **state)
{
	size_t depth = 100000;
	_cleanup_free_ char *deep = malloc(depth);
	struct cove_error err = {0};
	json_t *root = NULL;

	assert_non_null(deep);
	/* Nesting without end must fail cleanly, not blow the stack. */
	memset(deep, '[', depth);
	assert_int_equal(
	    cove_json_load_buffer("deep", deep, depth, &root, &err), -EINVAL);
	assert_null(root);
	assert_non_null(strstr(err.msg, "deep: invalid JSON at line 1"));
	/* Also when every bracket is closed. */
	deep = realloc(deep, 2 * depth);
	assert_non_null(deep);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	assert_int_equal(
	    cove_json_load_buffer("deep", deep, 2 * depth, &root, &err),
	    -EINVAL);
	assert_null(root);
}

static void test_json_load_file(void **state)
{
	_cleanup_free_ char *good = path_in(state, "good.json");
	_cleanup_free_ char *bad = path_in(state, "bad.json");
	_cleanup_free_ char *missing = path_in(state, "missing.json");
	struct cove_error err = {0};
	json_t *root = NULL;

	write_text(good, "{\"k\": \"v\"}\n");
	write_text(bad, "{\n\n  \"k\" \"v\"\n}\n");

	assert_int_equal(cove_json_load_file(good, 1024, &root, &err), 0);
	assert_string_equal(json_string_value(json_object_get(root, "k")), "v");
	json_decref(root);
	root = NULL;

	assert_int_equal(cove_json_load_file(missing, 1024, &root, &err),
			 -ENOENT);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, missing));
	assert_non_null(strstr(err.msg, strerror(ENOENT)));

	assert_int_equal(cove_json_load_file(bad, 1024, &root, &err), -EINVAL);
	assert_non_null(strstr(err.msg, bad));
	assert_non_null(strstr(err.msg, "line 3"));

	/* 8 KiB cap, 12 KiB file. */
	{
		_cleanup_free_ char *big = path_in(state, "big.json");
		_cleanup_close_ int fd =
		    open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, 3 * 4096), 0);
		assert_int_equal(cove_json_load_file(big, 8192, &root, &err),
				 -EFBIG);
		assert_int_equal(err.code, EFBIG);
		assert_non_null(strstr(err.msg, big));
		assert_non_null(strstr(err.msg, "larger than 8192 bytes"));
	}
	assert_null(root);
}

/* ---- errors ------------------------------------------------------------- */

static void test_error_set(void **state)
{
	struct cove_error err = {0};
	char longarg[3000];

	assert_int_equal(
	    cove_error_set(&err, EINVAL, "invalid '%s': %d", "x", 5), -EINVAL);
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(err.msg, "invalid 'x': 5");

	/* Negative codes are accepted (callers pass r as is). */
	assert_int_equal(cove_error_set(&err, -ENOENT, "gone"), -ENOENT);
	assert_int_equal(err.code, ENOENT);
	/* A zero code still means failure. */
	assert_int_equal(cove_error_set(&err, 0, "zero"), -EIO);
	assert_int_equal(err.code, EIO);
	/* No error object: only the return value. */
	assert_int_equal(cove_error_set(NULL, EPERM, "x"), -EPERM);
	assert_int_equal(cove_error_setx(NULL, -EPERM, "x"), -EPERM);

	/* Over-long messages are truncated, never overflow. */
	memset(longarg, 'a', sizeof(longarg) - 1);
	longarg[sizeof(longarg) - 1] = '\0';
	assert_int_equal(cove_error_set(&err, E2BIG, "%s", longarg), -E2BIG);
	assert_int_equal(strlen(err.msg), COVE_ERROR_MSG_MAX - 1);
	assert_int_equal(cove_error_setx(&err, E2BIG, "%s", longarg), -E2BIG);
	assert_int_equal(strlen(err.msg), COVE_ERROR_MSG_MAX - 1);

	cove_error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
	cove_error_clear(NULL);
}

static void test_error_setx(void **state)
{
	struct cove_error err = {0};
	_cleanup_free_ char *want = NULL;

	assert_int_equal(
	    cove_error_setx(&err, -ENOENT, "cannot read %s", "/x/config.json"),
	    -ENOENT);
	assert_int_equal(err.code, ENOENT);
	want = cove_strdup_printf("cannot read /x/config.json: %s",
				  strerror(ENOENT));
	assert_string_equal(err.msg, want);
}

static void test_error_wrap(void **state)
{
	struct cove_error err = {0};

	cove_error_set(&err, EINVAL, "invalid 'process.cwd': must be absolute");
	assert_int_equal(cove_error_wrap(&err, "%s", "/b/config.json"),
			 -EINVAL);
	assert_string_equal(
	    err.msg, "/b/config.json: invalid 'process.cwd': must be absolute");
	assert_int_equal(cove_error_wrap(&err, "create %s", "c1"), -EINVAL);
	assert_string_equal(err.msg,
			    "create c1: /b/config.json: invalid 'process.cwd': "
			    "must be absolute");
	assert_int_equal(err.code, EINVAL);

	/* Wrapping nothing still reports a failure. */
	cove_error_clear(&err);
	assert_int_equal(cove_error_wrap(&err, "ctx"), -EIO);
	assert_int_equal(err.code, EIO);
	assert_string_equal(err.msg, "ctx: ");
	assert_int_equal(cove_error_wrap(NULL, "ctx"), -EIO);

	/* Wrapping a full message truncates, keeping the prefix. */
	{
		char longarg[2000];
		memset(longarg, 'b', sizeof(longarg) - 1);
		longarg[sizeof(longarg) - 1] = '\0';
		cove_error_set(&err, EINVAL, "%s", longarg);
		assert_int_equal(cove_error_wrap(&err, "prefix"), -EINVAL);
		assert_int_equal(strncmp(err.msg, "prefix: bbb", 11), 0);
		assert_int_equal(strlen(err.msg), COVE_ERROR_MSG_MAX - 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_int64),
	    cmocka_unit_test(test_parse_uint64),
	    cmocka_unit_test(test_parse_int),
	    cmocka_unit_test(test_parse_uint32),
	    cmocka_unit_test(test_strv),
	    cmocka_unit_test(test_str_helpers),
	    cmocka_unit_test_setup_teardown(test_write_atomic, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_write_replace, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_write_file, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_read_file, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test(test_read_write_all),
	    cmocka_unit_test_setup_teardown(test_mkdir_p, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_rm_rf, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test_setup_teardown(test_rm_rf_mount_point,
					    setup_tmpdir, teardown_tmpdir),
	    cmocka_unit_test(test_json_string_bool),
	    cmocka_unit_test(test_json_integers),
	    cmocka_unit_test(test_json_strv),
	    cmocka_unit_test(test_json_object_array),
	    cmocka_unit_test(test_json_load_buffer),
	    cmocka_unit_test(test_json_load_deep),
	    cmocka_unit_test_setup_teardown(test_json_load_file, setup_tmpdir,
					    teardown_tmpdir),
	    cmocka_unit_test(test_error_set),
	    cmocka_unit_test(test_error_setx),
	    cmocka_unit_test(test_error_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
