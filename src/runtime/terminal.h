#pragma once
/*
 * Terminals: the container's pty is allocated inside the container (from its
 * own devpts instance) and its master end handed to whoever asked through
 * --console-socket, as an SCM_RIGHTS message, the contract runc defined.
 */
#include <stdbool.h>

#include "util/error.h"

/*
 * In the container init: open a new pty from /dev/ptmx, make its slave the
 * controlling terminal and stdio of the calling process (which must be a
 * session leader or able to become one) with the given size (0: leave).
 * Returns the master fd in *ret_master.
 */
int cove_pty_open_in_container(unsigned rows, unsigned cols, int *ret_master,
			       struct cove_error *err);

/* Send @master to the unix socket at @path. */
int cove_console_socket_send(const char *path, int master,
			     struct cove_error *err);

/*
 * Foreground run with a terminal and no console socket: copy stdin to the
 * master and the master to stdout until the master hangs up, with the local
 * terminal in raw mode; window size is copied on start.
 */
int cove_pty_proxy(int master, struct cove_error *err);
