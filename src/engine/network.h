#pragma once
/*
 * Named networks, stored as CNI network configuration lists (SPEC.md
 * "Configuration format", cniVersion 1.0.0): one JSON file per network,
 *
 *   <dir>/<name>.conflist   {"cniVersion", "name", "plugins": [...],
 *                            "args": {"cove_labels": {...}}}
 *   <dir>/ipam/<name>/      host-local's leases (the ipam "dataDir")
 *   <dir>/.lock             serialises create/remove (flock)
 *
 * where @dir is <storage root>/networks (cove_network_dir()).  Lists in a
 * system directory (@system_dir: COVE_NETWORK_SYSTEM_DIR, or NULL for
 * none) are read too, read-only; a network of cove's own shadows a system
 * one of the same name.  System files may be *.conflist, or *.conf or *.json
 * holding a single plugin (made a one-plugin list, as libcni does).
 *
 * The default network "cove" ("bridge" is an alias, docker's name for it)
 * is written on first load or list: bridge "cove0", 10.88.0.0/16 via
 * 10.88.0.1, plugins bridge (isGateway, ipMasq, hairpinMode, host-local
 * IPAM), portmap (capability portMappings) and firewall.  A network made
 * by cove_network_create() gets the next free 10.89.N.0/24 and bridge
 * coveN unless told otherwise.
 *
 * Only IPv4 subnets are created; system lists with IPv6 ranges load fine.
 * Every write is atomic (write a temporary file, rename).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define COVE_NETWORK_DEFAULT "cove"
#define COVE_NETWORK_DEFAULT_ALIAS "bridge"
#define COVE_NETWORK_DEFAULT_BRIDGE "cove0"
#define COVE_NETWORK_DEFAULT_SUBNET "10.88.0.0/16"
#define COVE_NETWORK_DEFAULT_GATEWAY "10.88.0.1"
#define COVE_NETWORK_SYSTEM_DIR "/etc/cni/net.d"
#define COVE_NETWORK_CNI_VERSION "1.0.0"
/* The name of the in-memory list that runs the loopback plugin. */
#define COVE_NETWORK_LOOPBACK "cni-loopback"

/* ---- IPv4 subnets --------------------------------------------------------
 */

/* An IPv4 subnet; @addr in host byte order. */
struct cove_subnet {
	uint32_t addr;
	unsigned prefix; /* 0..32 */
};

#define COVE_SUBNET_STRLEN 19 /* "255.255.255.255/32" + NUL */

/* "a.b.c.d" (dotted quad only) to a host-order address; 0 or -EINVAL. */
int cove_ipv4_parse(const char *s, uint32_t *ret);
/* Host-order address to "a.b.c.d" in @buf (at least 16 bytes). */
void cove_ipv4_format(uint32_t addr, char *buf, size_t size);

/*
 * Parse "a.b.c.d/N".  Host bits must be zero ("10.89.0.5/24" is refused,
 * the message suggesting 10.89.0.0/24).  IPv6 is refused with -ENOTSUP.
 */
int cove_subnet_parse(const char *cidr, struct cove_subnet *ret,
		      struct cove_error *err);
void cove_subnet_format(const struct cove_subnet *s, char *buf, size_t size);
bool cove_subnet_contains(const struct cove_subnet *s, uint32_t addr);
bool cove_subnet_overlaps(const struct cove_subnet *a,
			  const struct cove_subnet *b);

/* ---- networks ------------------------------------------------------------
 */

/* [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 200 characters */
bool cove_network_name_valid(const char *name);

/* <root>/networks, caller frees; NULL on allocation failure. */
char *cove_network_dir(const char *root);

struct cove_network_opts {
	const char *subnet;  /* CIDR; NULL: the next free 10.89.N.0/24 */
	const char *gateway; /* NULL: the first address of the subnet */
	const char *bridge;  /* NULL: the next free "coveN" */
	/*
	 * No gateway on the bridge, no masquerading, no default route:
	 * containers reach each other, nothing else.
	 */
	bool internal;
	char *const *labels; /* "KEY=VALUE", NULL-terminated; may be NULL */
};

