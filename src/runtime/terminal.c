#include "runtime/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

int cove_pty_open_in_container(unsigned rows, unsigned cols, int *ret_master,
			       struct cove_error *err)
{
	_cleanup_close_ int master = -1, slave = -1;
	char name[128];

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return cove_error_setx(err, errno, "cannot open /dev/ptmx");
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
		return cove_error_setx(err, errno, "cannot unlock the pty");
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return cove_error_setx(err, errno, "cannot open %s", name);
	if (rows || cols) {
		struct winsize ws = {.ws_row = (unsigned short)rows,
				     .ws_col = (unsigned short)cols};
		ioctl(slave, TIOCSWINSZ, &ws);
	}
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return cove_error_setx(
		    err, errno, "cannot make %s the controlling terminal",
		    name);
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return cove_error_setx(err, errno, "dup2");
	*ret_master = TAKE_FD(master);
	return 0;
}

int cove_console_socket_send(const char *path, int master,
			     struct cove_error *err)
{
	_cleanup_close_ int s = -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char data[] = "/dev/ptmx";
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
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

	if (strlen(path) >= sizeof(sa.sun_path))
		return cove_error_set(err, ENAMETOOLONG,
				      "console socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return cove_error_setx(err, errno, "socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return cove_error_setx(
		    err, errno, "cannot connect to console socket %s", path);
	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
		return cove_error_setx(
		    err, errno, "cannot send the pty to console socket %s",
		    path);
	return 0;
}

int cove_pty_proxy(int master, struct cove_error *err)
{
	struct termios saved, raw;
	bool is_tty = isatty(0);
	struct pollfd p[2] = {
	    {.fd = 0, .events = POLLIN},
	    {.fd = master, .events = POLLIN},
	};
	char buf[8192];

	if (is_tty) {
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0)
			ioctl(master, TIOCSWINSZ, &ws);
		tcgetattr(0, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	for (;;) {
		int r = poll(p, 2, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & POLLIN) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n > 0)
				cove_write_all(master, buf, (size_t)n);
			else
				p[0].fd =
				    -1; /* stdin closed: keep reading output */
		} else if (p[0].revents & (POLLHUP | POLLERR)) {
			p[0].fd = -1;
		}
		if (p[1].revents & POLLIN) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n <= 0)
				break;
			cove_write_all(1, buf, (size_t)n);
		} else if (p[1].revents & (POLLHUP | POLLERR)) {
			break;
		}
	}
	if (is_tty)
		tcsetattr(0, TCSANOW, &saved);
	(void)err;
	return 0;
}
