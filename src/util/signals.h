#pragma once
/*
 * Signal names as kill(1), runc and podman accept them: "TERM", "SIGTERM",
 * "sigterm", "15", "RTMIN+3", "SIGRTMAX-1".
 */

/* The signal number, or -EINVAL when @s names none. */
int cove_signal_parse(const char *s);

/* "SIGTERM" for SIGTERM; "SIGRTMIN+n"/"SIGn" for the others (static). */
const char *cove_signal_name(int sig);
