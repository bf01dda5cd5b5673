-- Why: the base every module stands on. The service connects as `relance_app`, a role that
-- owns nothing (so row-level security applies to it) and may only use what later migrations
-- grant table by table. Migrations run as the schema owner.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'relance_app') THEN
        RAISE EXCEPTION 'role relance_app is missing: create it first (see Docs/operations.md)';
    END IF;
END
$$;

-- Nobody but the owner creates objects in the schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO relance_app;

-- The service may read the migration ledger (readiness reports pending migrations).
GRANT SELECT ON schema_migrations TO relance_app;
