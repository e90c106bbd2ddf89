# bench/dataplane.mk: `make bench-dataplane`, the data-plane overhead
# benchmark (bench/dataplane.py): ping RTT and iperf3 throughput between two
# VMs in different simulated clouds, skyvisor's pipeline vs plain Open
# vSwitch forwarding over the same tunnels.  Needs root (namespaces, OvS).
.PHONY: bench-dataplane
bench-dataplane: all
	BUILD=$(BUILD) /usr/bin/python3 bench/dataplane.py
