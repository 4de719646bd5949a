#include "runtime/caps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "util/capnames.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* runc's `spec` default, also used by podman for an unprivileged spec. */
static const char *const default_caps[] = {
    "CAP_AUDIT_WRITE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
};

/* JSON keys of process.capabilities, in enum cove_cap_set order. */
static const char *const set_keys[COVE_CAP_SET_MAX] = {
    [COVE_CAP_BOUNDING] = "bounding",	    [COVE_CAP_EFFECTIVE] = "effective",
    [COVE_CAP_INHERITABLE] = "inheritable", [COVE_CAP_PERMITTED] = "permitted",
    [COVE_CAP_AMBIENT] = "ambient",
};

#define CAP_BIT(n) (UINT64_C(1) << (n))

int cove_cap_from_name(const char *name)
{
	const char *bare;

	if (!name)
		return -EINVAL;
	bare = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
	if (!*bare)
		return -EINVAL;
	for (size_t i = 0; i < cove_cap_names_n; i++)
		if (strcasecmp(cove_cap_names[i] + 4, bare) == 0)
			return (int)i;
	return -EINVAL;
}

const char *cove_cap_to_name(int cap)
{
	if (cap < 0 || (size_t)cap >= cove_cap_names_n)
		return NULL;
	return cove_cap_names[cap];
}

static int read_last_cap(void)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int v;

	if (cove_read_file("/proc/sys/kernel/cap_last_cap", 64, &buf, &len) < 0)
		return -1;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (cove_parse_int(buf, &v) < 0 || v < 0 || v > 63)
		return -1;
	return v;
}

int cove_cap_last_cap(void)
{
	/* Fixed for the life of the kernel: read once. */
	static int cached = -1;
	int v;

	if (cached >= 0)
		return cached;
	v = read_last_cap();
	if (v < 0) {
		/* No /proc yet (early in container setup): ask libcap. */
		cap_value_t bits = cap_max_bits();
		v = bits > 0 && bits <= 64 ? (int)bits - 1 : CAP_LAST_CAP;
	}
	cached = v;
	return v;
}

int cove_caps_parse(json_t *caps, const char *path, struct cove_caps *ret,
		    struct cove_error *err)
{
	struct cove_caps c = {{0}};
	int last = cove_cap_last_cap();
	const char *key;
	json_t *v;

	if (!caps || json_is_null(caps)) {
		*ret = c;
		return 0;
	}
	if (!json_is_object(caps))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);
	json_object_foreach(caps, key, v)
	{
		int set = -1;
		size_t i;
		json_t *e;

		for (int k = 0; k < COVE_CAP_SET_MAX; k++)
			if (strcmp(set_keys[k], key) == 0)
				set = k;
		if (set < 0)
			return cove_error_set(
			    err, EINVAL, "invalid '%s': unknown field '%s'",
			    path, key);
		if (json_is_null(v))
			continue;
		if (!json_is_array(v))
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.%s': expected an array of strings",
			    path, key);
		json_array_foreach(v, i, e)
		{
			const char *name = json_string_value(e);
			int cap;

			if (!name)
				return cove_error_set(
				    err, EINVAL,
				    "invalid '%s.%s[%zu]': expected a "
				    "string",
				    path, key, i);
			cap = cove_cap_from_name(name);
			if (cap < 0)
				return cove_error_set(
				    err, EINVAL,
				    "invalid '%s.%s[%zu]': unknown "
				    "capability '%s'",
				    path, key, i, name);
			/* Newer than this kernel: it cannot be held anyway. */
			if (cap > last)
				continue;
			c.sets[set] |= CAP_BIT(cap);
		}
	}

	/*
	 * capset(2) refuses an effective capability that is not permitted;
	 * say so now, naming it, rather than failing in the container.
	 */
	for (int cap = 0; cap <= last; cap++)
		if ((c.sets[COVE_CAP_EFFECTIVE] & CAP_BIT(cap)) &&
		    !(c.sets[COVE_CAP_PERMITTED] & CAP_BIT(cap)))
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.effective': %s is not in '%s."
			    "permitted'",
			    path, cove_cap_to_name(cap), path);
	*ret = c;
	return 0;
}

