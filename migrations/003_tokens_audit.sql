-- 003_tokens_audit.sql: a tenant's several API tokens, and the audit trail.
--
-- Tokens.  A tenant holds any number of tokens, each 'read-write' or
-- 'read-only', named uniquely within the tenant.  The database keeps only
-- the SHA-256 of a token's secret (`hash`, unique across all tenants, so a
-- secret names one token); the secret itself is shown once, in the answer
-- that created it.  Revoking a token deletes its row: every authentication
-- reads this table, so a request that starts after the DELETE committed
-- fails on every skyvisord of the database.  The token that came with the
-- tenant (tenant.token_hash until now) becomes its read-write token
-- 'initial'; a tenant created from now on gets one of the same name.
--
-- Audit.  Triggers on the desired-state tables (and on token) insert one
-- row into `audit` per changed object, in the transaction of the change, so
-- the trail holds exactly the committed changes.  A row records:
--   actor      current_setting('skyvisor.actor'), which the API sets after
--              BEGIN ("admin" or "tenant:<tenant id>/token:<token id>");
--              a change made by a session without one (psql, a script)
--              records "db:<session user>";
--   kind       the object's kind as the API names it (cloud, cloud-link,
--              host, tenant, token, network, switch, link, vm);
--   object_id, op (create, update or delete), at (the transaction's time);
--   old, new   the object's columns without its status and bookkeeping
--              (state, detail, generation, observed_generation, revision,
--              updated_at, last_used_at) and without a token's hash: both
--              whole for create (new) and delete (old), and for an update
--              only the columns that changed.
-- An update that changes only status or bookkeeping columns (the
-- reconciler's status write-back, a token's last_used_at) records nothing.

CREATE TABLE token (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    name         text NOT NULL
                 CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    scope        text NOT NULL DEFAULT 'read-write'
                 CHECK (scope IN ('read-write', 'read-only')),
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    expires_at   timestamptz,
    last_used_at timestamptz,
    created_by   text,
    revision     bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

INSERT INTO token (tenant_id, name, scope, hash, created_at)
    SELECT id, 'initial', 'read-write', token_hash, created_at FROM tenant;
ALTER TABLE tenant DROP COLUMN token_hash;

CREATE TABLE audit (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    kind      text NOT NULL,
    object_id uuid NOT NULL,
    op        text NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    old       jsonb,
    new       jsonb
);
CREATE INDEX audit_kind ON audit (kind, id);
CREATE INDEX audit_object ON audit (object_id, id);
CREATE INDEX audit_actor ON audit (actor, id);

CREATE FUNCTION sv_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    hidden constant text[] := ARRAY['state', 'detail', 'generation',
                                    'observed_generation', 'revision',
                                    'updated_at', 'last_used_at', 'hash'];
    o jsonb;
    n jsonb;
    oid_ uuid;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := to_jsonb(OLD) - hidden;
        oid_ := OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := to_jsonb(NEW) - hidden;
        oid_ := NEW.id;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT jsonb_object_agg(e.key, e.value) INTO o
          FROM jsonb_each(to_jsonb(OLD) - hidden) e
         WHERE n -> e.key IS DISTINCT FROM e.value;
        IF o IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT jsonb_object_agg(e.key, n -> e.key) INTO n
          FROM jsonb_object_keys(o) AS e(key);
    END IF;
    INSERT INTO audit (actor, kind, object_id, op, old, new)
    VALUES (coalesce(nullif(current_setting('skyvisor.actor', true), ''),
                     'db:' || session_user),
            CASE TG_TABLE_NAME WHEN 'vswitch' THEN 'switch'
                               WHEN 'vlink' THEN 'link'
                               WHEN 'cloud_link' THEN 'cloud-link'
                               ELSE TG_TABLE_NAME END,
            oid_,
            CASE TG_OP WHEN 'INSERT' THEN 'create'
                       WHEN 'UPDATE' THEN 'update'
                       ELSE 'delete' END,
            o, n);
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cloud', 'cloud_link', 'host', 'tenant', 'token',
                             'network', 'vswitch', 'vlink', 'vm'] LOOP
        EXECUTE format('CREATE TRIGGER %I_audit AFTER INSERT OR UPDATE OR DELETE ON %I
                        FOR EACH ROW EXECUTE FUNCTION sv_audit()', t, t);
    END LOOP;
END $$;
