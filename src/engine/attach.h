#pragma once
/*
 * The attach socket of a detached container: its monitor listens on a
 * unix socket <runroot>/attach/<id>; `cove attach` connects.  Monitor to
 * client: frames of a COVE_ATTACH_HDR-byte header (stream: 1 stdout,
 * 2 stderr; then the length, 32 bits big-endian) and the bytes.  Client to
 * monitor: raw bytes for the container's stdin (or terminal).  The socket
 * closes when the container exits.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define COVE_ATTACH_HDR 5
#define COVE_ATTACH_MAX_CLIENTS 8

void cove_attach_header(unsigned char *hdr, int stream, size_t len);
/* Parse a header: the stream to *ret_stream, the length returned. */
uint32_t cove_attach_parse(const unsigned char *hdr, int *ret_stream);

/* The monitor's listening socket (created 0600, replacing a stale one). */
int cove_attach_listen(const char *runroot, const char *id, int *ret_fd,
		       struct cove_error *err);
void cove_attach_unlink(const char *runroot, const char *id);
/* A client's connection; -ENOENT/-ECONNREFUSED when nobody listens. */
int cove_attach_connect(const char *runroot, const char *id, int *ret_fd,
			struct cove_error *err);

/*
 * The clients of one attach socket, as the monitors (monitor.c and the
 * static cove-monitor) keep them.  A client that has shut down its input
 * still gets the output; one that cannot take output at once is dropped
 * rather than allowed to stall the container.
 */
struct cove_attach_clients {
	int fd[COVE_ATTACH_MAX_CLIENTS];
	bool input_done[COVE_ATTACH_MAX_CLIENTS];
	size_t n;
};

/* The fd to poll for client @i's input, -1 once it has none. */
int cove_attach_input_fd(const struct cove_attach_clients *a, size_t i);
/* Accept a client on @listen_fd when there is room. */
void cove_attach_accept(struct cove_attach_clients *a, int listen_fd);
/* Client @i's input to @to_fd (-1: discarded); drops it on error. */
void cove_attach_input(struct cove_attach_clients *a, size_t i, int to_fd);
/* @len bytes of @stream (1 stdout, 2 stderr) to every client. */
void cove_attach_broadcast(struct cove_attach_clients *a, int stream,
			   const char *buf, size_t len);
/* Close every client. */
void cove_attach_close_all(struct cove_attach_clients *a);
