-- Why: who may see what, provably. Creditors are the tenants; users and API keys are the
-- principals; every transaction states its caller in transaction-local settings, and
-- row-level security (enabled and forced) lets a creditor principal see only its creditor's
-- rows even when a query forgets its WHERE clause. The audit log is append-only and
-- hash-chained per creditor.

-- The caller of the current transaction, set by the service with set_config(..., true).
-- Unset (or empty) means nobody: policies then show nothing (fail closed).
CREATE FUNCTION app_principal_kind() RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.principal_kind', true), '') $$;
CREATE FUNCTION app_creditor_id() RETURNS uuid
    LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.creditor_id', true), '')::uuid $$;
CREATE FUNCTION app_user_id() RETURNS uuid
    LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
-- Agency staff (admin, supervisor, agent, dpo) work across creditors.
CREATE FUNCTION app_is_staff() RETURNS boolean
    LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('app.principal_kind', true), '') = 'staff' $$;

-- The tenants. Onboarding details (SIREN, IBAN, mandates, fee schedules) come with placement.
CREATE TABLE creditors (
    id uuid PRIMARY KEY,
    legal_name text NOT NULL CHECK (length(legal_name) BETWEEN 1 AND 200),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'offboarded')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE creditors ENABLE ROW LEVEL SECURITY;
