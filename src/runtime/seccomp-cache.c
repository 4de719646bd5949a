#include "runtime/seccomp-cache.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

/*
 * Bump when the file layout changes.  The key's own first line names the
 * same number, so files of another format miss by key too.
 */
#define CACHE_FORMAT 1
#define CACHE_MAGIC "COVESCMP"

struct cache_header {
	char magic[8];
	uint32_t format;
	uint32_t key_len;
	uint32_t prog_len; /* instructions */
	uint32_t reserved; /* 0 */
	uint64_t checksum; /* FNV-1a 64 of the key and program bytes */
};
_Static_assert(sizeof(struct cache_header) == 32, "no padding");

/*
 * Profiles differ with the capability set and custom profiles, and every
 * cove build or kernel starts new keys: past this many files, a store
 * removes the others rather than let stale ones pile up.
 */
#define CACHE_MAX_FILES 64

/* GNU build ids are 20 bytes (sha1) or 16 (md5/uuid); allow up to 64. */
#define BUILD_ID_MAX 64

uint64_t cove_fnv1a64(uint64_t hash, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= UINT64_C(0x100000001b3);
	}
	return hash;
}

struct build_id_query {
	uintptr_t addr; /* an address inside the object wanted */
	bool found;	/* the object was found (with or without an id) */
	char hex[2 * BUILD_ID_MAX + 1];
};

static bool phdr_contains(const struct dl_phdr_info *info, uintptr_t addr)
{
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && addr >= start &&
		    addr - start < ph->p_memsz)
			return true;
	}
	return false;
}

static void note_build_id(const ElfW(Phdr) * ph, uintptr_t base,
			  struct build_id_query *q)
{
	const char *p = (const char *)(base + ph->p_vaddr);
	size_t left = ph->p_memsz;
	/* Notes in an 8-aligned segment pad name and desc to 8 bytes. */
	size_t align = ph->p_align == 8 ? 8 : 4;

	while (left >= sizeof(ElfW(Nhdr))) {
		const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
		size_t name = (nh->n_namesz + align - 1) & ~(align - 1);
		size_t desc = (nh->n_descsz + align - 1) & ~(align - 1);
		size_t total = sizeof(*nh) + name + desc;
		const unsigned char *d;

		if (name > left || desc > left || total > left)
			return;
		if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
		    memcmp(p + sizeof(*nh), "GNU", 4) == 0 &&
		    nh->n_descsz > 0 && nh->n_descsz <= BUILD_ID_MAX) {
			d = (const unsigned char *)p + sizeof(*nh) + name;
			for (size_t i = 0; i < nh->n_descsz; i++)
				snprintf(q->hex + 2 * i, 3, "%02x", d[i]);
			return;
		}
		p += total;
		left -= total;
	}
}

static int build_id_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct build_id_query *q = data;

	if (!phdr_contains(info, q->addr))
		return 0;
	q->found = true;
	for (size_t i = 0; i < info->dlpi_phnum && !q->hex[0]; i++)
		if (info->dlpi_phdr[i].p_type == PT_NOTE)
			note_build_id(&info->dlpi_phdr[i], info->dlpi_addr, q);
	return 1;
}

/* The GNU build id (hex) of the loaded object that contains @addr. */
static int build_id_of(uintptr_t addr, char *ret_hex, size_t size)
{
	struct build_id_query q = {.addr = addr};

	dl_iterate_phdr(build_id_cb, &q);
	if (!q.found || !q.hex[0])
		return -EOPNOTSUPP;
	if (strlen(q.hex) >= size)
		return -ENAMETOOLONG;
	memcpy(ret_hex, q.hex, strlen(q.hex) + 1);
	return 0;
}

/*
 * The key: everything the compiled program depends on.
 *  - the profile, as canonical JSON (sorted keys, compact), which holds
 *    the architecture list; libseccomp adds the native architecture;
 *  - libseccomp: its version, its build id (a distribution patch can
 *    change syscall tables without changing the version), the API level
 *    (what it found the kernel to support) and its native architecture;
 *  - cove's own translation of the profile (parse_syscall's rule
 *    splitting, the filter attributes it sets): the build id of the object
 *    holding this code, so every rebuild starts a fresh cache;
 *  - the kernel (release, version string, machine): libseccomp refuses
 *    actions the running kernel lacks, so a program compiled under another
 *    kernel must be recompiled to be checked again.
 * Without a build id to key on, there is no cache (-EOPNOTSUPP).
 */
