# bench/api_world.sh: sourced by the HTTP API benchmarks (api.sh,
# api_compare.sh, batch_place.sh), the fleet they declare.
#
# They listen (PostgreSQL, skyvisord) on random ports below 32768: after a
# wrk run, thousands of TIME-WAIT sockets hold ports of the ephemeral range
# (32768-60999) and a server binding one of them fails.
#
# api_world_fleet HTTP TOKEN CLOUDS HOSTS: through skyvisord at HTTP
# (IP:PORT) with the admin TOKEN, clouds cloud-1 .. cloud-CLOUDS (aws, DE),
# each with hosts host-C-1 .. host-C-HOSTS (capacity 100000, tunnel IP
# 198.18.C.H; at most 254 of either).  Fails on any refusal.
# api_world_vm_network HTTP TOKEN: tenant bench, its network n
# (10.0.0.0/8, mac-prefix) with switch s: where bench/vm_post.lua creates
# its VMs.
api_world_fleet() {
  local http=$1 token=$2 clouds=$3 hosts=$4 c h
  local A=(-sf -H "Authorization: Bearer $token" -H "Content-Type: application/json")
  for c in $(seq "$clouds"); do
    curl "${A[@]}" "http://$http/v1/clouds" -d "{\"name\":\"cloud-$c\",\"provider\":\"aws\",\"region\":\"r$c\",\"jurisdiction\":\"DE\",\"kind\":\"public\"}" >/dev/null
    for h in $(seq "$hosts"); do
      curl "${A[@]}" "http://$http/v1/hosts" -d "{\"name\":\"host-$c-$h\",\"cloud\":\"cloud-$c\",\"tunnel_ip\":\"198.18.$c.$h\",\"capacity\":100000,\"ovsdb\":\"tcp:127.0.0.1:6640\",\"controller\":\"tcp:127.0.0.1:6653\"}" >/dev/null
    done
  done
}
api_world_vm_network() {
  local http=$1 token=$2
  local A=(-sf -H "Authorization: Bearer $token" -H "Content-Type: application/json")
  curl "${A[@]}" "http://$http/v1/tenants" -d '{"name":"bench"}' >/dev/null
  curl "${A[@]}" "http://$http/v1/tenants/bench/networks" -d '{"name":"n","subnet":"10.0.0.0/8"}' >/dev/null
  curl "${A[@]}" "http://$http/v1/tenants/bench/networks/n/switches" -d '{"name":"s"}' >/dev/null
}
