#pragma once
/*
 * Scope-bound cleanup helpers.  Every resource in cove is owned by exactly one
 * variable; ownership moves with TAKE_PTR()/TAKE_FD().  Destructors accept
 * NULL / -1 so that a variable can always be declared with its cleanup
 * attribute and an empty value.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <jansson.h>

static inline void cove_freep(void *p)
{
	free(*(void **)p);
}

static inline void cove_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cove_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cove_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static inline void cove_json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
}

/* Frees a NULL-terminated vector of strings and the vector itself. */
static inline void cove_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static inline void cove_strv_freep(char ***v)
{
	cove_strv_free(*v);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cove_freep)
#define _cleanup_close_ _cleanup_(cove_closep)
#define _cleanup_fclose_ _cleanup_(cove_fclosep)
#define _cleanup_closedir_ _cleanup_(cove_closedirp)
#define _cleanup_json_ _cleanup_(cove_json_decrefp)
#define _cleanup_strv_ _cleanup_(cove_strv_freep)

#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) _p_ = (p);                                       \
		(p) = NULL;                                                    \
		_p_;                                                           \
	})

#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int _fd_ = (fd);                                               \
		(fd) = -1;                                                     \
		_fd_;                                                          \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))
