-- Why: row-level security checked the tenant only. Any staff role could write anything, and a
-- creditor's viewer or a reports-only API key could write its creditor's claims or users
-- through a buggy handler: the API's role checks were the only wall. These RESTRICTIVE
-- policies sit beside the tenant ones (a row must pass both) and give each role and key scope
-- the writes its job needs, no more. Reads keep the tenant policies. The role, user, key and
-- scopes reach the database as the tenant does: transaction-local settings made in one place
-- (`Principal.databaseSettings`, `PostgresTransaction.act(for:creditor:)` for jobs).
-- The table of who may do what is in Docs/security.md; RolePolicyTests holds it to that.
-- Each check is wrapped in a sub-select so it is evaluated once per statement, not per row
-- (a placement's merge writes millions of rows).

CREATE FUNCTION app_role() RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.role', true), '') $$;
CREATE FUNCTION app_api_key_id() RETURNS uuid
    LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.api_key_id', true), '')::uuid $$;
CREATE FUNCTION app_job() RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.job', true), '') $$;
CREATE FUNCTION app_has_scope(p_scope text) RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT coalesce(p_scope = ANY (string_to_array(nullif(current_setting('app.scopes', true), ''), ',')), false)
$$;

-- A creditor's portfolio (placements and what they become): the system and the placement
-- merge; staff administrators; the creditor's own administrators; its keys with the
-- `placements` scope. Supervisors, agents and the DPO get their writes with the modules that
-- give them work (assignment and the work queue: cases; privacy: erasure), in those modules'
-- migrations. Viewers and keys without `placements` read only.
CREATE FUNCTION app_may_write_portfolio() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN app_principal_kind() = 'system' THEN true
        WHEN app_job() = 'placement_merge' THEN true
        WHEN app_is_staff() THEN coalesce(app_role() = 'admin', false)
        WHEN app_user_id() IS NOT NULL THEN coalesce(app_role() = 'creditor_admin', false)
        WHEN app_api_key_id() IS NOT NULL THEN app_has_scope('placements')
        ELSE false
    END
$$;

-- Who may grant access: users and API keys. Staff administrators, a creditor's own
-- administrators (the tenant policies keep them to their creditor), and the system.
CREATE FUNCTION app_may_manage_access() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN app_principal_kind() = 'system' THEN true
        WHEN app_is_staff() THEN coalesce(app_role() = 'admin', false)
        WHEN app_user_id() IS NOT NULL THEN coalesce(app_role() = 'creditor_admin', false)
        ELSE false
    END
$$;

-- The agency's contracts with its creditors: staff administrators and the system.
CREATE FUNCTION app_may_write_contracts() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT app_principal_kind() = 'system' OR (app_is_staff() AND coalesce(app_role() = 'admin', false))
$$;

DO $$
DECLARE t text;
DECLARE checks constant text[][] := ARRAY[
    ['debtors', 'app_may_write_portfolio'], ['debtor_keys', 'app_may_write_portfolio'],
    ['cases', 'app_may_write_portfolio'], ['claims', 'app_may_write_portfolio'],
    ['placements', 'app_may_write_portfolio'], ['placement_rejects', 'app_may_write_portfolio'],
    ['placement_outcomes', 'app_may_write_portfolio'],
    ['creditors', 'app_may_write_contracts'], ['mandates', 'app_may_write_contracts'],
    ['fee_schedules', 'app_may_write_contracts']];
DECLARE i int;
BEGIN
    FOR i IN 1 .. array_length(checks, 1) LOOP
        t := checks[i][1];
        EXECUTE format('CREATE POLICY %I ON %I AS RESTRICTIVE FOR INSERT TO relance_app WITH CHECK ((SELECT %s()))', t || '_insert_by_role', t, checks[i][2]);
        EXECUTE format('CREATE POLICY %I ON %I AS RESTRICTIVE FOR UPDATE TO relance_app USING ((SELECT %s()))', t || '_update_by_role', t, checks[i][2]);
        EXECUTE format('CREATE POLICY %I ON %I AS RESTRICTIVE FOR DELETE TO relance_app USING ((SELECT %s()))', t || '_delete_by_role', t, checks[i][2]);
    END LOOP;
END
$$;

-- Users: granted by those who manage access; anyone may update their own row (a login records
-- its time and TOTP step, a password change its hash). No one deletes users (disabling is a
-- status).
CREATE POLICY users_insert_by_role ON users AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_manage_access()));
CREATE POLICY users_update_by_role ON users AS RESTRICTIVE FOR UPDATE TO relance_app
    USING ((SELECT app_may_manage_access()) OR id = (SELECT app_user_id()));

-- API keys: made and revoked by those who manage access; a key records its own last use.
CREATE POLICY api_keys_insert_by_role ON api_keys AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_manage_access()));
CREATE POLICY api_keys_update_by_role ON api_keys AS RESTRICTIVE FOR UPDATE TO relance_app
    USING ((SELECT app_may_manage_access()) OR id = (SELECT app_api_key_id()));
CREATE POLICY api_keys_delete_by_role ON api_keys AS RESTRICTIVE FOR DELETE TO relance_app
    USING ((SELECT app_may_manage_access()));
