#include "engine/attach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

void cove_attach_header(unsigned char *hdr, int stream, size_t len)
{
	hdr[0] = (unsigned char)stream;
	hdr[1] = (unsigned char)(len >> 24);
	hdr[2] = (unsigned char)(len >> 16);
	hdr[3] = (unsigned char)(len >> 8);
	hdr[4] = (unsigned char)len;
}

uint32_t cove_attach_parse(const unsigned char *hdr, int *ret_stream)
{
	*ret_stream = hdr[0];
	return (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 |
	       (uint32_t)hdr[3] << 8 | hdr[4];
}

/*
 * sun_path holds 108 bytes and a runroot can be long: the socket is named
 * through /proc/self/fd/N/<id> of the directory's fd instead.
 */
static int sock_addr(const char *runroot, const char *id, bool create,
		     int *ret_dirfd, struct sockaddr_un *ret,
		     struct cove_error *err)
{
	_cleanup_free_ char *dir = cove_strdup_printf("%s/attach", runroot);
	int dfd;

	if (!dir)
		return -ENOMEM;
	if (create && cove_mkdir_p(dir, 0700) < 0)
		return cove_error_setx(err, errno, "cannot create %s", dir);
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cove_error_setx(err, errno, "cannot open %s", dir);
	memset(ret, 0, sizeof(*ret));
	ret->sun_family = AF_UNIX;
	snprintf(ret->sun_path, sizeof(ret->sun_path), "/proc/self/fd/%d/%s",
		 dfd, id);
	*ret_dirfd = dfd;
	return 0;
}

int cove_attach_listen(const char *runroot, const char *id, int *ret_fd,
		       struct cove_error *err)
{
	struct sockaddr_un sa;
	_cleanup_close_ int dfd = -1, fd = -1;
	int r = sock_addr(runroot, id, true, &dfd, &sa, err);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return cove_error_setx(err, errno, "socket");
	(void)unlinkat(dfd, id, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchmodat(dfd, id, 0600, 0) < 0 || listen(fd, 8) < 0)
		return cove_error_setx(
		    err, errno, "cannot listen on %s/attach/%s", runroot, id);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

void cove_attach_unlink(const char *runroot, const char *id)
{
	_cleanup_free_ char *p =
	    cove_strdup_printf("%s/attach/%s", runroot, id);
	if (p)
		(void)unlink(p);
}

int cove_attach_connect(const char *runroot, const char *id, int *ret_fd,
			struct cove_error *err)
{
	struct sockaddr_un sa;
	_cleanup_close_ int dfd = -1, fd = -1;
	int r = sock_addr(runroot, id, false, &dfd, &sa, err);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cove_error_setx(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return cove_error_setx(err, errno,
				       "cannot attach to container %s", id);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void drop(struct cove_attach_clients *a, size_t i)
{
	close(a->fd[i]);
	a->n--;
	a->fd[i] = a->fd[a->n];
	a->input_done[i] = a->input_done[a->n];
}

int cove_attach_input_fd(const struct cove_attach_clients *a, size_t i)
{
	return a->input_done[i] ? -1 : a->fd[i];
}

void cove_attach_accept(struct cove_attach_clients *a, int listen_fd)
{
	int fd;

	if (a->n >= COVE_ATTACH_MAX_CLIENTS)
		return;
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	a->input_done[a->n] = false;
	a->fd[a->n++] = fd;
}

void cove_attach_input(struct cove_attach_clients *a, size_t i, int to_fd)
{
	char buf[4096];
	ssize_t n = read(a->fd[i], buf, sizeof(buf));

	if (n < 0 && errno != EAGAIN && errno != EINTR)
		drop(a, i);
	else if (n == 0)
		a->input_done[i] = true;
	else if (n > 0 && to_fd >= 0)
		(void)cove_write_all(to_fd, buf, (size_t)n);
}

void cove_attach_broadcast(struct cove_attach_clients *a, int stream,
			   const char *buf, size_t len)
{
	unsigned char hdr[COVE_ATTACH_HDR];

	cove_attach_header(hdr, stream, len);
	for (size_t i = a->n; i-- > 0;) {
		struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)buf, len}};
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		if (sendmsg(a->fd[i], &mh, MSG_NOSIGNAL | MSG_DONTWAIT) !=
		    (ssize_t)(sizeof(hdr) + len))
			drop(a, i);
	}
}

void cove_attach_close_all(struct cove_attach_clients *a)
{
	while (a->n)
		drop(a, 0);
}
