#pragma once
/*
 * The channel between the runtime and the container init while the
 * container is being set up: a SOCK_SEQPACKET socketpair carrying small
 * typed messages, optionally with one fd (SCM_RIGHTS).  Each side blocks on
 * the next expected message; an unexpected type or EOF aborts the create.
 */
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

enum cove_sync_type {
	COVE_SYNC_GO = 1,      /* runtime -> init: id maps written */
	COVE_SYNC_CGROUP_DIRS, /* runtime -> init: cgroup directories exist */
	COVE_SYNC_CGROUP,      /* runtime -> init: cgroup joined */
	COVE_SYNC_USERNS,      /* stage1 -> runtime: write my id maps */
	COVE_SYNC_USERNS_DONE, /* runtime -> stage1 */
	COVE_SYNC_PID,	       /* stage1 -> runtime: value = init pid */
	COVE_SYNC_HOOKS,       /* init -> runtime: run prestart/createRuntime */
	COVE_SYNC_HOOKS_DONE,  /* runtime -> init */
	COVE_SYNC_PTY,	       /* init -> runtime: fd = pty master */
	COVE_SYNC_SECCOMP,     /* init -> runtime: fd = seccomp listener */
	COVE_SYNC_ACK,	       /* runtime -> init: generic acknowledgement */
	COVE_SYNC_READY,       /* init -> runtime: blocked on exec.fifo */
	COVE_SYNC_IDMAP, /* runtime -> init: value = mount index, fd = tree */
	COVE_SYNC_ERROR, /* either way: value = errno, msg = text */
};

struct cove_sync_msg {
	int32_t type;
	int32_t value;
	char msg[1024];
};

/* Send a message (with @fd >= 0 attached). */
int cove_sync_send(int sock, int type, int value, const char *msg, int fd);

/* Send COVE_SYNC_ERROR carrying @err. */
int cove_sync_send_error(int sock, const struct cove_error *err);

/*
 * Receive one message.  If it carries an fd, *ret_fd gets it (else -1;
 * ret_fd may be NULL and any fd is closed).  If the message is
 * COVE_SYNC_ERROR, returns its errno with the text in @err.  EOF is -EPIPE.
 */
int cove_sync_recv(int sock, struct cove_sync_msg *ret, int *ret_fd,
		   struct cove_error *err);

/* Receive and require @type. */
int cove_sync_expect(int sock, int type, struct cove_sync_msg *ret, int *ret_fd,
		     struct cove_error *err);
