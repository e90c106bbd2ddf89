# bench/wan.mk: `make bench-wan`, the WAN failover benchmark (bench/wan.py):
# the data-plane cost of mst+backup's fast-failover groups (bench/dataplane.py's
# measurements, mst vs mst+backup side by side) and the loss window of a cut
# tree tunnel against the BFD interval, on simulated clouds of real Open
# vSwitch.  Needs root (namespaces, OvS).  PARTS=groups or PARTS=failover runs one.
.PHONY: bench-wan
bench-wan: all $(BUILD)/udpprobe
	BUILD=$(BUILD) /usr/bin/python3 bench/wan.py
