#include "runtime/sync.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int cove_sync_send(int sock, int type, int value, const char *msg, int fd)
{
	struct cove_sync_msg m = {.type = type, .value = value};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (msg)
		snprintf(m.msg, sizeof(m.msg), "%s", msg);
	if (fd >= 0) {
		struct cmsghdr *c;
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		return 0;
	}
}

int cove_sync_send_error(int sock, const struct cove_error *err)
{
	return cove_sync_send(sock, COVE_SYNC_ERROR,
			      err->code ? err->code : EIO, err->msg, -1);
}

int cove_sync_recv(int sock, struct cove_sync_msg *ret, int *ret_fd,
		   struct cove_error *err)
{
	struct iovec iov = {.iov_base = ret, .iov_len = sizeof(*ret)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int fd = -1;

	if (ret_fd)
		*ret_fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cove_error_setx(err, errno, "sync socket");
	if (n == 0)
		return cove_error_set(err, EPIPE,
				      "container init exited during setup");
	if ((size_t)n != sizeof(*ret))
		return cove_error_set(err, EPROTO,
				      "short message on sync socket");
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (ret_fd)
		*ret_fd = fd;
	else if (fd >= 0)
		close(fd);
	ret->msg[sizeof(ret->msg) - 1] = '\0';
	if (ret->type == COVE_SYNC_ERROR)
		return cove_error_set(err, ret->value ? ret->value : EIO, "%s",
				      ret->msg);
	return 0;
}

int cove_sync_expect(int sock, int type, struct cove_sync_msg *ret, int *ret_fd,
		     struct cove_error *err)
{
	struct cove_sync_msg m;
	int r = cove_sync_recv(sock, ret ? ret : &m, ret_fd, err);
	if (r < 0)
		return r;
	if ((ret ? ret : &m)->type != type)
		return cove_error_set(
		    err, EPROTO,
		    "unexpected message %d on sync socket (wanted %d)",
		    (ret ? ret : &m)->type, type);
	return 0;
}
