#include "runtime/idmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static bool single_self(const struct cove_id_mapping *m, size_t n, unsigned id)
{
	return n == 1 && m[0].size == 1 && m[0].host_id == id;
}

bool cove_idmap_uses_helpers(const struct cove_spec *spec)
{
	if (geteuid() == 0)
		return false;
	return !single_self(spec->uid_mappings, spec->n_uid_mappings,
			    geteuid()) ||
	       !single_self(spec->gid_mappings, spec->n_gid_mappings,
			    getegid());
}

static char *format_map(const struct cove_id_mapping *m, size_t n)
{
	size_t cap = n * 40 + 1, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return NULL;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%u %u %u\n",
					m[i].container_id, m[i].host_id,
					m[i].size);
	return buf;
}

static int write_map(pid_t pid, const char *file,
		     const struct cove_id_mapping *m, size_t n,
		     struct cove_error *err)
{
	char path[64];
	_cleanup_free_ char *buf = format_map(m, n);
	int r;

	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	r = cove_write_file(path, buf, strlen(buf));
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s", path);
	return 0;
}

int cove_idmap_run_helper(const char *helper, pid_t pid,
			  const struct cove_id_mapping *m, size_t n,
			  struct cove_error *err)
{
	_cleanup_strv_ char **argv = NULL;
	const char *name = strrchr(helper, '/');
	char buf[32];
	pid_t child;
	int status;

	name = name ? name + 1 : helper;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (cove_strv_push(&argv, helper) < 0 || cove_strv_push(&argv, buf) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char a[16], b[16], c[16];
		snprintf(a, sizeof(a), "%u", m[i].container_id);
		snprintf(b, sizeof(b), "%u", m[i].host_id);
		snprintf(c, sizeof(c), "%u", m[i].size);
		if (cove_strv_push(&argv, a) < 0 ||
		    cove_strv_push(&argv, b) < 0 ||
		    cove_strv_push(&argv, c) < 0)
			return -ENOMEM;
	}
	child = fork();
	if (child < 0)
		return cove_error_setx(err, errno, "fork");
	if (child == 0) {
		execvp(helper, argv);
		dprintf(2, "%s: cannot run %s: %s\n",
			program_invocation_short_name, helper, strerror(errno));
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return cove_error_setx(err, errno, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cove_error_set(
		    err, EPERM,
		    "%s failed for pid %d (is the range in /etc/sub%cid and is "
		    "the uidmap package installed?)",
		    name, (int)pid, name[3] == 'u' ? 'u' : 'g');
	return 0;
}

int cove_idmap_write(pid_t pid, const struct cove_spec *spec, bool rootless,
		     struct cove_error *err)
{
	int r;

	if (rootless && cove_idmap_uses_helpers(spec)) {
		r = cove_idmap_run_helper("newuidmap", pid, spec->uid_mappings,
					  spec->n_uid_mappings, err);
		if (r >= 0)
			r = cove_idmap_run_helper("newgidmap", pid,
						  spec->gid_mappings,
						  spec->n_gid_mappings, err);
		return r;
	}
	if (rootless) {
		/* An unprivileged gid_map requires setgroups to be denied. */
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		r = cove_write_file(path, "deny", 4);
		if (r < 0 && r != -ENOENT)
			return cove_error_setx(err, r, "cannot write %s", path);
	}
	r = write_map(pid, "uid_map", spec->uid_mappings, spec->n_uid_mappings,
		      err);
	if (r >= 0)
		r = write_map(pid, "gid_map", spec->gid_mappings,
			      spec->n_gid_mappings, err);
	return r;
}

int cove_idmap_userns_fd(const struct cove_id_mapping *uid, size_t n_uid,
			 const struct cove_id_mapping *gid, size_t n_gid,
			 int *ret_fd, struct cove_error *err)
{
	int p[2];
	pid_t pid;
	char path[64];
	int fd, r;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "pipe");
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL,
			     NULL, NULL);
	if (pid < 0) {
		r = cove_error_setx(
		    err, errno,
		    "cannot create a user namespace for an idmapped mount");
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		/* Hold the namespace until the parent has opened it. */
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	r = write_map(pid, "uid_map", uid, n_uid, err);
	if (r >= 0)
		r = write_map(pid, "gid_map", gid, n_gid, err);
	if (r >= 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = cove_error_setx(err, errno, "cannot open %s", path);
		else
			*ret_fd = fd;
	}
	close(p[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r;
}

bool cove_in_initial_userns(void)
{
	static int cached = -1;
	char buf[256];
	unsigned long a, b, n;
	FILE *f;

	if (cached >= 0)
		return cached;
	f = fopen("/proc/self/uid_map", "re");
	if (!f)
		return true;
	cached = fgets(buf, sizeof(buf), f) &&
		 sscanf(buf, "%lu %lu %lu", &a, &b, &n) == 3 && a == 0 &&
		 b == 0 && n == 4294967295UL && !fgets(buf, sizeof(buf), f);
	fclose(f);
	return cached;
}