static const char *cap_label(int cap, char *buf, size_t size)
{
	const char *name = cove_cap_to_name(cap);

	if (name)
		return name;
	snprintf(buf, size, "capability %d", cap);
	return buf;
}

int cove_caps_apply_bounding(const struct cove_caps *c, struct cove_error *err)
{
	int last = cove_cap_last_cap();

	for (int cap = 0; cap <= last; cap++) {
		char buf[32];
		int r;

		if (c->sets[COVE_CAP_BOUNDING] & CAP_BIT(cap))
			continue;
		/* Dropping needs CAP_SETPCAP even when already dropped. */
		r = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
		if (r == 0 || (r < 0 && errno == EINVAL))
			continue;
		if (r < 0)
			return cove_error_setx(
			    err, errno, "cannot read %s from the bounding set",
			    cap_label(cap, buf, sizeof(buf)));
		if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return cove_error_setx(
			    err, errno, "cannot drop %s from the bounding set",
			    cap_label(cap, buf, sizeof(buf)));
	}
	return 0;
}

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

static int set_flag(cap_t caps, cap_flag_t flag, uint64_t set, int last)
{
	cap_value_t list[64];
	int n = 0;

	for (int cap = 0; cap <= last && cap < 64; cap++)
		if (set & CAP_BIT(cap))
			list[n++] = cap;
	if (n == 0)
		return 0;
	return cap_set_flag(caps, flag, n, list, CAP_SET) < 0 ? -errno : 0;
}

int cove_caps_apply(const struct cove_caps *c, struct cove_error *err)
{
	__attribute__((cleanup(cap_freep))) cap_t caps = NULL;
	uint64_t ambient = c->sets[COVE_CAP_AMBIENT];
	int last = cove_cap_last_cap();
	int r;

	caps = cap_init();
	if (!caps)
		return cove_error_setx(err, errno,
				       "cannot allocate a capability set");
	if ((r = set_flag(caps, CAP_EFFECTIVE, c->sets[COVE_CAP_EFFECTIVE],
			  last)) < 0 ||
	    (r = set_flag(caps, CAP_PERMITTED, c->sets[COVE_CAP_PERMITTED],
			  last)) < 0 ||
	    (r = set_flag(caps, CAP_INHERITABLE, c->sets[COVE_CAP_INHERITABLE],
			  last)) < 0)
		return cove_error_setx(err, r,
				       "cannot build the capability set");
	if (cap_set_proc(caps) < 0) {
		int e = errno;
		if (e == EPERM)
			return cove_error_setx(
			    err, e,
			    "cannot set the process capabilities: "
			    "permitted capabilities can only be dropped, "
			    "and inheritable ones must be in the bounding "
			    "set");
		return cove_error_setx(err, e,
				       "cannot set the process capabilities");
	}

	/*
	 * The ambient set survives execve of unprivileged programs; start it
	 * from empty so that nothing inherited from the runtime leaks in.
	 */
	if (cap_reset_ambient() < 0 && (ambient || errno != EINVAL))
		return cove_error_setx(err, errno,
				       "cannot clear the ambient capabilities");
	for (int cap = 0; cap <= last; cap++) {
		char buf[32];

		if (!(ambient & CAP_BIT(cap)))
			continue;
		if (cap_set_ambient(cap, CAP_SET) == 0)
			continue;
		if (errno == EPERM &&
		    (!(c->sets[COVE_CAP_PERMITTED] & CAP_BIT(cap)) ||
		     !(c->sets[COVE_CAP_INHERITABLE] & CAP_BIT(cap))))
			return cove_error_setx(
			    err, errno,
			    "cannot raise ambient capability %s: it must "
			    "also be in the permitted and inheritable sets",
			    cap_label(cap, buf, sizeof(buf)));
		return cove_error_setx(err, errno,
				       "cannot raise ambient capability %s",
				       cap_label(cap, buf, sizeof(buf)));
	}
	return 0;
}

static json_t *names_json(const char *const *names, size_t n)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, json_string(names[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *cove_caps_default_json(void)
{
	return names_json(default_caps, ARRAY_SIZE(default_caps));
}

json_t *cove_caps_all_json(void)
{
	return names_json(cove_cap_names, cove_cap_names_n);
}
