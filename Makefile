# cove build.  `make` builds build/cove-runtime; `make check` runs every test;
# `make SAN=1` builds with ASan/UBSan into build-san/.
#
# Layers are folders of src/; libcove is every layer's objects in one static
# archive; each executable links only what it needs.

CC ?= gcc
PKG_CONFIG ?= pkg-config
# Debian's interpreter, where python3-pytest is installed (not a pyenv shim).
PYTHON ?= /usr/bin/python3

ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer
OPT = -O1 -g
else
BUILD ?= build
SANFLAGS =
OPT = -O2 -g
endif

RUNTIME_PKGS = libseccomp libcap jansson
# The engine (`cove`) and its image layer also use these; cove-runtime does
# not link them (its objects never reference the image layer).
ENGINE_PKGS = libcrypto sqlite3
# ...and these, which nothing links: with their dependencies they are some
# forty shared libraries, milliseconds of loading for every command, and
# only the image commands use them.  src/util/lazy-{curl,archive}.c
# (scripts/gen-lazy.py) dlopen() them on first use, by the SONAME of the
# library that pkg-config finds.  dlopen() is in libc since glibc 2.34
# (libdl is an empty stub there); -ldl is for older ones.
LAZY_PKGS = libcurl libarchive
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(RUNTIME_PKGS) $(ENGINE_PKGS) $(LAZY_PKGS))
ENGINE_LIBS := $(shell $(PKG_CONFIG) --libs $(ENGINE_PKGS)) -ldl
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(RUNTIME_PKGS))
# Unit tests build tar streams with libarchive functions that cove does not
# call, and so have no wrapper: they link libarchive after libcove.a, whose
# wrappers still take every call to a function they define, cove's and the
# test's (the executable's definition comes first; the wrapper's dlopen()
# finds the already loaded library and dlsym() on it returns the real one).
# --as-needed drops the library from tests that only call wrapped functions.
LAZY_LIBS := $(shell $(PKG_CONFIG) --libs $(LAZY_PKGS))
soname = $(shell objdump -p $(shell $(PKG_CONFIG) --variable=libdir $(1))/$(1).so \
	2>/dev/null | awk '/SONAME/{print $$2}')
LIBCURL_SONAME := $(call soname,libcurl)
LIBARCHIVE_SONAME := $(call soname,libarchive)
LAZY_DEFS = $(if $(LIBCURL_SONAME),-DCOVE_LIBCURL_SONAME='"$(LIBCURL_SONAME)"') \
	$(if $(LIBARCHIVE_SONAME),-DCOVE_LIBARCHIVE_SONAME='"$(LIBARCHIVE_SONAME)"')
# cove-runtime links its three libraries statically (glibc stays shared):
# it executes twice per create/run/exec (the sealed-memfd re-exec), and
# loading and relocating three shared objects each time is measurable next
# to a container start.  STATIC_LIBS=0 links them dynamically.
STATIC_LIBS ?= 1
ifeq ($(STATIC_LIBS)$(SAN),1)
RUNTIME_LIBS = -Wl,-Bstatic $(PKG_LIBS) -Wl,-Bdynamic
else
RUNTIME_LIBS = $(PKG_LIBS)
endif

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wformat-security -Wundef \
	-Wpointer-arith -Wvla -Wno-unused-parameter -Wimplicit-fallthrough \
	-Wno-format-truncation
CFLAGS ?= $(OPT)
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SANFLAGS) -D_GNU_SOURCE \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -Isrc \
	$(PKG_CFLAGS) -MMD -MP
# The runtime copies itself into a sealed memfd on every create/run/exec
# (CVE-2019-5736), so debug info is stripped at link time unless DEBUG=1:
# it would double the bytes copied.
ifneq ($(DEBUG)$(SAN),)
STRIP_DEBUG =
else
STRIP_DEBUG = -Wl,--strip-debug
endif
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS) $(STRIP_DEBUG) -Wl,-z,relro -Wl,-z,now -Wl,--as-needed

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

