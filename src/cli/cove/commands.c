/* cove's top-level commands; each group lives in its own file. */
#include "cli/cove/commands.h"

#include "util/cleanup.h"

const struct cove_command cove_commands[] = {
    {"attach", cmd_attach, "attach to a running container"},
    {"bundle", cmd_bundle, "make an OCI runtime bundle from an image"},
    {"container", cmd_container, "manage containers (cove container --help)"},
    {"cp", cmd_cp, "copy files between a container and the host"},
    {"create", cmd_create, "create a container"},
    {"exec", cmd_exec, "run a process in a running container"},
    {"healthcheck", cmd_healthcheck,
     "run health checks (cove healthcheck --help)"},
    {"image", cmd_image, "manage images (cove image --help)"},
    {"images", cmd_images, "list images"},
    {"info", cmd_info, "show how cove is set up on this host"},
    {"inspect", cmd_container_inspect, "show the details of containers"},
    {"kill", cmd_kill, "send a signal to containers"},
    {"load", cmd_load, "load images from an archive"},
    {"login", cmd_login, "log in to a registry"},
    {"logout", cmd_logout, "remove the credentials of a registry"},
    {"logs", cmd_logs, "show a container's output"},
    {"network", cmd_network, "manage networks (cove network --help)"},
    {"pause", cmd_pause, "pause containers"},
    {"port", cmd_port, "list a container's published ports"},
    {"ps", cmd_ps, "list containers"},
    {"pull", cmd_pull, "pull an image from a registry"},
    {"push", cmd_push, "push an image to a registry"},
    {"rename", cmd_rename, "rename a container"},
    {"restart", cmd_restart, "restart containers"},
    {"rm", cmd_rm, "remove containers"},
    {"rmi", cmd_rmi, "remove images"},
    {"run", cmd_run, "run a command in a new container"},
    {"save", cmd_save, "write images to an archive"},
    {"start", cmd_start, "start containers"},
    {"stats", cmd_stats, "show the resource use of containers"},
    {"stop", cmd_stop, "stop containers"},
    {"system", cmd_system, "manage cove (cove system --help)"},
    {"tag", cmd_tag, "add names to an image"},
    {"top", cmd_top, "show the processes of a container"},
    {"unpause", cmd_unpause, "unpause containers"},
    {"version", cmd_version, "print the version"},
    {"volume", cmd_volume, "manage volumes (cove volume --help)"},
    {"wait", cmd_wait, "wait for containers to exit"},
};

const size_t cove_commands_n = ARRAY_SIZE(cove_commands);
