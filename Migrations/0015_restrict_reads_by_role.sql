-- Why: migration 0013 gave each role and key scope only the writes its job needs, but reads kept
-- the tenant policies alone: every member of staff read every creditor's contracts (fees,
-- mandates), placements, users and API keys, and every user of a creditor read its colleagues'
-- accounts and keys. A DPO needs debtors' data and who holds accounts, not commercial terms; an
-- agent needs cases, not contracts, accounts or keys. These RESTRICTIVE policies, beside the
-- tenant ones (a row must pass both), give each caller the reads its work needs. The full table
-- is in Docs/security.md ("Who may read what"); RolePolicyTests holds the database to it.
--
-- Debtors, debtor identifiers, cases and claims stay readable by every caller of the creditor and
-- every member of staff: agents are narrowed to the cases assigned to them by the assignment
-- module's migration, through a restrictive SELECT policy on cases (Docs/security.md, "The
-- agent's hook").
--
-- Each check is a sub-select, evaluated once per statement, not once per row.

-- The creditor's records with the agency: its contracts (mandates, fee schedules) and its
-- placements with what became of their rows. Read by the agency's administrators and supervisors
-- (the API shows them both: contracts, and work arriving), and by the creditor's own users, keys
-- and jobs (a placement is refused without a mandate in force, whoever places it). Not agents
-- (they work cases), not the DPO (the debtors' data is in debtors, cases and claims, readable to
-- them).
CREATE FUNCTION app_may_read_creditor_records() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT NOT app_is_staff() OR coalesce(app_role() IN ('admin', 'supervisor'), false)
$$;

-- Other people's accounts (users): the system, the agency's administrators and supervisors
-- (who manage staff), its DPO (account holders are data subjects too), a creditor's
-- administrators (their creditor's users, by the tenant policy). Everyone reads their own row.
CREATE FUNCTION app_may_read_accounts() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN app_principal_kind() = 'system' THEN true
        WHEN app_is_staff() THEN coalesce(app_role() IN ('admin', 'supervisor', 'dpo'), false)
        WHEN app_user_id() IS NOT NULL THEN coalesce(app_role() = 'creditor_admin', false)
        ELSE false
    END
$$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['mandates', 'fee_schedules', 'placements', 'placement_rejects', 'placement_outcomes'] LOOP
        EXECUTE format('CREATE POLICY %I ON %I AS RESTRICTIVE FOR SELECT TO relance_app USING ((SELECT app_may_read_creditor_records()))', t || '_read_by_role', t);
    END LOOP;
END
$$;

CREATE POLICY users_read_by_role ON users AS RESTRICTIVE FOR SELECT TO relance_app
    USING (id = (SELECT app_user_id()) OR (SELECT app_may_read_accounts()));
-- API keys and sessions: those who manage access (0013), and each key or user its own.
CREATE POLICY api_keys_read_by_role ON api_keys AS RESTRICTIVE FOR SELECT TO relance_app
    USING (id = (SELECT app_api_key_id()) OR (SELECT app_may_manage_access()));
CREATE POLICY sessions_read_by_role ON sessions AS RESTRICTIVE FOR SELECT TO relance_app
    USING (user_id = (SELECT app_user_id()) OR (SELECT app_may_manage_access()));
