/*
 * Named networks as CNI configuration lists (network.h): the IPv4 subnet
 * arithmetic, the parser of configuration lists, the files in the
 * networks directory and the choice of subnet and bridge for a new one.
 */
#include "engine/network.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/events.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* Configuration lists are small; this only bounds a hostile file. */
#define CONFLIST_MAX (1 << 20)
#define NAME_MAX_LEN 200

/* ---- IPv4 subnets --------------------------------------------------------
 */

static uint32_t prefix_mask(unsigned prefix)
{
	return prefix == 0 ? 0 : ~(uint32_t)0 << (32 - prefix);
}

int cove_ipv4_parse(const char *s, uint32_t *ret)
{
	struct in_addr a;

	/* inet_pton takes exactly a dotted quad, without leading zeros */
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ret = ntohl(a.s_addr);
	return 0;
}

void cove_ipv4_format(uint32_t addr, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
		 (addr >> 8) & 0xff, addr & 0xff);
}

int cove_subnet_parse(const char *cidr, struct cove_subnet *ret,
		      struct cove_error *err)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(cidr, '/');
	uint32_t prefix, a;
	char want[COVE_SUBNET_STRLEN];

	if (strchr(cidr, ':'))
		return cove_error_set(err, ENOTSUP,
				      "invalid subnet '%s': IPv6 subnets are "
				      "not supported",
				      cidr);
	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		return cove_error_set(err, EINVAL,
				      "invalid subnet '%s': expected "
				      "ADDRESS/PREFIX such as 10.89.0.0/24",
				      cidr);
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	if (cove_ipv4_parse(addr, &a) < 0)
		return cove_error_set(err, EINVAL,
				      "invalid subnet '%s': '%s' is not an "
				      "IPv4 address",
				      cidr, addr);
	if (cove_parse_uint32(slash + 1, &prefix) < 0 || prefix > 32)
		return cove_error_set(err, EINVAL,
				      "invalid subnet '%s': the prefix length "
				      "must be 0 to 32",
				      cidr);
	if (a & ~prefix_mask(prefix)) {
		struct cove_subnet s = {a & prefix_mask(prefix), prefix};
		cove_subnet_format(&s, want, sizeof(want));
		return cove_error_set(err, EINVAL,
				      "invalid subnet '%s': host bits are set "
				      "(did you mean %s?)",
				      cidr, want);
	}
	ret->addr = a;
	ret->prefix = prefix;
	return 0;
}

void cove_subnet_format(const struct cove_subnet *s, char *buf, size_t size)
{
	char a[INET_ADDRSTRLEN];

	cove_ipv4_format(s->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, s->prefix);
}

bool cove_subnet_contains(const struct cove_subnet *s, uint32_t addr)
{
	return (addr & prefix_mask(s->prefix)) == s->addr;
}

bool cove_subnet_overlaps(const struct cove_subnet *a,
			  const struct cove_subnet *b)
{
	uint32_t m = prefix_mask(a->prefix < b->prefix ? a->prefix : b->prefix);

	return (a->addr & m) == (b->addr & m);
}

/* ---- names ----------------------------------------------------------------
 */

bool cove_network_name_valid(const char *name)
{
	size_t len;

	if (!name || !isalnum((unsigned char)name[0]))
		return false;
	len = strlen(name);
	if (len > NAME_MAX_LEN)
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '.' && name[i] != '-')
			return false;
	return true;
}

/* podman's and docker's network modes; a network by such a name would be
 * ambiguous on `--network`. */
static bool name_reserved(const char *name)
{
	static const char *const modes[] = {COVE_NETWORK_DEFAULT_ALIAS,
					    "host",
					    "none",
					    "container",
					    "private",
					    "ns",
					    "slirp4netns",
					    "pasta",
					    "default"};

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (!strcmp(name, modes[i]))
			return true;
	return false;
}

static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ':' ||
		    isspace((unsigned char)s[i]) ||
		    !isprint((unsigned char)s[i]))
			return false;
	return true;
}

char *cove_network_dir(const char *root)
{
	return cove_strdup_printf("%s/networks", root);
}

/* ---- the network object ---------------------------------------------------
 */

void cove_network_free(struct cove_network *n)
{
	if (!n)
		return;
	free(n->name);
	free(n->path);
	free(n->cni_version);
	if (n->config)
		json_decref(n->config);
	free(n->bridge);
	free(n->ipam_type);
	for (size_t i = 0; i < n->n_ranges; i++) {
		free(n->ranges[i].subnet);
		free(n->ranges[i].gateway);
	}
	free(n->ranges);
	cove_strv_free(n->labels);
	free(n);
}

void cove_networks_free(struct cove_network **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		cove_network_free(v[i]);
	free(v);
}

