#pragma once
/*
 * The runtime-spec "features" document: exactly what this build of cove
 * supports (features.md of runtime-spec 1.2).
 */
#include <jansson.h>

json_t *cove_features_json(void);
