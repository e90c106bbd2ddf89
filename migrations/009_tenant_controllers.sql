-- 009_tenant_controllers.sql: tenants run their own OpenFlow controllers on
-- their virtual switches.
--
-- tenant.controller_allow: the CIDRs (IPv4) a controller of this tenant's
-- virtual switches may be at, set by the admin, empty by default (no
-- controller anywhere), so a tenant cannot point skyvisord at the
-- provider's own network.
--
-- vswitch.controller: "tcp:IPv4:PORT" or "ssl:IPv4:PORT", NULL when the
-- platform forwards for the switch itself (the default).  vswitch.fail_mode:
-- 'secure' (the tenant's flows stay when its controller is gone, misses are
-- dropped) or 'standalone' (the platform's own forwarding until the
-- controller is back); set exactly when controller is (the API defaults it
-- to 'secure').
--
-- The allow list is enforced here, not only by the API: a trigger on vswitch
-- refuses a controller outside its tenant's list (constraint name
-- vswitch_controller_allowed) and one on tenant refuses a list that would
-- leave a switch's controller outside (tenant_controller_allow_in_use).
-- Under READ COMMITTED the vswitch trigger takes the tenant row FOR SHARE,
-- so a concurrent change of the list waits for the switch's transaction and
-- then its own check sees the switch.
--
-- vflow: a tenant controller's flows, as desired state, so that restarts,
-- takeovers and audits keep them.  One row per virtual flow of a virtual
-- switch: the OpenFlow 1.3 flow key (table, priority, match as the OXM TLVs
-- of ofp_match without its header and padding), the instructions as their
-- wire bytes, the tenant's cookie, flags and timeouts.  installed_at and
-- last_hit_at let the timeouts run across restarts; packet_offset and
-- byte_offset carry the counters of physical flows that are gone (a
-- retranslation, a restart), to which the live ones are added.  Written by
-- the reconciler's tenant-controller agents only; no change log (the agents
-- own them), deleted with their switch.

ALTER TABLE tenant ADD COLUMN controller_allow cidr[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(controller_allow) <= 64);

ALTER TABLE vswitch
    ADD COLUMN controller text
        CHECK (controller ~ '^(tcp|ssl):[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]{1,5}$'),
    ADD COLUMN fail_mode text CHECK (fail_mode IN ('secure', 'standalone')),
    ADD CONSTRAINT vswitch_fail_mode_with_controller
        CHECK ((controller IS NULL) = (fail_mode IS NULL));

-- True when the address of 'ctl' ("tcp:IP:PORT") lies in one of 'allow'.
CREATE FUNCTION sv_controller_allowed(ctl text, allow cidr[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT ctl IS NULL
        OR EXISTS (SELECT 1 FROM unnest(allow) c
                   WHERE split_part(ctl, ':', 2)::inet <<= c)
$$;

CREATE FUNCTION sv_vswitch_controller_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    allow cidr[];
BEGIN
    IF NEW.controller IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT t.controller_allow INTO allow
      FROM tenant t JOIN network n ON n.tenant_id = t.id
     WHERE n.id = NEW.network_id
       FOR SHARE OF t;
    IF NOT sv_controller_allowed(NEW.controller, allow) THEN
        RAISE EXCEPTION 'controller % is outside the tenant''s controller_allow',
            NEW.controller
            USING ERRCODE = 'check_violation', CONSTRAINT = 'vswitch_controller_allowed';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER vswitch_controller_check BEFORE INSERT OR UPDATE OF controller
    ON vswitch FOR EACH ROW EXECUTE FUNCTION sv_vswitch_controller_check();

CREATE FUNCTION sv_tenant_controller_allow_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad text;
BEGIN
    SELECT s.controller INTO bad
      FROM vswitch s JOIN network n ON n.id = s.network_id
     WHERE n.tenant_id = NEW.id AND s.controller IS NOT NULL
       AND NOT sv_controller_allowed(s.controller, NEW.controller_allow)
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'a virtual switch of the tenant uses controller %, outside the new controller_allow',
            bad
            USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_controller_allow_in_use';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tenant_controller_allow_check BEFORE UPDATE OF controller_allow
    ON tenant FOR EACH ROW EXECUTE FUNCTION sv_tenant_controller_allow_check();

CREATE TABLE vflow (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vswitch_id    uuid NOT NULL REFERENCES vswitch (id) ON DELETE CASCADE,
    table_id      smallint NOT NULL CHECK (table_id BETWEEN 0 AND 254),
    priority      integer NOT NULL CHECK (priority BETWEEN 0 AND 65535),
    match         bytea NOT NULL CHECK (length(match) <= 2048),
    instructions  bytea NOT NULL CHECK (length(instructions) <= 8192),
    cookie        bigint NOT NULL DEFAULT 0,
    flags         integer NOT NULL DEFAULT 0 CHECK (flags BETWEEN 0 AND 65535),
    idle_timeout  integer NOT NULL DEFAULT 0 CHECK (idle_timeout BETWEEN 0 AND 65535),
    hard_timeout  integer NOT NULL DEFAULT 0 CHECK (hard_timeout BETWEEN 0 AND 65535),
    packet_offset bigint NOT NULL DEFAULT 0 CHECK (packet_offset >= 0),
    byte_offset   bigint NOT NULL DEFAULT 0 CHECK (byte_offset >= 0),
    installed_at  timestamptz NOT NULL DEFAULT now(),
    last_hit_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (vswitch_id, table_id, priority, match)
);

-- vport: the port numbers of a controlled virtual switch, as its controller
-- sees them: one per VM on the switch and one per virtual link end, 1 and
-- up, allocated (lowest free) by the tenant-controller agent when it first
-- shows the port and kept while the VM or link is there, so a number never
-- moves to another port while its object lives, across restarts too.
CREATE TABLE vport (
    vswitch_id uuid NOT NULL REFERENCES vswitch (id) ON DELETE CASCADE,
    port_no    integer NOT NULL CHECK (port_no BETWEEN 1 AND 65279),
    vm_id      uuid REFERENCES vm (id) ON DELETE CASCADE,
    vlink_id   uuid REFERENCES vlink (id) ON DELETE CASCADE,
    PRIMARY KEY (vswitch_id, port_no),
    UNIQUE (vswitch_id, vm_id),
    UNIQUE (vswitch_id, vlink_id),
    CHECK ((vm_id IS NULL) <> (vlink_id IS NULL))
);
