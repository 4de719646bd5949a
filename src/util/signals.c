#include "util/signals.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"
#include "util/strutil.h"

static const struct {
	const char *name;
	int sig;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},	      {"QUIT", SIGQUIT},
    {"ILL", SIGILL},   {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},
    {"IOT", SIGIOT},   {"BUS", SIGBUS},	      {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH},   {"IO", SIGIO},
    {"POLL", SIGPOLL}, {"PWR", SIGPWR},	      {"SYS", SIGSYS},
};

int cove_signal_parse(const char *s)
{
	int n;

	if (cove_parse_int(s, &n) == 0)
		return n > 0 && n < 65 ? n : -EINVAL;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (!strcasecmp(s, signals[i].name))
			return signals[i].sig;
	if (!strncasecmp(s, "RTMIN", 5)) {
		int off = 0;
		if (s[5] == '+' && cove_parse_int(s + 6, &off) < 0)
			return -EINVAL;
		return SIGRTMIN + off <= SIGRTMAX ? SIGRTMIN + off : -EINVAL;
	}
	if (!strncasecmp(s, "RTMAX", 5)) {
		int off = 0;
		if (s[5] == '-' && cove_parse_int(s + 6, &off) < 0)
			return -EINVAL;
		return SIGRTMAX - off >= SIGRTMIN ? SIGRTMAX - off : -EINVAL;
	}
	return -EINVAL;
}

const char *cove_signal_name(int sig)
{
	static __thread char buf[16];

	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (signals[i].sig == sig) {
			snprintf(buf, sizeof(buf), "SIG%s", signals[i].name);
			return buf;
		}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, sizeof(buf), "SIG%d", sig);
	return buf;
}
