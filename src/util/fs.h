#pragma once
/*
 * Small file-system helpers.  All return 0 or -errno and open every fd with
 * O_CLOEXEC.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Read a whole file (at most @max bytes; -EFBIG beyond) into a NUL-terminated
 * buffer owned by the caller.  @dirfd may be AT_FDCWD.
 */
int cove_read_file_at(int dirfd, const char *path, size_t max, char **ret_buf,
		      size_t *ret_len);
int cove_read_file(const char *path, size_t max, char **ret_buf,
		   size_t *ret_len);

/* Write @len bytes to an existing file (e.g. a cgroup or /proc knob). */
int cove_write_file_at(int dirfd, const char *path, const char *data,
		       size_t len);
int cove_write_file(const char *path, const char *data, size_t len);

/*
 * Atomically replace @path in @dirfd with @data: write a temporary file in
 * the same directory, fsync it, rename it over @path.  Readers see either
 * the old or the new content, never a torn write.
 */
int cove_write_file_atomic_at(int dirfd, const char *path, const char *data,
			      size_t len, mode_t mode);

/*
 * As cove_write_file_atomic_at() without the fsync: readers still never see
 * a torn file, but the content may be lost on power failure.  For runtime
 * state that lives no longer than the boot (state.json under /run).
 */
int cove_write_file_replace_at(int dirfd, const char *path, const char *data,
			       size_t len, mode_t mode);

/*
 * Whether @name in @dfd is the root of a mount.  A bind mount of the same
 * file system has the same st_dev as its parent: statx tells them apart
 * (STATX_ATTR_MOUNT_ROOT, Linux 5.8); false where the kernel cannot say.
 */
bool cove_is_mount_root(int dfd, const char *name);

/*
 * A directory stream of the directory open at @dfd, which stays open and
 * the caller's (the stream reads a close-on-exec duplicate, from the
 * start); NULL with errno set.  Close it with closedir().
 */
DIR *cove_opendir_dup(int dfd);

/* mkdir -p with @mode; existing directories are fine. */
int cove_mkdir_p(const char *path, mode_t mode);

/* rm -rf of a directory tree, not crossing mount points. */
int cove_rm_rf(const char *path);

/* write()/read() that retry on EINTR and short counts. */
ssize_t cove_write_all(int fd, const void *buf, size_t len);
ssize_t cove_read_all(int fd, void *buf, size_t len);
