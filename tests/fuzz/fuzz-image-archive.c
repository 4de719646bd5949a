/*
 * libFuzzer target for `cove load`: the bytes are an archive (tar, maybe
 * compressed) read by cove_image_load into a scratch store and database
 * (no unpacking).  Whatever happens, a failure must say why, and every
 * image the archive got recorded must open again (its manifest and config
 * verified) and have every layer it names in the store.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/archive.h"
#include "image/pull.h"
#include "util/cleanup.h"
#include "util/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

/* The scratch store goes when the fuzzer exits. */
__attribute__((destructor)) static void remove_root(void)
{
	if (root[0])
		(void)cove_rm_rf(root);
}

static void check_error(int r, const struct cove_error *err)
{
	if (r < 0 && r != -ENOMEM && (err->msg[0] == '\0' || err->code == 0))
		abort();
}

static void check_images(struct cove_store *s, struct cove_images *db)
{
	struct cove_image_record *recs = NULL;
	size_t n = 0;

	if (cove_images_list(db, &recs, &n, NULL) < 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct cove_image img = {0};

		if (cove_image_open_record(s, &recs[i], &img, NULL) < 0)
			abort();
		for (size_t j = 0; j < img.manifest->n_layers; j++)
			if (!cove_store_has(s, img.manifest->layers[j].digest))
				abort();
		cove_image_release(&img);
	}
	cove_image_records_free(recs, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cove_store *s = NULL;
	struct cove_images *db = NULL;
	struct cove_error err = {0};
	char **loaded = NULL;
	int fd, r;

	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/fuzz-image-archive-%d",
			 (int)getpid());
	}
	(void)cove_rm_rf(root);
	if (cove_store_open(root, &s, NULL) < 0 ||
	    cove_images_open(root, &db, NULL) < 0)
		abort();
	fd = memfd_create("archive", MFD_CLOEXEC);
	if (fd < 0 || cove_write_all(fd, data, size) < 0 ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	r = cove_image_load(s, db, fd, "fuzz", NULL, &loaded, &err);
	check_error(r, &err);
	if (r >= 0 && !loaded)
		abort();
	check_images(s, db);
	cove_strv_free(loaded);
	close(fd);
	cove_images_free(db);
	cove_store_free(s);
	return 0;
}
