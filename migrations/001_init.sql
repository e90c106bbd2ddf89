-- 001_init.sql: skyvisor's desired state.
--
-- The API writes desired state here; the reconciler reads it and writes back
-- each object's status (state, detail, observed_generation).  Invariants held
-- by the database itself, not only by the C code:
--   * names are unique per scope (clouds, hosts, tenants globally; networks per
--     tenant; switches, links, VMs per network);
--   * enums and ranges are CHECK constraints;
--   * references are foreign keys; deleting a cloud that still has hosts, a
--     host or a network that still has VMs, a tenant that still has networks,
--     a switch that still has VMs or links is refused (RESTRICT / NO ACTION;
--     the API answers 409); deleting a network without VMs takes its switches
--     and links with it (CASCADE);
--   * at most one gateway per cloud (partial unique index);
--   * tenant tags are unique among live tenants.
-- Every table carries `revision` (bumped on every UPDATE, the ETag) and the
-- desired-state tables carry `generation` (bumped by the API on every spec
-- change).  A trigger NOTIFYs channel 'skyvisor_desired' in the same
-- transaction whenever desired state changes (insert, delete, or an update that
-- bumps generation); status-only updates by the reconciler do not notify.

CREATE FUNCTION sv_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE FUNCTION sv_notify_desired() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rec record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.generation = OLD.generation THEN
            RETURN NULL;
        END IF;
        rec := NEW;
    ELSIF TG_OP = 'DELETE' THEN
        rec := OLD;
    ELSE
        rec := NEW;
    END IF;
    PERFORM pg_notify('skyvisor_desired',
                      json_build_object('kind', TG_TABLE_NAME,
                                        'op', lower(TG_OP),
                                        'id', rec.id)::text);
    RETURN NULL;
END $$;

CREATE TABLE cloud (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL UNIQUE
                  CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    provider      text NOT NULL
                  CHECK (provider IN ('aws', 'gcp', 'azure', 'private', 'other')),
    region        text NOT NULL CHECK (length(region) BETWEEN 1 AND 64),
    jurisdiction  char(2) NOT NULL CHECK (jurisdiction ~ '^[A-Z]{2}$'),
    kind          text NOT NULL CHECK (kind IN ('public', 'private')),
    cost_per_hour numeric(15, 6) NOT NULL DEFAULT 0 CHECK (cost_per_hour >= 0),
    labels        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'realized', 'error')),
    detail        text,
    revision      bigint NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Undirected WAN link between two clouds; stored with cloud_a < cloud_b.
CREATE TABLE cloud_link (
    cloud_a        uuid NOT NULL REFERENCES cloud (id) ON DELETE CASCADE,
    cloud_b        uuid NOT NULL REFERENCES cloud (id) ON DELETE CASCADE,
    cost           double precision NOT NULL CHECK (cost > 0 AND cost < 'Infinity'),
    rtt_ms         double precision CHECK (rtt_ms >= 0 AND rtt_ms < 'Infinity'),
    bandwidth_mbps integer CHECK (bandwidth_mbps >= 1),
    generation     bigint NOT NULL DEFAULT 1,
    revision       bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    id             uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    PRIMARY KEY (cloud_a, cloud_b),
    CHECK (cloud_a < cloud_b)
);

CREATE TABLE host (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE
                CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    cloud_id    uuid NOT NULL REFERENCES cloud (id) ON DELETE RESTRICT,
    role        text NOT NULL DEFAULT 'host' CHECK (role IN ('host', 'gateway')),
    tunnel_ip   inet NOT NULL CHECK (family(tunnel_ip) = 4 AND masklen(tunnel_ip) = 32),
    public_ip   inet CHECK (family(public_ip) = 4 AND masklen(public_ip) = 32),
    capacity    integer NOT NULL DEFAULT 16 CHECK (capacity BETWEEN 1 AND 100000),
    ovsdb       text NOT NULL CHECK (ovsdb ~ '^(unix:/.+|tcp:.+:[0-9]+)$'),
    bridge      text NOT NULL DEFAULT 'br-sky' CHECK (bridge ~ '^[A-Za-z0-9_.-]{1,15}$'),
    datapath    text NOT NULL DEFAULT 'system' CHECK (datapath IN ('system', 'netdev')),
    openflow    text CHECK (openflow ~ '^(unix:/.+|tcp:.+:[0-9]+)$'),
    controller  text CHECK (controller ~ '^tcp:.+:[0-9]+$'),
    labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'realized', 'error')),
    detail      text,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((openflow IS NULL) <> (controller IS NULL)),
    CHECK (role = 'gateway' OR public_ip IS NULL),
    CHECK (role = 'host' OR public_ip IS NOT NULL)
);
CREATE UNIQUE INDEX host_one_gateway_per_cloud ON host (cloud_id) WHERE role = 'gateway';
CREATE INDEX host_cloud ON host (cloud_id);

