# bench/migration.mk: `make bench-migration` (root), live migration on real
# Open vSwitch against the WAN round trip and the network's size, on the
# emulated fleet for larger sizes, snapshots and restore, and OVN 23.03's
# multi-chassis port migration beside it (bench/migration.py).
.PHONY: bench-migration
bench-migration: $(BUILD)/skyvisord $(BUILD)/bench/swemu $(BUILD)/udpprobe
	$(PYTHON) bench/migration.py --build $(BUILD)