LIB_SRCS = $(wildcard src/util/*.c) $(wildcard src/runtime/*.c) \
	$(wildcard src/image/*.c) $(wildcard src/engine/*.c)
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/%.o)
RUNTIME_CLI_SRCS = $(wildcard src/cli/runtime/*.c)
RUNTIME_CLI_OBJS = $(RUNTIME_CLI_SRCS:%.c=$(BUILD)/%.o)
ENGINE_CLI_SRCS = $(wildcard src/cli/cove/*.c)
ENGINE_CLI_OBJS = $(ENGINE_CLI_SRCS:%.c=$(BUILD)/%.o)

UNIT_SRCS = $(wildcard tests/unit/test-*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

FUZZ_SRCS = $(wildcard tests/fuzz/fuzz-*.c)

.PHONY: all clean check check-san lint unit integration fuzz bundle format install

all: $(BUILD)/cove-runtime $(if $(ENGINE_CLI_SRCS),$(BUILD)/cove) $(BUILD)/cove-init \
	$(BUILD)/cove-monitor \
	$(BUILD)/busybox-bundle/config.json $(BUILD)/busybox-oci.tar

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -DCOVE_VERSION='"$(VERSION)"' \
		-DCOVE_GIT_COMMIT='"$(GIT_COMMIT)"' $(OBJ_DEFS) -c $< -o $@

$(BUILD)/src/util/lazy-curl.o $(BUILD)/src/util/lazy-archive.o: OBJ_DEFS = $(LAZY_DEFS)

$(BUILD)/libcove.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/cove-runtime: $(RUNTIME_CLI_OBJS) $(BUILD)/libcove.a
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $(RUNTIME_CLI_OBJS) $(BUILD)/libcove.a $(RUNTIME_LIBS)

$(BUILD)/cove: $(ENGINE_CLI_OBJS) $(BUILD)/libcove.a
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $(ENGINE_CLI_OBJS) $(BUILD)/libcove.a \
		$(ENGINE_LIBS) $(PKG_LIBS)

# The reaper `cove run --init` binds at /dev/init: static, to run in any
# image.
$(BUILD)/cove-init: src/cli/init/cove-init.c
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) -std=gnu11 $(WARN) -O2 -static -o $@ $<

# What a detached container's monitor execs while the container runs
# (src/engine/monitor.c): static and small, so that each running container
# costs a few hundred KiB rather than a fork of cove.  Only the log writer
# and the attach framing come from libcove.
$(BUILD)/cove-monitor: src/cli/monitor/cove-monitor.c $(BUILD)/libcove.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) -static $(STRIP_DEBUG) -o $@ $< $(BUILD)/libcove.a \
		-Wl,-Bstatic $(shell $(PKG_CONFIG) --libs jansson)

# A runnable OCI bundle whose rootfs is Debian's busybox-static.
$(BUILD)/busybox-bundle/config.json: scripts/mkbundle.sh | $(BUILD)/cove-runtime
	scripts/mkbundle.sh $(BUILD)/busybox-bundle $(BUILD)/cove-runtime

bundle: $(BUILD)/busybox-bundle/config.json

# The same busybox rootfs as an OCI archive (`cove load -i`), deterministic.
$(BUILD)/busybox-oci.tar: scripts/mkimage.sh $(BUILD)/busybox-bundle/config.json
	scripts/mkimage.sh $(BUILD)/busybox-bundle/rootfs $@ localhost/busybox:latest

$(BUILD)/tests/test-%: tests/unit/test-%.c $(BUILD)/libcove.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libcove.a \
		$(ENGINE_LIBS) $(LAZY_LIBS) $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

# The libcove driver that tests/integration/test_network.py runs.
$(BUILD)/tests/cni-driver: tests/integration/cni-driver.c $(BUILD)/libcove.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libcove.a \
		$(ENGINE_LIBS) $(PKG_LIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: all
	COVE_RUNTIME_BINARY=$(CURDIR)/$(BUILD)/cove-runtime \
		COVE_BINARY=$(CURDIR)/$(BUILD)/cove \
		$(PYTHON) -m pytest -ra tests/integration

# Banned functions (see src/util/banned.h) are a lint error.
lint:
	scripts/check-banned.sh
	@scripts/check-format.sh

# The same unit tests, and the core integration tests, against an ASan/UBSan
# build (build-san/): memory errors in the runtime fail the suite.
# After `all`: the engine's tests load build/busybox-oci.tar.
check-san: all
	$(MAKE) SAN=1 unit
	$(MAKE) SAN=1 build-san/cove-runtime
	COVE_RUNTIME_BINARY=$(CURDIR)/build-san/cove-runtime \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/integration/test_lifecycle.py tests/integration/test_config.py \
		tests/integration/test_security.py tests/integration/test_cli.py
	# The engine too: the monitor then stays a fork of cove (no
	# build-san/cove-monitor), the path that has no exec of its own.
	# LeakSanitizer cannot run under strace: that test is left out.
	$(MAKE) SAN=1 build-san/cove
	# cove-init is static, which ASan cannot be: the plain one, next to
	# build-san/cove where --init looks for it.
	cp $(BUILD)/cove-init build-san/cove-init
	COVE_RUNTIME_BINARY=$(CURDIR)/build-san/cove-runtime \
		COVE_BINARY=$(CURDIR)/build-san/cove \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(PYTHON) -m pytest -q -p no:cacheprovider \
		-k "not right_after_start" \
		tests/integration/test_engine.py tests/integration/test_engine_commit.py \
		tests/integration/test_engine_events.py \
		tests/integration/test_engine_cli_flags.py \
		tests/integration/test_engine_userns.py

# check-san runs first so that the last line printed is the full suite's
# pytest summary.
check: lint unit check-san integration

# libFuzzer targets (clang): build/fuzz/fuzz-*
fuzz:
	@mkdir -p build/fuzz
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  echo "clang $$n"; \
	  clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
	    $(PKG_CFLAGS) $(LAZY_DEFS) $$f $(LIB_SRCS) -o build/fuzz/$$n $(ENGINE_LIBS) $(PKG_LIBS) || exit 1; \
	done

format:
	clang-format -i $(LIB_SRCS) $(RUNTIME_CLI_SRCS) $(ENGINE_CLI_SRCS) src/cli/init/cove-init.c src/cli/monitor/cove-monitor.c \
		$(wildcard src/*/*.h src/cli/*/*.h)

install: all
	install -D -m 0755 $(BUILD)/cove-runtime $(DESTDIR)/usr/local/bin/cove-runtime
	install -D -m 0755 $(BUILD)/cove $(DESTDIR)/usr/local/bin/cove
	install -D -m 0755 $(BUILD)/cove-init $(DESTDIR)/usr/libexec/cove/cove-init
	install -D -m 0755 $(BUILD)/cove-monitor $(DESTDIR)/usr/libexec/cove/cove-monitor

clean:
	rm -rf build build-san

-include $(LIB_OBJS:.o=.d) $(RUNTIME_CLI_OBJS:.o=.d) $(ENGINE_CLI_OBJS:.o=.d)