static void network_freep(struct cove_network **n)
{
	cove_network_free(*n);
}
#define _cleanup_network_ _cleanup_(network_freep)

static int add_range(struct cove_network *n, const char *subnet,
		     const char *gateway)
{
	struct cove_network_range *nr;

	nr = realloc(n->ranges, (n->n_ranges + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	n->ranges = nr;
	nr[n->n_ranges].subnet = strdup(subnet);
	nr[n->n_ranges].gateway = gateway ? strdup(gateway) : NULL;
	n->n_ranges++;
	if (!nr[n->n_ranges - 1].subnet ||
	    (gateway && !nr[n->n_ranges - 1].gateway))
		return -ENOMEM;
	return 0;
}

/* One range object {"subnet", "gateway", ...} of an ipam at @path. */
static int parse_range(struct cove_network *n, const json_t *r,
		       const char *path, struct cove_error *err)
{
	const char *subnet = NULL, *gateway = NULL;

	if (!json_is_object(r))
		return cove_error_set(err, EINVAL,
				      "invalid '%s': expected an object", path);
	if (cove_json_string(r, path, "subnet", &subnet, err) < 0 ||
	    cove_json_string(r, path, "gateway", &gateway, err) < 0)
		return -EINVAL;
	if (!subnet)
		return cove_error_set(err, EINVAL, "missing '%s.subnet'", path);
	return add_range(n, subnet, gateway);
}

/*
 * host-local's ipam: "ranges" is an array of range sets, each an array of
 * ranges; the older form has one "subnet" (and "gateway") in the ipam.
 */
static int parse_ipam(struct cove_network *n, const json_t *ipam,
		      const char *path, struct cove_error *err)
{
	const char *type = NULL, *subnet = NULL, *gateway = NULL;
	json_t *ranges = NULL, *set, *r;
	size_t i, j;
	char p[128];

	if (cove_json_string(ipam, path, "type", &type, err) < 0 ||
	    cove_json_array(ipam, path, "ranges", &ranges, err) < 0 ||
	    cove_json_string(ipam, path, "subnet", &subnet, err) < 0 ||
	    cove_json_string(ipam, path, "gateway", &gateway, err) < 0)
		return -EINVAL;
	if (type && !(n->ipam_type = strdup(type)))
		return -ENOMEM;
	json_array_foreach(ranges, i, set)
	{
		snprintf(p, sizeof(p), "%s.ranges[%zu]", path, i);
		if (!json_is_array(set))
			return cove_error_set(
			    err, EINVAL, "invalid '%s': expected an array", p);
		json_array_foreach(set, j, r)
		{
			int ret;

			snprintf(p, sizeof(p), "%s.ranges[%zu][%zu]", path, i,
				 j);
			ret = parse_range(n, r, p, err);
			if (ret < 0)
				return ret;
		}
	}
	if (subnet)
		return add_range(n, subnet, gateway);
	return 0;
}

/* The fields of the first bridge plugin, at plugins[@idx]. */
static int parse_bridge(struct cove_network *n, const json_t *plugin,
			size_t idx, struct cove_error *err)
{
	const char *bridge = NULL;
	bool is_gw = false, masq = false;
	json_t *ipam = NULL;
	char path[64];

	snprintf(path, sizeof(path), "plugins[%zu]", idx);
	if (cove_json_string(plugin, path, "bridge", &bridge, err) < 0 ||
	    cove_json_bool(plugin, path, "isGateway", &is_gw, err) < 0 ||
	    cove_json_bool(plugin, path, "ipMasq", &masq, err) < 0 ||
	    cove_json_object(plugin, path, "ipam", &ipam, err) < 0)
		return -EINVAL;
	/* the bridge plugin's own default */
	n->bridge = strdup(bridge ? bridge : "cni0");
	if (!n->bridge)
		return -ENOMEM;
	n->internal = !is_gw;
	n->ip_masq = masq;
	if (ipam) {
		snprintf(path, sizeof(path), "plugins[%zu].ipam", idx);
		return parse_ipam(n, ipam, path, err);
	}
	return 0;
}

/* args.cove_labels, or podman's args.podman_labels, to "K=V" strings. */
static int parse_labels(struct cove_network *n, const json_t *conf,
			struct cove_error *err)
{
	json_t *args = NULL, *labels = NULL, *v;
	const char *key, *path = "args.cove_labels";

	if (cove_json_object(conf, "", "args", &args, err) < 0)
		return -EINVAL;
	if (!args)
		return 0;
	if (cove_json_object(args, "args", "cove_labels", &labels, err) < 0)
		return -EINVAL;
	if (!labels) {
		path = "args.podman_labels";
		if (cove_json_object(args, "args", "podman_labels", &labels,
				     err) < 0)
			return -EINVAL;
	}
	json_object_foreach(labels, key, v)
	{
		_cleanup_free_ char *kv = NULL;

		if (!json_is_string(v))
			return cove_error_set(err, EINVAL,
					      "invalid '%s.%s': expected a "
					      "string",
					      path, key);
		kv = cove_strdup_printf("%s=%s", key, json_string_value(v));
		if (!kv || cove_strv_push(&n->labels, kv) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool plugin_type_valid(const char *t)
{
	return *t && !strchr(t, '/') && strcmp(t, ".") && strcmp(t, "..");
}

static int parse_conf(json_t *conf, struct cove_network **ret,
		      struct cove_error *err)
{
	_cleanup_network_ struct cove_network *n = NULL;
	const char *name = NULL, *version = NULL;
	json_t *plugins = NULL, *p;
	bool bridge_seen = false;
	size_t i;
	int r;

	if (!json_is_object(conf))
		return cove_error_set(err, EINVAL,
				      "invalid configuration list: expected "
				      "a JSON object");
	if (cove_json_string(conf, "", "name", &name, err) < 0 ||
	    cove_json_string(conf, "", "cniVersion", &version, err) < 0 ||
	    cove_json_array(conf, "", "plugins", &plugins, err) < 0)
		return -EINVAL;
	if (!name || !*name)
		return cove_error_set(err, EINVAL, "missing 'name'");
	if (!version || !*version)
		return cove_error_set(err, EINVAL, "missing 'cniVersion'");
	if (!plugins || json_array_size(plugins) == 0)
		return cove_error_set(err, EINVAL,
				      "missing 'plugins': a list needs at "
				      "least one plugin");
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->config = json_incref(conf);
	n->name = strdup(name);
	n->cni_version = strdup(version);
	if (!n->name || !n->cni_version)
		return -ENOMEM;
	json_array_foreach(plugins, i, p)
	{
		const char *type = NULL;
		char path[64];

		snprintf(path, sizeof(path), "plugins[%zu]", i);
		if (!json_is_object(p))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': expected an "
					      "object",
					      path);
		if (cove_json_string(p, path, "type", &type, err) < 0)
			return -EINVAL;
		if (!type)
			return cove_error_set(err, EINVAL, "missing '%s.type'",
					      path);
		if (!plugin_type_valid(type))
			return cove_error_set(err, EINVAL,
					      "invalid '%s.type' \"%s\": must "
					      "be a file name",
					      path, type);
		if (i == 0)
			n->driver = type;
		if (!bridge_seen && !strcmp(type, "bridge")) {
			bridge_seen = true;
			r = parse_bridge(n, p, i, err);
			if (r < 0)
				return r;
		}
	}
	r = parse_labels(n, conf, err);
	if (r < 0)
		return r;
	n->is_default = !strcmp(n->name, COVE_NETWORK_DEFAULT);
	*ret = TAKE_PTR(n);
	return 0;
}

int cove_network_parse(const char *source, const char *buf, size_t len,
		       struct cove_network **ret, struct cove_error *err)
{
	_cleanup_json_ json_t *root = NULL;
	int r;

	r = cove_json_load_buffer(source, buf, len, &root, err);
	if (r < 0)
		return r;
	/*
	 * A single plugin's configuration: libcni makes it a list of one,
	 * the whole object being the plugin.
	 */
	if (json_is_object(root) && json_object_get(root, "type") &&
	    !json_object_get(root, "plugins")) {
		json_t *list = json_object(), *plugins = json_array();
		json_t *name = json_object_get(root, "name");
		json_t *version = json_object_get(root, "cniVersion");

		if (!list || !plugins || json_array_append(plugins, root) < 0 ||
		    json_object_set_new(list, "plugins", plugins) < 0 ||
		    (name && json_object_set(list, "name", name) < 0) ||
		    (version &&
		     json_object_set(list, "cniVersion", version) < 0)) {
			json_decref(list);
			return -ENOMEM;
		}
		json_decref(root);
		root = list;
	}
	r = parse_conf(root, ret, err);
	if (r < 0 && r != -ENOMEM && err)
		(void)cove_error_wrap(err, "%s", source);
	return r;
}

/* A file of @dir; with @want_name, the list's name must be that. */
static int load_file(const char *path, const char *want_name, bool read_only,
		     struct cove_network **ret, struct cove_error *err)
{
	_cleanup_network_ struct cove_network *n = NULL;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	r = cove_read_file(path, CONFLIST_MAX, &buf, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return cove_error_setx(err, r, "cannot read network config %s",
				       path);
	r = cove_network_parse(path, buf, len, &n, err);
	if (r < 0)
		return r;
	if (want_name && strcmp(n->name, want_name))
		return cove_error_set(err, EINVAL,
				      "%s: the list is named '%s', not '%s' "
				      "as its file",
				      path, n->name, want_name);
	n->path = strdup(path);
	if (!n->path)
		return -ENOMEM;
	if (stat(path, &st) == 0)
		n->created = (int64_t)st.st_mtim.tv_sec;
	n->read_only = read_only;
	if (read_only)
		n->is_default = false;
	*ret = TAKE_PTR(n);
	return 0;
}

/* ---- the files ------------------------------------------------------------
 */

static int lock_dir(const char *dir, struct cove_error *err)
{
	_cleanup_free_ char *path = NULL;
	int fd, r;

	r = cove_mkdir_p(dir, 0755);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create %s", dir);
	path = cove_strdup_printf("%s/.lock", dir);
	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open %s", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			close(fd);
			return cove_error_setx(err, r, "cannot lock %s", path);
		}
	}
	return fd;
}

struct conf_params {
	const char *name;
	const char *bridge;
	const char *subnet;
	const char *gateway;
	bool internal;
	json_t *labels; /* object, borrowed; may be NULL */
	const char *ipam_dir;
};

static json_t *build_conflist(const struct conf_params *p)
{
	json_t *routes = p->internal ? json_array()
				     : json_pack("[{s:s}]", "dst", "0.0.0.0/0");
	json_t *labels = p->labels ? json_incref(p->labels) : json_object();

	/* "o" steals a reference: routes and labels belong to the list */
	return json_pack(
	    "{s:s, s:s, s:[{s:s, s:s, s:b, s:b, s:b, s:{s:s, s:s, s:o, "
	    "s:[[{s:s, s:s}]]}}, {s:s, s:{s:b}}, {s:s}], s:{s:o}}",
	    "cniVersion", COVE_NETWORK_CNI_VERSION, "name", p->name, "plugins",
	    "type", "bridge", "bridge", p->bridge, "isGateway", !p->internal,
	    "ipMasq", !p->internal, "hairpinMode", 1, "ipam", "type",
	    "host-local", "dataDir", p->ipam_dir, "routes", routes, "ranges",
	    "subnet", p->subnet, "gateway", p->gateway, "type", "portmap",
	    "capabilities", "portMappings", 1, "type", "firewall", "args",
	    "cove_labels", labels);
}

static int write_conflist(const char *dir, const char *name, json_t *conf,
			  struct cove_error *err)
{
	_cleanup_free_ char *file = NULL, *s = NULL, *text = NULL;
	int r;

	file = cove_strdup_printf("%s/%s.conflist", dir, name);
	s = json_dumps(conf, JSON_INDENT(2));
	if (!file || !s)
		return -ENOMEM;
	text = cove_strdup_printf("%s\n", s);
	if (!text)
		return -ENOMEM;
	r = cove_write_file_atomic_at(AT_FDCWD, file, text, strlen(text), 0644);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s", file);
	return 0;
}

static int ensure_default_locked(const char *dir, struct cove_error *err)
{
	_cleanup_free_ char *file = NULL, *ipam = NULL;
	_cleanup_json_ json_t *conf = NULL;
	struct conf_params p = {
	    .name = COVE_NETWORK_DEFAULT,
	    .bridge = COVE_NETWORK_DEFAULT_BRIDGE,
	    .subnet = COVE_NETWORK_DEFAULT_SUBNET,
	    .gateway = COVE_NETWORK_DEFAULT_GATEWAY,
	};

	file = cove_strdup_printf("%s/%s.conflist", dir, COVE_NETWORK_DEFAULT);
	ipam = cove_strdup_printf("%s/ipam", dir);
	if (!file || !ipam)
		return -ENOMEM;
	if (access(file, F_OK) == 0)
		return 0;
	p.ipam_dir = ipam;
	conf = build_conflist(&p);
	if (!conf)
		return -ENOMEM;
	return write_conflist(dir, COVE_NETWORK_DEFAULT, conf, err);
}

static int ensure_default(const char *dir, struct cove_error *err)
{
	_cleanup_free_ char *file = NULL;
	_cleanup_close_ int lock = -1;

	file = cove_strdup_printf("%s/%s.conflist", dir, COVE_NETWORK_DEFAULT);
	if (!file)
		return -ENOMEM;
	if (access(file, F_OK) == 0)
		return 0;
	lock = lock_dir(dir, err);
	if (lock < 0)
		return lock;
	return ensure_default_locked(dir, err);
}

struct netvec {
	struct cove_network **v;
	size_t n;
};

static void netvec_release(struct netvec *nv)
{
	cove_networks_free(nv->v, nv->n);
	*nv = (struct netvec){0};
}

static int netvec_push(struct netvec *nv, struct cove_network *n)
{
	struct cove_network **v = realloc(nv->v, (nv->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	nv->v = v;
	v[nv->n++] = n;
	return 0;
}

static struct cove_network *netvec_find(const struct netvec *nv,
					const char *name)
{
	for (size_t i = 0; i < nv->n; i++)
		if (!strcmp(nv->v[i]->name, name))
			return nv->v[i];
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The file names of @dir ending in one of @suffixes, sorted. */
static int dir_files(const char *dir, const char *const *suffixes, char ***ret,
		     size_t *ret_n)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **v = NULL;
	struct dirent *de;

	*ret = NULL;
	*ret_n = 0;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		bool match = false;

		if (de->d_name[0] == '.')
			continue;
		for (const char *const *s = suffixes; *s && !match; s++) {
			size_t sl = strlen(*s);
			match = len > sl && !strcmp(de->d_name + len - sl, *s);
		}
		if (match && cove_strv_push(&v, de->d_name) < 0)
			return -ENOMEM;
	}
	*ret_n = cove_strv_length(v);
	if (*ret_n)
		qsort(v, *ret_n, sizeof(char *), cmp_str);
	*ret = TAKE_PTR(v);
	return 0;
}

static int collect_own(const char *dir, struct netvec *nv,
		       struct cove_error *err)
{
	static const char *const suffixes[] = {".conflist", NULL};
	_cleanup_strv_ char **files = NULL;
	size_t n;
	int r;

	r = dir_files(dir, suffixes, &files, &n);
	if (r < 0)
		return cove_error_setx(err, r, "cannot read %s", dir);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL, *name = NULL;
		struct cove_network *net = NULL;

		name =
		    strndup(files[i], strlen(files[i]) - strlen(".conflist"));
		path = cove_strdup_printf("%s/%s", dir, files[i]);
		if (!name || !path)
			return -ENOMEM;
		if (!cove_network_name_valid(name))
			continue; /* not one cove wrote */
		r = load_file(path, name, false, &net, err);
		if (r == -ENOENT)
			continue; /* removed meanwhile */
		if (r < 0)
			return r;
		if (netvec_push(nv, net) < 0) {
			cove_network_free(net);
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * The system directory's lists, as libcni reads them: files in name
 * order, the first list of a name wins, broken files are skipped.
 */
static int collect_system(const char *system_dir, struct netvec *nv)
{
	static const char *const suffixes[] = {".conflist", ".conf", ".json",
					       NULL};
	_cleanup_strv_ char **files = NULL;
	size_t n;

	if (!system_dir || !*system_dir)
		return 0;
	if (dir_files(system_dir, suffixes, &files, &n) < 0)
		return 0; /* unreadable: as if there were none */
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL;
		struct cove_network *net = NULL;
		struct cove_error ignored = {0};

		path = cove_strdup_printf("%s/%s", system_dir, files[i]);
		if (!path)
			return -ENOMEM;
		if (load_file(path, NULL, true, &net, &ignored) < 0)
			continue;
		if (netvec_find(nv, net->name)) {
			cove_network_free(net);
			continue;
		}
		if (netvec_push(nv, net) < 0) {
			cove_network_free(net);
			return -ENOMEM;
		}
	}
	return 0;
}

static int collect_all(const char *dir, const char *system_dir,
		       struct netvec *nv, struct cove_error *err)
{
	int r = collect_own(dir, nv, err);

	if (r < 0)
		return r;
	return collect_system(system_dir, nv);
}

static const char *canonical_name(const char *name)
{
	return strcmp(name, COVE_NETWORK_DEFAULT_ALIAS) ? name
							: COVE_NETWORK_DEFAULT;
}

int cove_network_load(const char *dir, const char *system_dir, const char *name,
		      struct cove_network **ret, struct cove_error *err)
{
	_cleanup_free_ char *path = NULL;
	struct netvec sys = {0};
	struct cove_network *found;
	int r;

	name = canonical_name(name);
	if (!cove_network_name_valid(name))
		return cove_error_set(err, EINVAL,
				      "invalid network name '%s': must match "
				      "[a-zA-Z0-9][a-zA-Z0-9_.-]*",
				      name);
	if (!strcmp(name, COVE_NETWORK_DEFAULT)) {
		r = ensure_default(dir, err);
		if (r < 0)
			return r;
	}
	path = cove_strdup_printf("%s/%s.conflist", dir, name);
	if (!path)
		return -ENOMEM;
	r = load_file(path, name, false, ret, err);
	if (r != -ENOENT)
		return r;
	r = collect_system(system_dir, &sys);
	if (r < 0)
		return r;
	found = netvec_find(&sys, name);
	if (!found) {
		netvec_release(&sys);
		return cove_error_set(err, ENOENT, "network '%s' not found",
				      name);
	}
	/* hand the one found over, free the rest */
	for (size_t i = 0; i < sys.n; i++)
		if (sys.v[i] == found)
			sys.v[i] = NULL;
	netvec_release(&sys);
	*ret = found;
	return 0;
}

static int cmp_network(const void *a, const void *b)
{
	const struct cove_network *x = *(struct cove_network *const *)a;
	const struct cove_network *y = *(struct cove_network *const *)b;

	return strcmp(x->name, y->name);
}

int cove_network_list(const char *dir, const char *system_dir,
		      struct cove_network ***ret, size_t *ret_n,
		      struct cove_error *err)
{
	struct netvec nv = {0};
	int r;

	r = ensure_default(dir, err);
	if (r < 0)
		return r;
	r = collect_all(dir, system_dir, &nv, err);
	if (r < 0) {
		netvec_release(&nv);
		return r;
	}
	if (nv.n)
		qsort(nv.v, nv.n, sizeof(*nv.v), cmp_network);
	*ret = nv.v;
	*ret_n = nv.n;
	return 0;
}

/* ---- create ---------------------------------------------------------------
 */

struct used {
	struct cove_subnet *subnets;
	char **owners; /* who uses each subnet: "network 'x'" or "a route" */
	size_t n;
};

static void used_release(struct used *u)
{
	free(u->subnets);
	cove_strv_free(u->owners);
	*u = (struct used){0};
}

static int used_add(struct used *u, const struct cove_subnet *s,
		    const char *owner)
{
	struct cove_subnet *v = realloc(u->subnets, (u->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	u->subnets = v;
	v[u->n] = *s;
	if (cove_strv_push(&u->owners, owner) < 0)
		return -ENOMEM;
	u->n++;
	return 0;
}

/*
 * The IPv4 routes of this network namespace (other than the default
 * route): a bridge subnet overlapping one of them would hide that part of
 * the network from the host.  /proc/net/route prints each address as the
 * hex of its network-order bytes read as a native integer.
 */
static int add_host_routes(struct used *u)
{
	_cleanup_fclose_ FILE *f = NULL;
	char line[512];

	f = fopen("/proc/net/route", "re");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) /* the header */
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char ifname[IFNAMSIZ + 1], owner[64];
		unsigned dst, gw, flags, refcnt, use, metric, mask;
		struct cove_subnet s;
		uint32_t m;
		int r;

		if (sscanf(line, "%16s %x %x %x %u %u %u %x", ifname, &dst, &gw,
			   &flags, &refcnt, &use, &metric, &mask) != 8)
			continue;
		m = ntohl(mask);
		if (m == 0)
			continue;
		s.prefix = (unsigned)__builtin_popcount(m);
		s.addr = ntohl(dst) & prefix_mask(s.prefix);
		snprintf(owner, sizeof(owner), "a route on %s", ifname);
		r = used_add(u, &s, owner);
		if (r < 0)
			return r;
	}
	return 0;
}

static int collect_used(const struct netvec *nv, struct used *u)
{
	for (size_t i = 0; i < nv->n; i++) {
		const struct cove_network *n = nv->v[i];
		_cleanup_free_ char *owner =
		    cove_strdup_printf("network '%s'", n->name);

		if (!owner)
			return -ENOMEM;
		for (size_t j = 0; j < n->n_ranges; j++) {
			struct cove_subnet s;
			int r;

			if (cove_subnet_parse(n->ranges[j].subnet, &s, NULL) <
			    0)
				continue; /* IPv6, or not ours to judge */
			r = used_add(u, &s, owner);
			if (r < 0)
				return r;
		}
	}
	return add_host_routes(u);
}

static const char *used_conflict(const struct used *u,
				 const struct cove_subnet *s)
{
	for (size_t i = 0; i < u->n; i++)
		if (cove_subnet_overlaps(&u->subnets[i], s))
			return u->owners[i];
	return NULL;
}

static bool bridge_taken(const struct netvec *nv, const char *bridge)
{
	for (size_t i = 0; i < nv->n; i++)
		if (nv->v[i]->bridge && !strcmp(nv->v[i]->bridge, bridge))
			return true;
	return false;
}

static int pick_subnet(const struct cove_network_opts *o, const struct used *u,
		       struct cove_subnet *ret, struct cove_error *err)
{
	const char *owner;
	char s[COVE_SUBNET_STRLEN];
	int r;

	if (o->subnet) {
		r = cove_subnet_parse(o->subnet, ret, err);
		if (r < 0)
			return r;
		if (ret->prefix > 30)
			return cove_error_set(err, EINVAL,
					      "invalid subnet '%s': too small "
					      "for a gateway and a container "
					      "(at most /30)",
					      o->subnet);
		owner = used_conflict(u, ret);
		if (owner)
			return cove_error_set(err, EEXIST,
					      "subnet '%s' overlaps the subnet "
					      "of %s",
					      o->subnet, owner);
		return 0;
	}
	for (uint32_t i = 0; i < 256; i++) {
		struct cove_subnet c = {(10u << 24) | (89u << 16) | (i << 8),
					24};

		if (!used_conflict(u, &c)) {
			*ret = c;
			return 0;
		}
	}
	cove_subnet_format(&(struct cove_subnet){10u << 24 | 89u << 16, 16}, s,
			   sizeof(s));
	return cove_error_set(err, ENOSPC,
			      "no free subnet left in %s: give one with "
			      "--subnet",
			      s);
}

static int pick_gateway(const struct cove_network_opts *o,
			const struct cove_subnet *s, char *buf, size_t size,
			struct cove_error *err)
{
	uint32_t gw, bcast = s->addr | ~prefix_mask(s->prefix);
	char sub[COVE_SUBNET_STRLEN];

	cove_subnet_format(s, sub, sizeof(sub));
	if (!o->gateway) {
		cove_ipv4_format(s->addr + 1, buf, size);
		return 0;
	}
	if (cove_ipv4_parse(o->gateway, &gw) < 0)
		return cove_error_set(err, EINVAL,
				      "invalid gateway '%s': expected an IPv4 "
				      "address",
				      o->gateway);
	if (!cove_subnet_contains(s, gw))
		return cove_error_set(err, EINVAL,
				      "invalid gateway '%s': not in subnet %s",
				      o->gateway, sub);
	if (gw == s->addr || gw == bcast)
		return cove_error_set(err, EINVAL,
				      "invalid gateway '%s': the network or "
				      "broadcast address of %s",
				      o->gateway, sub);
	cove_ipv4_format(gw, buf, size);
	return 0;
}

static int pick_bridge(const struct cove_network_opts *o,
		       const struct netvec *nv, char *buf, size_t size,
		       struct cove_error *err)
{
	if (o->bridge) {
		if (!ifname_valid(o->bridge))
			return cove_error_set(err, EINVAL,
					      "invalid bridge name '%s': at "
					      "most %d characters, no '/', "
					      "':' or spaces",
					      o->bridge, IFNAMSIZ - 1);
		if (bridge_taken(nv, o->bridge))
			return cove_error_set(err, EEXIST,
					      "bridge '%s' is used by another "
					      "network",
					      o->bridge);
		snprintf(buf, size, "%s", o->bridge);
		return 0;
	}
	for (unsigned i = 1; i < 10000; i++) {
		snprintf(buf, size, "cove%u", i);
		/* an interface of that name here (not a network's) too */
		if (!bridge_taken(nv, buf) && if_nametoindex(buf) == 0)
			return 0;
	}
	return cove_error_set(err, ENOSPC, "no free bridge name left");
}

static int labels_json(char *const *labels, json_t **ret,
		       struct cove_error *err)
{
	_cleanup_json_ json_t *o = json_object();

	if (!o)
		return -ENOMEM;
	for (char *const *l = labels; l && *l; l++) {
		const char *eq = strchr(*l, '=');
		_cleanup_free_ char *key =
		    eq ? strndup(*l, (size_t)(eq - *l)) : strdup(*l);

		if (!key)
			return -ENOMEM;
		if (!*key)
			return cove_error_set(err, EINVAL,
					      "invalid label '%s': expected "
					      "KEY=VALUE",
					      *l);
		if (json_object_set_new(o, key, json_string(eq ? eq + 1 : "")) <
		    0)
			return cove_error_set(
			    err, EINVAL, "invalid label '%s': not UTF-8", *l);
	}
	*ret = TAKE_PTR(o);
	return 0;
}

int cove_network_create(const char *dir, const char *system_dir,
			const char *name, const struct cove_network_opts *o,
			struct cove_network **ret, struct cove_error *err)
{
	static const struct cove_network_opts none = {0};
	_cleanup_free_ char *path = NULL, *ipam = NULL;
	_cleanup_json_ json_t *conf = NULL, *labels = NULL;
	_cleanup_close_ int lock = -1;
	struct netvec nv = {0};
	struct used u = {0};
	struct cove_subnet subnet;
	char sub[COVE_SUBNET_STRLEN], gw[INET_ADDRSTRLEN], br[IFNAMSIZ + 8];
	struct conf_params p = {0};
	int r;

	if (!o)
		o = &none;
	if (!cove_network_name_valid(name))
		return cove_error_set(err, EINVAL,
				      "invalid network name '%s': must match "
				      "[a-zA-Z0-9][a-zA-Z0-9_.-]* (at most "
				      "%d characters)",
				      name, NAME_MAX_LEN);
	if (name_reserved(name))
		return cove_error_set(err, EINVAL,
				      "invalid network name '%s': it is a "
				      "network mode",
				      name);
	r = labels_json(o->labels, &labels, err);
	if (r < 0)
		return r;
	lock = lock_dir(dir, err);
	if (lock < 0)
		return lock;
	r = ensure_default_locked(dir, err);
	if (r < 0)
		return r;
	r = collect_all(dir, system_dir, &nv, err);
	if (r < 0)
		goto out;
	if (netvec_find(&nv, name)) {
		r = cove_error_set(err, EEXIST, "network '%s' already exists",
				   name);
		goto out;
	}
	r = collect_used(&nv, &u);
	if (r < 0)
		goto out;
	if ((r = pick_subnet(o, &u, &subnet, err)) < 0 ||
	    (r = pick_gateway(o, &subnet, gw, sizeof(gw), err)) < 0 ||
	    (r = pick_bridge(o, &nv, br, sizeof(br), err)) < 0)
		goto out;
	cove_subnet_format(&subnet, sub, sizeof(sub));
	ipam = cove_strdup_printf("%s/ipam", dir);
	if (!ipam) {
		r = -ENOMEM;
		goto out;
	}
	p = (struct conf_params){
	    .name = name,
	    .bridge = br,
	    .subnet = sub,
	    .gateway = gw,
	    .internal = o->internal,
	    .labels = labels,
	    .ipam_dir = ipam,
	};
	conf = build_conflist(&p);
	if (!conf) {
		r = -ENOMEM;
		goto out;
	}
	r = write_conflist(dir, name, conf, err);
	if (r < 0)
		goto out;
	cove_events_object("network", "create", NULL, name);
	if (ret) {
		path = cove_strdup_printf("%s/%s.conflist", dir, name);
		if (!path) {
			r = -ENOMEM;
			goto out;
		}
		r = load_file(path, name, false, ret, err);
	}
out:
	used_release(&u);
	netvec_release(&nv);
	return r;
}

/* ---- remove ---------------------------------------------------------------
 */

int cove_network_remove(const char *dir, const char *system_dir,
			const char *name, struct cove_error *err)
{
	_cleanup_free_ char *path = NULL, *leases = NULL;
	_cleanup_close_ int lock = -1;
	struct netvec sys = {0};
	struct cove_network *n;
	int r;

	name = canonical_name(name);
	if (!cove_network_name_valid(name))
		return cove_error_set(err, EINVAL, "invalid network name '%s'",
				      name);
	if (!strcmp(name, COVE_NETWORK_DEFAULT))
		return cove_error_set(err, EPERM,
				      "the default network '%s' cannot be "
				      "removed",
				      name);
	path = cove_strdup_printf("%s/%s.conflist", dir, name);
	leases = cove_strdup_printf("%s/ipam/%s", dir, name);
	if (!path || !leases)
		return -ENOMEM;
	lock = lock_dir(dir, err);
	if (lock < 0)
		return lock;
	if (unlink(path) == 0) {
		cove_events_object("network", "remove", NULL, name);
		r = cove_rm_rf(leases);
		if (r < 0)
			return cove_error_setx(err, r,
					       "network '%s' removed, but not "
					       "its leases in %s",
					       name, leases);
		return 0;
	}
	if (errno != ENOENT)
		return cove_error_setx(err, errno, "cannot remove %s", path);
	r = collect_system(system_dir, &sys);
	if (r < 0)
		return r;
	n = netvec_find(&sys, name);
	if (n)
		r = cove_error_set(err, EPERM,
				   "network '%s' is read-only (%s is not "
				   "cove's)",
				   name, n->path);
	else
		r = cove_error_set(err, ENOENT, "network '%s' not found", name);
	netvec_release(&sys);
	return r;
}

/* ---- loopback -------------------------------------------------------------
 */

int cove_network_loopback(struct cove_network **ret, struct cove_error *err)
{
	static const char conf[] =
	    "{\"cniVersion\": \"" COVE_NETWORK_CNI_VERSION
	    "\", \"name\": \"" COVE_NETWORK_LOOPBACK
	    "\", \"plugins\": [{\"type\": "
	    "\"loopback\"}]}";

	return cove_network_parse(COVE_NETWORK_LOOPBACK, conf, strlen(conf),
				  ret, err);
}
