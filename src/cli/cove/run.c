/*
 * cove create / cove run: podman's options, turned into the engine's create
 * options (a docker-style Config + HostConfig JSON object, engine.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "cli/cove/remote.h"
#include "engine/ctrns.h"
#include "engine/engine.h"
#include "engine/ctrnet.h"
#include "engine/netopts.h"
#include "engine/userns.h"
#include "image/pull.h"
#include "util/cleanup.h"
#include "util/signals.h"
#include "util/strutil.h"

/* --pids-limit when none is given, as podman's default */
#define DEFAULT_PIDS_LIMIT 2048

#define CREATE_OPTIONS_HELP                                                    \
	"   -d, --detach               run in the background, print the id\n"  \
	"   -i, --interactive          keep stdin open and attach it\n"        \
	"   -t, --tty                  allocate a pseudo-terminal\n"           \
	"   --rm                       remove the container when it exits\n"   \
	"   --name NAME                the container's name (default: "        \
	"generated)\n"                                                         \
	"   -e, --env KEY[=VALUE]      set an environment variable (KEY "      \
	"alone: from\n"                                                        \
	"                              cove's environment)\n"                  \
	"   --env-file FILE            KEY=VALUE lines ('#' comments)\n"       \
	"   -w, --workdir DIR          working directory inside the "          \
	"container\n"                                                          \
	"   -u, --user USER[:GROUP]    user, names resolved in the image\n"    \
	"   --entrypoint CMD           override the image's ENTRYPOINT (\"\" " \
	"clears it;\n"                                                         \
	"                              a JSON array is taken as such)\n"       \
	"   -v, --volume SRC:DST[:OPTS]  bind a host path (absolute SRC) or "  \
	"a named\n"                                                            \
	"                              volume; DST alone makes an anonymous "  \
	"one.\n"                                                               \
	"                              OPTS: ro, rw, z, Z, nocopy, "           \
	"[r]private,\n"                                                        \
	"                              [r]shared, [r]slave\n"                  \
	"   --mount type=bind|volume|tmpfs,source=S,target=T[,readonly]"       \
	"[,tmpfs-size=N]\n"                                                    \
	"   --tmpfs DST[:OPTS]         mount a tmpfs (OPTS: size=, mode=, "    \
	"...)\n"                                                               \
	"   -p, --publish [IP:][HOST:]CTR[/PROTO]  publish a port (HOST "      \
	"empty: a free one)\n"                                                 \
	"   -P, --publish-all          publish every port the image exposes\n" \
	"   --network MODE             bridge (default; rootless: "            \
	"slirp4netns),\n"                                                      \
	"                              none, host, slirp4netns, or a "         \
	"network\n"                                                            \
	"                              of 'cove network create'\n"             \
	"   --hostname NAME            host name (default: the short id)\n"    \
	"   --add-host HOST:IP         add a line to /etc/hosts\n"             \
	"   --dns IP                   name server for /etc/resolv.conf\n"     \
	"   --read-only                mount the root file system read-only\n" \
	"   --cap-add CAP, --cap-drop CAP  change the capability set (ALL)\n"  \
	"   --security-opt OPT         seccomp=FILE|unconfined, "              \
	"no-new-privileges,\n"                                                 \
	"                              label=disable\n"                        \
	"   --privileged               every capability, no seccomp, all "     \
	"devices\n"                                                            \
	"   --userns MODE              the user namespace:\n"                  \
	"                              host: cove's own (the default);\n"      \
	"                              auto (root): a private one, its root\n" \
	"                              mapped to 65536 host ids no other\n"    \
	"                              container uses;\n"                      \
	"                              keep-id[:uid=UID,gid=GID] "             \
	"(rootless):\n"                                                        \
	"                              your uid/gid are the same inside and\n" \
	"                              the process runs as you;\n"             \
	"                              nomap (rootless): your own uid/gid\n"   \
	"                              are not mapped, root is a subuid;\n"    \
	"                              ns:PATH: join the user namespace at\n"  \
	"                              PATH (e.g. /proc/PID/ns/user)\n"        \
	"   -m, --memory SIZE          memory limit (b, k, m, g)\n"            \
	"   --memory-swap SIZE         memory + swap limit (-1: unlimited)\n"  \
	"   --cpus N                   CPU limit (e.g. 1.5)\n"                 \
	"   --cpu-shares N             CPU weight (relative)\n"                \
	"   --pids-limit N             process limit (default 2048; 0 or -1: " \
	"none)\n"                                                              \
	"   --ulimit NAME=SOFT[:HARD]  resource limit; values above cove's "   \
	"hard\n"                                                               \
	"                              limit are lowered to it with a "        \
	"warning\n"                                                            \
	"   --restart POLICY           no, always, unless-stopped, "           \
	"on-failure[:N]\n"                                                     \
	"   --health-cmd CMD           health check, run in the container "    \
	"(sh -c)\n"                                                            \
	"   --health-interval D        between checks (default 30s)\n"         \
	"   --health-retries N         failures before unhealthy (default "    \
	"3)\n"                                                                 \
	"   --health-timeout D         per check (default 30s)\n"              \
	"   --init                     run a reaper (cove-init) as pid 1\n"    \
	"   --label KEY=VALUE          set a label\n"                          \
	"   --stop-signal SIG          signal for stop (default SIGTERM)\n"    \
	"   --stop-timeout SECS        stop's wait before SIGKILL (default "   \
	"10)\n"                                                                \
	"   --log-opt max-size=SIZE|max-file=N  log file rotation\n"           \
	"   --cgroup-parent PATH       parent cgroup (default /cove)\n"        \
	"   --dns-search DOMAIN        search domain for /etc/resolv.conf "    \
	"('.': none)\n"                                                        \
	"   --dns-option OPT           'options' line entry of "               \
	"/etc/resolv.conf\n"                                                   \
	"   --network-alias NAME       another name other containers of "      \
	"the\n"                                                                \
	"                              network reach this one by\n"            \
	"   --ip ADDR                  static IPv4 address on the network\n"   \
	"   --mac-address MAC          static MAC address on the network\n"    \
	"   --expose PORT[-END][/PROTO]  expose a port (published by -P)\n"    \
	"   --network container:NAME   join that running container's "         \
	"network\n"                                                            \
	"                              namespace, /etc/hosts, resolv.conf\n"   \
	"                              and host name\n"                        \
	"   --log-driver DRIVER        json-file (default), none (no log),\n"  \
	"                              passthrough (the container gets "       \
	"cove's\n"                                                             \
	"                              stdio; foreground, no -t)\n"            \
	"   --cgroupns host|private    cgroup namespace (default: private "    \
	"on\n"                                                                 \
	"                              cgroup v2, the host's on v1 and\n"      \
	"                              hybrid hosts, as podman)\n"             \
	"   --pid MODE                 pid namespace: private (default), "     \
	"host,\n"                                                              \
	"                              container:NAME|ID or ns:PATH\n"         \
	"   --ipc MODE                 ipc namespace: as --pid, or "           \
	"shareable,\n"                                                         \
	"                              none (private, no /dev/shm)\n"          \
	"   --uts MODE                 uts namespace: as --pid (host: the "    \
	"host's\n"                                                             \
	"                              name, no --hostname)\n"                 \
	"   --device HOST[:CTR[:PERMS]]  a host device node in the "           \
	"container\n"                                                          \
	"                              (PERMS: r, w, m; default rwm)\n"        \
	"   --group-add GID|NAME       an additional group (names: the "       \
	"image's)\n"                                                           \
	"   --sysctl NAME=VALUE        a namespaced sysctl: net.*, "           \
	"kernel.shm*,\n"                                                       \
	"                              kernel.msg*, kernel.sem, "              \
	"fs.mqueue.*,\n"                                                       \
	"                              kernel.hostname, kernel.domainname\n"   \
	"   --shm-size SIZE            size of /dev/shm (default 64m)\n"       \
	"   --pull POLICY              missing (default), always, never\n"     \
	"   --cpuset-cpus LIST         CPUs allowed (e.g. 0-3,5)\n"            \
	"   --cpuset-mems LIST         memory nodes allowed\n"                 \
	"   --cpu-period US            CFS period, 1000..1000000 (not with "   \
	"--cpus)\n"                                                            \
	"   --cpu-quota US             CFS quota per period (not with "        \
	"--cpus)\n"                                                            \
	"   --memory-reservation SIZE  memory soft limit\n"                    \
	"   --memory-swappiness N      0..100\n"                               \
	"   --blkio-weight N           block I/O weight, 10..1000\n"           \
	"   --oom-score-adj N          OOM killer preference, -1000..1000\n"   \
	"   --oom-kill-disable         no OOM kill (v1 memory controller "     \
	"only)\n"                                                              \
	"   --cidfile FILE             write the id to FILE (must not "        \
	"exist)\n"                                                             \
	"   --replace                  remove a container of the same "        \
	"--name first\n"                                                       \
	"   --annotation KEY=VALUE     an annotation of the OCI config\n"      \
	"   --label-file FILE          KEY=VALUE label lines ('#' "            \
	"comments)\n"                                                          \
	"   --health-start-period D    failures during D count toward no "     \
	"retry\n"                                                              \
	"   --no-healthcheck           no health check, not even the "         \
	"image's\n"                                                            \
	"   --tz ZONE|local            time zone: the zone file bound at\n"    \
	"                              /etc/localtime (local: the host's)\n"   \
	"   --umask MASK               the process's umask (default 0022)\n"   \
	"   -q, --quiet                no pull progress\n"

