#pragma once
/*
 * OCI hooks: each hook is a program run with the container state JSON on its
 * stdin, its own args and env, and an optional timeout after which it is
 * killed.  Hooks are the ecosystem's contract for extension, so running them
 * as programs is the point.
 */
#include <jansson.h>
#include <stdbool.h>

#include "runtime/spec.h"
#include "util/error.h"

/*
 * Run every hook of @hooks in order with @state on stdin.  @kind names them
 * in errors ("prestart").  The first failing hook (non-zero exit, signal,
 * timeout, cannot exec) stops the list and fails.
 */
int cove_hooks_run(const struct cove_hooks *hooks, const char *kind,
		   json_t *state, struct cove_error *err);
