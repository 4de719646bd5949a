/* cove's top-level commands; each group lives in its own file. */
#include "cli/cove/commands.h"

#include "util/cleanup.h"

const struct cove_command cove_commands[] = {
    {"bundle", cmd_bundle, "make an OCI runtime bundle from an image"},
    {"image", cmd_image, "manage images (cove image --help)"},
    {"images", cmd_images, "list images"},
    {"load", cmd_load, "load images from an archive"},
    {"login", cmd_login, "log in to a registry"},
    {"logout", cmd_logout, "remove the credentials of a registry"},
    {"pull", cmd_pull, "pull an image from a registry"},
    {"push", cmd_push, "push an image to a registry"},
    {"rmi", cmd_rmi, "remove images"},
    {"save", cmd_save, "write images to an archive"},
    {"tag", cmd_tag, "add names to an image"},
    {"version", cmd_version, "print the version"},
};

const size_t cove_commands_n = ARRAY_SIZE(cove_commands);