CREATE TABLE tenant (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE
                CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    tag         integer NOT NULL UNIQUE CHECK (tag BETWEEN 1 AND 65535),
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'realized', 'error')),
    detail      text,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE network (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenant (id) ON DELETE RESTRICT,
    name        text NOT NULL
                CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    tagging     text NOT NULL DEFAULT 'mac-prefix'
                CHECK (tagging IN ('mac-prefix', 'rewrite')),
    subnet      cidr NOT NULL CHECK (family(subnet) = 4 AND masklen(subnet) BETWEEN 8 AND 30),
    labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'realized', 'error')),
    detail      text,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE vswitch (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    network_id  uuid NOT NULL REFERENCES network (id) ON DELETE CASCADE,
    name        text NOT NULL
                CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'realized', 'error')),
    detail      text,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (network_id, name),
    UNIQUE (network_id, id)
);

-- Undirected virtual link, one per pair of switches (in either order).
CREATE TABLE vlink (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    network_id     uuid NOT NULL REFERENCES network (id) ON DELETE CASCADE,
    name           text NOT NULL
                   CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,124}[a-z0-9])?$'),
    a_id           uuid NOT NULL,
    b_id           uuid NOT NULL,
    bandwidth_mbps integer CHECK (bandwidth_mbps BETWEEN 1 AND 400000),
    labels         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'realized', 'error')),
    detail         text,
    revision       bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (network_id, name),
    CHECK (a_id <> b_id),
    FOREIGN KEY (network_id, a_id) REFERENCES vswitch (network_id, id),
    FOREIGN KEY (network_id, b_id) REFERENCES vswitch (network_id, id)
);

CREATE UNIQUE INDEX vlink_pair ON vlink (network_id, least(a_id, b_id), greatest(a_id, b_id));

CREATE TABLE vm (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    network_id  uuid NOT NULL REFERENCES network (id) ON DELETE RESTRICT,
    name        text NOT NULL
                CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    mac         macaddr NOT NULL,
    ip          inet NOT NULL CHECK (family(ip) = 4 AND masklen(ip) = 32),
    switch_id   uuid NOT NULL,
    iface       text CHECK (iface ~ '^[A-Za-z0-9_.-]{1,15}$'),
    placement   jsonb NOT NULL CHECK (jsonb_typeof(placement) = 'object'),
    host_id     uuid NOT NULL REFERENCES host (id) ON DELETE RESTRICT,
    labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    generation          bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
    observed_generation bigint NOT NULL DEFAULT 0 CHECK (observed_generation >= 0),
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'realized', 'error')),
    detail      text,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (network_id, name),
    UNIQUE (network_id, mac),
    UNIQUE (network_id, ip),
    FOREIGN KEY (network_id, switch_id) REFERENCES vswitch (network_id, id)
);
CREATE INDEX vm_host ON vm (host_id);
CREATE INDEX vm_switch ON vm (switch_id);

-- Answers to POSTs carrying an Idempotency-Key, per principal ("admin" or a
-- tenant id).  A row is inserted in the same transaction as the object it
-- created, so a key never outlives a rolled-back request.
CREATE TABLE idempotency (
    principal    text NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method       text NOT NULL,
    path         text NOT NULL,
    request_hash bytea NOT NULL,
    status       integer NOT NULL,
    location     text,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cloud', 'cloud_link', 'host', 'tenant', 'network',
                             'vswitch', 'vlink', 'vm'] LOOP
        EXECUTE format('CREATE TRIGGER %I_revision BEFORE UPDATE ON %I
                        FOR EACH ROW EXECUTE FUNCTION sv_bump_revision()', t, t);
        EXECUTE format('CREATE TRIGGER %I_notify AFTER INSERT OR UPDATE OR DELETE ON %I
                        FOR EACH ROW EXECUTE FUNCTION sv_notify_desired()', t, t);
    END LOOP;
END $$;
