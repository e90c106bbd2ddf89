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
