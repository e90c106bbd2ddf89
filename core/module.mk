# core/: pure domain logic, no I/O.
CORE_SRCS += core/error.c core/vlog.c core/validate.c core/placement.c \
             core/tunnels.c core/netmodel.c core/vtopo.c
# The one union-find (core/uf.c): tunnels, netmodel and vtopo use it.
CORE_SRCS += core/uf.c
# Packet numbers and MAC forms (core/packet.h); the text forms in packet.c.
CORE_SRCS += core/packet.c
CORE_SRCS += core/reactive.c
CORE_SRCS += core/utf8.c
CORE_SRCS += core/certname.c
CORE_SRCS += core/vm_phase.c
CORE_SRCS += core/statusfold.c
CORE_SRCS += core/augment.c core/detour.c
# Cloud leases: what an instance acquires, renews or lets go (core/lease.c).
CORE_SRCS += core/lease.c
# A VM's counters across the interfaces that carry it (core/vmcount.c).
CORE_SRCS += core/vmcount.c
# Named points where a test stops the process (core/failpoint.c).
CORE_SRCS += core/failpoint.c
# Bandwidth isolation: the meters of VM rates and tenant WAN caps.
CORE_SRCS += core/meters.c
# A gateway's fast-failover plan (mst+backup): groups and detour rules.
CORE_SRCS += core/wanff.c
# The tenant-controlled switches the datapath carries (core/ctlset.c).
CORE_SRCS += core/ctlset.c
# Whether a PostgreSQL snapshot sees a transaction (core/xidsnap.c): the
# API's read snapshot against Skyvisor-Min-Seq.
CORE_SRCS += core/xidsnap.c
