#!/bin/sh
# A simulated cloud for the compose stack: starts ovsdb-server (reachable by
# skyvisord at tcp:<container>:6640) and ovs-vswitchd with the userspace
# datapath, then registers the cloud and this host as its gateway through
# skyvisor's API, exactly as an operator would with curl, and stays in the
# foreground as ovs-vswitchd.
#
# Environment: SKYVISOR_URL, SKYVISOR_TOKEN, CLOUD_NAME, CLOUD_PROVIDER,
# CLOUD_REGION, CLOUD_JURISDICTION, CLOUD_KIND, CLOUD_COST, TUNNEL_IP,
# PUBLIC_IP.
set -eu
D=/run/openvswitch
mkdir -p "$D" /etc/openvswitch
[ -f /etc/openvswitch/conf.db ] || \
  ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server /etc/openvswitch/conf.db --remote=punix:$D/db.sock \
  --remote=ptcp:6640 --pidfile=$D/ovsdb-server.pid --detach --log-file
ovs-vsctl --db=unix:$D/db.sock --no-wait init

api() { # METHOD PATH BODY: 2xx or "already exists" (409) is success
  code=$(curl -s -o /tmp/answer -w '%{http_code}' -X "$1" \
    -H "Authorization: Bearer $SKYVISOR_TOKEN" -H "Content-Type: application/json" \
    "$SKYVISOR_URL$2" -d "$3")
  case $code in 2??|409) ;; *) echo "$1 $2 -> $code: $(cat /tmp/answer)" >&2; exit 1 ;; esac
}
until curl -sf "$SKYVISOR_URL/readyz" >/dev/null; do sleep 1; done
api POST /v1/clouds "{\"name\":\"$CLOUD_NAME\",\"provider\":\"$CLOUD_PROVIDER\",\"region\":\"$CLOUD_REGION\",\"jurisdiction\":\"$CLOUD_JURISDICTION\",\"kind\":\"$CLOUD_KIND\",\"cost_per_hour\":\"$CLOUD_COST\"}"
api POST /v1/hosts "{\"name\":\"$CLOUD_NAME-gw\",\"cloud\":\"$CLOUD_NAME\",\"role\":\"gateway\",\"tunnel_ip\":\"$TUNNEL_IP\",\"public_ip\":\"$PUBLIC_IP\",\"datapath\":\"netdev\",\"ovsdb\":\"tcp:$TUNNEL_IP:6640\",\"controller\":\"tcp:$SKYVISOR_OPENFLOW\"}"
echo "registered cloud $CLOUD_NAME"
exec ovs-vswitchd unix:$D/db.sock --pidfile=$D/ovs-vswitchd.pid --log-file
