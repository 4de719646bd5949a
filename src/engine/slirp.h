#pragma once
/*
 * slirp4netns: user-mode networking for a container's network namespace,
 * the default network of a rootless engine (as in podman), and the
 * "slirp4netns" network mode for anyone.  A user namespace cannot make
 * bridges and veths reach the host; slirp4netns instead puts a tap device
 * into the namespace and carries its traffic through ordinary sockets of
 * the caller's own network namespace (a user-space TCP/IP stack, libslirp),
 * which needs no privilege at all.
 *
 * Inside the namespace (slirp4netns --configure): tap0 with 10.0.2.100/24,
 * default route via 10.0.2.2 (slirp's gateway), DNS forwarded by 10.0.2.3
 * to the host's resolver, `lo` up.  Published ports are slirp's host
 * forwards (add_hostfwd on its API socket): slirp listens on the host
 * address and port in the caller's namespace and connects to 10.0.2.100.
 * --disable-host-loopback keeps 10.0.2.2 from reaching the host's
 * 127.0.0.1.
 *
 * Lifetime: slirp4netns is a child of the process that starts it (the
 * engine's monitor), gets the read end of a pipe as its --exit-fd and
 * exits when the write end closes, which happens in cove_slirp_stop() or
 * when the monitor dies in any way; PR_SET_PDEATHSIG (SIGKILL) covers the
 * death of the monitor as well.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/engine.h"
#include "util/error.h"

#define COVE_SLIRP_CIDR "10.0.2.0/24"
#define COVE_SLIRP_GUEST_IP "10.0.2.100"
#define COVE_SLIRP_GATEWAY "10.0.2.2"
#define COVE_SLIRP_DNS "10.0.2.3"
#define COVE_SLIRP_PREFIX 24
#define COVE_SLIRP_MTU 65520
#define COVE_SLIRP_IFNAME "tap0"
/* How long slirp4netns may take to say it is ready (--ready-fd). */
#define COVE_SLIRP_READY_TIMEOUT_MS 20000

struct cove_slirp_opts {
	const char *netns;	/* required: a pinned namespace (netns.h) */
	const char *api_socket; /* required: where slirp listens; any length */
	const char *mac;	/* NULL: the kernel picks tap0's address */
	const char *log_path;	/* slirp's stdout and stderr; NULL: none */
	const char *exe;	/* NULL: "slirp4netns" in $PATH or /usr/bin */
	/*
	 * --enable-sandbox, run in a mount namespace of its own whose mounts
	 * are all slaves (slirp.c says why); --enable-seccomp always.
	 */
	bool sandbox;
	unsigned ready_timeout_ms; /* 0: COVE_SLIRP_READY_TIMEOUT_MS */
};

/* A running slirp4netns, child of the caller. */
struct cove_slirp {
	pid_t pid;   /* 0: none */
	int exit_fd; /* the write end of its --exit-fd; -1: none */
};

/*
 * Start slirp4netns for @o->netns and wait until it is ready (it wrote
 * "1" to its --ready-fd: tap0 is up and configured, the API socket
 * listens).  The child runs with an empty signal mask and default
 * dispositions, in a session of its own (a terminal's ^C does not reach
 * it), with stdin /dev/null and only the descriptors it needs.  A stale
 * socket at @o->api_socket is removed first; a path longer than
 * sockaddr_un allows is reached through /proc/self/fd/N/<name> of its
 * directory.  On failure (slirp4netns missing, exited, or not ready in
 * time) the child is killed and reaped, nothing of it is left, and @err
 * quotes the end of its output.  On success *ret holds the child.
 */
int cove_slirp_start(const struct cove_slirp_opts *o, struct cove_slirp *ret,
		     struct cove_error *err);

/*
 * End @s: close its exit fd, then wait for the child up to @timeout_ms
 * before SIGKILL.  A child already reaped by someone else (a SIGCHLD
 * loop) is fine.  @s is reset to {0, -1}; an empty @s is a no-op.
 */
void cove_slirp_stop(struct cove_slirp *s, unsigned timeout_ms);

/*
 * Publish a port: one add_hostfwd request on the API socket @api_socket
 * ({"execute": "add_hostfwd", "arguments": {"proto", "host_addr",
 * "host_port", "guest_port"}}, one request per connection).  @proto is
 * "tcp" (also NULL) or "udp"; @host_addr an IPv4 address, NULL or "" for
 * 0.0.0.0.  An "error" reply is -EIO (-EADDRINUSE when slirp could not
 * listen) with its "desc" in @err; no reply within 10 s is -ETIMEDOUT.
 */
int cove_slirp_add_hostfwd(const char *api_socket, const char *proto,
			   const char *host_addr, uint16_t host_port,
			   uint16_t guest_port, struct cove_error *err);

/*
 * The engine's use (ctrnet.c), in the monitor, for a container whose
 * network is slirp4netns: create the namespace @netns, start slirp4netns
 * (API socket <runroot>/slirp/<id>.sock, output in
 * <ctr dir>/slirp4netns.log), publish
 * HostConfig.PortBindings, point the container's resolv.conf at
 * 10.0.2.3 (unless HostConfig.Dns is set) and record NetworkSettings and
 * the hosts file.  Fails with a message naming the cause when
 * /dev/net/tun cannot be opened.  On failure everything is undone.
 *
 * The monitor keeps the write end of slirp4netns's exit pipe open, without
 * FD_CLOEXEC, across its exec of cove-monitor and back; <runroot>/slirp/
 * <id>.pid records "PID STARTTIME EXITFD PIPEINO".  Teardown closes that
 * fd when this process holds that pipe (the monitor) and reaps its child,
 * or else (`rm` after the monitor was killed) kills the recorded
 * slirp4netns if it still runs; then it removes the socket, the pid file
 * and the namespace and drops NetworkSettings.  Idempotent, never fails.
 */
int cove_engine_slirp_setup(struct cove_engine *e, struct cove_ctr *c,
			    const char *netns, struct cove_error *err);
void cove_engine_slirp_teardown(struct cove_engine *e, struct cove_ctr *c,
				const char *netns);
