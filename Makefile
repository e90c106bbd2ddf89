# skyvisor build.
#
# Layout: each top-level module (core, ctrl, db, api) contributes its sources
# through its own module.mk and becomes one static library; skyvisord links
# them all.  tests/module.mk lists the cmocka unit tests and the pytest
# integration suites; bench/module.mk the benchmarks.
#
#   make                      build $(BUILD)/skyvisord (default BUILD=build)
#   make test                 every test: unit, integration (real PostgreSQL and
#                             Open vSwitch), OpenAPI lint, a sanitizer pass
#                             and a short fuzz smoke run
#   make SANITIZE=address,undefined BUILD=build-asan unit integration
#   make fuzz-smoke FUZZ_SECONDS=N
#   make demo / make demo-down

.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD    ?= build
SANITIZE ?=
CC       ?= cc
CFLAGS   ?= -O2 -g
LDFLAGS  ?=
PYTHON   ?= /usr/bin/python3

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -I. \
              -I/usr/include/postgresql -MMD -MP
ALL_LDFLAGS := $(LDFLAGS)
ifneq ($(SANITIZE),)
ALL_CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
               -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif
LIBS := -lmicrohttpd -lgnutls -ljansson -lpq -lurcu-bp -lssl -lcrypto -lpthread

CORE_SRCS  :=
CTRL_SRCS  :=
DB_SRCS    :=
API_SRCS   :=
UNIT_TESTS :=
FUZZ_TARGETS :=
BENCH_PROGS :=

include core/module.mk
include ctrl/module.mk
include db/module.mk
include api/module.mk
include tests/module.mk
include bench/module.mk
# Tools with a build of their own (tools/NAME/module.mk), such as skyctl.
include $(wildcard tools/*/module.mk)

objs = $(patsubst %.c,$(BUILD)/%.o,$(filter %.c,$(1))) \
       $(patsubst %.S,$(BUILD)/%.o,$(filter %.S,$(1)))

LIB_CORE := $(BUILD)/libskycore.a
LIB_CTRL := $(BUILD)/libskyctrl.a
LIB_DB   := $(BUILD)/libskydb.a
LIB_API  := $(BUILD)/libskyapi.a
# Link order: dependents first.
SKY_LIBS := $(LIB_API) $(LIB_DB) $(LIB_CTRL) $(LIB_CORE)

.PHONY: all clean test unit integration lint-openapi fuzz-smoke sanitize \
        web-test demo demo-down bench bench-api bench-ctrl
all: $(BUILD)/skyvisord

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB_CORE): $(call objs,$(CORE_SRCS))
$(LIB_CTRL): $(call objs,$(CTRL_SRCS))
$(LIB_DB):   $(call objs,$(DB_SRCS))
$(LIB_API):  $(call objs,$(API_SRCS))
$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/skyvisord: $(BUILD)/api/skyvisord.o $(SKY_LIBS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Unit tests: tests/unit/NAME.c -> $(BUILD)/tests/NAME, linked with every
# library (archives only pull in what a test uses) and cmocka.
UNIT_BINS := $(patsubst %,$(BUILD)/tests/%,$(UNIT_TESTS))
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(SKY_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(SKY_LIBS) $(LIBS) -lcmocka

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: $(BUILD)/skyvisord $(INTEGRATION_DEPS)
	SKYVISOR_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

lint-openapi:
	tools/openapi-lint

# The dashboard in a real browser (Debian's chromium, playwright-core).
web-test: all
	SKYVISOR_BUILD=$(abspath $(BUILD)) tools/web-test

sanitize:
	$(MAKE) SANITIZE=address,undefined BUILD=build-asan unit integration

test: all unit lint-openapi integration web-test sanitize fuzz-smoke

clean:
	rm -rf build build-asan build-fuzz

demo:
	tools/demo up
demo-down:
	tools/demo down

.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
