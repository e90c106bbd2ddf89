#!/usr/bin/env bash
# bench/api.sh: HTTP API throughput and tail latency, measured with wrk.
#
# Starts skyvisord on a throwaway PostgreSQL cluster (fsync on, as in
# production; loopback only), declares 3 clouds with 4 hosts each and a
# tenant network, then runs wrk for DURATION seconds against:
#   - GET  /v1/clouds                    (a list GET, admin token)
#   - GET  /v1/clouds/{cloud}            (a single small GET)
#   - GET  /healthz                      (the HTTP layer alone, no database)
#   - POST .../networks/{network}/vms    (a VM creation with placement, each
#                                         request a new VM: a wrk Lua script)
# and writes requests/s and p50/p99 into BENCHMARKS.md (section "HTTP API").
# Everything shares this machine's cores: wrk, skyvisord and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/api_world.sh
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
BUILD=${BUILD:-build}
make -s -j2 BUILD="$BUILD"

work=$(mktemp -d /tmp/skyv-bench-api.XXXXXX)
chmod 755 "$work"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PORT=$((20000 + RANDOM % 12000))
HTTP=127.0.0.1:$((10000 + RANDOM % 10000))
as_pg() { if [ "$(id -u)" = 0 ]; then chown -R postgres: "$work"; runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "${SKY_PID:-}" ] && kill -TERM "$SKY_PID" 2>/dev/null && wait "$SKY_PID" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --locale=C >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $work -c max_connections=100" start >/dev/null
TOKEN=bench-admin-token-$RANDOM$RANDOM
THREADS=${THREADS:-$(nproc)}
SKYVISOR_ADMIN_TOKEN=$TOKEN "$BUILD/skyvisord" --db "postgresql://postgres@127.0.0.1:$PORT/postgres" \
  --listen "$HTTP" --threads "$THREADS" --log-level warn > "$work/skyvisord.log" 2>&1 &
SKY_PID=$!
for _ in $(seq 100); do curl -sf "http://$HTTP/readyz" >/dev/null && break; sleep 0.1; done

A=(-sf -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
api_world_fleet "$HTTP" "$TOKEN" 3 4
api_world_vm_network "$HTTP" "$TOKEN"

run() { # name path [lua]
  local name=$1 path=$2 lua=${3:-}
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" \
        -H "Content-Type: application/json" ${lua:+-s "$lua"} "http://$HTTP$path")
  local rps p50 p99 non2xx errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  errors=$(awk '/Socket errors/' <<<"$out")
  printf '| %s | %s | %.0f | %s | %s | %s |\n' "$name" "$path" "$rps" "$p50" "$p99" "${non2xx:-0}" | tee -a "$work/rows"
  grep '^status ' <<<"$out" | sed "s|^|  $name: |" || true
  if [ "${non2xx:-0}" != 0 ] || [ -n "$errors" ]; then
    echo "FAILED: $name answered ${non2xx:-0} requests non-2xx ${errors:+($errors)}; BENCHMARKS.md left as it was" >&2
    exit 1
  fi
  ok2xx=$(awk '/^status 2[0-9][0-9]:/ {n += $3} END {print n + 0}' <<<"$out")
}
load0=$(cut -d' ' -f1 /proc/loadavg)
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk: 2 threads, $CONNS connections, ${DURATION}s each; skyvisord --threads $THREADS"
run "list GET" /v1/clouds
run "small GET" /v1/clouds/cloud-2
run "healthz (no DB)" /healthz
run "VM POST" /v1/tenants/bench/networks/n/vms bench/vm_post.lua
vms=$(curl "${A[@]}" "http://$HTTP/v1/hosts?limit=1000" | python3 -c 'import json,sys; print(sum(h["vm_count"] for h in json.load(sys.stdin)["items"]))')
echo "VMs created by the POST run: $vms, POSTs answered 201: $ok2xx"
# wrk stops counting at the deadline: the requests still in flight then (at
# most one per connection) may have created their VM unseen.
if [ "$vms" -lt "$ok2xx" ] || [ "$vms" -gt $((ok2xx + CONNS)) ]; then
  echo "FAILED: $ok2xx POSTs answered 2xx but $vms VMs exist; BENCHMARKS.md left as it was" >&2
  exit 1
fi
load_end=$(cut -d' ' -f1 /proc/loadavg)

section="## HTTP API (make bench-api)

$(date -u +%Y-%m-%d), $(nproc) cores shared by wrk, skyvisord (--threads $THREADS) and
PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'); wrk -t2 -c$CONNS -d${DURATION}s; admin token.
Load average (1 min) $load0 at the start, $load_end at the end.
The VM POST run creates a new VM per request (placement by jurisdiction over
12 hosts under the VM advisory lock, each host's used slots read from its
counter, migrations/015), each with a MAC unique in its lower 32 bits (the
mac-prefix rule); every answer was 2xx (the run fails otherwise), $ok2xx answered
201 and $vms VMs exist (the difference: requests in flight at wrk's deadline).
The GETs of clouds are answered from the read snapshot (api/readsnap.h).

| workload | path | requests/s | p50 | p99 | non-2xx |
|---|---|---|---|---|---|
$(cat "$work/rows")
"
tools/bench-section BENCHMARKS.md "HTTP API" "$section"
echo "wrote BENCHMARKS.md (HTTP API)"