static int build_key(json_t *seccomp, char **ret_key, size_t *ret_len)
{
	_cleanup_free_ char *profile = NULL;
	const struct scmp_version *v = seccomp_version();
	char cove_id[2 * BUILD_ID_MAX + 1], scmp_id[2 * BUILD_ID_MAX + 1];
	struct utsname u;
	char *key;
	int r;

	if (!v)
		return -EOPNOTSUPP;
	r = build_id_of((uintptr_t)&cove_fnv1a64, cove_id, sizeof(cove_id));
	if (r < 0)
		return r;
	/* seccomp_version() points at libseccomp's own data. */
	r = build_id_of((uintptr_t)v, scmp_id, sizeof(scmp_id));
	if (r < 0)
		return r;
	if (uname(&u) < 0)
		return -errno;
	profile = json_dumps(seccomp, JSON_SORT_KEYS | JSON_COMPACT);
	if (!profile)
		return -ENOMEM;
	key = cove_strdup_printf("cove seccomp cache %d\n"
				 "libseccomp %u.%u.%u api %u native %#x\n"
				 "build %s libseccomp %s\n"
				 "kernel %s %s %s\n"
				 "profile %s\n",
				 CACHE_FORMAT, v->major, v->minor, v->micro,
				 seccomp_api_get(), seccomp_arch_native(),
				 cove_id, scmp_id, u.release, u.version,
				 u.machine, profile);
	if (!key)
		return -ENOMEM;
	*ret_len = strlen(key);
	*ret_key = key;
	return 0;
}

/*
 * Trust model, decided here.  A cached program goes into containers
 * without being recompiled, and nothing in the file proves that libseccomp
 * wrote it: whoever can write the cache directory, or a file in it, can
 * hand every container an allow-all filter under the right key.  So the
 * cache is used only when the directory and the file can be written by no
 * one but the caller: owned by root or by the effective uid, neither
 * group- nor world-writable, neither a symlink, the file a regular file.
 * Those owners can change the profile or cove itself anyway, so the cache
 * gives them nothing new.  Anything else is ignored and the profile
 * compiled as without a cache.  The directory's parents are the caller's
 * choice (the engine keeps it under its root).  The key comparison and the
 * checksum are no defence against tampering, only against hash collisions,
 * stale entries and corrupt files.
 */
static bool trusted(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) &&
	       !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int cove_seccomp_cache_open(struct cove_seccomp_cache *c, const char *dir,
			    json_t *seccomp)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	*c = (struct cove_seccomp_cache){.dirfd = -1};
	if (!dir || !*dir || !seccomp)
		return -EINVAL;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || !trusted(&st))
		return -EPERM;
	r = build_key(seccomp, &c->key, &c->key_len);
	if (r < 0)
		return r;
	c->hash = cove_fnv1a64(COVE_FNV64_INIT, c->key, c->key_len);
	snprintf(c->name, sizeof(c->name), "%016" PRIx64 ".bpf", c->hash);
	c->dirfd = TAKE_FD(fd);
	return 0;
}

int cove_seccomp_cache_parse(const void *buf, size_t size, const char *key,
			     size_t key_len, struct sock_filter **ret_prog,
			     size_t *ret_len)
{
	const char *p = buf;
	struct cache_header h;
	struct sock_filter *prog;
	size_t prog_bytes, body;

	if (size < sizeof(h))
		return -EBADMSG;
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) != 0 ||
	    h.format != CACHE_FORMAT || h.reserved != 0)
		return -EBADMSG;
	if (h.prog_len == 0 || h.prog_len > BPF_MAXINSNS)
		return -EBADMSG;
	prog_bytes = (size_t)h.prog_len * sizeof(struct sock_filter);
	body = size - sizeof(h);
	if (h.key_len > body || body - h.key_len != prog_bytes)
		return -EBADMSG;
	if (cove_fnv1a64(COVE_FNV64_INIT, p + sizeof(h), body) != h.checksum)
		return -EBADMSG;
	if (h.key_len != key_len || memcmp(p + sizeof(h), key, key_len) != 0)
		return -ESTALE;
	prog = malloc(prog_bytes);
	if (!prog)
		return -ENOMEM;
	memcpy(prog, p + sizeof(h) + h.key_len, prog_bytes);
	*ret_prog = prog;
	*ret_len = h.prog_len;
	return 0;
}