ALTER TABLE creditors FORCE ROW LEVEL SECURITY;
CREATE POLICY creditors_staff ON creditors USING (app_is_staff()) WITH CHECK (app_is_staff());
CREATE POLICY creditors_own ON creditors FOR SELECT USING (id = (SELECT app_creditor_id()));
-- The schema owner (this migration's role) sees every row: the SECURITY DEFINER login
-- functions below run as it. The service must never connect as the owner; `relance serve`
-- refuses to (see Docs/security.md).
CREATE POLICY creditors_owner ON creditors TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON creditors TO relance_app;

-- People who log in: agency staff (creditor_id NULL) and creditor users (bound to one
-- creditor). One table because an email address logs in once, wherever it belongs
-- (see Docs/adr/0004-identity-and-tenancy.md).
CREATE TABLE users (
    id uuid PRIMARY KEY,
    creditor_id uuid REFERENCES creditors (id),
    email text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    display_name text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    role text NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent', 'dpo', 'creditor_admin', 'creditor_viewer')),
    password_hash text NOT NULL,
    -- AES-GCM sealed with RELANCE_DATA_KEY; NULL until enrolled.
    totp_secret_sealed bytea,
    totp_last_step bigint NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    team text,
    created_at timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_role_matches_kind CHECK (
        (creditor_id IS NULL) = (role IN ('admin', 'supervisor', 'agent', 'dpo')))
);
CREATE INDEX users_creditor_idx ON users (creditor_id, id) WHERE creditor_id IS NOT NULL;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_staff ON users USING (app_is_staff()) WITH CHECK (app_is_staff());
CREATE POLICY users_own_creditor ON users
    USING (creditor_id = (SELECT app_creditor_id()))
    WITH CHECK (creditor_id = (SELECT app_creditor_id()));
CREATE POLICY users_owner ON users TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON users TO relance_app;

-- Login must find a user before anyone is authenticated: this function returns exactly
-- what login needs for one email, and nothing else. It runs as the owner (bypassing RLS).
CREATE FUNCTION auth_user_by_email(p_email text)
RETURNS TABLE (id uuid, creditor_id uuid, role text, password_hash text, totp_secret_sealed bytea,
               totp_last_step bigint, status text, creditor_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT u.id, u.creditor_id, u.role, u.password_hash, u.totp_secret_sealed, u.totp_last_step, u.status, c.status
    FROM users u LEFT JOIN creditors c ON c.id = u.creditor_id
    WHERE u.email = lower(p_email)
$$;
REVOKE ALL ON FUNCTION auth_user_by_email(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_user_by_email(text) TO relance_app;

-- Bearer tokens: only the SHA-256 of the token is stored.
CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    token_hash bytea NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;
GRANT SELECT, INSERT, UPDATE ON sessions TO relance_app;

-- Resolves a bearer token to its user, enforcing absolute and idle expiry and the user's
-- and creditor's status; refreshes last use (at most every 30 s, to spare writes).
CREATE FUNCTION auth_session(p_token_hash bytea, p_idle_seconds integer)
RETURNS TABLE (session_id uuid, user_id uuid, creditor_id uuid, role text, team text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
    WITH found AS (
        SELECT s.id AS session_id, u.id AS user_id, u.creditor_id, u.role, u.team, s.last_used_at
        FROM sessions s
        JOIN users u ON u.id = s.user_id
        LEFT JOIN creditors c ON c.id = u.creditor_id
        WHERE s.token_hash = p_token_hash
          AND s.revoked_at IS NULL
          AND s.expires_at > now()
          AND s.last_used_at > now() - make_interval(secs => p_idle_seconds)
          AND u.status = 'active'
          AND (c.id IS NULL OR c.status = 'active')
    ), touched AS (
        UPDATE sessions SET last_used_at = now()
        WHERE id = (SELECT session_id FROM found) AND last_used_at < now() - interval '30 seconds'
    )
    SELECT session_id, user_id, creditor_id, role, team FROM found
$$;
REVOKE ALL ON FUNCTION auth_session(bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_session(bytea, integer) TO relance_app;

-- Creditor API keys: a visible prefix, the SHA-256 of the secret part.
CREATE TABLE api_keys (
    creditor_id uuid NOT NULL REFERENCES creditors (id),
    id uuid NOT NULL,
    prefix text NOT NULL,
    secret_hash bytea NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scopes text[] NOT NULL CHECK (scopes <@ ARRAY['placements', 'cases', 'reports']::text[] AND cardinality(scopes) > 0),
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (creditor_id, id),
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_staff ON api_keys USING (app_is_staff()) WITH CHECK (app_is_staff());
CREATE POLICY api_keys_own ON api_keys
    USING (creditor_id = (SELECT app_creditor_id()))
    WITH CHECK (creditor_id = (SELECT app_creditor_id()));
CREATE POLICY api_keys_owner ON api_keys TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON api_keys TO relance_app;

CREATE FUNCTION auth_api_key(p_prefix text)
RETURNS TABLE (creditor_id uuid, id uuid, secret_hash bytea, scopes text[], revoked boolean, creditor_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT k.creditor_id, k.id, k.secret_hash, k.scopes, k.revoked_at IS NOT NULL, c.status
    FROM api_keys k JOIN creditors c ON c.id = k.creditor_id
    WHERE k.prefix = p_prefix
$$;
REVOKE ALL ON FUNCTION auth_api_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_api_key(text) TO relance_app;

-- Failed-login counters per account and per client address, shared by every API node.
CREATE TABLE auth_throttle (
    key text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    failures integer NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON auth_throttle TO relance_app;

-- Append-only audit log, one hash chain per creditor (the nil UUID chains agency events).
-- Entries hold identifiers only, never personal data, so erasure never rewrites them.
CREATE TABLE audit_log (
    chain_id uuid NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    at timestamptz NOT NULL,
    actor_kind text NOT NULL,
    actor_id uuid,
    action text NOT NULL,
    object_type text NOT NULL,
    object_id text,
    creditor_id uuid,
    request_id text,
    outcome text NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (chain_id, seq)
);
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
-- A creditor principal appends to its own creditor's chain only; staff and the system
-- (login, background jobs) to any. Staff and the system read everything, a creditor its chain.
CREATE POLICY audit_insert ON audit_log FOR INSERT
    WITH CHECK (app_is_staff() OR app_principal_kind() = 'system'
                OR (chain_id = (SELECT app_creditor_id()) AND creditor_id = chain_id));
CREATE POLICY audit_read ON audit_log FOR SELECT
    USING (app_is_staff() OR chain_id = (SELECT app_creditor_id()) OR app_principal_kind() = 'system');
GRANT SELECT, INSERT ON audit_log TO relance_app;

-- Idempotency-Key records (Stripe's semantics): the first response, per principal.
CREATE TABLE idempotency_keys (
    principal text NOT NULL,
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash bytea NOT NULL,
    state text NOT NULL CHECK (state IN ('in_progress', 'done')),
    status integer,
    content_type text,
    location text,
    body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO relance_app;
