#include "image/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define N_ALGOS 2
#define INGEST_NAME_LEN 32
#define COPY_CHUNK (64 * 1024)

struct cove_store {
	char *root;
	int root_fd;
	int ingest_fd;
	int blobs_fd[N_ALGOS];
};

struct cove_ingest {
	struct cove_store *s;
	int fd;
	char name[INGEST_NAME_LEN];
	struct cove_hasher *h;
	enum cove_digest_algo algo;
	char expected[COVE_DIGEST_MAX]; /* "" when unknown */
	int64_t expected_size;		/* -1 when unknown */
	int64_t offset;
	int failed; /* -errno of the first write failure, sticky */
};

static int open_dir_at(int dfd, const char *name, mode_t mode, bool *created)
{
	int fd;

	if (mkdirat(dfd, name, mode) == 0)
		*created = true;
	else if (errno != EEXIST)
		return -errno;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int cove_store_open(const char *root, struct cove_store **ret,
		    struct cove_error *err)
{
	struct cove_store *s;
	_cleanup_close_ int blobs_fd = -1;
	bool created = false, created_blobs = false;
	int r;

	r = cove_mkdir_p(root, 0700);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create store %s", root);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->root_fd = s->ingest_fd = s->blobs_fd[0] = s->blobs_fd[1] = -1;
	s->root = strdup(root);
	if (!s->root) {
		r = -ENOMEM;
		goto fail;
	}
	s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		r = cove_error_setx(err, errno, "cannot open store %s", root);
		goto fail;
	}
	blobs_fd = open_dir_at(s->root_fd, "blobs", 0755, &created);
	if (blobs_fd < 0) {
		r = cove_error_setx(err, blobs_fd, "cannot open %s/blobs",
				    root);
		goto fail;
	}
	for (int a = 0; a < N_ALGOS; a++) {
		const char *name = cove_digest_algo_name(a);
		s->blobs_fd[a] =
		    open_dir_at(blobs_fd, name, 0755, &created_blobs);
		if (s->blobs_fd[a] < 0) {
			r = cove_error_setx(err, s->blobs_fd[a],
					    "cannot open %s/blobs/%s", root,
					    name);
			goto fail;
		}
	}
	s->ingest_fd = open_dir_at(s->root_fd, "ingest", 0700, &created);
	if (s->ingest_fd < 0) {
		r = cove_error_setx(err, s->ingest_fd, "cannot open %s/ingest",
				    root);
		goto fail;
	}
	/* New directory entries must survive a crash like blobs do. */
	if (created_blobs)
		fsync(blobs_fd);
	if (created)
		fsync(s->root_fd);
	r = cove_store_clean_ingest(s, NULL, err);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	cove_store_free(s);
	return r;
}

void cove_store_free(struct cove_store *s)
{
	if (!s)
		return;
	cove_closep(&s->root_fd);
	cove_closep(&s->ingest_fd);
	for (int a = 0; a < N_ALGOS; a++)
		cove_closep(&s->blobs_fd[a]);
	free(s->root);
	free(s);
}

const char *cove_store_root(const struct cove_store *s)
{
	return s->root;
}

/* The hex part of a valid digest, and its algorithm; NULL if invalid. */
static const char *digest_hex(const char *digest, enum cove_digest_algo *algo)
{
	if (cove_digest_validate(digest, algo, NULL) < 0)
		return NULL;
	return strchr(digest, ':') + 1;
}

