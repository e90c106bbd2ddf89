# ctrl/: the embedded OpenFlow 1.3 controller and OVSDB client.
CTRL_SRCS += ctrl/buf.c ctrl/oferr.c ctrl/ofmatch.c ctrl/ofaction.c ctrl/ofmsg.c
CTRL_SRCS += ctrl/jsonrpc.c ctrl/ovsdb.c ctrl/ovsdb_datum.c ctrl/ovsdb_replica.c \
             ctrl/ovsdb_txn.c ctrl/ovsdb_vswitch.c
CTRL_SRCS += ctrl/loop.c ctrl/ofconn.c ctrl/ofctl.c ctrl/reconciler.c ctrl/topology.c \
             ctrl/flowtable.c
CTRL_SRCS += ctrl/stream.c ctrl/stream_tls.c
CTRL_SRCS += ctrl/recon_packetin.c ctrl/recon_ovsdb.c ctrl/recon_flows.c
# A VM's snapshots and counters, realized by the reconciler.
CTRL_SRCS += ctrl/recon_lifecycle.c
# Live migrations: the moves between phases (recon_migration.h).
CTRL_SRCS += ctrl/recon_migration.c
# Several instances: only the owned clouds' switches, fenced (recon_owner.c).
CTRL_SRCS += ctrl/recon_owner.c
# The meters of bandwidth isolation on each bridge.
CTRL_SRCS += ctrl/recon_meters.c
# Tenant controllers: the virtual OpenFlow switches (migrations/009).
CTRL_SRCS += ctrl/vflow.c ctrl/vswitch_agent.c
# Tenant controllers: their VMs' frames to and from the agent.
CTRL_SRCS += ctrl/recon_tenant_ctl.c
# Inter-cloud tunnels' liveness: BFD configured and its state read back.
CTRL_SRCS += ctrl/recon_bfd.c
# mst+backup's fast-failover groups on the gateways.
CTRL_SRCS += ctrl/recon_groups.c
# Tenant controllers: their flows compiled into the bridges (vtranslate.h).
CTRL_SRCS += ctrl/vtranslate.c