enum {
	OPT_RM = COVE_CLI_OPT_REMOTE_END,
	OPT_NAME,
	OPT_ENV_FILE,
	OPT_ENTRYPOINT,
	OPT_MOUNT,
	OPT_TMPFS,
	OPT_NETWORK,
	OPT_HOSTNAME,
	OPT_ADD_HOST,
	OPT_DNS,
	OPT_READ_ONLY,
	OPT_CAP_ADD,
	OPT_CAP_DROP,
	OPT_SECURITY_OPT,
	OPT_PRIVILEGED,
	OPT_USERNS,
	OPT_MEMORY_SWAP,
	OPT_CPUS,
	OPT_CPU_SHARES,
	OPT_PIDS_LIMIT,
	OPT_ULIMIT,
	OPT_RESTART,
	OPT_HEALTH_CMD,
	OPT_HEALTH_INTERVAL,
	OPT_HEALTH_RETRIES,
	OPT_HEALTH_TIMEOUT,
	OPT_INIT,
	OPT_LABEL,
	OPT_STOP_SIGNAL,
	OPT_STOP_TIMEOUT,
	OPT_LOG_OPT,
	OPT_CGROUP_PARENT,
	OPT_DNS_SEARCH,
	OPT_DNS_OPTION,
	OPT_NETWORK_ALIAS,
	OPT_IP,
	OPT_MAC_ADDRESS,
	OPT_EXPOSE,
	OPT_LOG_DRIVER,
	OPT_PULL,
	OPT_CPUSET_CPUS, /* ..OPT_BLKIO_WEIGHT: cove_cli_resource_opt() */
	OPT_CPUSET_MEMS,
	OPT_CPU_PERIOD,
	OPT_CPU_QUOTA,
	OPT_MEMORY_RESERVATION,
	OPT_MEMORY_SWAPPINESS,
	OPT_BLKIO_WEIGHT,
	OPT_OOM_SCORE_ADJ,
	OPT_OOM_KILL_DISABLE,
	OPT_CIDFILE,
	OPT_REPLACE,
	OPT_ANNOTATION,
	OPT_LABEL_FILE,
	OPT_HEALTH_START_PERIOD,
	OPT_NO_HEALTHCHECK,
	OPT_TZ,
	OPT_UMASK,
	OPT_CGROUPNS,
	OPT_PID,
	OPT_IPC,
	OPT_UTS,
	OPT_DEVICE,
	OPT_GROUP_ADD,
	OPT_SYSCTL,
	OPT_SHM_SIZE,
};

