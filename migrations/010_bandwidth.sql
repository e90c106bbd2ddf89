-- 010_bandwidth.sql: bandwidth isolation, the desired rates.
--
--   vm.rate_mbps, vm.burst_kb   a VM's rate limit: what it may send into
--                               the platform, policed at its ingress edge
--                               (an OpenFlow meter on its host's bridge);
--                               burst_kb is in kilobits, the meter's own
--                               unit (default: 100 ms of the rate); a
--                               burst without a rate means nothing and is
--                               refused.
--   tenant.wan_limit_mbps       the tenant's cap on each inter-cloud link:
--                               policed by a meter per tenant and per
--                               inter-cloud tunnel on each gateway, at its
--                               egress toward the other cloud.
--   cloud_link.bandwidth_mbps   (since 001) the link's capacity.
-- NULL is "no limit" for all three.  Admission control (the caps of the
-- tenants on a link add up to at most its bandwidth_mbps, every capped
-- tenant counting on every link, since a tenant's traffic may cross any of
-- them) is checked by the API under the tenant lock (db/bandwidth.c); the
-- ranges are checked here as well.
ALTER TABLE vm ADD COLUMN rate_mbps integer CHECK (rate_mbps BETWEEN 1 AND 400000);
ALTER TABLE vm ADD COLUMN burst_kb integer CHECK (burst_kb BETWEEN 1 AND 4000000);
ALTER TABLE vm ADD CONSTRAINT vm_burst_needs_rate
    CHECK (burst_kb IS NULL OR rate_mbps IS NOT NULL);
ALTER TABLE tenant ADD COLUMN wan_limit_mbps integer
    CHECK (wan_limit_mbps BETWEEN 1 AND 400000);
