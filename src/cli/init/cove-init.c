/*
 * cove-init: the minimal init that `cove run --init` binds at /dev/init
 * and runs as the container's pid 1, in front of the real command:
 *
 *   /dev/init -- COMMAND [ARG...]
 *
 * A pid 1 gets no default signal handlers, so a command that does not
 * handle SIGTERM would ignore `cove stop`; and it inherits every orphan of
 * the container, which nobody would reap.  cove-init forwards the signals
 * it receives to the command's process group, reaps every child, and
 * exits as the command did (128 + N for a signal).
 *
 * Statically linked: it must run in any image, with any libc or none.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	sigset_t all, old;
	pid_t child;
	int first = 1;

	if (argc > 1 && !strcmp(argv[1], "--"))
		first = 2;
	if (first >= argc) {
		fprintf(stderr, "cove-init: usage: cove-init -- COMMAND "
				"[ARG...]\n");
		return 125;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	child = fork();
	if (child < 0) {
		fprintf(stderr, "cove-init: fork: %s\n", strerror(errno));
		return 125;
	}
	if (child == 0) {
		/* its own process group, so that signals reach its children */
		setpgid(0, 0);
		tcsetpgrp(0, getpid());
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(argv[first], argv + first);
		fprintf(stderr, "cove-init: cannot run '%s': %s\n", argv[first],
			strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	setpgid(child, child);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			/* a terminal's job-control signals are not for us */
			if (sig != SIGTTIN && sig != SIGTTOU &&
			    kill(-child, sig) < 0)
				kill(child, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t p = waitpid(-1, &status, WNOHANG);
			if (p <= 0)
				break;
			if (p != child)
				continue;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
	}
}
