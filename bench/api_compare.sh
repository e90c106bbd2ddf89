#!/usr/bin/env bash
# bench/api_compare.sh BEFORE AFTER: two skyvisord binaries side by side in
# one run, for a before/after figure of the HTTP API (BENCHMARKS.md).
#
# Each binary gets its own database in one throwaway PostgreSQL cluster
# (fsync on, loopback), the same 3 clouds of 4 hosts each and the VM
# network of bench/api.sh, and wrk (-t2 -c$CONNS -d$DURATION) alternates
# between them per workload ($WORKLOADS: the list GET, a single GET,
# /healthz; "vm" is bench/api.sh's VM POST, bench/vm_post.lua), $ROUNDS
# times (default 1), so both meet the same load.  Prints one table row per
# binary, workload and round (for "vm" with the VMs that binary's database
# then holds); writes nothing.
# Build the older binary from a checkout of its own (git worktree) first.
set -euo pipefail
. "$(dirname "$0")/api_world.sh"
BEFORE=$1 AFTER=$2; DURATION=${DURATION:-10}; CONNS=${CONNS:-32}; ROUNDS=${ROUNDS:-1}
LUA=$(cd "$(dirname "$0")" && pwd)/vm_post.lua
work=$(mktemp -d /tmp/skyv-sbs.XXXXXX); chmod 755 "$work"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PORT=$((20000 + RANDOM % 12000))
as_pg() { if [ "$(id -u)" = 0 ]; then chown -R postgres: "$work"; runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() { for p in $(cat "$work/pids" 2>/dev/null); do kill -TERM $p 2>/dev/null; wait $p 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --locale=C >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -o "-c listen_addresses=127.0.0.1 -p $PORT -k $work -c max_connections=100" start >/dev/null
TOKEN=sbs-admin-token-$RANDOM$RANDOM
PIDS=""
start() { # bin db -> sets HTTP
  psql -q -h 127.0.0.1 -p $PORT -U postgres -c "CREATE DATABASE $2" >/dev/null
  local http=127.0.0.1:$((10000 + RANDOM % 10000))
  SKYVISOR_ADMIN_TOKEN=$TOKEN "$1" --db "postgresql://postgres@127.0.0.1:$PORT/$2" --listen $http --threads 2 --log-level warn > "$work/$2.log" 2>&1 &
  echo $! >> "$work/pids"
  for _ in $(seq 100); do curl -sf "http://$http/readyz" >/dev/null && break; sleep 0.1; done
  api_world_fleet "$http" "$TOKEN" 3 4
  api_world_vm_network "$http" "$TOKEN"
  echo $http
}
: > "$work/pids"
HB=$(start "$BEFORE" before); HA=$(start "$AFTER" after)
run() { # label http workload
  local path=$3 lua=""
  if [ "$3" = vm ]; then path=/v1/tenants/bench/networks/n/vms lua=$LUA; fi
  local out; out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/json" ${lua:+-s "$lua"} "http://$2$path")
  local non2xx; non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  local vms=""
  if [ -n "$lua" ]; then
    vms=" $(curl -sf -H "Authorization: Bearer $TOKEN" "http://$2/v1/hosts?limit=1000" |
      python3 -c 'import json,sys; print(sum(h["vm_count"] for h in json.load(sys.stdin)["items"]))') VMs |"
  fi
  printf '| %s | %s | %.0f | %s | %s | %s |%s\n' "$1" "$path" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" "${non2xx:-0}" "$vms"
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  export VM_POST_BASE=$(((round - 1) * 100000))
  for w in ${WORKLOADS:-/v1/clouds /v1/clouds/cloud-2 /healthz}; do
    run before $HB $w; run after $HA $w
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
