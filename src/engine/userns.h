#pragma once
/*
 * --userns of `cove run` and `cove create`, podman's modes:
 *
 *   host     (the default) cove's own user namespace: the initial one for
 *            root, the user's (rootless.h) for an unprivileged user
 *   auto     root only: a user namespace of its own whose 65536 ids are a
 *            host range no other container of the engine holds
 *   keep-id  rootless only: a nested user namespace in which the user's
 *            own uid/gid (or keep-id:uid=U,gid=G) are the user's ids of
 *            the host, container 0..U-1 the namespace's ids 1..U and the
 *            ids above U the same ids of the namespace; the process runs
 *            as the user
 *   nomap    rootless only: the user's own id is not mapped at all;
 *            container 0..N-2 are the namespace's ids 1..N-1
 *   ns:PATH  join the existing user namespace at PATH
 *
 * Chosen at create and recorded in HostConfig: UsernsMode (the string),
 * IDMappings {"UidMap": ["CTR:HOST:SIZE", ...], "GidMap": [...]} (HOST an
 * id of cove's own user namespace; podman's inspect shows the same), and
 * for auto IDMapBase, so that start and restart rebuild the same thing.
 *
 * The image's files are owned by the image's ids (in cove's namespace);
 * the container must see them with those owners: root on overlay mounts
 * the layers through idmapped mounts of the container's mapping; vfs (and
 * rootless overlay, where idmapped mounts of the host's file systems are
 * not permitted: a private copy of the image, GraphDriver.Data.RootfsCopy)
 * shifts the owners of the container's own copy.
 *
 * Shared between the engine's files and the CLI's option parser; not part
 * of libcove's documented API.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "engine/engine.h"
#include "runtime/spec.h"
#include "util/error.h"

enum cove_userns_kind {
	COVE_USERNS_HOST,
	COVE_USERNS_AUTO,
	COVE_USERNS_KEEP_ID,
	COVE_USERNS_NOMAP,
	COVE_USERNS_NS,
};

struct cove_userns_mode {
	enum cove_userns_kind kind;
	bool has_uid, has_gid; /* keep-id:uid=U,gid=G */
	uint32_t uid, gid;
	const char *path; /* ns:PATH; points into the parsed string */
};

/*
 * Parse a --userns value (NULL or "": host).  -EINVAL with @err naming
 * the value and listing the supported modes.
 */
int cove_userns_mode_parse(const char *s, struct cove_userns_mode *ret,
			   struct cove_error *err);

/* The kernel takes at most 340 lines in a uid_map or gid_map. */
#define COVE_USERNS_MAX_MAPS 340

struct cove_userns_maps {
	struct cove_id_mapping uid[COVE_USERNS_MAX_MAPS];
	struct cove_id_mapping gid[COVE_USERNS_MAX_MAPS];
	size_t n_uid, n_gid;
};

/*
 * The maps of keep-id or nomap (@m) in a namespace whose ids are 0 ..
 * @n_uids-1 and 0 .. @n_gids-1, its id 0 being the user's host ids
 * @own_uid / @own_gid (keep-id's default target).  nomap in a namespace
 * with one id only is -EINVAL.
 */
int cove_userns_build_maps(const struct cove_userns_mode *m, uint32_t n_uids,
			   uint32_t n_gids, uint32_t own_uid, uint32_t own_gid,
			   struct cove_userns_maps *ret,
			   struct cove_error *err);

/*
 * Id @id of the container through @map (@n lines) to *ret; -ENOENT when
 * unmapped.
 */
int cove_userns_map_id(const struct cove_id_mapping *map, size_t n, uint32_t id,
		       uint32_t *ret);

/*
 * Container id @id to the id of cove's namespace through @map; an unmapped
 * id is the container's nobody (65534) and that is mapped in turn (or,
 * when even it is not, @id is returned: the container sees nobody).
 */
