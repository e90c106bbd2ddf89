# bench/setup.mk: the setup-time benchmark (`make bench-setup`): skyvisord
# realizing tenant networks on a fleet of hosts emulated by bench/swemu
# (real ovsdb-server per host, swemu as their ovs-vswitchd and OpenFlow
# switches) and, for small sizes, on real Open vSwitch (tools/cloudsim.py).
BENCH_PROGS += $(BUILD)/bench/swemu
$(BUILD)/bench/swemu: $(BUILD)/bench/swemu.o $(BUILD)/libskyctrl.a $(BUILD)/libskycore.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

.PHONY: bench-setup
bench-setup: $(BUILD)/skyvisord $(BUILD)/bench/swemu
	$(PYTHON) bench/setup.py --build $(BUILD)

# `make bench-scale`: the same at 16 clouds (64 hosts) and 10 000 VMs, MST
# only, no real Open vSwitch, in a section of its own (issue 10: declare,
# realize, cold restart, skyvisord's RSS per VM).
.PHONY: bench-scale
bench-scale: $(BUILD)/skyvisord $(BUILD)/bench/swemu
	SETUP_CLOUDS=16 SETUP_VMS=10000 SETUP_LAYOUTS=mst SETUP_REAL= \
	SETUP_TIMEOUT=900 SETUP_TITLE="10 000 VMs: declare, realize, cold restart (make bench-scale)" \
	$(PYTHON) bench/setup.py --build $(BUILD)
