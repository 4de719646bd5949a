/*
 * libFuzzer target for layer application: arbitrary bytes are applied as a
 * layer (uncompressed, gzip or zstd: the magic decides) into a fresh
 * directory.  The first byte picks the mode (flattened or overlay
 * whiteouts).  After each input the directory around the target must hold
 * exactly the target and an untouched sentinel: a write outside the
 * target aborts.  Errors must say why, and everything is freed so that
 * LeakSanitizer sees leaks on error paths.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];
static char root[96];
static char sentinel[96];

static void init(void)
{
	snprintf(base, sizeof(base), "/tmp/cove-fuzz-layer-XXXXXX");
	if (!mkdtemp(base))
		abort();
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", base);
	if (cove_write_file_atomic_at(AT_FDCWD, sentinel, "x", 1, 0644) < 0)
		abort();
}

/* <base> holds "root" and "sentinel" (content "x"), nothing else. */
static void check_outside(void)
{
	_cleanup_closedir_ DIR *d = opendir(base);
	_cleanup_free_ char *buf = NULL;
	struct dirent *de;

	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "root") && strcmp(de->d_name, "sentinel"))
			abort();
	if (cove_read_file(sentinel, 16, &buf, NULL) < 0 || strcmp(buf, "x"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cove_layer_opts o = {
		.name = "fuzz",
		.max_entries = 4096,
		.max_size = 16 << 20, /* decompression bombs stay small */
		.skip_devices = true,
	};
	struct cove_layer_stats st;
	struct cove_error err = {0};
	_cleanup_close_ int fd = -1, dfd = -1;
	int r;

	if (!base[0])
		init();
	if (size < 1 || size > (1 << 20))
		return 0;
	o.overlay_whiteouts = data[0] & 1;
	o.userxattr = data[0] & 2;
	data++;
	size--;

	fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0 || cove_write_all(fd, data, size) < 0 ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	if (mkdir(root, 0755) < 0)
		abort();
	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		abort();
	r = cove_layer_apply(fd, NULL, dfd, &o, &st, &err);
	if (r < 0 && (err.msg[0] == '\0' || err.code != -r))
		abort();
	if (r == 0 && strncmp(st.diff_id, "sha256:", 7))
		abort();
	check_outside();
	if (cove_rm_rf(root) < 0)
		abort();
	return 0;
}
