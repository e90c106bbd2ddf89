# tests/: cmocka unit tests (tests/unit/NAME.c, one per module), pytest
# integration suites (tests/integration/), libFuzzer targets (tests/fuzz/).
UNIT_TESTS += test_error test_validate test_placement test_tunnels test_ofmsg \
              test_netmodel test_vtopo

# Programs the integration suites run (C drivers of a library against real
# Open vSwitch, for instance) are added to INTEGRATION_DEPS.
INTEGRATION_DEPS +=

# libFuzzer targets: tests/fuzz/NAME.c with a committed seed corpus in
# tests/fuzz/corpus/NAME/.  Each target is built with clang from the
# sources it names in FUZZ_SRCS_NAME and run for FUZZ_SECONDS on a scratch
# copy of its corpus, so a run never writes into the tree.
FUZZ_TARGETS += fuzz_ofmsg
FUZZ_SRCS_fuzz_ofmsg := ctrl/buf.c ctrl/oferr.c ctrl/ofmatch.c ctrl/ofaction.c \
                        ctrl/ofmsg.c
FUZZ_TARGETS += fuzz_jsonrpc
FUZZ_SRCS_fuzz_jsonrpc := ctrl/jsonrpc.c ctrl/ovsdb.c ctrl/ovsdb_datum.c \
                          ctrl/ovsdb_replica.c ctrl/ovsdb_txn.c ctrl/ovsdb_vswitch.c \
                          core/vlog.c
FUZZ_SRCS_fuzz_jsonrpc += ctrl/stream.c ctrl/stream_tls.c core/certname.c
FUZZ_LIBS_fuzz_jsonrpc := -lssl -lcrypto
FUZZ_TARGETS += fuzz_skyspec
FUZZ_SRCS_fuzz_skyspec := tools/skyctl/model.c tools/skyctl/spec.c
FUZZ_LIBS_fuzz_skyspec := -lyaml -lm
# The HTTP layer (tests/fuzz/fuzz_http.c): one request per input through
# http_serve() and every handler.  fuzz_http answers for PostgreSQL with
# tests/fuzz/fuzz_http_db.c through link-time wraps of libpq;
# fuzz_http_pg, not in the smoke run, uses a real one (make fuzz-http-pg).
FUZZ_HTTP_SRCS = $(filter-out $(BUILD)/%,$(API_SRCS) $(DB_SRCS) $(CTRL_SRCS) \
                   $(CORE_SRCS)) $(BUILD)/gen/openapi.c $(BUILD)/gen/web.c \
                 $(BUILD)/gen/migrations.c
FUZZ_HTTP_LIBS := -Wl,--wrap=MHD_lookup_connection_value -lmicrohttpd -lgnutls \
                  -lpq -lurcu-bp -lssl -lcrypto -lpthread
FUZZ_TARGETS += fuzz_http
FUZZ_SRCS_fuzz_http = tests/fuzz/fuzz_http_db.c $(FUZZ_HTTP_SRCS)
FUZZ_LIBS_fuzz_http := -Wl,--wrap=PQconnectdb,--wrap=PQfinish,--wrap=PQstatus \
    -Wl,--wrap=PQtransactionStatus,--wrap=PQreset,--wrap=PQerrorMessage \
    -Wl,--wrap=PQexec,--wrap=PQprepare,--wrap=PQexecPrepared,--wrap=PQclear \
    -Wl,--wrap=PQresultErrorField,--wrap=PQresultErrorMessage \
    -Wl,--wrap=PQcmdStatus,--wrap=PQcmdTuples,--wrap=nanosleep $(FUZZ_HTTP_LIBS)
FUZZ_SRCS_fuzz_http_pg = $(FUZZ_HTTP_SRCS)
FUZZ_LIBS_fuzz_http_pg := $(FUZZ_HTTP_LIBS)

# What a tenant's controller can make the agent check (ctrl/vflow.h).
FUZZ_TARGETS += fuzz_vflow
FUZZ_SRCS_fuzz_vflow := ctrl/buf.c ctrl/oferr.c ctrl/ofmatch.c ctrl/ofaction.c \
                        ctrl/ofmsg.c ctrl/vflow.c ctrl/vtranslate.c core/ctlset.c \
                        core/netmodel.c core/tunnels.c core/augment.c core/detour.c \
                        core/meters.c core/wanff.c core/uf.c
# (Every target is named above this line: the rules below take the list
# as their prerequisites when make reads them.)

