#include "runtime/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int run_one(const struct cove_hook *h, const char *kind, size_t idx,
		   const char *state_text, struct cove_error *err)
{
	int in[2];
	pid_t pid;
	_cleanup_close_ int pidfd = -1;
	int status = 0;
	char *const empty_env[] = {NULL};

	if (pipe2(in, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		return cove_error_setx(err, errno, "fork");
	}
	if (pid == 0) {
		char *const def_args[] = {h->path, NULL};
		dup2(in[0], 0);
		/*
		 * A hook's stdout and stderr go to the runtime's stderr so that
		 * they never corrupt the JSON the runtime may print.
		 */
		dup2(2, 1);
		setpgid(0, 0);
		execve(h->path, h->args && h->args[0] ? h->args : def_args,
		       h->env ? h->env : empty_env);
		dprintf(2, "cove-runtime: %s hook %s: %s\n", kind, h->path,
			strerror(errno));
		_exit(127);
	}
	close(in[0]);
	/* A hook that does not read its stdin must not block us: ignore EPIPE.
	 */
	{
		struct sigaction sa = {.sa_handler = SIG_IGN}, old;
		sigaction(SIGPIPE, &sa, &old);
		cove_write_all(in[1], state_text, strlen(state_text));
		sigaction(SIGPIPE, &old, NULL);
	}
	close(in[1]);

	pidfd = pidfd_open_(pid);
	if (h->timeout > 0 && pidfd >= 0) {
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		int r;
		do
			r = poll(&p, 1, h->timeout * 1000);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return cove_error_set(
			    err, ETIMEDOUT,
			    "%s hook #%zu (%s) timed out after %d s", kind, idx,
			    h->path, h->timeout);
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return cove_error_setx(err, errno, "waitpid");
	}
	if (WIFSIGNALED(status))
		return cove_error_set(err, ECANCELED,
				      "%s hook #%zu (%s) killed by signal %d",
				      kind, idx, h->path, WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		return cove_error_set(err, ECANCELED,
				      "%s hook #%zu (%s) exited with status %d",
				      kind, idx, h->path, WEXITSTATUS(status));
	return 0;
}

int cove_hooks_run(const struct cove_hooks *hooks, const char *kind,
		   json_t *state, struct cove_error *err)
{
	_cleanup_free_ char *text = NULL;

	if (!hooks || hooks->n == 0)
		return 0;
	text = json_dumps(state, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < hooks->n; i++) {
		int r = run_one(&hooks->list[i], kind, i, text, err);
		if (r < 0)
			return r;
	}
	return 0;
}