uint32_t cove_userns_to_host(const struct cove_id_mapping *map, size_t n,
			     uint32_t id);
/* An id of cove's namespace as the container sees it; unmapped: 65534. */
uint32_t cove_userns_to_ctr(const struct cove_id_mapping *map, size_t n,
			    uint32_t id);

/*
 * The maps of container @c (HostConfig.IDMappings or IDMapBase; none
 * when it shares cove's namespace), allocated to *ret (caller frees); an
 * invalid record is an error naming the container.
 */
int cove_engine_ctr_maps(const struct cove_ctr *c,
			 struct cove_userns_maps **ret, struct cove_error *err);

/* HostConfig.IDMappings for @m (a new reference). */
json_t *cove_userns_maps_json(const struct cove_userns_maps *m);

/*
 * The maps of a container from its HostConfig @host: IDMappings, or
 * IDMapBase (auto, before IDMappings were recorded).  0 with *ret empty
 * (n_uid == 0) when the container has no user namespace of its own;
 * -EINVAL when they are malformed.
 */
int cove_userns_maps_from_config(const json_t *host,
				 struct cove_userns_maps *ret);

/*
 * Validate that @path is a user namespace (NS_GET_NSTYPE) other than
 * cove's own and read its maps as cove's namespace sees them: a child
 * joins it, and we read the child's uid_map and gid_map.  Errors name
 * @path.
 */
int cove_userns_read_path_maps(const char *path, struct cove_userns_maps *ret,
			       struct cove_error *err);

/*
 * Give the tree at @root (a container's private copy of its image: no
 * process uses it yet) the owners of its user namespace: a file of image
 * id C gets the id @m maps C to (C unmapped: that of 65534, else it stays).
 * Never follows a symlink nor crosses a mount; set-id bits, which chown
 * clears, are put back.  Each inode is shifted once (hard links).
 */
int cove_userns_shift_tree(const char *root, const struct cove_userns_maps *m,
			   struct cove_error *err);

/*
 * For the engine (engine.c, runspec.c), with @host the create options'
 * HostConfig:
 *
 * Check the mode against the engine (keep-id and nomap rootless only,
 * auto root only): what podman says, before any work is done.
 */
int cove_engine_userns_check(struct cove_engine *e, const json_t *host,
			     struct cove_error *err);

/*
 * At create, before the row is inserted (the image unpacked, @config's
 * GraphDriver set): check the mode and record in @config what it needs:
 * HostConfig.IDMappings (for auto a free HostConfig.IDMapBase), for
 * keep-id User (the user's ids) unless set, for a rootless overlay
 * GraphDriver.Data.RootfsCopy.
 */
int cove_engine_userns_prepare(struct cove_engine *e, sqlite3 *db,
			       json_t *config, struct cove_error *err);

/* auto: another range, when the insert found this one taken meanwhile. */
int cove_engine_userns_auto_next(sqlite3 *db, json_t *host,
				 struct cove_error *err);

/*
 * At create, once the row exists: the rootfs of container @c (id, config)
 * made and mounted, owners shifted where the driver needs it (see the
 * top), the storage made passable for the container's root, and for
 * keep-id the user added to a copy of the image's /etc/passwd and
 * /etc/group in @dir when the image lacks them.  *ret_rootfs: the rootfs
 * path, caller frees.
 */
int cove_engine_userns_rootfs(struct cove_engine *e, struct cove_ctr *c,
			      const char *dir, char **ret_rootfs,
			      struct cove_error *err);

/*
 * Into the OCI spec @spec of a container with create options @config, its
 * image's config @image_config and directory @dir: the user namespace of
 * the container, if any (new, with its maps; or ns:PATH, joined), and for
 * keep-id the HOME of the passwd line added for the user.
 */
int cove_engine_userns_spec(const json_t *config, const json_t *image_config,
			    const char *dir, json_t *spec,
			    struct cove_error *err);
