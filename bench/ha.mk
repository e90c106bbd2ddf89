# bench/ha.mk: `make bench-ha`, several instances on one database
# (bench/ha.py): takeover time and loss against the lease length on real
# Open vSwitch, and API throughput with one, two and three instances.
# Needs root (namespaces, OvS) and wrk.
.PHONY: bench-ha
bench-ha: all $(BUILD)/udpprobe
	BUILD=$(BUILD) /usr/bin/python3 bench/ha.py