static const struct option create_opts[] = {
    {"detach", no_argument, NULL, 'd'},
    {"interactive", no_argument, NULL, 'i'},
    {"tty", no_argument, NULL, 't'},
    {"rm", no_argument, NULL, OPT_RM},
    {"name", required_argument, NULL, OPT_NAME},
    {"env", required_argument, NULL, 'e'},
    {"env-file", required_argument, NULL, OPT_ENV_FILE},
    {"workdir", required_argument, NULL, 'w'},
    {"user", required_argument, NULL, 'u'},
    {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
    {"volume", required_argument, NULL, 'v'},
    {"mount", required_argument, NULL, OPT_MOUNT},
    {"tmpfs", required_argument, NULL, OPT_TMPFS},
    {"publish", required_argument, NULL, 'p'},
    {"publish-all", no_argument, NULL, 'P'},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"net", required_argument, NULL, OPT_NETWORK},
    {"hostname", required_argument, NULL, OPT_HOSTNAME},
    {"add-host", required_argument, NULL, OPT_ADD_HOST},
    {"dns", required_argument, NULL, OPT_DNS},
    {"read-only", no_argument, NULL, OPT_READ_ONLY},
    {"cap-add", required_argument, NULL, OPT_CAP_ADD},
    {"cap-drop", required_argument, NULL, OPT_CAP_DROP},
    {"security-opt", required_argument, NULL, OPT_SECURITY_OPT},
    {"privileged", no_argument, NULL, OPT_PRIVILEGED},
    {"userns", required_argument, NULL, OPT_USERNS},
    {"memory", required_argument, NULL, 'm'},
    {"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
    {"pids-limit", required_argument, NULL, OPT_PIDS_LIMIT},
    {"ulimit", required_argument, NULL, OPT_ULIMIT},
    {"restart", required_argument, NULL, OPT_RESTART},
    {"health-cmd", required_argument, NULL, OPT_HEALTH_CMD},
    {"health-interval", required_argument, NULL, OPT_HEALTH_INTERVAL},
    {"health-retries", required_argument, NULL, OPT_HEALTH_RETRIES},
    {"health-timeout", required_argument, NULL, OPT_HEALTH_TIMEOUT},
    {"init", no_argument, NULL, OPT_INIT},
    {"label", required_argument, NULL, OPT_LABEL},
    {"stop-signal", required_argument, NULL, OPT_STOP_SIGNAL},
    {"stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT},
    {"log-opt", required_argument, NULL, OPT_LOG_OPT},
    {"cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT},
    {"dns-search", required_argument, NULL, OPT_DNS_SEARCH},
    {"dns-option", required_argument, NULL, OPT_DNS_OPTION},
    {"dns-opt", required_argument, NULL, OPT_DNS_OPTION},
    {"network-alias", required_argument, NULL, OPT_NETWORK_ALIAS},
    {"net-alias", required_argument, NULL, OPT_NETWORK_ALIAS},
    {"ip", required_argument, NULL, OPT_IP},
    {"mac-address", required_argument, NULL, OPT_MAC_ADDRESS},
    {"expose", required_argument, NULL, OPT_EXPOSE},
    {"log-driver", required_argument, NULL, OPT_LOG_DRIVER},
    {"pull", required_argument, NULL, OPT_PULL},
    {"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
    {"cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS},
    {"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},
    {"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},
    {"memory-reservation", required_argument, NULL, OPT_MEMORY_RESERVATION},
    {"memory-swappiness", required_argument, NULL, OPT_MEMORY_SWAPPINESS},
    {"blkio-weight", required_argument, NULL, OPT_BLKIO_WEIGHT},
    {"oom-score-adj", required_argument, NULL, OPT_OOM_SCORE_ADJ},
    {"oom-kill-disable", no_argument, NULL, OPT_OOM_KILL_DISABLE},
    {"cidfile", required_argument, NULL, OPT_CIDFILE},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"annotation", required_argument, NULL, OPT_ANNOTATION},
    {"label-file", required_argument, NULL, OPT_LABEL_FILE},
    {"health-start-period", required_argument, NULL, OPT_HEALTH_START_PERIOD},
    {"no-healthcheck", no_argument, NULL, OPT_NO_HEALTHCHECK},
    {"tz", required_argument, NULL, OPT_TZ},
    {"umask", required_argument, NULL, OPT_UMASK},
    {"cgroupns", required_argument, NULL, OPT_CGROUPNS},
    {"pid", required_argument, NULL, OPT_PID},
    {"ipc", required_argument, NULL, OPT_IPC},
    {"uts", required_argument, NULL, OPT_UTS},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"group-add", required_argument, NULL, OPT_GROUP_ADD},
    {"sysctl", required_argument, NULL, OPT_SYSCTL},
    {"shm-size", required_argument, NULL, OPT_SHM_SIZE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    COVE_CLI_REMOTE_OPTIONS,
    {0},
};

struct create_args {
	json_t *config; /* owned */
	json_t *host;	/* borrowed from config */
	const char *name;
	const char *pull;
	bool detach;
	bool quiet;
	/* --cidfile (open from parse to create), --replace, health */
	const char *cidfile;
	int cidfd;
	bool cid_opened, cid_written, replace, no_healthcheck;
	bool has_start_period;
	int64_t start_period;
	struct cove_cli_remote ra;
};

static void create_args_release(struct create_args *a)
{
	if (a->cid_opened) {
		close(a->cidfd);
		/* nothing was created: the file goes, as podman's */
		if (!a->cid_written)
			(void)unlink(a->cidfile);
		a->cid_opened = false;
	}
	json_decref(a->config);
	cove_cli_remote_release(&a->ra);
}

static json_t *arr(json_t *obj, const char *key)
{
	json_t *a = json_object_get(obj, key);
	if (!a) {
		a = json_array();
		json_object_set_new(obj, key, a);
	}
	return a;
}

int cove_cli_parse_size(const char *s, int64_t *ret)
{
	char *end;
	double v;
	int64_t mult = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	if (*end) {
		switch (*end | 0x20) {
		case 'b':
			break;
		case 'k':
			mult = 1024;
			break;
		case 'm':
			mult = 1024 * 1024;
			break;
		case 'g':
			mult = 1024LL * 1024 * 1024;
			break;
		case 't':
			mult = 1024LL * 1024 * 1024 * 1024;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (*end == 'b' || *end == 'B')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (v * (double)mult > 9e18)
		return -ERANGE;
	*ret = (int64_t)(v * (double)mult);
	return 0;
}

int cove_cli_parse_duration(const char *s, int64_t *ret_ns)
{
	int64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	/* Go's duration syntax: 1h2m3s, 500ms, 1.5s; a bare number is s */
	while (*p) {
		char *end;
		double v = strtod(p, &end);
		int64_t unit = 1000000000;
		if (end == p || v < 0)
			return -EINVAL;
		if (!strncmp(end, "ns", 2))
			unit = 1, end += 2;
		else if (!strncmp(end, "us", 2))
			unit = 1000, end += 2;
		else if (!strncmp(end, "ms", 2))
			unit = 1000000, end += 2;
		else if (*end == 's')
			end++;
		else if (*end == 'm')
			unit = 60LL * 1000000000, end++;
		else if (*end == 'h')
			unit = 3600LL * 1000000000, end++;
		else if (*end && end != p)
			return -EINVAL;
		total += (int64_t)(v * (double)unit);
		p = end;
	}
	*ret_ns = total;
	return 0;
}

static int add_env(json_t *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq) {
		/* KEY alone: its value here, or nothing when unset (docker) */
		const char *v = getenv(kv);
		_cleanup_free_ char *s = NULL;
		if (!v)
			return 0;
		s = cove_strdup_printf("%s=%s", kv, v);
		if (!s)
			return -ENOMEM;
		return json_array_append_new(env, json_string(s));
	}
	if (eq == kv)
		return -EINVAL;
	return json_array_append_new(env, json_string(kv));
}

static int read_env_file(json_t *env, const char *file)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	char line[65536];
	int lineno = 0;

	if (!f)
		return cove_cli_failf("--env-file: cannot open %s: %s", file,
				      strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *s = line;
		lineno++;
		s[strcspn(s, "\r\n")] = '\0';
		s += strspn(s, " \t");
		if (!*s || *s == '#')
			continue;
		if (add_env(env, s) < 0)
			return cove_cli_failf("--env-file: %s:%d: invalid "
					      "line '%s': expected KEY=VALUE",
					      file, lineno, s);
	}
	return 0;
}

/* "[IP:][HOST:]CTR[/PROTO]", ranges "8080-8081:80-81" */
static int parse_publish(json_t *pb, const char *spec)
{
	_cleanup_free_ char *copy = strdup(spec);
	char *proto, *parts[3] = {NULL, NULL, NULL}, *p;
	const char *ip = "", *hostp = "", *ctrp;
	unsigned n = 0, h0 = 0, h1 = 0, c0 = 0, c1 = 0;

	if (!copy)
		return -ENOMEM;
	proto = strchr(copy, '/');
	if (proto)
		*proto++ = '\0';
	if (proto && strcmp(proto, "tcp") && strcmp(proto, "udp") &&
	    strcmp(proto, "sctp"))
		return -EINVAL;
	/* an IPv6 host address comes in brackets */
	p = copy;
	while (p && n < 3) {
		char *colon;
		if (*p == '[') {
			char *close = strchr(p, ']');
			if (!close)
				return -EINVAL;
			*close = '\0';
			parts[n++] = p + 1;
			p = close + 1;
			if (*p == ':')
				p++;
			continue;
		}
		colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		parts[n++] = p;
		p = colon ? colon + 1 : NULL;
	}
	if (p)
		return -EINVAL;
	if (n == 1)
		ctrp = parts[0];
	else if (n == 2)
		hostp = parts[0], ctrp = parts[1];
	else
		ip = parts[0], hostp = parts[1], ctrp = parts[2];
#define RANGE(s, a, b)                                                         \
	do {                                                                   \
		char *dash_ = strchr(s, '-');                                  \
		if (dash_)                                                     \
			*dash_ = '\0';                                         \
		if (cove_parse_uint32(s, &tmp_) < 0 || tmp_ == 0 ||            \
		    tmp_ > 65535)                                              \
			return -EINVAL;                                        \
		a = b = tmp_;                                                  \
		if (dash_) {                                                   \
			if (cove_parse_uint32(dash_ + 1, &tmp_) < 0 ||         \
			    tmp_ < a || tmp_ > 65535)                          \
				return -EINVAL;                                \
			b = tmp_;                                              \
		}                                                              \
	} while (0)
	{
		uint32_t tmp_;
		_cleanup_free_ char *cp = strdup(ctrp);
		if (!cp)
			return -ENOMEM;
		RANGE(cp, c0, c1);
		if (*hostp) {
			_cleanup_free_ char *hp = strdup(hostp);
			if (!hp)
				return -ENOMEM;
			RANGE(hp, h0, h1);
			if (h1 - h0 != c1 - c0)
				return -EINVAL;
		}
	}
#undef RANGE
	for (unsigned i = 0; i <= c1 - c0; i++) {
		json_t *b = json_object();
		json_object_set_new(b, "HostIp", json_string(ip));
		/* 0: the engine picks a free port */
		json_object_set_new(b, "HostPort",
				    json_integer(*hostp ? h0 + i : 0));
		json_object_set_new(b, "ContainerPort", json_integer(c0 + i));
		json_object_set_new(b, "Protocol",
				    json_string(proto ? proto : "tcp"));
		json_array_append_new(pb, b);
	}
	return 0;
}

/* --mount type=...,source=...,target=...,readonly,tmpfs-size=... */
static int parse_mount(json_t *mounts, const char *spec)
{
	_cleanup_free_ char *copy = strdup(spec);
	json_t *m = json_object();
	char *save = NULL;

	if (!copy || !m) {
		json_decref(m);
		return -ENOMEM;
	}
	json_object_set_new(m, "Type", json_string("volume"));
	json_object_set_new(m, "Spec", json_string(spec));
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		const char *v = eq ? eq + 1 : "";
		if (eq)
			*eq = '\0';
		if (!strcmp(t, "type")) {
			if (strcmp(v, "bind") && strcmp(v, "volume") &&
			    strcmp(v, "tmpfs"))
				goto bad;
			json_object_set_new(m, "Type", json_string(v));
		} else if (!strcmp(t, "source") || !strcmp(t, "src")) {
			json_object_set_new(m, "Source", json_string(v));
		} else if (!strcmp(t, "target") || !strcmp(t, "dst") ||
			   !strcmp(t, "destination")) {
			json_object_set_new(m, "Target", json_string(v));
		} else if (!strcmp(t, "readonly") || !strcmp(t, "ro")) {
			json_object_set_new(m, "ReadOnly",
					    json_boolean(!eq ||
							 !strcmp(v, "true") ||
							 !strcmp(v, "1")));
		} else if (!strcmp(t, "bind-propagation")) {
			json_object_set_new(m, "Propagation", json_string(v));
		} else if (!strcmp(t, "tmpfs-size")) {
			int64_t sz;
			if (cove_cli_parse_size(v, &sz) < 0)
				goto bad;
			json_object_set_new(m, "TmpfsSize", json_integer(sz));
		} else if (!strcmp(t, "tmpfs-mode")) {
			char *end;
			long mode = strtol(v, &end, 8);
			if (*end || mode < 0 || mode > 07777)
				goto bad;
			json_object_set_new(m, "TmpfsMode", json_integer(mode));
		} else if (!strcmp(t, "z") || !strcmp(t, "Z") ||
			   !strcmp(t, "volume-nocopy") ||
			   !strcmp(t, "consistency")) {
			/* no SELinux; nocopy accepted */
		} else {
			goto bad;
		}
	}
	if (!json_object_get(m, "Target")) {
		json_decref(m);
		return cove_cli_failf("invalid --mount '%s': target= is "
				      "required",
				      spec);
	}
	json_array_append_new(mounts, m);
	return 0;
bad:
	json_decref(m);
	return cove_cli_failf("invalid --mount '%s'", spec);
}

static bool have_cap_sys_resource(void)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (caps) {
		cap_get_flag(caps, CAP_SYS_RESOURCE, CAP_EFFECTIVE, &v);
		cap_free(caps);
	}
	return v == CAP_SET;
}

/*
 * "nofile=1024:20000".  A limit above cove's own hard limit cannot be set
 * without CAP_SYS_RESOURCE: it is lowered to that limit, with a warning,
 * rather than failing the run (this machine's hard nofile is 20000 while
 * podman's default asks for more).
 */
static int parse_ulimit(json_t *ul, const char *spec)
{
	static const struct {
		const char *name;
		int res;
	} names[] = {
	    {"core", RLIMIT_CORE},	   {"cpu", RLIMIT_CPU},
	    {"data", RLIMIT_DATA},	   {"fsize", RLIMIT_FSIZE},
	    {"locks", RLIMIT_LOCKS},	   {"memlock", RLIMIT_MEMLOCK},
	    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
	    {"nofile", RLIMIT_NOFILE},	   {"nproc", RLIMIT_NPROC},
	    {"rss", RLIMIT_RSS},	   {"rtprio", RLIMIT_RTPRIO},
	    {"rttime", RLIMIT_RTTIME},	   {"sigpending", RLIMIT_SIGPENDING},
	    {"stack", RLIMIT_STACK},	   {"as", RLIMIT_AS},
	};
	_cleanup_free_ char *copy = strdup(spec);
	char *eq, *colon;
	int64_t soft, hard;
	int res = -1;
	struct rlimit cur;
	json_t *u, *v;
	size_t i;

	if (!copy)
		return -ENOMEM;
	eq = strchr(copy, '=');
	if (!eq)
		return -EINVAL;
	*eq = '\0';
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(copy, names[i].name))
			res = names[i].res;
	if (res < 0)
		return -EINVAL;
	colon = strchr(eq + 1, ':');
	if (colon)
		*colon = '\0';
	if (cove_parse_int64(eq + 1, &soft) < 0 ||
	    (colon && cove_parse_int64(colon + 1, &hard) < 0))
		return -EINVAL;
	if (!colon)
		hard = soft;
	if (soft == -1)
		soft = (int64_t)RLIM_INFINITY;
	if (hard == -1)
		hard = (int64_t)RLIM_INFINITY;
	if ((uint64_t)soft > (uint64_t)hard)
		return -EINVAL;
	if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY &&
	    (uint64_t)hard > cur.rlim_max && !have_cap_sys_resource()) {
		cove_cli_warn("--ulimit %s: hard limit %lld is above cove's "
			      "own (%llu) and cannot be raised without "
			      "CAP_SYS_RESOURCE; using %llu",
			      spec, (long long)hard,
			      (unsigned long long)cur.rlim_max,
			      (unsigned long long)cur.rlim_max);
		hard = (int64_t)cur.rlim_max;
		if ((uint64_t)soft > (uint64_t)hard)
			soft = hard;
	}
	json_array_foreach(ul, i, v)
	{
		if (!strcmp(json_string_value(json_object_get(v, "Name")),
			    copy)) {
			json_array_remove(ul, i);
			break;
		}
	}
	u = json_object();
	json_object_set_new(u, "Name", json_string(copy));
	json_object_set_new(u, "Soft", json_integer(soft));
	json_object_set_new(u, "Hard", json_integer(hard));
	json_array_append_new(ul, u);
	return 0;
}

/* --annotation KEY=VALUE, into Config.Annotations (as podman's inspect) */
static int add_annotation(const char *cmd, json_t *cfg, const char *kv)
{
	const char *eq = strchr(kv, '=');
	json_t *ann = json_object_get(cfg, "Annotations");
	_cleanup_free_ char *k = NULL;

	if (!eq || eq == kv)
		return cove_cli_failf("%s: invalid --annotation '%s': expected "
				      "KEY=VALUE",
				      cmd, kv);
	k = strndup(kv, (size_t)(eq - kv));
	if (!k)
		return cove_cli_failf("out of memory");
	if (!ann) {
		ann = json_object();
		json_object_set_new(cfg, "Annotations", ann);
	}
	json_object_set_new(ann, k, json_string(eq + 1));
	return -1;
}

/* --label-file: KEY=VALUE lines (KEY alone: empty), '#' comments */
static int read_label_file(const char *cmd, json_t *cfg, const char *file)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	json_t *l = json_object_get(cfg, "Labels");
	char line[65536];
	int lineno = 0;

	if (!f)
		return cove_cli_failf("%s: --label-file: cannot open %s: %s",
				      cmd, file, strerror(errno));
	if (!l) {
		l = json_object();
		json_object_set_new(cfg, "Labels", l);
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *eq;
		size_t klen;
		lineno++;
		s[strcspn(s, "\r\n")] = '\0';
		s += strspn(s, " \t");
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		klen = eq ? (size_t)(eq - s) : strlen(s);
		if (klen == 0 || strcspn(s, " \t") < klen)
			return cove_cli_failf(
			    "%s: --label-file: %s:%d: invalid "
			    "line '%s': expected KEY=VALUE "
			    "(no blanks in KEY)",
			    cmd, file, lineno, s);
		if (eq)
			*eq = '\0';
		json_object_set_new(l, s, json_string(eq ? eq + 1 : ""));
	}
	return -1;
}

/* The options of resources.c's kind; -1 to go on, else an exit status. */
static int parse_resource_opt(const char *cmd, int c, struct create_args *a)
{
	static const char *const names[] = {
	    "cpuset-cpus",  "cpuset-mems",	  "cpu-period",
	    "cpu-quota",    "memory-reservation", "memory-swappiness",
	    "blkio-weight",
	};
	json_t *cfg = a->config, *host = a->host;
	struct cove_error err = {0};
	_cleanup_free_ char *tzfile = NULL;

	if (c >= OPT_CPUSET_CPUS && c <= OPT_BLKIO_WEIGHT)
		return cove_cli_resource_opt(cmd, names[c - OPT_CPUSET_CPUS],
					     optarg, host);
	switch (c) {
	case OPT_OOM_SCORE_ADJ: {
		int v;
		if (cove_parse_int(optarg, &v) < 0 || v < -1000 || v > 1000)
			return cove_cli_failf(
			    "%s: invalid --oom-score-adj '%s': "
			    "must be between -1000 and 1000",
			    cmd, optarg);
		json_object_set_new(host, "OomScoreAdj", json_integer(v));
		return -1;
	}
	case OPT_OOM_KILL_DISABLE:
		if (!cove_engine_oom_kill_disable_supported()) {
			cove_cli_warn("--oom-kill-disable is ignored: the "
				      "memory controller is cgroup v2, which "
				      "cannot disable the OOM killer");
			return -1;
		}
		json_object_set_new(host, "OomKillDisable", json_true());
		return -1;
	case OPT_CIDFILE:
		a->cidfile = optarg;
		json_object_set_new(host, "ContainerIDFile",
				    json_string(optarg));
		return -1;
	case OPT_REPLACE:
		a->replace = true;
		return -1;
	case OPT_ANNOTATION:
		return add_annotation(cmd, cfg, optarg);
	case OPT_LABEL_FILE:
		return read_label_file(cmd, cfg, optarg);
	case OPT_HEALTH_START_PERIOD:
		if (cove_cli_parse_duration(optarg, &a->start_period) < 0)
			return cove_cli_failf("%s: invalid "
					      "--health-start-period '%s'",
					      cmd, optarg);
		a->has_start_period = true;
		return -1;
	case OPT_NO_HEALTHCHECK:
		a->no_healthcheck = true;
		return -1;
	case OPT_TZ:
		if (cove_engine_timezone_file(optarg, &tzfile, &err) < 0)
			return cove_cli_failf("%s: %s", cmd, err.msg);
		json_object_set_new(cfg, "Timezone", json_string(optarg));
		return -1;
	case OPT_UMASK: {
		char *end, buf[8];
		long v = strtol(optarg, &end, 8);
		if (!*optarg || *end || v < 0 || v > 0777)
			return cove_cli_failf("%s: invalid --umask '%s': "
					      "expected an octal mask such as "
					      "0022",
					      cmd, optarg);
		snprintf(buf, sizeof(buf), "%04lo", (unsigned long)v);
		json_object_set_new(cfg, "Umask", json_string(buf));
		return -1;
	}
	}
	return cove_cli_failf("%s: unknown option", cmd);
}

/* Combinations of those options, once all are parsed. */
static int check_resource_opts(const char *cmd, struct create_args *a)
{
	json_t *hc = json_object_get(a->config, "Healthcheck");
	int64_t mem = json_integer_value(json_object_get(a->host, "Memory"));
	int64_t resv =
	    json_integer_value(json_object_get(a->host, "MemoryReservation"));
	int r = cove_cli_cpu_opts_check(cmd, a->host);

	if (r >= 0)
		return r;
	if (mem > 0 && resv > mem)
		return cove_cli_failf("%s: --memory-reservation must not be "
				      "above --memory",
				      cmd);
	if (a->replace && !a->name)
		return cove_cli_failf("%s: --replace needs --name", cmd);
	if (a->no_healthcheck) {
		json_t *t = json_array();
		if (json_object_get(hc, "Test") || a->has_start_period) {
			json_decref(t);
			return cove_cli_failf("%s: --no-healthcheck cannot be "
					      "combined with --health-* "
					      "options",
					      cmd);
		}
		json_array_append_new(t, json_string("NONE"));
		hc = json_object();
		json_object_set_new(hc, "Test", t);
		json_object_set_new(a->config, "Healthcheck", hc);
	} else if (a->has_start_period) {
		if (!json_object_get(hc, "Test"))
			return cove_cli_failf("%s: --health-* options need "
					      "--health-cmd",
					      cmd);
		json_object_set_new(hc, "StartPeriod",
				    json_integer(a->start_period));
	}
	return -1;
}

/* Parse create/run options; returns -1 to go on, else an exit status. */
static int parse_create(const char *cmd, int argc, char **argv,
			struct create_args *a)
{
	json_t *cfg, *host, *health = NULL;
	int c, r;

	cfg = json_object();
	host = json_object();
	if (!cfg || !host) {
		json_decref(cfg);
		json_decref(host);
		return cove_cli_failf("out of memory");
	}
	json_object_set_new(cfg, "HostConfig", host);
	a->config = cfg;
	a->host = host;
	json_object_set_new(cfg, "Env", json_array());
	json_object_set_new(host, "PidsLimit",
			    json_integer(DEFAULT_PIDS_LIMIT));
	json_object_set_new(host, "NetworkMode", json_string("bridge"));

	opterr = 0;
	/* "+": options end at IMAGE; the command keeps its own */
	while ((c = getopt_long(argc, argv, "+dite:w:u:v:p:Pm:qh", create_opts,
				NULL)) != -1) {
		r = cove_cli_remote_option(cmd, c, &a->ra);
		if (r == 0)
			continue;
		if (r > 0)
			return r;
		switch (c) {
		case 'h':
			return -2;
		case 'd':
			a->detach = true;
			break;
		case 'i':
			json_object_set_new(cfg, "OpenStdin", json_true());
			break;
		case 't':
			json_object_set_new(cfg, "Tty", json_true());
			break;
		case 'q':
			a->quiet = true;
			break;
		case OPT_RM:
			json_object_set_new(host, "AutoRemove", json_true());
			break;
		case OPT_NAME:
			a->name = optarg;
			break;
		case 'e':
			if (add_env(json_object_get(cfg, "Env"), optarg) < 0)
				return cove_cli_failf("%s: invalid --env '%s': "
						      "expected KEY=VALUE",
						      cmd, optarg);
			break;
		case OPT_ENV_FILE:
			r = read_env_file(json_object_get(cfg, "Env"), optarg);
			if (r)
				return r;
			break;
		case 'w':
			if (optarg[0] != '/')
				return cove_cli_failf(
				    "%s: invalid --workdir '%s': must be an "
				    "absolute path",
				    cmd, optarg);
			json_object_set_new(cfg, "WorkingDir",
					    json_string(optarg));
			break;
		case 'u':
			json_object_set_new(cfg, "User", json_string(optarg));
			break;
		case OPT_ENTRYPOINT: {
			json_t *ep = NULL;
			if (optarg[0] == '[') {
				ep = json_loads(optarg, 0, NULL);
				if (!json_is_array(ep)) {
					json_decref(ep);
					return cove_cli_failf(
					    "%s: invalid --entrypoint '%s'",
					    cmd, optarg);
				}
			} else {
				ep = json_array();
				if (*optarg)
					json_array_append_new(
					    ep, json_string(optarg));
			}
			json_object_set_new(cfg, "Entrypoint", ep);
			break;
		}
		case 'v':
			if (!strchr(optarg, ':') && optarg[0] != '/')
				return cove_cli_failf(
				    "%s: invalid --volume '%s': expected "
				    "SOURCE:DEST[:OPTIONS] or an absolute DEST",
				    cmd, optarg);
			json_array_append_new(arr(host, "Binds"),
					      json_string(optarg));
			break;
		case OPT_MOUNT:
			r = parse_mount(arr(host, "Mounts"), optarg);
			if (r)
				return r;
			break;
		case OPT_TMPFS: {
			json_t *t = json_object_get(host, "Tmpfs");
			_cleanup_free_ char *dst = strdup(optarg);
			char *colon;
			if (!dst)
				return cove_cli_failf("out of memory");
			colon = strchr(dst, ':');
			if (colon)
				*colon = '\0';
			if (!t) {
				t = json_object();
				json_object_set_new(host, "Tmpfs", t);
			}
			json_object_set_new(
			    t, dst, json_string(colon ? colon + 1 : ""));
			break;
		}
		case 'p':
			if (parse_publish(arr(host, "PortBindings"), optarg) <
			    0)
				return cove_cli_failf(
				    "%s: invalid --publish '%s': expected "
				    "[IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]",
				    cmd, optarg);
			break;
		case 'P':
			json_object_set_new(host, "PublishAllPorts",
					    json_true());
			break;
		case OPT_NETWORK:
			json_object_set_new(host, "NetworkMode",
					    json_string(optarg));
			break;
		case OPT_HOSTNAME:
			json_object_set_new(cfg, "Hostname",
					    json_string(optarg));
			break;
		case OPT_ADD_HOST:
			if (!strchr(optarg, ':'))
				return cove_cli_failf(
				    "%s: invalid --add-host '%s': expected "
				    "HOST:IP",
				    cmd, optarg);
			json_array_append_new(arr(host, "ExtraHosts"),
					      json_string(optarg));
			break;
		case OPT_DNS:
			json_array_append_new(arr(host, "Dns"),
					      json_string(optarg));
			break;
		case OPT_READ_ONLY:
			json_object_set_new(host, "ReadonlyRootfs",
					    json_true());
			break;
		case OPT_CAP_ADD:
			json_array_append_new(arr(host, "CapAdd"),
					      json_string(optarg));
			break;
		case OPT_CAP_DROP:
			json_array_append_new(arr(host, "CapDrop"),
					      json_string(optarg));
			break;
		case OPT_SECURITY_OPT:
			json_array_append_new(arr(host, "SecurityOpt"),
					      json_string(optarg));
			break;
		case OPT_PRIVILEGED:
			json_object_set_new(host, "Privileged", json_true());
			break;
		case OPT_USERNS: {
			struct cove_userns_mode um;
			struct cove_error uerr = {0};
			if (cove_userns_mode_parse(optarg, &um, &uerr) < 0)
				return cove_cli_failf("%s: %s", cmd, uerr.msg);
			if (um.kind == COVE_USERNS_HOST)
				json_object_del(host, "UsernsMode");
			else
				json_object_set_new(host, "UsernsMode",
						    json_string(optarg));
			break;
		}
		/* the parser `cove update` uses, for the same values */
		case 'm':
		case OPT_MEMORY_SWAP:
		case OPT_CPUS:
		case OPT_CPU_SHARES:
		case OPT_PIDS_LIMIT: {
			const char *opt = c == 'm'		 ? "memory"
					  : c == OPT_MEMORY_SWAP ? "memory-swap"
					  : c == OPT_CPUS	 ? "cpus"
					  : c == OPT_CPU_SHARES	 ? "cpu-shares"
								 : "pids-limit";
			int k = cove_cli_resource_opt(cmd, opt, optarg, host);
			if (k >= 0)
				return k;
			break;
		}
		case OPT_ULIMIT:
			if (parse_ulimit(arr(host, "Ulimits"), optarg) < 0)
				return cove_cli_failf(
				    "%s: invalid --ulimit '%s': expected "
				    "NAME=SOFT[:HARD]",
				    cmd, optarg);
			break;
		case OPT_RESTART: {
			json_t *rp = json_object();
			const char *colon = strchr(optarg, ':');
			int max = 0;
			size_t len =
			    colon ? (size_t)(colon - optarg) : strlen(optarg);
			_cleanup_free_ char *name = strndup(optarg, len);
			json_object_set_new(host, "RestartPolicy", rp);
			if (!name)
				return cove_cli_failf("out of memory");
			if ((strcmp(name, "no") && strcmp(name, "always") &&
			     strcmp(name, "unless-stopped") &&
			     strcmp(name, "on-failure")) ||
			    (colon &&
			     (strcmp(name, "on-failure") ||
			      cove_parse_int(colon + 1, &max) < 0 || max < 0)))
				return cove_cli_failf(
				    "%s: invalid --restart '%s': expected no, "
				    "always, unless-stopped or "
				    "on-failure[:N]",
				    cmd, optarg);
			json_object_set_new(rp, "Name", json_string(name));
			json_object_set_new(rp, "MaximumRetryCount",
					    json_integer(max));
			break;
		}
		case OPT_HEALTH_CMD:
		case OPT_HEALTH_INTERVAL:
		case OPT_HEALTH_RETRIES:
		case OPT_HEALTH_TIMEOUT: {
			int64_t v;
			if (!health) {
				health = json_object();
				json_object_set_new(cfg, "Healthcheck", health);
			}
			if (c == OPT_HEALTH_CMD) {
				json_t *t = json_array();
				json_array_append_new(t,
						      json_string("CMD-SHELL"));
				json_array_append_new(t, json_string(optarg));
				json_object_set_new(health, "Test", t);
			} else if (c == OPT_HEALTH_RETRIES) {
				uint32_t n;
				if (cove_parse_uint32(optarg, &n) < 0 || n == 0)
					return cove_cli_failf(
					    "%s: invalid --health-retries '%s'",
					    cmd, optarg);
				json_object_set_new(health, "Retries",
						    json_integer(n));
			} else {
				if (cove_cli_parse_duration(optarg, &v) < 0 ||
				    v <= 0)
					return cove_cli_failf(
					    "%s: invalid duration '%s'", cmd,
					    optarg);
				json_object_set_new(health,
						    c == OPT_HEALTH_INTERVAL
							? "Interval"
							: "Timeout",
						    json_integer(v));
			}
			break;
		}
		case OPT_INIT:
			json_object_set_new(host, "Init", json_true());
			break;
		case OPT_LABEL: {
			json_t *l = json_object_get(cfg, "Labels");
			_cleanup_free_ char *k = strdup(optarg);
			char *eq;
			if (!k)
				return cove_cli_failf("out of memory");
			eq = strchr(k, '=');
			if (eq)
				*eq = '\0';
			if (!*k)
				return cove_cli_failf(
				    "%s: invalid --label '%s'", cmd, optarg);
			if (!l) {
				l = json_object();
				json_object_set_new(cfg, "Labels", l);
			}
			json_object_set_new(l, k,
					    json_string(eq ? eq + 1 : ""));
			break;
		}
		case OPT_STOP_SIGNAL: {
			int sig = cove_signal_parse(optarg);
			if (sig < 0)
				return cove_cli_failf(
				    "%s: invalid --stop-signal '%s'", cmd,
				    optarg);
			json_object_set_new(cfg, "StopSignal",
					    json_string(cove_signal_name(sig)));
			break;
		}
		case OPT_STOP_TIMEOUT: {
			int t;
			if (cove_parse_int(optarg, &t) < 0 || t < 0)
				return cove_cli_failf(
				    "%s: invalid --stop-timeout '%s'", cmd,
				    optarg);
			json_object_set_new(cfg, "StopTimeout",
					    json_integer(t));
			break;
		}
		case OPT_LOG_OPT: {
			json_t *lc = json_object_get(host, "LogConfig");
			int64_t v;
			if (!lc) {
				lc = json_object();
				json_object_set_new(host, "LogConfig", lc);
			}
			if (!strncmp(optarg, "max-size=", 9) &&
			    cove_cli_parse_size(optarg + 9, &v) == 0 && v > 0)
				json_object_set_new(lc, "MaxSize",
						    json_integer(v));
			else if (!strncmp(optarg, "max-file=", 9) &&
				 cove_parse_int64(optarg + 9, &v) == 0 &&
				 v > 0 && v < 1000)
				json_object_set_new(lc, "MaxFile",
						    json_integer(v));
			else
				return cove_cli_failf(
				    "%s: invalid --log-opt '%s': supported are "
				    "max-size=SIZE and max-file=N",
				    cmd, optarg);
			break;
		}
		case OPT_CGROUP_PARENT:
			if (optarg[0] != '/')
				return cove_cli_failf(
				    "%s: invalid --cgroup-parent '%s': must be "
				    "an absolute cgroup path",
				    cmd, optarg);
			json_object_set_new(host, "CgroupParent",
					    json_string(optarg));
			break;
		case OPT_DNS_SEARCH:
		case OPT_DNS_OPTION:
		case OPT_NETWORK_ALIAS:
		case OPT_IP:
		case OPT_MAC_ADDRESS:
		case OPT_EXPOSE:
		case OPT_LOG_DRIVER: {
			static const enum cove_netopt kinds[] = {
			    COVE_NETOPT_DNS_SEARCH, COVE_NETOPT_DNS_OPTION,
			    COVE_NETOPT_ALIAS,	    COVE_NETOPT_IP,
			    COVE_NETOPT_MAC,	    COVE_NETOPT_EXPOSE,
			    COVE_NETOPT_LOG_DRIVER};
			struct cove_error nerr = {0};
			if (cove_netopt_add(cfg, kinds[c - OPT_DNS_SEARCH],
					    optarg, &nerr) < 0)
				return cove_cli_failf("%s: %s", cmd, nerr.msg);
			break;
		}
		case OPT_CGROUPNS:
			if (strcmp(optarg, "host") && strcmp(optarg, "private"))
				return cove_cli_failf(
				    "%s: invalid --cgroupns '%s': expected "
				    "host or private",
				    cmd, optarg);
			json_object_set_new(host, "CgroupnsMode",
					    json_string(optarg));
			break;
		case OPT_PID:
		case OPT_IPC:
		case OPT_UTS: {
			static const char *const ns_opt[] = {"pid", "ipc",
							     "uts"};
			static const char *const ns_field[] = {
			    "PidMode", "IpcMode", "UTSMode"};
			struct cove_error nerr = {0};
			struct cove_nsmode nm;
			int k = c - OPT_PID;
			if (cove_nsmode_parse(ns_opt[k], optarg, &nm, &nerr) <
			    0)
				return cove_cli_failf("%s: %s", cmd, nerr.msg);
			json_object_set_new(host, ns_field[k],
					    json_string(optarg));
			break;
		}
		case OPT_DEVICE: {
			struct cove_device_opt d = {0};
			struct cove_device_node node;
			struct cove_error derr = {0};
			json_t *o;
			if (cove_device_opt_parse(optarg, &d, &derr) < 0 ||
			    cove_device_opt_stat(d.host, optarg, &node, &derr) <
				0) {
				cove_device_opt_release(&d);
				return cove_cli_failf("%s: %s", cmd, derr.msg);
			}
			o = json_object();
			json_object_set_new(o, "PathOnHost",
					    json_string(d.host));
			json_object_set_new(o, "PathInContainer",
					    json_string(d.ctr));
			json_object_set_new(o, "CgroupPermissions",
					    json_string(d.perms));
			json_array_append_new(arr(host, "Devices"), o);
			cove_device_opt_release(&d);
			break;
		}
		case OPT_GROUP_ADD: {
			struct cove_error gerr = {0};
			if (cove_group_add_check(optarg, &gerr) < 0)
				return cove_cli_failf("%s: %s", cmd, gerr.msg);
			json_array_append_new(arr(host, "GroupAdd"),
					      json_string(optarg));
			break;
		}
		case OPT_SYSCTL: {
			json_t *sc = json_object_get(host, "Sysctls");
			struct cove_error serr = {0};
			_cleanup_free_ char *k = NULL;
			const char *v;
			if (cove_sysctl_parse(optarg, &k, &v, &serr) < 0)
				return cove_cli_failf("%s: %s", cmd, serr.msg);
			if (!sc) {
				sc = json_object();
				json_object_set_new(host, "Sysctls", sc);
			}
			json_object_set_new(sc, k, json_string(v));
			break;
		}
		case OPT_SHM_SIZE: {
			int64_t v;
			if (cove_cli_parse_size(optarg, &v) < 0 || v <= 0)
				return cove_cli_failf(
				    "%s: invalid --shm-size '%s': expected a "
				    "size > 0 (b, k, m, g)",
				    cmd, optarg);
			json_object_set_new(host, "ShmSize", json_integer(v));
			break;
		}
		case OPT_PULL:
			if (strcmp(optarg, "missing") &&
			    strcmp(optarg, "always") && strcmp(optarg, "never"))
				return cove_cli_failf(
				    "%s: invalid --pull '%s': expected "
				    "missing, always or never",
				    cmd, optarg);
			a->pull = optarg;
			break;
		case OPT_CPUSET_CPUS:
		case OPT_CPUSET_MEMS:
		case OPT_CPU_PERIOD:
		case OPT_CPU_QUOTA:
		case OPT_MEMORY_RESERVATION:
		case OPT_MEMORY_SWAPPINESS:
		case OPT_BLKIO_WEIGHT:
		case OPT_OOM_SCORE_ADJ:
		case OPT_OOM_KILL_DISABLE:
		case OPT_CIDFILE:
		case OPT_REPLACE:
		case OPT_ANNOTATION:
		case OPT_LABEL_FILE:
		case OPT_HEALTH_START_PERIOD:
		case OPT_NO_HEALTHCHECK:
		case OPT_TZ:
		case OPT_UMASK:
			r = parse_resource_opt(cmd, c, a);
			if (r >= 0)
				return r;
			break;
		default:
			return cove_cli_unknown_option(cmd, argv);
		}
	}
	if (health && !json_object_get(health, "Test"))
		return cove_cli_failf("%s: --health-* options need "
				      "--health-cmd",
				      cmd);
	{
		/* the network and log options' combinations (netopts.h) */
		struct cove_error nerr = {0};
		if (cove_netopts_check(cfg, a->detach, &nerr) < 0)
			return cove_cli_failf("%s: %s", cmd, nerr.msg);
	}
	/* --cpus with a period or quota, --no-healthcheck, --replace ... */
	r = check_resource_opts(cmd, a);
	if (r >= 0)
		return r;
	if (optind >= argc)
		return cove_cli_failf("%s: an image is required (see 'cove %s "
				      "--help')",
				      cmd, cmd);
	json_object_set_new(cfg, "Image", json_string(argv[optind]));
	if (optind + 1 < argc) {
		json_t *cmdv = json_array();
		for (int i = optind + 1; i < argc; i++)
			json_array_append_new(cmdv, json_string(argv[i]));
		json_object_set_new(cfg, "Cmd", cmdv);
	}
	if (json_is_true(json_object_get(host, "AutoRemove")) &&
	    json_object_get(host, "RestartPolicy") &&
	    strcmp(json_string_value(json_object_get(
		       json_object_get(host, "RestartPolicy"), "Name")),
		   "no"))
		return cove_cli_failf("%s: --rm and --restart cannot be "
				      "combined",
				      cmd);
	return -1;
}

/* The image of @a, pulled when missing (or always, with --pull always). */
static int ensure_image(struct cove_engine *e, struct create_args *a,
			struct cove_error *err)
{
	const char *ref =
	    json_string_value(json_object_get(a->config, "Image"));
	struct cove_image_record rec = {0};
	struct cove_pull_opts po = {0};
	int r;

	r = cove_engine_images(e, err);
	if (r < 0)
		return r;
	if (!a->pull || strcmp(a->pull, "always")) {
		r = cove_images_lookup(e->images, ref, &rec, err);
		if (r >= 0) {
			cove_image_record_release(&rec);
			return 0;
		}
		if (r != -ENOENT || (a->pull && !strcmp(a->pull, "never")))
			return r;
		cove_error_clear(err);
	}
	if (!a->quiet)
		fprintf(stderr, "Trying to pull %s...\n", ref);
	po.remote = a->ra.o;
	po.unpack = e->snap;
	r = cove_image_pull(e->store, e->images, ref, &po, &rec, err);
	if (r < 0)
		return r;
	cove_image_record_release(&rec);
	return 0;
}

static const char create_help[] =
    "NAME:\n"
    "   cove create - create a container from an image\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove create [options] IMAGE [COMMAND [ARG...]]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Makes a container (its root file system, configuration, name)\n"
    "   without starting it, pulling IMAGE first when it is not in the\n"
    "   store; prints its id.  'cove start' runs it.\n"
    "\n"
    "OPTIONS:\n" CREATE_OPTIONS_HELP COVE_CLI_REMOTE_HELP;

static const char run_help[] =
    "NAME:\n"
    "   cove run - run a command in a new container\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove run [options] IMAGE [COMMAND [ARG...]]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Creates a container from IMAGE (pulled when missing) and starts\n"
    "   it.  In the foreground, cove itself watches the container: its\n"
    "   output is copied to cove's, signals cove receives are passed to\n"
    "   it, and cove exits with its exit code.  With -d, a small monitor\n"
    "   process of its own holds the container's output (see 'cove logs')\n"
    "   and cove prints the id once the container runs.\n"
    "\n"
    "   Exit status: the container's, or 125 when cove itself failed,\n"
    "   126 when the command cannot be run, 127 when it is not found.\n"
    "\n"
    "OPTIONS:\n" CREATE_OPTIONS_HELP COVE_CLI_REMOTE_HELP;

/* --replace: remove the container named @name, if there is one. */
static int replace_existing(struct cove_engine *e, const char *name,
			    struct cove_error *err)
{
	struct cove_ctr old = {0};
	int r = cove_engine_lookup(e, name, &old, err);

	if (r == -ENOENT) {
		cove_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	/* the lookup also takes id prefixes: only that very name counts */
	if (strcmp(old.name, name))
		r = 0;
	else
		r = cove_engine_remove(e, &old, true, false, err);
	cove_ctr_release(&old);
	return r;
}

/*
 * Whether @host asks for a cgroup limit (--pids-limit's default aside),
 * which a rootless container cannot have: the runtime runs it without a
 * cgroup of its own, as podman does on cgroup v1.
 */
static bool has_limits(const json_t *host)
{
	static const char *const keys[] = {
	    "Memory",	  "MemorySwap",	 "MemoryReservation", "NanoCpus",
	    "CpuShares",  "CpuPeriod",	 "CpuQuota",	      "CpusetCpus",
	    "CpusetMems", "BlkioWeight", "MemorySwappiness",  "OomKillDisable",
	};
	json_t *pids = json_object_get(host, "PidsLimit");

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (json_object_get(host, keys[i]))
			return true;
	return pids && json_integer_value(pids) != DEFAULT_PIDS_LIMIT;
}

static int create_or_run(struct cove_ctx *ctx, int argc, char **argv, bool run)
{
	const char *cmd = run ? "run" : "create";
	struct create_args a = {.ra = COVE_CLI_REMOTE_INIT};
	struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	char id[COVE_CTR_ID_LEN + 1];
	int r, code = 0;

	r = parse_create(cmd, argc, argv, &a);
	if (r == -2) {
		create_args_release(&a);
		return cove_cli_help(run ? run_help : create_help);
	}
	if (r >= 0)
		goto out;
	/* --cidfile: taken now, so that two creates never share one */
	if (a.cidfile) {
		a.cidfd = open(a.cidfile,
			       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (a.cidfd < 0) {
			r = errno == EEXIST
				? cove_cli_failf(
				      "%s: the container id file %s "
				      "exists: remove it, or another "
				      "container may be using it",
				      cmd, a.cidfile)
				: cove_cli_failf("%s: cannot create --cidfile "
						 "%s: %s",
						 cmd, a.cidfile,
						 strerror(errno));
			goto out;
		}
		a.cid_opened = true;
	}
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		goto out;
	/* a --userns this user cannot have: said before any pull */
	if (cove_engine_userns_check(e, a.host, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (e->rootless && has_limits(a.host))
		cove_cli_warn("%s: resource limits are ignored: rootless "
			      "containers run without cgroup limits",
			      run ? "run" : "create");
	/* --network container:NAME resolved, a static --ip checked */
	if (cove_engine_net_resolve(e, a.config, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	/* --pid/--ipc/--uts, --sysctl, --device together; container:NAME
	 * recorded as container:ID */
	if (cove_engine_ctrns_check(a.config, &err) < 0 ||
	    cove_engine_ctrns_resolve(e, a.config, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (run)
		cove_engine_prewarm(e, a.config);
	if (ensure_image(e, &a, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	cove_cli_debug("image %s ready",
		       json_string_value(json_object_get(a.config, "Image")));
	/* --replace: the container of that name goes first (forced) */
	if (a.replace && replace_existing(e, a.name, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (cove_engine_create(e, a.config, a.name, id, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	cove_cli_debug("created %s", id);
	if (a.cid_opened) {
		a.cid_written = true;
		if (write(a.cidfd, id, strlen(id)) != (ssize_t)strlen(id))
			cove_cli_warn("cannot write --cidfile %s: %s",
				      a.cidfile, strerror(errno));
	}
	if (!run) {
		printf("%s\n", id);
		r = 0;
		goto out;
	}
	if (cove_engine_lookup(e, id, &c, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	{
		struct cove_start_opts so = {.detach = a.detach};
		fflush(stdout);
		if (cove_engine_start(e, &c, &so, &code, &err) < 0) {
			struct cove_error rerr = {0};
			cove_cli_fail(&err);
			r = cove_engine_start_error_code(&err);
			if (json_is_true(json_object_get(a.host, "AutoRemove")))
				(void)cove_engine_remove(e, &c, true, true,
							 &rerr);
			goto out;
		}
	}
	cove_cli_debug(a.detach ? "started, detached" : "exited with %d", code);
	if (a.detach)
		printf("%s\n", id);
	r = a.detach ? 0 : code;
out:
	cove_ctr_release(&c);
	cove_engine_free(e);
	create_args_release(&a);
	return r;
}

int cmd_create(struct cove_ctx *ctx, int argc, char **argv)
{
	return create_or_run(ctx, argc, argv, false);
}

int cmd_run(struct cove_ctx *ctx, int argc, char **argv)
{
	return create_or_run(ctx, argc, argv, true);
}
