-- bench/vm_post.lua: wrk script of the VM POST workload (bench/api.sh,
-- bench/api_compare.sh) against .../networks/n/vms of api_world_vm_network.
-- Each request creates a new VM: unique name, MAC and IP per thread and
-- count.  mac-prefix tagging keeps only a VM's lower 32 MAC bits on the wire,
-- so those must differ between all VMs of the tenant: the thread id is their
-- top byte and the count the 24 bits below it (16 M VMs per thread).  The IP
-- spreads thread and count over 10.0.0.0/8 the same way (1 M per thread,
-- never a .0 or .255 host byte).  Every answer's status is counted per
-- thread and printed by done(), so a refused POST cannot pass unnoticed.
-- VM_POST_BASE (default 0) starts every thread's count there, so a later
-- run against the same network creates new VMs too (api_compare.sh's
-- rounds); at most 1 M per thread in all.
local base = tonumber(os.getenv("VM_POST_BASE") or "0")
local counter, tid = base, 0
local threads = {}
statuses = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args) tid = tonumber(wrk.thread:get("tid")) end
function request()
  counter = counter + 1
  if counter >= 1040384 or tid > 15 then error("VM generator exhausted") end
  local function byte(x, div) return math.floor(x / div) % 256 end
  local body = string.format(
    '{"name":"vm-%d-%d","mac":"02:00:%02x:%02x:%02x:%02x","ip":"10.%d.%d.%d","switch":"s","placement":{"jurisdiction":["DE"]}}',
    tid, counter, tid, byte(counter, 65536), byte(counter, 256), counter % 256,
    tid * 16 + math.floor(counter / 65024) % 16, math.floor(counter / 254) % 256, counter % 254 + 1)
  return wrk.format("POST", nil, nil, body)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("status %d: %d\n", status, n)) end
end
