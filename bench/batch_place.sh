#!/usr/bin/env bash
# bench/batch_place.sh BUILD N...: the time of one batch POST of N VMs
# (POST .../networks/{n}/batch, creates only, placement by jurisdiction over
# 16 clouds of 4 hosts), one new network per N, in the order given, against
# skyvisord from BUILD (--no-reconciler: the API's share alone) on a
# throwaway PostgreSQL cluster.  Each network's VMs add to the hosts' VM
# counts, so a later N also places against the earlier ones.  Prints one
# line per batch; writes nothing.
set -euo pipefail
. "$(dirname "$0")/api_world.sh"
BUILD=$1; shift
work=$(mktemp -d /tmp/skyv-bt.XXXXXX); chmod 755 "$work"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PORT=$((20000 + RANDOM % 12000)); HTTP=127.0.0.1:$((10000 + RANDOM % 10000))
as_pg() { if [ "$(id -u)" = 0 ]; then chown -R postgres: "$work"; runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() { [ -n "${SKY_PID:-}" ] && kill -TERM "$SKY_PID" 2>/dev/null && wait "$SKY_PID" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --locale=C >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -o "-c listen_addresses=127.0.0.1 -p $PORT -k $work" start >/dev/null
TOKEN=bt-admin-token-$RANDOM$RANDOM
SKYVISOR_ADMIN_TOKEN=$TOKEN "$BUILD/skyvisord" --db "postgresql://postgres@127.0.0.1:$PORT/postgres" --no-reconciler \
  --listen "$HTTP" --log-level warn > "$work/sky.log" 2>&1 &
SKY_PID=$!
for _ in $(seq 100); do curl -sf "http://$HTTP/readyz" >/dev/null && break; sleep 0.1; done
A=(-sf -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
api_world_fleet "$HTTP" "$TOKEN" 16 4
curl "${A[@]}" "http://$HTTP/v1/tenants" -d '{"name":"t"}' >/dev/null
i=0
for N in "$@"; do
  i=$((i+1))
  curl "${A[@]}" "http://$HTTP/v1/tenants/t/networks" -d "{\"name\":\"n$i\",\"subnet\":\"10.$i.0.0/16\"}" >/dev/null
  curl "${A[@]}" "http://$HTTP/v1/tenants/t/networks/n$i/switches" -d '{"name":"s"}' >/dev/null
  python3 - "$N" "$i" > "$work/b.json" <<'PY'
import json, sys
n, i = int(sys.argv[1]), int(sys.argv[2])
ops = [{"op": "create", "kind": "vm", "body": {"name": f"vm{k}", "switch": "s",
        "mac": "02:00:%02x:%02x:%02x:%02x" % (i, k >> 16 & 255, k >> 8 & 255, k & 255),
        "ip": f"10.{i}.{(k+1)//254}.{(k+1)%254+1}", "placement": {"jurisdiction": ["DE"]}}} for k in range(n)]
print(json.dumps({"operations": ops}))
PY
  t0=$(date +%s.%N)
  code=$(curl -s -o "$work/out.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
     --data-binary @"$work/b.json" "http://$HTTP/v1/tenants/t/networks/n$i/batch")
  t1=$(date +%s.%N)
  echo "N=$N status=$code seconds=$(echo "$t1 - $t0" | bc)"
  [ "$code" = 200 ] || head -c 400 "$work/out.json"
done
