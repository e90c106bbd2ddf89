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
  # One switch in latency mode is the bare round trip; N switches add
  # contention; throughput mode fills the pipes.
  for run in "latency 1" "latency $SWITCHES" "throughput $SWITCHES"; do
    set -- $run
    line=$("$BUILD/bench/ofbench" --controller "127.0.0.1:$port" --switches "$2" \
             --macs "$MACS" --mode "$1" --depth "$DEPTH" --seconds "$SECONDS_PER_RUN" --warmup 1)
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

field() { # label mode switches key
  awk -v l="$1" -v m="mode=$2" -v s="switches=$3" -v k="$4" '$1 == l && $2 == m && $3 == s {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$rows"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
table=""
for run in "latency 1" "latency $SWITCHES" "throughput $SWITCHES"; do
  set -- $run
  for l in skyvisor ovs-testcontroller; do
    table+="| $1 | $2 | $l | $(field $l $1 $2 rps) | $(field $l $1 $2 p50_us) | $(field $l $1 $2 p99_us) | $(field $l $1 $2 errors) |"$'\n'
  done
done
lat1_ratio=$(ratio "$(field skyvisor latency 1 rps)" "$(field ovs-testcontroller latency 1 rps)")
lat_ratio=$(ratio "$(field skyvisor latency "$SWITCHES" rps)" "$(field ovs-testcontroller latency "$SWITCHES" rps)")
thr_ratio=$(ratio "$(field skyvisor throughput "$SWITCHES" rps)" "$(field ovs-testcontroller throughput "$SWITCHES" rps)")
section="## OpenFlow controller (make bench-ctrl)

$(date -u +%Y-%m-%d), $(nproc) cores shared by the emulator and the controller; OpenFlow 1.3
over loopback TCP; 1 or $SWITCHES emulated switches with $MACS hosts each, ${SECONDS_PER_RUN}s per
run after 1s of warm-up; throughput mode keeps $DEPTH packet-ins outstanding per switch.
Responses are packet-outs answering unbuffered packet-ins; latency percentiles are
per packet-in round trip (in throughput mode they include queueing).

| mode | switches | controller | responses/s | p50 (us) | p99 (us) | errors |
|---|---|---|---|---|---|---|
${table}
skyvisor / ovs-testcontroller (responses/s): latency mode ${lat1_ratio}x with one switch,
${lat_ratio}x with $SWITCHES, throughput mode ${thr_ratio}x.
"
tools/bench-section BENCHMARKS.md "OpenFlow controller" "$section"
echo "latency ratios ${lat1_ratio} (1 switch) ${lat_ratio} ($SWITCHES), throughput ratio ${thr_ratio}; wrote BENCHMARKS.md"
