#!/usr/bin/env bash
# bench/ctrl.sh: OpenFlow 1.3 controller benchmark (`make bench-ctrl`).
#
# Runs bench/ofbench (N emulated switches with M hosts each, cbench-style)
# against two learning-switch controllers, one after the other in the same
# run, on loopback:
#   - skyvisor's embedded controller (bench/ofctl_learn on ctrl/ofctl.h);
#   - Open vSwitch's ovs-testcontroller (package openvswitch-testcontroller),
#     which speaks OpenFlow 1.3 with -O OpenFlow13.
# Both answer every unbuffered packet-in with one packet-out (and a flow-mod
# once the destination is known).  Latency mode keeps one packet-in
# outstanding per switch; throughput mode keeps DEPTH outstanding.  Numbers
# go to BENCHMARKS.md, section "OpenFlow controller".
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
SWITCHES=${SWITCHES:-16}
MACS=${MACS:-1000}
DEPTH=${DEPTH:-64}
make -s -j2 BUILD="$BUILD" "$BUILD/bench/ofbench" "$BUILD/bench/ofctl_learn"
command -v ovs-testcontroller >/dev/null || { echo "ovs-testcontroller is not installed"; exit 1; }

rows=$(mktemp)
trap 'rm -f "$rows"; [ -n "${CTL_PID:-}" ] && kill "$CTL_PID" 2>/dev/null || true' EXIT
port=$((30000 + RANDOM % 20000))

run_against() { # label command...
  local label=$1; shift
  port=$((port + 1))
  "$@" "$port" &
  CTL_PID=$!
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.1
  done
  for mode in latency throughput; do
    line=$("$BUILD/bench/ofbench" --controller "127.0.0.1:$port" --switches "$SWITCHES" \
             --macs "$MACS" --mode "$mode" --depth "$DEPTH" --seconds "$SECONDS_PER_RUN" --warmup 1)
    echo "$label $line"
    echo "$label $line" >> "$rows"
  done
  kill -TERM "$CTL_PID"; wait "$CTL_PID" 2>/dev/null || true
  CTL_PID=
}
skyvisor() { exec "$BUILD/bench/ofctl_learn" "tcp:127.0.0.1:$1" >/dev/null; }
testcontroller() {
  exec ovs-testcontroller -O OpenFlow13 "ptcp:$1:127.0.0.1" --unixctl=/tmp/ofbench-tc.$$.ctl \
     -vconsole:off
}
run_against skyvisor skyvisor
run_against ovs-testcontroller testcontroller

field() { # label mode key
  awk -v l="$1" -v m="mode=$2" -v k="$3" '$1 == l && $2 == m {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$rows"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
table=""
for mode in latency throughput; do
  for l in skyvisor ovs-testcontroller; do
    table+="| $mode | $l | $(field $l $mode rps) | $(field $l $mode p50_us) | $(field $l $mode p99_us) | $(field $l $mode errors) |"$'\n'
  done
done
lat_ratio=$(ratio "$(field skyvisor latency rps)" "$(field ovs-testcontroller latency rps)")
thr_ratio=$(ratio "$(field skyvisor throughput rps)" "$(field ovs-testcontroller throughput rps)")
section="## OpenFlow controller (make bench-ctrl)

$(date -u +%Y-%m-%d), $(nproc) cores shared by the emulator and the controller; OpenFlow 1.3
over loopback TCP; $SWITCHES emulated switches with $MACS hosts each, ${SECONDS_PER_RUN}s per
run after 1s of warm-up; throughput mode keeps $DEPTH packet-ins outstanding per switch.
Responses are packet-outs answering unbuffered packet-ins; latency percentiles are
per packet-in round trip (in throughput mode they include queueing).

| mode | controller | responses/s | p50 (us) | p99 (us) | errors |
|---|---|---|---|---|---|
${table}
skyvisor / ovs-testcontroller: latency mode ${lat_ratio}x, throughput mode ${thr_ratio}x.
"
tools/bench-section BENCHMARKS.md "OpenFlow controller" "$section"
echo "latency ratio ${lat_ratio}, throughput ratio ${thr_ratio}; wrote BENCHMARKS.md"
