#include "util/lazy.h"
#include "util/cleanup.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One entry per soname; cove loads two libraries this way. */
static struct {
	const char *soname;
	void *handle;
} libs[4];
static pthread_mutex_t libs_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noreturn, cold)) static void
fail(const char *soname, const char *purpose, const char *why)
{
	/*
	 * _exit, not exit: the first call may come from one of pull's worker
	 * threads, and atexit handlers (libcrypto's among them) must not run
	 * under the others.  stdout is flushed so that what was printed
	 * before stays.
	 */
	fflush(stdout);
	fprintf(stderr, "cove: cannot load %s (needed for %s): %s\n", soname,
		purpose, why ? why : "unknown error");
	_exit(125);
}

static void *lib_handle(const char *soname, const char *purpose)
{
	void *handle = NULL;
	size_t i;

	pthread_mutex_lock(&libs_lock);
	for (i = 0; i < ARRAY_SIZE(libs) && libs[i].soname; i++)
		if (strcmp(libs[i].soname, soname) == 0) {
			handle = libs[i].handle;
			break;
		}
	if (!handle) {
		handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
		if (!handle) {
			const char *why = dlerror();

			pthread_mutex_unlock(&libs_lock);
			fail(soname, purpose, why);
		}
		/* A full table only costs a dlopen() refcount per call. */
		if (i < ARRAY_SIZE(libs)) {
			libs[i].soname = soname;
			libs[i].handle = handle;
		}
	}
	pthread_mutex_unlock(&libs_lock);
	return handle;
}

void *cove_lazy_sym(const char *soname, const char *purpose, const char *sym)
{
	void *handle = lib_handle(soname, purpose);
	void *addr;

	/*
	 * dlsym() on the handle searches that library and its dependencies,
	 * never the executable: the wrapper that asks for "curl_easy_init"
	 * gets libcurl's, not itself, even in a binary that also links
	 * libcurl.
	 */
	dlerror();
	addr = dlsym(handle, sym);
	if (!addr)
		fail(soname, purpose, dlerror());
	return addr;
}
