# bench/tenant_ctl.mk: `make bench-tenant-ctl` (root), a tenant controller
# against skyvisord's virtual switch and against a plain Open vSwitch
# bridge in the same run (bench/tenant_ctl.py).
.PHONY: bench-tenant-ctl
bench-tenant-ctl: $(BUILD)/skyvisord
	$(PYTHON) bench/tenant_ctl.py --build $(BUILD)
