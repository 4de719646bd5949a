/*
 * Persistent network namespaces (netns.h): a child process unshares a new
 * network namespace and bind-mounts its own /proc/self/ns/net onto the
 * file, then exits; the mount keeps the namespace alive.
 */
#include "engine/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

bool cove_netns_is_mounted(const char *path)
{
	_cleanup_close_ int fd = -1;
	struct statfs sfs;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0 || fstatfs(fd, &sfs) < 0 ||
	    (unsigned long)sfs.f_type != (unsigned long)NSFS_MAGIC)
		return false;
	return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
}

static int make_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash || slash == path)
		return 0;
	len = (size_t)(slash - path);
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len);
	dir[len] = '\0';
	return cove_mkdir_p(dir, 0755);
}

/*
 * The child only makes system calls between fork() and _exit(), so this
 * is safe in a multi-threaded caller.  Its exit status carries the errno
 * of the step that failed.
 */
static int pin_new_netns(const char *path)
{
	int status;
	pid_t pid, w;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(errno & 0xff ? errno & 0xff : EIO);
		if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0)
			_exit(errno & 0xff ? errno & 0xff : EIO);
		_exit(0);
	}
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	if (WIFEXITED(status))
		return -WEXITSTATUS(status);
	return -EIO;
}

int cove_netns_create(const char *path, struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	bool created = false;
	int r;

	if (!path || !*path)
		return cove_error_set(err, EINVAL,
				      "network namespace path is empty");
	r = make_parent(path);
	if (r < 0)
		return cove_error_setx(err, r,
				       "cannot create the directory "
				       "of network namespace '%s'",
				       path);
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return cove_error_set(err, EEXIST,
					      "cannot create network namespace "
					      "'%s': exists and is not a "
					      "regular file",
					      path);
		if (cove_netns_is_mounted(path))
			return cove_error_set(
			    err, EEXIST,
			    "network namespace '%s' already exists", path);
	} else {
		fd = open(path,
			  O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			  0444);
		if (fd < 0)
			return cove_error_setx(err, errno,
					       "cannot create network "
					       "namespace file '%s'",
					       path);
		created = true;
	}
	r = pin_new_netns(path);
	if (r < 0) {
		if (created)
			(void)unlink(path);
		return cove_error_setx(
		    err, r, "cannot create network namespace '%s'", path);
	}
	return 0;
}

int cove_netns_remove(const char *path, struct cove_error *err)
{
	/*
	 * A path can carry stacked mounts (a namespace pinned twice); undo
	 * them all, but never loop forever on a file that stays mounted.
	 */
	for (int i = 0; i < 16 && cove_netns_is_mounted(path); i++) {
		if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 &&
		    errno != EINVAL && errno != ENOENT)
			return cove_error_setx(err, errno,
					       "cannot unmount network "
					       "namespace '%s'",
					       path);
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		/* still mounted (EBUSY) or not ours to remove */
		return cove_error_setx(
		    err, errno, "cannot remove network namespace '%s'", path);
	}
	return 0;
}