int cove_seccomp_cache_load(const struct cove_seccomp_cache *c,
			    struct sock_filter **ret_prog, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t max, size;
	ssize_t n;

	if (c->dirfd < 0)
		return -EBADF;
	/* O_NONBLOCK: a FIFO planted here must not block the open. */
	fd = openat(c->dirfd, c->name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || !trusted(&st))
		return -EPERM;
	max = sizeof(struct cache_header) + c->key_len +
	      (size_t)BPF_MAXINSNS * sizeof(struct sock_filter);
	if (st.st_size < 0 || (unsigned long long)st.st_size > max)
		return -EBADMSG;
	size = (size_t)st.st_size;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	n = cove_read_all(fd, buf, size);
	if (n < 0)
		return (int)n;
	if ((size_t)n != size)
		return -EBADMSG;
	return cove_seccomp_cache_parse(buf, size, c->key, c->key_len, ret_prog,
					ret_len);
}

int cove_seccomp_cache_format(const char *key, size_t key_len,
			      const struct sock_filter *prog, size_t len,
			      char **ret_buf, size_t *ret_size)
{
	struct cache_header h = {.format = CACHE_FORMAT};
	size_t prog_bytes, size;
	char *buf;

	if (len == 0 || len > BPF_MAXINSNS || key_len > UINT32_MAX / 2)
		return -EINVAL;
	prog_bytes = len * sizeof(struct sock_filter);
	size = sizeof(h) + key_len + prog_bytes;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));
	h.key_len = (uint32_t)key_len;
	h.prog_len = (uint32_t)len;
	memcpy(buf + sizeof(h), key, key_len);
	memcpy(buf + sizeof(h) + key_len, prog, prog_bytes);
	h.checksum =
	    cove_fnv1a64(COVE_FNV64_INIT, buf + sizeof(h), size - sizeof(h));
	memcpy(buf, &h, sizeof(h));
	*ret_buf = buf;
	*ret_size = size;
	return 0;
}

/* "<16 hex digits>.bpf", as cove_seccomp_cache_open() names files. */
static bool is_cache_name(const char *name)
{
	return strlen(name) == 20 && strspn(name, "0123456789abcdef") == 16 &&
	       strcmp(name + 16, ".bpf") == 0;
}

static void prune(int dirfd, const char *keep)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t n = 0;
	int fd;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (is_cache_name(de->d_name))
			n++;
	if (n <= CACHE_MAX_FILES)
		return;
	rewinddir(d);
	while ((de = readdir(d)))
		if (is_cache_name(de->d_name) && strcmp(de->d_name, keep) != 0)
			(void)unlinkat(dirfd, de->d_name, 0);
}

/*
 * No fsync: after a power failure the file may be short or hold garbage,
 * which the checksum rejects and the next compile replaces.
 */
int cove_seccomp_cache_store(const struct cove_seccomp_cache *c,
			     const struct sock_filter *prog, size_t len)
{
	_cleanup_free_ char *buf = NULL;
	size_t size;
	int r;

	if (c->dirfd < 0)
		return -EBADF;
	r = cove_seccomp_cache_format(c->key, c->key_len, prog, len, &buf,
				      &size);
	if (r < 0)
		return r;
	r = cove_write_file_replace_at(c->dirfd, c->name, buf, size, 0600);
	if (r < 0)
		return r;
	prune(c->dirfd, c->name);
	return 0;
}

void cove_seccomp_cache_release(struct cove_seccomp_cache *c)
{
	if (!c)
		return;
	if (c->dirfd >= 0)
		close(c->dirfd);
	free(c->key);
	*c = (struct cove_seccomp_cache){.dirfd = -1};
}
