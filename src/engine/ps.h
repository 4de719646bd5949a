#pragma once
/*
 * What `cove ps` asks of containers beyond their records: whether one
 * passes the --filter list, and how big its root file system is (--size).
 */
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "util/error.h"

/*
 * `ps --filter`: the KEY=VALUE list @filters (each with a '='; borrowed:
 * it must outlive the result) checked, before=/since= resolved.  Keys:
 * id, name, status, ancestor, label, exited, health, network, volume,
 * before, since.  Filters with the same key match when one does (label:
 * when all do), different keys must all match.  0 with *@ret (free with
 * cove_engine_ps_filters_free()), or -errno with @err filled.
 */
struct cove_engine_ps_filters;
int cove_engine_ps_filters_new(struct cove_engine *e, char *const *filters,
			       struct cove_engine_ps_filters **ret,
			       struct cove_error *err);
bool cove_engine_ps_filters_match(const struct cove_engine_ps_filters *pf,
				  const struct cove_ctr *c);
void cove_engine_ps_filters_free(struct cove_engine_ps_filters *pf);

/*
 * `ps --size`: the bytes of @c's writable layer (overlay: its upper dir;
 * vfs: its whole rootfs copy) and of its whole root file system (the
 * image's layers and the writable layer).  0 or -errno (@err filled).
 */
int cove_engine_ctr_size(struct cove_engine *e, const struct cove_ctr *c,
			 uint64_t *ret_rw, uint64_t *ret_rootfs,
			 struct cove_error *err);
