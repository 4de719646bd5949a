#pragma once
/*
 * Per-registry settings from containers-registries.conf(5), the file
 * podman, buildah and skopeo read, so that one file configures them all:
 *
 *   unqualified-search-registries = ["docker.io"]
 *
 *   [[registry]]
 *   prefix = "localhost:5000"      # optional, defaults to location
 *   location = "localhost:5000"
 *   insecure = true                # plain HTTP / unverified TLS allowed
 *   blocked = false                # pulls refused
 *
 * and the older (v1) form:
 *
 *   [registries.insecure]
 *   registries = ["localhost:5000"]
 *   [registries.block]
 *   registries = ["evil.example.com"]
 *
 * The parser reads the TOML subset those files use (tables, arrays of
 * tables, strings, booleans, numbers, arrays, inline tables) and ignores
 * tables and keys it does not know ([aliases], [[registry.mirror]],
 * short-name-mode, ...).  Mirrors and prefix-to-location rewriting are not
 * applied: cove talks to the registry the reference names.
 *
 * Lookup follows the file format's rule: the [[registry]] entry with the
 * longest prefix matching "registry/repository" (at a '/' boundary), or a
 * "*.example.com" wildcard matching the host, decides.
 */
#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define COVE_REGISTRIES_CONF_MAX (1024 * 1024)

struct cove_registries_conf;

/*
 * Load @path, or with @path NULL the system configuration:
 * $XDG_CONFIG_HOME/containers/registries.conf (~/.config/...) when it
 * exists, else /etc/containers/registries.conf, then the drop-ins
 * /etc/containers/registries.conf.d/ *.conf in name order (later files
 * override entries with the same prefix).  Missing files are fine: the
 * result is then an empty configuration.
 */
int cove_registries_conf_load(const char *path,
			      struct cove_registries_conf **ret,
			      struct cove_error *err);

/* An empty configuration, to which cove_registries_conf_parse() adds. */
struct cove_registries_conf *cove_registries_conf_new(void);

/* Parse one file's text (@name for messages: "FILE:LINE: ..."). */
int cove_registries_conf_parse(struct cove_registries_conf *conf,
			       const char *name, const char *text, size_t len,
			       struct cove_error *err);

void cove_registries_conf_free(struct cove_registries_conf *conf);

/*
 * Whether plain HTTP / unverified TLS is allowed for @registry (host[:port]),
 * optionally narrowed by @repository (may be NULL).
 */
bool cove_registries_conf_insecure(const struct cove_registries_conf *conf,
				   const char *registry,
				   const char *repository);
/* Whether pulls from @registry/@repository are blocked. */
bool cove_registries_conf_blocked(const struct cove_registries_conf *conf,
				  const char *registry, const char *repository);
/* unqualified-search-registries (NULL-terminated, maybe empty); borrowed. */
char *const *
cove_registries_conf_search(const struct cove_registries_conf *conf);
