# bench/flowmod.mk: `make bench-flowmod` (root), flow-mods per second into
# one real ovs-vswitchd, barrier-confirmed: skyvisor's embedded controller
# (bench/flowrate.c) beside `ovs-ofctl add-flows` of the same flows, over
# TCP and TLS (bench/flowmod.py).
BENCH_PROGS += $(BUILD)/bench/flowrate
$(BUILD)/bench/flowrate: $(BUILD)/bench/flowrate.o $(BUILD)/libskyctrl.a $(BUILD)/libskycore.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

.PHONY: bench-flowmod
bench-flowmod: $(BUILD)/bench/flowrate
	$(PYTHON) bench/flowmod.py --build $(BUILD)