FUZZ_SECONDS ?= 10
FUZZ_BUILD   := build-fuzz
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -I. -I/usr/include/postgresql \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(FUZZ_BUILD)/%: tests/fuzz/%.c FORCE
	@mkdir -p $(FUZZ_BUILD)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) -ljansson $(FUZZ_LIBS_$*)

fuzz-smoke: $(patsubst %,$(FUZZ_BUILD)/%,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
	  scratch=$$(mktemp -d); cp -r tests/fuzz/corpus/$$t/. $$scratch/; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	     $$scratch 2>&1 | tail -n 12; \
	  rc=$${PIPESTATUS[0]}; rm -rf $$scratch; \
	  [ $$rc -eq 0 ] || { echo "fuzz target $$t failed ($$rc)"; exit 1; }; \
	done

$(FUZZ_BUILD)/fuzz_http $(FUZZ_BUILD)/fuzz_http_pg: $(BUILD)/gen/openapi.c \
    $(BUILD)/gen/web.c $(BUILD)/gen/migrations.c

# fuzz_http_pg for FUZZ_HTTP_PG_RUNS inputs against a throwaway PostgreSQL.
FUZZ_HTTP_PG_RUNS ?= 2000
.PHONY: fuzz-http-pg
fuzz-http-pg: $(FUZZ_BUILD)/fuzz_http_pg
	$(PYTHON) tests/fuzz/fuzz_http_pg.py $(FUZZ_BUILD)/fuzz_http_pg \
	    tests/fuzz/corpus/fuzz_http $(FUZZ_HTTP_PG_RUNS)

.PHONY: FORCE
FORCE:

# C drivers the integration suites run: tests/ctrl/NAME_driver.c.
CTRL_DRIVERS := ovsdb_driver
CTRL_DRIVERS += ofctl_driver
INTEGRATION_DEPS += $(patsubst %,$(BUILD)/tests/%,$(CTRL_DRIVERS))
$(patsubst %,$(BUILD)/tests/%,$(CTRL_DRIVERS)): $(BUILD)/tests/%: $(BUILD)/tests/ctrl/%.o $(BUILD)/libskyctrl.a $(BUILD)/libskycore.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# OVSDB client (ctrl/jsonrpc, ctrl/ovsdb*): unit tests.
UNIT_TESTS += test_jsonrpc test_ovsdb

# OpenFlow connections and controller (ctrl/loop, ctrl/ofconn, ctrl/ofctl).
UNIT_TESTS += test_loop test_ofconn

# The reactive path (core/reactive.c).
UNIT_TESTS += test_reactive

# UTF-8 checks of wire text (core/utf8.c).
UNIT_TESTS += test_utf8

# C drivers of db/ against a real PostgreSQL: tests/ctrl/NAME_driver.c too,
# linked with the database library.
DB_DRIVERS := changelog_driver
DB_DRIVERS += lifecycle_driver
INTEGRATION_DEPS += $(patsubst %,$(BUILD)/tests/%,$(DB_DRIVERS))
$(patsubst %,$(BUILD)/tests/%,$(DB_DRIVERS)): $(BUILD)/tests/%: $(BUILD)/tests/ctrl/%.o $(BUILD)/libskydb.a $(BUILD)/libskycore.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# The installed-flow table (ctrl/flowtable.c).
UNIT_TESTS += test_flowtable

# The switch transport (ctrl/stream*, plain and TLS) and the certificate
# name rule (core/certname.c).
UNIT_TESTS += test_stream test_certname

# A VM migration's phases (core/vm_phase.c).
UNIT_TESTS += test_vm_phase

# The status fold (core/statusfold.c).
UNIT_TESTS += test_statusfold
# A VM's counters across interfaces (core/vmcount.c).
UNIT_TESTS += test_vmcount
# The JSON forms of a VM's snapshot (ctrl/recon_lifecycle.c).
UNIT_TESTS += test_recon_lifecycle

# Cloud leases of several instances (core/lease.c).
UNIT_TESTS += test_lease
# Bandwidth isolation: which flows carry which meter (core/meters.c).
UNIT_TESTS += test_meters
# Tenant controllers: the checks and selections of virtual flows.
UNIT_TESTS += test_vflow
# A gateway's fast-failover plan (core/wanff.c).
UNIT_TESTS += test_wanff
# PostgreSQL snapshots and transaction ids (core/xidsnap.c).
UNIT_TESTS += test_xidsnap
# Tenant flows compiled into the bridges (ctrl/vtranslate.c).
UNIT_TESTS += test_vtranslate
# The union-find (core/uf.c).
UNIT_TESTS += test_uf
# Packet numbers and MAC forms (core/packet.c).
UNIT_TESTS += test_packet