struct cove_network_range {
	char *subnet;  /* CIDR as written (IPv4 or IPv6) */
	char *gateway; /* NULL when the range names none */
};

struct cove_network {
	char *name;
	char *path;	    /* the file it was read from; NULL in memory */
	char *cni_version;  /* the list's cniVersion */
	json_t *config;	    /* the whole configuration list, owned */
	bool read_only;	    /* from the system directory */
	bool is_default;    /* cove's default network */
	int64_t created;    /* the file's mtime, seconds since the epoch */
	const char *driver; /* the first plugin's type, in @config */
	/*
	 * What the first bridge plugin says; NULL / false / 0 when the list
	 * has none.
	 */
	char *bridge;	 /* its "bridge" ("cni0" by default) */
	bool internal;	 /* isGateway false */
	bool ip_masq;	 /* ipMasq */
	char *ipam_type; /* its ipam "type" */
	struct cove_network_range *ranges; /* the ipam's ranges, flattened */
	size_t n_ranges;
	char **labels; /* "KEY=VALUE" from args.cove_labels (or podman's) */
};

void cove_network_free(struct cove_network *n);
void cove_networks_free(struct cove_network **v, size_t n);

/*
 * Parse a configuration list from @buf (@source names it in errors).
 * A single-plugin configuration (a "type" member, no "plugins") becomes a
 * one-plugin list.  Checks the shape SPEC.md requires: "cniVersion" and
 * "name" strings, a non-empty "plugins" array of objects each with a
 * "type" that is a plain file name; errors name the field path
 * ("plugins[1].type").  The result's path is NULL; *ret owned by the
 * caller.
 */
int cove_network_parse(const char *source, const char *buf, size_t len,
		       struct cove_network **ret, struct cove_error *err);

/*
 * Create network @name in @dir (created 0755 if missing).  -EEXIST when
 * @name is taken (in @dir or @system_dir), its subnet overlaps another
 * network's or a route of this network namespace, or its bridge is another
 * network's; -EINVAL for a bad name, subnet, gateway, bridge or label;
 * docker's network modes ("host", "none", ...) and the "bridge" alias are
 * not valid names.  The new network to *ret when @ret is not NULL.
 */
int cove_network_create(const char *dir, const char *system_dir,
			const char *name, const struct cove_network_opts *o,
			struct cove_network **ret, struct cove_error *err);

/*
 * Load network @name ("bridge" means the default): from @dir, else from
 * @system_dir.  The default network is written to @dir first if it is not
 * there.  -ENOENT (with a message) when there is no such network.
 */
int cove_network_load(const char *dir, const char *system_dir, const char *name,
		      struct cove_network **ret, struct cove_error *err);

/*
 * Every network, sorted by name, the default one included (written first
 * if missing).  A system file that does not parse is skipped, as libcni
 * does; one of cove's own that does not parse fails the call.  *ret is an
 * array of *ret_n networks, freed with cove_networks_free().
 */
int cove_network_list(const char *dir, const char *system_dir,
		      struct cove_network ***ret, size_t *ret_n,
		      struct cove_error *err);

/*
 * Remove network @name from @dir, with its IPAM leases.  -EPERM for the
 * default network and for a system network, -ENOENT when there is none.
 * Whether containers still use it is the caller's business.
 */
int cove_network_remove(const char *dir, const char *system_dir,
			const char *name, struct cove_error *err);

/*
 * The list that brings a container's `lo` up: one "loopback" plugin,
 * named COVE_NETWORK_LOOPBACK, in memory only.  Attach it with
 * cove_cni_add() and ifname "lo".
 */
int cove_network_loopback(struct cove_network **ret, struct cove_error *err);