bool cove_store_has(struct cove_store *s, const char *digest)
{
	enum cove_digest_algo algo;
	const char *hex = digest_hex(digest, &algo);
	struct stat st;

	if (!hex)
		return false;
	if (fstatat(s->blobs_fd[algo], hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return S_ISREG(st.st_mode);
}

char *cove_store_blob_path(struct cove_store *s, const char *digest)
{
	enum cove_digest_algo algo;
	const char *hex = digest_hex(digest, &algo);

	if (!hex) {
		errno = EINVAL;
		return NULL;
	}
	return cove_strdup_printf("%s/blobs/%s/%s", s->root,
				  cove_digest_algo_name(algo), hex);
}

int cove_store_open_blob(struct cove_store *s, const char *digest)
{
	enum cove_digest_algo algo;
	const char *hex = digest_hex(digest, &algo);
	int fd;

	if (!hex)
		return -EINVAL;
	fd = openat(s->blobs_fd[algo], hex,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

int64_t cove_store_blob_size(struct cove_store *s, const char *digest)
{
	enum cove_digest_algo algo;
	const char *hex = digest_hex(digest, &algo);
	struct stat st;

	if (!hex)
		return -EINVAL;
	if (fstatat(s->blobs_fd[algo], hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	return (int64_t)st.st_size;
}

/* ---- ingest ------------------------------------------------------------ */

static int random_name(char *buf, size_t size)
{
	unsigned char rnd[12];
	size_t off = 0;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -errno ? -errno : -EIO;
	for (size_t i = 0; i < sizeof(rnd) && off + 3 <= size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%02x", rnd[i]);
	return 0;
}

/*
 * Create and lock a fresh ingest file.  A cleaner in another process may
 * lock a file between our open() and our flock() and unlink it; so after
 * locking, check that the name still leads to our inode, else start over.
 */
static int create_ingest_file(struct cove_store *s, char *name, size_t size)
{
	for (int attempt = 0; attempt < 64; attempt++) {
		_cleanup_close_ int fd = -1;
		struct stat a, b;
		int r;

		r = random_name(name, size);
		if (r < 0)
			return r;
		fd = openat(s->ingest_fd, name,
			    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			    0644);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			return -errno;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EWOULDBLOCK || errno == EINTR)
				continue; /* a cleaner holds it and removes it
					   */
			return -errno;
		}
		if (fstat(fd, &a) < 0)
			return -errno;
		if (fstatat(s->ingest_fd, name, &b, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			continue;
		return TAKE_FD(fd);
	}
	return -EAGAIN;
}

int cove_ingest_begin(struct cove_store *s, const char *expected_digest,
		      int64_t expected_size, struct cove_ingest **ret,
		      struct cove_error *err)
{
	struct cove_ingest *in;
	int r;

	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->s = s;
	in->fd = -1;
	in->algo = COVE_DIGEST_SHA256;
	in->expected_size = expected_size;
	if (expected_digest) {
		r = cove_digest_validate(expected_digest, &in->algo, err);
		if (r < 0) {
			free(in);
			return r;
		}
		snprintf(in->expected, sizeof(in->expected), "%s",
			 expected_digest);
	}
	if (expected_size < -1) {
		free(in);
		return cove_error_set(err, EINVAL,
				      "invalid expected size %lld for blob %s",
				      (long long)expected_size,
				      expected_digest ? expected_digest : "");
	}
	r = cove_hasher_new(in->algo, &in->h);
	if (r < 0) {
		free(in);
		return cove_error_setx(err, r, "cannot start a digest");
	}
	in->fd = create_ingest_file(s, in->name, sizeof(in->name));
	if (in->fd < 0) {
		r = cove_error_setx(err, in->fd,
				    "cannot create an ingest file in %s/ingest",
				    s->root);
		cove_hasher_free(in->h);
		free(in);
		return r;
	}
	*ret = in;
	return 0;
}

static const char *ingest_label(const struct cove_ingest *in)
{
	return in->expected[0] ? in->expected : "(unknown digest)";
}

int cove_ingest_write(struct cove_ingest *in, const void *buf, size_t len,
		      struct cove_error *err)
{
	ssize_t n;
	int r;

	if (in->failed)
		return cove_error_set(err, in->failed,
				      "blob %s: ingest already failed",
				      ingest_label(in));
	if (in->expected_size >= 0 &&
	    (uint64_t)len > (uint64_t)(in->expected_size - in->offset)) {
		in->failed = -EBADMSG;
		return cove_error_set(
		    err, EBADMSG,
		    "blob %s: more data than the expected %lld bytes",
		    ingest_label(in), (long long)in->expected_size);
	}
	n = cove_write_all(in->fd, buf, len);
	if (n < 0) {
		in->failed = (int)n;
		return cove_error_setx(err, (int)n,
				       "blob %s: cannot write %s/ingest/%s",
				       ingest_label(in), in->s->root, in->name);
	}
	r = cove_hasher_update(in->h, buf, len);
	if (r < 0) {
		in->failed = r;
		return cove_error_setx(err, r, "blob %s: digest failed",
				       ingest_label(in));
	}
	in->offset += (int64_t)len;
	return 0;
}

int64_t cove_ingest_offset(const struct cove_ingest *in)
{
	return in->offset;
}

void cove_ingest_abort(struct cove_ingest *in)
{
	if (!in)
		return;
	if (in->fd >= 0) {
		/* Unlink while still holding the lock: no cleaner races us. */
		unlinkat(in->s->ingest_fd, in->name, 0);
		close(in->fd);
	}
	cove_hasher_free(in->h);
	free(in);
}

int cove_ingest_commit(struct cove_ingest *in, char *ret_digest,
		       struct cove_error *err)
{
	char got[COVE_DIGEST_MAX];
	const char *hex;
	int r, blobs_fd;

	if (in->failed) {
		r = cove_error_set(err, in->failed,
				   "blob %s: ingest failed earlier",
				   ingest_label(in));
		goto out;
	}
	if (in->expected_size >= 0 && in->offset != in->expected_size) {
		r = cove_error_set(
		    err, EBADMSG,
		    "blob %s: size mismatch: expected %lld bytes, got %lld",
		    ingest_label(in), (long long)in->expected_size,
		    (long long)in->offset);
		goto out;
	}
	r = cove_hasher_final(in->h, got);
	if (r < 0) {
		r = cove_error_setx(err, r, "blob %s: digest failed",
				    ingest_label(in));
		goto out;
	}
	if (in->expected[0] && strcmp(in->expected, got) != 0) {
		r = cove_error_set(
		    err, EBADMSG,
		    "blob %s: digest mismatch: content hashes to %s",
		    in->expected, got);
		goto out;
	}
	/* The data must be on disk before the name says it is complete. */
	if (fsync(in->fd) < 0) {
		r = cove_error_setx(err, errno, "blob %s: cannot fsync", got);
		goto out;
	}
	hex = strchr(got, ':') + 1;
	blobs_fd = in->s->blobs_fd[in->algo];
	if (renameat(in->s->ingest_fd, in->name, blobs_fd, hex) < 0) {
		r = cove_error_setx(err, errno,
				    "blob %s: cannot move into place", got);
		goto out;
	}
	/* The rename is durable only once the directory is synced. */
	if (fsync(blobs_fd) < 0) {
		r = cove_error_setx(err, errno,
				    "blob %s: cannot fsync the blob directory",
				    got);
		goto out_closed;
	}
	if (ret_digest)
		memcpy(ret_digest, got, strlen(got) + 1);
	r = 0;
out_closed:
	close(in->fd);
	in->fd = -1;
out:
	cove_ingest_abort(in);
	return r;
}

/* ---- whole buffers ------------------------------------------------------ */

int cove_store_put(struct cove_store *s, const void *buf, size_t len,
		   const char *expected_digest, char *ret_digest,
		   struct cove_error *err)
{
	struct cove_ingest *in = NULL;
	int r;

	if (expected_digest && cove_store_has(s, expected_digest) &&
	    cove_store_blob_size(s, expected_digest) == (int64_t)len) {
		if (ret_digest)
			snprintf(ret_digest, COVE_DIGEST_MAX, "%s",
				 expected_digest);
		return 0;
	}
	r = cove_ingest_begin(s, expected_digest, (int64_t)len, &in, err);
	if (r < 0)
		return r;
	r = cove_ingest_write(in, buf, len, err);
	if (r < 0) {
		cove_ingest_abort(in);
		return r;
	}
	return cove_ingest_commit(in, ret_digest, err);
}

int cove_store_get(struct cove_store *s, const char *digest, size_t max,
		   char **ret_buf, size_t *ret_len, struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	char got[COVE_DIGEST_MAX];
	enum cove_digest_algo algo;
	struct stat st;
	ssize_t n;
	int r;

	r = cove_digest_validate(digest, &algo, err);
	if (r < 0)
		return r;
	fd = cove_store_open_blob(s, digest);
	if (fd < 0)
		return cove_error_setx(err, fd, "blob %s", digest);
	if (fstat(fd, &st) < 0)
		return cove_error_setx(err, errno, "blob %s", digest);
	if (!S_ISREG(st.st_mode))
		return cove_error_set(err, EBADMSG,
				      "blob %s is not a regular file", digest);
	if ((uint64_t)st.st_size > max)
		return cove_error_set(err, EFBIG,
				      "blob %s is larger than %zu bytes",
				      digest, max);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	n = cove_read_all(fd, buf, (size_t)st.st_size);
	if (n < 0)
		return cove_error_setx(err, (int)n, "cannot read blob %s",
				       digest);
	if (n != (ssize_t)st.st_size)
		return cove_error_set(
		    err, EBADMSG, "blob %s changed size while read", digest);
	buf[n] = '\0';
	r = cove_digest_buffer(algo, buf, (size_t)n, got);
	if (r < 0)
		return cove_error_setx(err, r, "blob %s: digest failed",
				       digest);
	if (strcmp(got, digest) != 0)
		return cove_error_set(
		    err, EBADMSG, "blob %s is corrupt: content hashes to %s",
		    digest, got);
	*ret_buf = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = (size_t)n;
	return 0;
}

int cove_store_delete(struct cove_store *s, const char *digest,
		      struct cove_error *err)
{
	enum cove_digest_algo algo;
	const char *hex;
	int r;

	r = cove_digest_validate(digest, &algo, err);
	if (r < 0)
		return r;
	hex = strchr(digest, ':') + 1;
	if (unlinkat(s->blobs_fd[algo], hex, 0) < 0) {
		if (errno == ENOENT)
			return 0;
		return cove_error_setx(err, errno, "cannot remove blob %s",
				       digest);
	}
	if (fsync(s->blobs_fd[algo]) < 0)
		return cove_error_setx(err, errno,
				       "cannot fsync the blob directory");
	return 0;
}

/*
 * Walks a raw name (not validated) so that fsck also sees junk files; the
 * name is bounded by NAME_MAX.
 */
int cove_store_foreach_blob(struct cove_store *s,
			    int (*fn)(const char *digest, int64_t size,
				      void *userdata),
			    void *userdata, struct cove_error *err)
{
	for (int a = 0; a < N_ALGOS; a++) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;
		int fd;

		fd = openat(s->blobs_fd[a], ".",
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return cove_error_setx(err, errno,
					       "cannot open %s/blobs", s->root);
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			return cove_error_setx(err, errno,
					       "cannot open %s/blobs", s->root);
		}
		errno = 0;
		while ((de = readdir(d))) {
			char digest[NAME_MAX + 16];
			struct stat st;
			int r;

			if (de->d_name[0] == '.')
				continue;
			if (fstatat(dirfd(d), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0)
				continue; /* removed meanwhile */
			snprintf(digest, sizeof(digest), "%s:%s",
				 cove_digest_algo_name(a), de->d_name);
			r = fn(digest, S_ISREG(st.st_mode) ? st.st_size : -1,
			       userdata);
			if (r < 0)
				return r;
			errno = 0;
		}
		if (errno)
			return cove_error_setx(err, errno,
					       "cannot read %s/blobs", s->root);
	}
	return 0;
}

int cove_store_clean_ingest(struct cove_store *s, size_t *ret_removed,
			    struct cove_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t removed = 0;
	int fd;

	fd = openat(s->ingest_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open %s/ingest",
				       s->root);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return cove_error_setx(err, errno, "cannot open %s/ingest",
				       s->root);
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int f = -1;
		struct stat a, b;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		f = openat(dirfd(d), de->d_name,
			   O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
			       O_NOCTTY);
		if (f < 0) {
			/* Not ours to read (a symlink, a socket): junk. */
			if (errno == ELOOP || errno == ENXIO)
				if (unlinkat(dirfd(d), de->d_name, 0) == 0)
					removed++;
			continue;
		}
		if (flock(f, LOCK_EX | LOCK_NB) < 0)
			continue; /* a live writer holds it */
		if (fstat(f, &a) < 0 ||
		    fstatat(dirfd(d), de->d_name, &b, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			continue;
		if (S_ISDIR(a.st_mode)) {
			_cleanup_free_ char *p = cove_strdup_printf(
			    "%s/ingest/%s", s->root, de->d_name);
			if (p && cove_rm_rf(p) == 0)
				removed++;
			continue;
		}
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	if (ret_removed)
		*ret_removed = removed;
	return 0;
}

static int lock_file(struct cove_store *s, int op, struct cove_error *err)
{
	_cleanup_close_ int fd = -1;

	fd = openat(s->root_fd, "gc.lock",
		    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open %s/gc.lock",
				       s->root);
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return cove_error_setx(
			    err, errno, "cannot lock %s/gc.lock", s->root);
	return TAKE_FD(fd);
}

int cove_store_lease(struct cove_store *s, struct cove_error *err)
{
	return lock_file(s, LOCK_SH, err);
}

int cove_store_lock_exclusive(struct cove_store *s, struct cove_error *err)
{
	return lock_file(s, LOCK_EX, err);
}
