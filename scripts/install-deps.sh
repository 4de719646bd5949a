#!/bin/bash
# Install every Debian 12 package that building and testing cove needs.
# Idempotent: when everything is already installed it only runs dpkg-query.
set -euo pipefail

PACKAGES=(
	# build
	build-essential pkg-config clang clang-format
	libseccomp-dev libcap-dev libjansson-dev libcmocka-dev
	# later layers (image, trust, engine)
	libarchive-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev
	# tests
	python3 python3-pytest busybox-static iproute2 uidmap util-linux
	containernetworking-plugins iptables slirp4netns
	# local registries for pull/push tests (tests/integration/registry.py)
	docker-registry apache2-utils openssl
	# benchmarks (bench/): peak RSS through GNU time
	time
	# peers and callers used by interoperability tests
	crun runc podman containerd
	# image interoperability tests: skopeo copies, umoci unpacks
	skopeo umoci
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages already installed"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}"
