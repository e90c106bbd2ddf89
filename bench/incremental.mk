# bench/incremental.mk: `make bench-incremental`, one VM added and deleted
# in running networks of 100 to 10 000 VMs (bench/swemu's emulated fleet) and
# on real Open vSwitch (tools/cloudsim.py); SIZES=100,1000 picks sizes.
.PHONY: bench-incremental
bench-incremental: $(BUILD)/skyvisord $(BUILD)/bench/swemu
	$(PYTHON) bench/incremental.py --build $(BUILD)
