# bench/ovn.mk: `make bench-ovn` (root), skyvisor beside OVN 23.03 on the
# same six real Open vSwitch hosts: 300-port setup, one-port add and delete.
.PHONY: bench-ovn
bench-ovn: $(BUILD)/skyvisord
	$(PYTHON) bench/ovn.py --build $(BUILD)
