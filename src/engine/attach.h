#pragma once
/*
 * The attach socket of a detached container: its monitor listens on a
 * unix socket <runroot>/attach/<id>; `cove attach` connects.  Monitor to
 * client: frames of a COVE_ATTACH_HDR-byte header (stream: 1 stdout,
 * 2 stderr; then the length, 32 bits big-endian) and the bytes.  Client to
 * monitor: raw bytes for the container's stdin (or terminal).  The socket
 * closes when the container exits.
 */
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
