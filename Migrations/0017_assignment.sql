-- Why: placed cases had no owner. Assignment gives each case an agent, by rules kept as data
-- (ordered conditions on the case selecting a team or a named pool of agents, versioned, the
-- version in force recorded with every assignment), within each agent's skills, capacity and
-- absences, keeping a debtor's cases with one agent. Cases no agent can take wait with the
-- reason. Agents then see only their own cases (their team's, where the team shares them), in
-- the database as in the routes: the restrictive policies below, promised by 0015.
-- Docs/assignment.md explains the rules and tie-breaks; Docs/security.md the walls.

-- Teams replace the free-text `users.team`: a team has a supervisor and says whether its agents
-- see one another's cases.
CREATE TABLE teams (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    supervisor_id uuid REFERENCES users (id),
    shares_cases boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT teams_name_key UNIQUE (name)
);

-- What an agent may take: one row per staff user of role agent who takes cases.
CREATE TABLE agent_profiles (
    user_id uuid PRIMARY KEY REFERENCES users (id),
    team_id uuid REFERENCES teams (id),
    languages text[] NOT NULL CHECK (cardinality(languages) BETWEEN 1 AND 20),
    debtor_kinds text[] NOT NULL CHECK (cardinality(debtor_kinds) >= 1 AND debtor_kinds <@ ARRAY['person', 'company']),
    -- The highest case balance the agent may hold, in minor units of any currency; NULL: no limit.
    max_balance_minor bigint CHECK (max_balance_minor > 0),
    stages text[] NOT NULL CHECK (cardinality(stages) >= 1 AND stages <@ ARRAY['amicable_calls', 'letters', 'escalation']),
    capacity integer NOT NULL CHECK (capacity BETWEEN 0 AND 100000),
    -- Ties between equally loaded agents go to the one who received a case longest ago.
    last_assigned_at timestamptz NOT NULL DEFAULT '-infinity',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_profiles_team_idx ON agent_profiles (team_id);

-- Absences: dates and a reason code only (no health data).
CREATE TABLE agent_absences (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES agent_profiles (user_id),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    reason text NOT NULL CHECK (reason IN ('leave', 'sick', 'training', 'other')),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX agent_absences_user_idx ON agent_absences (user_id, ends_at);

-- The rules: each change of the list is a new version holding the whole ordered list; the last
-- rule of a version is its default (no condition).
CREATE TABLE assignment_rule_versions (
    version integer PRIMARY KEY CHECK (version > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by_kind text NOT NULL,
    created_by uuid
);
CREATE TABLE assignment_rules (
    version integer NOT NULL REFERENCES assignment_rule_versions (version),
    position integer NOT NULL CHECK (position > 0),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    is_default boolean NOT NULL DEFAULT false,
    -- Conditions; NULL: any.
    creditor_id uuid REFERENCES creditors (id),
    min_balance_minor bigint CHECK (min_balance_minor >= 0),
    max_balance_minor bigint CHECK (max_balance_minor > 0),
    min_age_days integer CHECK (min_age_days >= 0),
    max_age_days integer CHECK (max_age_days >= 0),
    debtor_kind text CHECK (debtor_kind IN ('person', 'company')),
    languages text[],
    countries text[],
    stages text[],
    -- The target: a team, or a named pool of agents.
    team_id uuid REFERENCES teams (id),
    pool_name text,
    pool_agents uuid[],
    PRIMARY KEY (version, position),
    CHECK ((team_id IS NULL) <> (pool_agents IS NULL)),
    CHECK ((pool_agents IS NULL) = (pool_name IS NULL)),
    CHECK (min_balance_minor IS NULL OR max_balance_minor IS NULL OR min_balance_minor < max_balance_minor),
    CHECK (min_age_days IS NULL OR max_age_days IS NULL OR min_age_days <= max_age_days),
    CHECK (NOT is_default OR (creditor_id IS NULL AND min_balance_minor IS NULL AND max_balance_minor IS NULL
        AND min_age_days IS NULL AND max_age_days IS NULL AND debtor_kind IS NULL AND languages IS NULL
        AND countries IS NULL AND stages IS NULL))
);

-- A case's stage (the strategies module moves it), when it was assigned, and, while no agent can
-- take it, why.
ALTER TABLE cases
    ADD COLUMN stage text NOT NULL DEFAULT 'amicable_calls' CHECK (stage IN ('amicable_calls', 'letters', 'escalation')),
    ADD COLUMN assigned_at timestamptz,
    ADD COLUMN unassigned_reason text CHECK (unassigned_reason IN ('no_rule', 'pool_absent', 'pool_full', 'skill_missing'));
-- A case is found by its ID alone (GET /v1/cases/{id}). Case IDs are minted in time order, as
-- the cases are written, so a block-range index finds one in a millisecond at a fraction of a
-- B-tree's upkeep (every assignment writes a new version of its case: a B-tree on the ID cost
-- that update one more descent per case). Lists page in primary-key order.
CREATE INDEX cases_id_brin ON cases USING brin (id);
-- An agent's load (live cases), and the agent's own cases.
CREATE INDEX cases_by_agent ON cases (assigned_agent_id, creditor_id, id)
    WHERE assigned_agent_id IS NOT NULL AND status IN ('open', 'paused', 'disputed');
-- The unassigned queue.
CREATE INDEX cases_unassigned ON cases (placed_at, creditor_id, id) WHERE assigned_agent_id IS NULL AND status = 'open';

-- Every assignment and reassignment: to whom, from whom, by which rule (and version) or person,
-- and why.
CREATE TABLE case_assignments (
    creditor_id uuid NOT NULL,
    case_id uuid NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY (CACHE 1000),
    at timestamptz NOT NULL DEFAULT now(),
    agent_id uuid NOT NULL,
    previous_agent_id uuid,
    kind text NOT NULL CHECK (kind IN ('rule', 'consolidation', 'reassignment', 'cover', 'rebalance')),
    rule_version integer,
    rule_position integer,
    rule_name text,
    actor_id uuid,
    reason text NOT NULL,
    PRIMARY KEY (creditor_id, case_id, seq)
);

-- A case's agent has a profile, and a history line names a case: checked once per statement,
-- not by per-row foreign keys (one lookup and one lock per row: a pass giving 50,000 cases spent
-- 1.7 s of its 2.7 s in them, measured). As migration 0007 does for creditors, the check runs as
-- the writer, with qualified names and pg_temp last; profiles and cases are never deleted (no
-- DELETE grant on agent_profiles; cases are closed, not deleted). Only agents a statement brings
-- onto cases that none of its rows held before are looked up, so writers who cannot read
-- profiles (the placement merge, a creditor recalling) never need to: they do not change agents.
CREATE FUNCTION cases_name_an_agent() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    missing uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT a.agent INTO missing
        FROM (SELECT DISTINCT assigned_agent_id AS agent FROM written WHERE assigned_agent_id IS NOT NULL) a
        WHERE NOT EXISTS (SELECT 1 FROM public.agent_profiles p WHERE p.user_id = a.agent)
        LIMIT 1;
    ELSE
        SELECT a.agent INTO missing
        FROM (SELECT DISTINCT assigned_agent_id AS agent FROM written WHERE assigned_agent_id IS NOT NULL
              EXCEPT SELECT DISTINCT assigned_agent_id FROM before WHERE assigned_agent_id IS NOT NULL) a
        WHERE NOT EXISTS (SELECT 1 FROM public.agent_profiles p WHERE p.user_id = a.agent)
        LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'no agent profile % for these cases', missing USING ERRCODE = 'foreign_key_violation', TABLE = 'cases';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER cases_name_an_agent_insert AFTER INSERT ON cases REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION cases_name_an_agent();
CREATE TRIGGER cases_name_an_agent_update AFTER UPDATE ON cases REFERENCING OLD TABLE AS before NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION cases_name_an_agent();

-- The assignment job's lines come from the cases it updates in the same statement (an UPDATE
-- ... RETURNING feeding the INSERT): they need no second look (0.7 s of a 20 s pass on 470,000).
CREATE FUNCTION case_assignments_name_a_case() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF public.app_principal_kind() = 'system' AND public.app_job() = 'assignment' THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM written n
    WHERE NOT EXISTS (SELECT 1 FROM public.cases c WHERE c.creditor_id = n.creditor_id AND c.id = n.case_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a history line names no case' USING ERRCODE = 'foreign_key_violation', TABLE = 'case_assignments';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER case_assignments_name_a_case AFTER INSERT ON case_assignments REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION case_assignments_name_a_case();

-- A placement says when its cases went through assignment, and how many found an agent.
ALTER TABLE placements
    ADD COLUMN assigned_at timestamptz,
    ADD COLUMN cases_assigned integer,
    ADD COLUMN cases_unassigned integer;
CREATE INDEX placements_to_assign ON placements (completed_at) WHERE status = 'completed' AND assigned_at IS NULL;

-- users.team was a label; teams are rows now. Existing labels become teams, their agents'
-- profiles are made with the defaults below (French, both kinds of debtor, calls and letters,
-- 500 cases), and the label goes.
INSERT INTO teams (id, name)
    SELECT gen_random_uuid(), team FROM (SELECT DISTINCT team FROM users WHERE team IS NOT NULL AND team <> '') t;
INSERT INTO agent_profiles (user_id, team_id, languages, debtor_kinds, stages, capacity)
    SELECT u.id, t.id, ARRAY['fr'], ARRAY['person', 'company'], ARRAY['amicable_calls', 'letters'], 500
    FROM users u LEFT JOIN teams t ON t.name = u.team WHERE u.role = 'agent';
-- A session's principal carries its agent's team, now read from the profile.
DROP FUNCTION auth_session(bytea, integer);
ALTER TABLE users DROP COLUMN team;
CREATE FUNCTION auth_session(p_token_hash bytea, p_idle_seconds integer)
RETURNS TABLE (session_id uuid, user_id uuid, creditor_id uuid, role text, team text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH found AS (
        SELECT s.id AS session_id, u.id AS user_id, u.creditor_id, u.role, t.name AS team, s.last_used_at
        FROM sessions s
        JOIN users u ON u.id = s.user_id
        LEFT JOIN creditors c ON c.id = u.creditor_id
        LEFT JOIN agent_profiles p ON p.user_id = u.id
        LEFT JOIN teams t ON t.id = p.team_id
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

-- The agents whose cases the caller may see: their own, or their team's when the team shares
-- them. Runs as the owner (agents do not read other agents' profiles).
CREATE FUNCTION app_visible_agents() RETURNS uuid[]
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(
        (SELECT array_agg(other.user_id)
         FROM agent_profiles me JOIN teams t ON t.id = me.team_id AND t.shares_cases
         JOIN agent_profiles other ON other.team_id = t.id
         WHERE me.user_id = app_user_id()),
        ARRAY[app_user_id()])
$$;
REVOKE ALL ON FUNCTION app_visible_agents() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_visible_agents() TO relance_app;

-- Who assigns: the system and its assignment job, the agency's administrators and supervisors.
CREATE FUNCTION app_may_assign() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT app_principal_kind() = 'system' OR (app_is_staff() AND coalesce(app_role() IN ('admin', 'supervisor'), false))
$$;

-- The assignment job works across creditors as the system: it reads the cases it assigns,
-- their debtors and debtors' identifiers (consolidation), writes cases and their history.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['debtors', 'debtor_keys', 'cases', 'case_assignments'] LOOP
        EXECUTE format('CREATE POLICY %I ON %I USING (app_principal_kind() = ''system'' AND app_job() = ''assignment'') WITH CHECK (app_principal_kind() = ''system'' AND app_job() = ''assignment'')', t || '_assignment_job', t);
    END LOOP;
END
$$;

-- It also reads who the agents are (a disabled agent takes no case), and the creditors of the
-- cases it writes (0007's trigger checks them as the writer).
CREATE POLICY users_assignment_job ON users FOR SELECT USING (app_principal_kind() = 'system' AND app_job() = 'assignment');
CREATE POLICY creditors_assignment_job ON creditors FOR SELECT USING (app_principal_kind() = 'system' AND app_job() = 'assignment');

-- Cases are updated by those who write the portfolio (0013) and by those who assign.
DROP POLICY cases_update_by_role ON cases;
CREATE POLICY cases_update_by_role ON cases AS RESTRICTIVE FOR UPDATE TO relance_app
    USING ((SELECT app_may_write_portfolio()) OR (SELECT app_may_assign()));

-- The history: tenant policies as every creditor table; written by those who assign, read by
-- whoever reads the case; never changed.
ALTER TABLE case_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_assignments FORCE ROW LEVEL SECURITY;
CREATE POLICY case_assignments_staff ON case_assignments USING (app_is_staff()) WITH CHECK (app_is_staff());
CREATE POLICY case_assignments_own ON case_assignments
    USING (creditor_id = (SELECT app_creditor_id())) WITH CHECK (creditor_id = (SELECT app_creditor_id()));
CREATE POLICY case_assignments_insert_by_role ON case_assignments AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_assign()));
GRANT SELECT, INSERT ON case_assignments TO relance_app;

-- Agents see only the cases of the agents they may see (themselves, or their sharing team), and
-- what hangs off those cases: claims, debtors, debtors' identifiers, the history.
CREATE POLICY cases_read_by_agent ON cases AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent' OR assigned_agent_id = ANY ((SELECT app_visible_agents())::uuid[]));
CREATE POLICY claims_read_by_agent ON claims AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent' OR (creditor_id, case_id) IN (SELECT creditor_id, id FROM cases));
CREATE POLICY case_assignments_read_by_agent ON case_assignments AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent' OR (creditor_id, case_id) IN (SELECT creditor_id, id FROM cases));
CREATE POLICY debtors_read_by_agent ON debtors AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent' OR (creditor_id, id) IN (SELECT creditor_id, debtor_id FROM cases));
CREATE POLICY debtor_keys_read_by_agent ON debtor_keys AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent' OR (creditor_id, debtor_id) IN (SELECT creditor_id, debtor_id FROM cases));

-- The agency's organisation: read by staff and the system; teams, profiles and rules written by
-- administrators and supervisors; absences read by them and by the agent concerned.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['teams', 'agent_profiles', 'agent_absences', 'assignment_rule_versions', 'assignment_rules'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (app_is_staff() OR app_principal_kind() = ''system'')', t || '_read', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR INSERT WITH CHECK ((SELECT app_may_assign()))', t || '_insert', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR UPDATE USING ((SELECT app_may_assign()))', t || '_update', t);
    END LOOP;
END
$$;
CREATE POLICY agent_absences_read_by_role ON agent_absences AS RESTRICTIVE FOR SELECT TO relance_app
    USING (user_id = (SELECT app_user_id()) OR (SELECT app_may_assign()));
GRANT SELECT, INSERT, UPDATE ON teams, agent_profiles, agent_absences TO relance_app;
GRANT DELETE ON agent_absences TO relance_app;
CREATE POLICY agent_absences_delete ON agent_absences FOR DELETE USING ((SELECT app_may_assign()));
GRANT SELECT, INSERT ON assignment_rule_versions, assignment_rules TO relance_app;
