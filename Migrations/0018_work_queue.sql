-- Why: agents had cases but no way to be handed the right one, and nothing stood between an
-- agent and a debtor's phone at 23:00 or for the tenth time in a week. This migration gives the
-- work queue its tables: one work item per assigned case (what is due on it, at which level,
-- when, its score, and who holds it on a lease), the rules of contact as data per jurisdiction
-- (hours, public holidays, frequency caps), a debtor's own contact preferences (do not
-- contact, channel opt-outs, written only, preferred hours), the hours each zone in use is
-- callable (kept by the queue's clock from those rules), and every activity on a case,
-- blocked attempts included. Docs/work-queue.md explains the levels, the score and the gate.

-- How contact is allowed, per jurisdiction (an ISO 3166-1 country, or '*' for any other).
-- `hours` holds, per ISO weekday (1 = Monday … 7 = Sunday), the local windows [{"from":"08:00","to":"20:00"}];
-- a weekday absent is a day without contact. Holidays: fixed dates ('MM-DD', every year) and
-- dated ones (Easter Monday, Ascension…). Caps as numbers; `min_days_between` per channel.
CREATE TABLE contact_rules (
    jurisdiction text PRIMARY KEY CHECK (jurisdiction ~ '^([A-Z]{2}|\*)$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    hours jsonb NOT NULL CHECK (jsonb_typeof(hours) = 'object'),
    hours_channels text[] NOT NULL CHECK (hours_channels <@ ARRAY['call', 'sms', 'email', 'letter', 'registered_letter']),
    recurring_holidays text[] NOT NULL DEFAULT '{}',
    holidays date[] NOT NULL DEFAULT '{}',
    call_attempts_max integer NOT NULL CHECK (call_attempts_max BETWEEN 1 AND 100),
    call_attempts_window_days integer NOT NULL CHECK (call_attempts_window_days BETWEEN 1 AND 90),
    quiet_days_after_conversation integer NOT NULL CHECK (quiet_days_after_conversation BETWEEN 0 AND 90),
    min_days_between jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(min_days_between) = 'object'),
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid
);
-- The defaults of Docs/work-queue.md (domain.md, "Contact must never become harassment"):
-- France Monday to Saturday 08:00-20:00, never on a public holiday; the United States
-- 08:00-21:00 every day (the debtor's local time); anywhere else France's rules, the stricter.
-- France's movable holidays are dated through 2030; Docs/operations.md says how to add years.
INSERT INTO contact_rules (jurisdiction, name, hours, hours_channels, recurring_holidays, holidays, call_attempts_max,
                           call_attempts_window_days, quiet_days_after_conversation, min_days_between) VALUES
    ('FR', 'France',
     '{"1":[{"from":"08:00","to":"20:00"}],"2":[{"from":"08:00","to":"20:00"}],"3":[{"from":"08:00","to":"20:00"}],"4":[{"from":"08:00","to":"20:00"}],"5":[{"from":"08:00","to":"20:00"}],"6":[{"from":"08:00","to":"20:00"}]}',
     ARRAY['call', 'sms', 'email'],
     ARRAY['01-01', '05-01', '05-08', '07-14', '08-15', '11-01', '11-11', '12-25'],
     ARRAY['2026-04-06', '2026-05-14', '2026-05-25', '2027-03-29', '2027-05-06', '2027-05-17', '2028-04-17', '2028-05-25',
           '2028-06-05', '2029-04-02', '2029-05-10', '2029-05-21', '2030-04-22', '2030-05-30', '2030-06-10']::date[],
     7, 7, 7, '{"registered_letter":7}'),
    ('US', 'United States',
     '{"1":[{"from":"08:00","to":"21:00"}],"2":[{"from":"08:00","to":"21:00"}],"3":[{"from":"08:00","to":"21:00"}],"4":[{"from":"08:00","to":"21:00"}],"5":[{"from":"08:00","to":"21:00"}],"6":[{"from":"08:00","to":"21:00"}],"7":[{"from":"08:00","to":"21:00"}]}',
     ARRAY['call', 'sms', 'email'], '{}', '{}', 7, 7, 7, '{"registered_letter":7}'),
    ('*', 'Other jurisdictions',
     '{"1":[{"from":"08:00","to":"20:00"}],"2":[{"from":"08:00","to":"20:00"}],"3":[{"from":"08:00","to":"20:00"}],"4":[{"from":"08:00","to":"20:00"}],"5":[{"from":"08:00","to":"20:00"}],"6":[{"from":"08:00","to":"20:00"}]}',
     ARRAY['call', 'sms', 'email'], '{}', '{}', 7, 7, 7, '{"registered_letter":7}');

-- A debtor's own wishes, and the restriction of their data (GDPR Art. 18: no contact). One
-- row per debtor that has any; absent: none.
CREATE TABLE contact_preferences (
    creditor_id uuid NOT NULL,
    debtor_id uuid NOT NULL,
    do_not_contact boolean NOT NULL DEFAULT false,
    opted_out text[] NOT NULL DEFAULT '{}' CHECK (opted_out <@ ARRAY['call', 'sms', 'email', 'letter', 'registered_letter']),
    written_only boolean NOT NULL DEFAULT false,
    -- Only on these ISO weekdays, between these local times; NULL: no wish.
    preferred_days smallint[] CHECK (preferred_days <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[] AND cardinality(preferred_days) >= 1),
    preferred_from time,
    preferred_to time,
    restricted boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid,
    PRIMARY KEY (creditor_id, debtor_id),
    CHECK ((preferred_from IS NULL) = (preferred_to IS NULL)),
    CHECK (preferred_from IS NULL OR preferred_from < preferred_to)
);

-- Each zone debtors live in (jurisdiction and IANA time zone) and the window of hours it is in
-- or will next be in for calls: the queue's clock writes them from contact_rules every minute,
-- through the gate's own arithmetic (daylight saving included), so the claim compares two
-- timestamps instead of converting time zones row by row.
CREATE TABLE contact_zones (
    zone text PRIMARY KEY,
    jurisdiction text NOT NULL,
    time_zone text NOT NULL,
    opens_at timestamptz,
    closes_at timestamptz,
    computed_at timestamptz NOT NULL DEFAULT now()
);

-- One work item per case an agent has held: what is due on it (the level), from when, its
-- score within the level, and the lease of the agent working it. `ready` marks the items a
-- claim may take: due, contact not capped, not leased; the clock sets it when `wakes_at`
-- passes. An item is active while its case is open, has an agent and is not parked (a debtor
-- who may not be called: do not contact, written only, restricted). Cases' changes of agent
-- and status reach it through the trigger below.
CREATE TABLE work_items (
    creditor_id uuid NOT NULL,
    case_id uuid NOT NULL,
    agent_id uuid,
    case_open boolean NOT NULL,
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 7),
    due_at timestamptz NOT NULL,
    contact_from timestamptz NOT NULL DEFAULT '-infinity',
    parked_reason text,
    zone text NOT NULL,
    score integer NOT NULL DEFAULT 0,
    ready boolean NOT NULL DEFAULT false,
    lease_id uuid,
    leased_by uuid,
    leased_at timestamptz,
    lease_until timestamptz,
    last_contact_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    wakes_at timestamptz GENERATED ALWAYS AS (
        CASE WHEN case_open AND agent_id IS NOT NULL AND parked_reason IS NULL THEN greatest(due_at, contact_from, lease_until) END) STORED,
    PRIMARY KEY (creditor_id, case_id),
    CHECK (NOT ready OR (case_open AND agent_id IS NOT NULL AND parked_reason IS NULL AND lease_id IS NULL)),
    CHECK ((lease_id IS NULL) = (lease_until IS NULL) AND (lease_id IS NULL) = (leased_by IS NULL))
);
-- The claim: an agent's ready items, best level first, then the highest score.
CREATE INDEX work_items_claim ON work_items (agent_id, level, score DESC, case_id) WHERE ready;
-- The clock: items to wake.
CREATE INDEX work_items_waking ON work_items (wakes_at) WHERE NOT ready AND wakes_at IS NOT NULL;
-- A lease by its ID (renew, release), the lease an agent holds (asked again: the same one), and
-- the queues per agent.
CREATE UNIQUE INDEX work_items_lease ON work_items (lease_id) WHERE lease_id IS NOT NULL;
CREATE INDEX work_items_leased_by ON work_items (leased_by) WHERE leased_by IS NOT NULL;
CREATE INDEX work_items_by_agent ON work_items (agent_id, level) WHERE agent_id IS NOT NULL AND case_open;

-- Every lease, kept: who held which case from when to when, and how it ended (`completed` by a
-- call's outcome, `released`, `expired`, `put_aside` by the gate, `moved` with the case).
-- Supervisors read who worked what; two leases of one case never overlap (a test checks it
-- here after 100,000 concurrent claims). Stamped by the database's clock (clock_timestamp()) as
-- each statement runs: their order is the real order of takings and endings.
CREATE TABLE work_leases (
    creditor_id uuid NOT NULL,
    lease_id uuid NOT NULL,
    case_id uuid NOT NULL,
    agent_id uuid NOT NULL,
    leased_at timestamptz NOT NULL,
    ended_at timestamptz,
    end_reason text CHECK (end_reason IN ('completed', 'released', 'expired', 'put_aside', 'moved')),
    PRIMARY KEY (creditor_id, lease_id),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
CREATE INDEX work_leases_by_case ON work_leases (creditor_id, case_id, leased_at);
-- A lease asked for after it ended (renew, release): the answer says how it ended.
CREATE INDEX work_leases_by_id ON work_leases (lease_id);

-- Everything done on a case: calls and their outcomes, emails, SMS, letters, notes; inbound
-- contacts; blocked attempts with the gate's reasons. Notes are personal data (never logged).
CREATE TABLE case_activities (
    creditor_id uuid NOT NULL,
    id uuid NOT NULL,
    case_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('call', 'email', 'sms', 'letter', 'registered_letter', 'note')),
    direction text NOT NULL DEFAULT 'outbound' CHECK (direction IN ('outbound', 'inbound')),
    outcome text CHECK (outcome IN ('no_answer', 'wrong_number', 'right_party_contact', 'refused', 'callback_requested', 'voicemail', 'sent')),
    callback_at timestamptz,
    note text CHECK (length(note) <= 4000),
    blocked boolean NOT NULL DEFAULT false,
    block_reasons text[] NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL,
    recorded_by uuid,
    recorded_by_kind text NOT NULL,
    lease_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (creditor_id, id),
    CHECK ((outcome = 'callback_requested') = (callback_at IS NOT NULL)),
    CHECK (NOT blocked OR cardinality(block_reasons) >= 1)
);
-- A case's history, newest first; the gate's counts read the same index.
CREATE INDEX case_activities_by_case ON case_activities (creditor_id, case_id, occurred_at DESC);

-- The queue follows its cases: a case that gets an agent gets a work item (a new placement,
-- due now); a change of agent moves the item and ends its lease; a case paused, disputed,
-- recalled or closed leaves the claimable set (its lease, if any, ends: `moved`) and comes back
-- when open again. The statement's new rows are compared with the items (an index probe each),
-- not with its old rows (two transition tables joined, without statistics, spilled gigabytes
-- on 100,000 cases). Runs as
-- the writer, once per statement (the assigner writes hundreds of thousands of cases at once); its
-- search path is the schema's (the row-level security policies it meets call the app_*
-- functions by name), pg_temp last.
CREATE FUNCTION work_items_follow_cases() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    WITH changed AS (
        SELECT n.creditor_id, n.id, n.debtor_id, n.assigned_agent_id, n.status = 'open' AS case_open, x.lease_id AS old_lease, x.agent_id AS old_agent
        FROM written n
        LEFT JOIN public.work_items x ON x.creditor_id = n.creditor_id AND x.case_id = n.id
        WHERE (x.case_id IS NULL AND n.assigned_agent_id IS NOT NULL)
           OR (x.case_id IS NOT NULL AND (x.agent_id IS DISTINCT FROM n.assigned_agent_id OR x.case_open <> (n.status = 'open')))
    ), ended AS (
        UPDATE public.work_leases l SET ended_at = clock_timestamp(), end_reason = 'moved'
        FROM changed c
        WHERE c.old_lease IS NOT NULL AND l.creditor_id = c.creditor_id AND l.lease_id = c.old_lease AND l.ended_at IS NULL
          AND NOT (c.case_open AND c.assigned_agent_id IS NOT DISTINCT FROM c.old_agent)
    ), items AS (
        INSERT INTO public.work_items AS w (creditor_id, case_id, agent_id, case_open, level, due_at, zone)
        SELECT c.creditor_id, c.id, c.assigned_agent_id, c.case_open, 5, now(), d.country || ' ' || d.time_zone
        FROM changed c
        JOIN public.debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id
        ON CONFLICT (creditor_id, case_id) DO UPDATE SET
            agent_id = excluded.agent_id,
            case_open = excluded.case_open,
            ready = w.ready AND excluded.case_open AND excluded.agent_id IS NOT NULL,
            lease_id = CASE WHEN excluded.case_open AND excluded.agent_id IS NOT DISTINCT FROM w.agent_id THEN w.lease_id END,
            leased_by = CASE WHEN excluded.case_open AND excluded.agent_id IS NOT DISTINCT FROM w.agent_id THEN w.leased_by END,
            leased_at = CASE WHEN excluded.case_open AND excluded.agent_id IS NOT DISTINCT FROM w.agent_id THEN w.leased_at END,
            lease_until = CASE WHEN excluded.case_open AND excluded.agent_id IS NOT DISTINCT FROM w.agent_id THEN w.lease_until END,
            updated_at = now()
        RETURNING w.zone
    ), zones AS (
        SELECT DISTINCT zone FROM items
    )
    INSERT INTO public.contact_zones (zone, jurisdiction, time_zone)
    SELECT zone, split_part(zone, ' ', 1), split_part(zone, ' ', 2) FROM zones
    WHERE NOT EXISTS (SELECT 1 FROM public.contact_zones z WHERE z.zone = zones.zone)
    ON CONFLICT (zone) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER work_items_follow_cases AFTER UPDATE ON cases REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION work_items_follow_cases();

-- The score of an item within its level, in parts (Docs/work-queue.md): the balance (0-40,
-- ten points per power of ten of the major unit), the age past due (0-20, one point per 18
-- days), the limitation date near (0-30: two years from the oldest due date against a person,
-- five against a company), the time since the last contact (0-10, one point per three days;
-- never contacted: 10). One definition, read by the clock that stores the total and by the
-- claim that explains it; each part an expression of the arguments (no sub-select), so the
-- function is inlined into the statements that use it rather than planned at every call.
CREATE FUNCTION work_score_parts(p_balance_minor bigint, p_oldest_due date, p_debtor_kind text, p_last_contact timestamptz, p_at timestamptz)
RETURNS integer[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[
        least(40, greatest(0, floor(10 * log(greatest(p_balance_minor, 100) / 100.0))))::integer,
        CASE WHEN p_oldest_due IS NULL THEN 0 ELSE least(20, greatest(0, ((p_at AT TIME ZONE 'UTC')::date - p_oldest_due) / 18)) END,
        CASE WHEN p_oldest_due IS NULL THEN 0
             WHEN ((p_oldest_due + CASE WHEN p_debtor_kind = 'company' THEN interval '5 years' ELSE interval '2 years' END)::date
                   - (p_at AT TIME ZONE 'UTC')::date) <= 0 THEN 0
             WHEN ((p_oldest_due + CASE WHEN p_debtor_kind = 'company' THEN interval '5 years' ELSE interval '2 years' END)::date
                   - (p_at AT TIME ZONE 'UTC')::date) <= 90 THEN 30
             WHEN ((p_oldest_due + CASE WHEN p_debtor_kind = 'company' THEN interval '5 years' ELSE interval '2 years' END)::date
                   - (p_at AT TIME ZONE 'UTC')::date) <= 180 THEN 20
             WHEN ((p_oldest_due + CASE WHEN p_debtor_kind = 'company' THEN interval '5 years' ELSE interval '2 years' END)::date
                   - (p_at AT TIME ZONE 'UTC')::date) <= 365 THEN 10
             ELSE 0 END,
        CASE WHEN p_last_contact IS NULL THEN 10 ELSE least(10, greatest(0, floor(extract(epoch FROM p_at - p_last_contact) / 259200)))::integer END
    ]
$$;

-- The work queue's clock wakes items and keeps the zones, across creditors, as the system.
CREATE POLICY cases_work_queue_job ON cases FOR SELECT USING (app_principal_kind() = 'system' AND app_job() = 'work_queue');
CREATE POLICY debtors_work_queue_job ON debtors FOR SELECT USING (app_principal_kind() = 'system' AND app_job() = 'work_queue');

-- Tenant policies as every creditor table, and the system's jobs (the assigner writes cases,
-- whose trigger writes items; the clock wakes them).
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['work_items', 'work_leases', 'case_activities', 'contact_preferences'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (app_is_staff()) WITH CHECK (app_is_staff())', t || '_staff', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (creditor_id = (SELECT app_creditor_id())) WITH CHECK (creditor_id = (SELECT app_creditor_id()))', t || '_own', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (app_principal_kind() = ''system'' AND app_job() IN (''assignment'', ''work_queue'')) WITH CHECK (app_principal_kind() = ''system'' AND app_job() IN (''assignment'', ''work_queue''))', t || '_jobs', t);
    END LOOP;
END
$$;

-- Who writes: work items follow cases (whoever writes cases writes them through the trigger)
-- and are claimed by agents; activities are recorded by the agency's staff (agents, their
-- supervisors, administrators) and the system; preferences by the same and the DPO.
CREATE FUNCTION app_may_work_cases() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT app_principal_kind() = 'system' OR (app_is_staff() AND coalesce(app_role() IN ('admin', 'supervisor', 'agent'), false))
$$;
CREATE POLICY case_activities_insert_by_role ON case_activities AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_work_cases()));
CREATE POLICY contact_preferences_insert_by_role ON contact_preferences AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_work_cases()) OR coalesce((SELECT app_role()) = 'dpo', false));
CREATE POLICY contact_preferences_update_by_role ON contact_preferences AS RESTRICTIVE FOR UPDATE TO relance_app
    USING ((SELECT app_may_work_cases()) OR coalesce((SELECT app_role()) = 'dpo', false));
-- Those who work cases lock and change the cases they may see (an activity takes the case's
-- lock first; disputes and holds change its status): cases are updated by those who write the
-- portfolio (0013), those who assign (0017), and now agents (0015's read policy keeps them to
-- their own cases).
DROP POLICY cases_update_by_role ON cases;
CREATE POLICY cases_update_by_role ON cases AS RESTRICTIVE FOR UPDATE TO relance_app
    USING ((SELECT app_may_write_portfolio()) OR (SELECT app_may_assign()) OR (SELECT app_may_work_cases()));

-- An agent writes only on the cases they may see.
CREATE POLICY case_activities_insert_by_agent ON case_activities AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_role()) IS DISTINCT FROM 'agent'
                OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = case_activities.creditor_id AND c.id = case_activities.case_id));
CREATE POLICY contact_preferences_insert_by_agent ON contact_preferences AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_role()) IS DISTINCT FROM 'agent'
                OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = contact_preferences.creditor_id AND c.debtor_id = contact_preferences.debtor_id));
CREATE POLICY work_items_insert_by_role ON work_items AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_write_portfolio()) OR (SELECT app_may_assign()) OR (SELECT app_may_work_cases()) OR app_job() = 'work_queue');
-- (An agent's writes to a case, a dispute's status, reach its item through the trigger: the
-- item must be one of the cases the agent may see.)
CREATE POLICY work_items_insert_by_agent ON work_items AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_role()) IS DISTINCT FROM 'agent' OR agent_id = ANY ((SELECT app_visible_agents())::uuid[]));
CREATE POLICY work_items_update_by_role ON work_items AS RESTRICTIVE FOR UPDATE TO relance_app
    USING ((SELECT app_may_write_portfolio()) OR (SELECT app_may_assign()) OR (SELECT app_may_work_cases()));
-- Leases are taken by those who work cases (an agent in their own name), and ended by them and
-- by whoever moves or closes the case (the trigger above, as the writer).
CREATE POLICY work_leases_insert_by_role ON work_leases AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_work_cases()) AND ((SELECT app_role()) IS DISTINCT FROM 'agent' OR agent_id = (SELECT app_user_id())));
CREATE POLICY work_leases_update_by_role ON work_leases AS RESTRICTIVE FOR UPDATE TO relance_app
    USING ((SELECT app_may_write_portfolio()) OR (SELECT app_may_assign()) OR (SELECT app_may_work_cases()));
CREATE POLICY work_leases_read_by_agent ON work_leases AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent' OR agent_id = ANY ((SELECT app_visible_agents())::uuid[]));

-- Agents see and change only the items and activities of the cases they may see; a creditor's
-- users and keys do not read the agency's notes and activities (their reports count them; no
-- route shows them the queue's items, which their own writes to cases move through the
-- trigger, and so must see).
CREATE POLICY work_items_read_by_agent ON work_items AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent' OR agent_id = ANY ((SELECT app_visible_agents())::uuid[]));
CREATE POLICY case_activities_read_by_agent ON case_activities AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent'
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = case_activities.creditor_id AND c.id = case_activities.case_id));
CREATE POLICY contact_preferences_read_by_agent ON contact_preferences AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent'
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = contact_preferences.creditor_id AND c.debtor_id = contact_preferences.debtor_id));

-- 0017's policies for agents on what hangs off cases named the agent's cases as a set
-- (`(creditor_id, case_id) IN (SELECT … FROM cases)`): the set is built once per statement, by
-- scanning every case the agent may see (the cases policy's OR keeps the planner from its
-- index), a scan of all cases at a million. Each is now a question about its own row, answered
-- through the case's key: what an agent's next case costs no longer grows with the portfolio.
CREATE INDEX cases_by_debtor ON cases (creditor_id, debtor_id);

-- 0017's app_visible_agents() planned its query at every call (a security-definer SQL function
-- is never inlined, and the plan of its body met the policies of two tables), and row-level
-- security calls it in every statement an agent runs, often several times: 0.8 ms a call,
-- measured, most of an agent's next case. It now remembers its answer for the transaction
-- (app.visible_agents, keyed by the user), so it is worked out once.
CREATE OR REPLACE FUNCTION app_visible_agents() RETURNS uuid[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me uuid := app_user_id();
    cached text := current_setting('app.visible_agents', true);
    agents uuid[];
BEGIN
    IF me IS NULL THEN
        RETURN ARRAY[NULL]::uuid[];
    END IF;
    IF cached IS NOT NULL AND cached <> '' AND split_part(cached, '|', 1) = me::text THEN
        RETURN split_part(cached, '|', 2)::uuid[];
    END IF;
    SELECT coalesce(
        (SELECT array_agg(other.user_id)
         FROM agent_profiles mine JOIN teams t ON t.id = mine.team_id AND t.shares_cases
         JOIN agent_profiles other ON other.team_id = t.id
         WHERE mine.user_id = me),
        ARRAY[me]) INTO agents;
    PERFORM set_config('app.visible_agents', me::text || '|' || agents::text, true);
    RETURN agents;
END
$$;
DROP POLICY claims_read_by_agent ON claims;
CREATE POLICY claims_read_by_agent ON claims AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent' OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = claims.creditor_id AND c.id = claims.case_id));
DROP POLICY case_assignments_read_by_agent ON case_assignments;
CREATE POLICY case_assignments_read_by_agent ON case_assignments AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent'
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = case_assignments.creditor_id AND c.id = case_assignments.case_id));
DROP POLICY debtors_read_by_agent ON debtors;
CREATE POLICY debtors_read_by_agent ON debtors AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent' OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = debtors.creditor_id AND c.debtor_id = debtors.id));
DROP POLICY debtor_keys_read_by_agent ON debtor_keys;
CREATE POLICY debtor_keys_read_by_agent ON debtor_keys AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent'
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = debtor_keys.creditor_id AND c.debtor_id = debtor_keys.debtor_id));
CREATE POLICY case_activities_read_by_role ON case_activities AS RESTRICTIVE FOR SELECT TO relance_app
    USING (app_principal_kind() = 'system' OR app_is_staff());

GRANT SELECT, INSERT, UPDATE ON work_items, work_leases, contact_preferences TO relance_app;
GRANT SELECT, INSERT ON case_activities TO relance_app;

-- The rules are the agency's policy, no one's data: read by anyone (a creditor's case shows what
-- the gate says of its debtor), changed by administrators. The
-- zones hold no one's data (a country, a time zone, a window): read by anyone, added by whoever
-- assigns a case (the trigger above), their windows kept by the clock.
ALTER TABLE contact_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY contact_rules_read ON contact_rules FOR SELECT USING (true);
CREATE POLICY contact_rules_write ON contact_rules FOR UPDATE USING (app_principal_kind() = 'system' OR (app_is_staff() AND coalesce(app_role() = 'admin', false)));
CREATE POLICY contact_rules_insert ON contact_rules FOR INSERT WITH CHECK (app_principal_kind() = 'system' OR (app_is_staff() AND coalesce(app_role() = 'admin', false)));
ALTER TABLE contact_zones ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_zones FORCE ROW LEVEL SECURITY;
CREATE POLICY contact_zones_read ON contact_zones FOR SELECT USING (true);
CREATE POLICY contact_zones_insert ON contact_zones FOR INSERT WITH CHECK (app_is_staff() OR app_principal_kind() = 'system');
CREATE POLICY contact_zones_update ON contact_zones FOR UPDATE USING (app_principal_kind() = 'system');
GRANT SELECT, UPDATE, INSERT ON contact_rules TO relance_app;
GRANT SELECT, INSERT, UPDATE ON contact_zones TO relance_app;
GRANT EXECUTE ON FUNCTION work_score_parts(bigint, date, text, timestamptz, timestamptz) TO relance_app;

-- Cases already assigned get their items: new placements, due now (read and written as the
-- queue's job: row-level security is forced on the owner too).
SELECT set_config('app.principal_kind', 'system', true), set_config('app.job', 'work_queue', true);
INSERT INTO work_items (creditor_id, case_id, agent_id, case_open, level, due_at, zone)
    SELECT c.creditor_id, c.id, c.assigned_agent_id, c.status = 'open', 5, now(), d.country || ' ' || d.time_zone
    FROM cases c JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id
    WHERE c.assigned_agent_id IS NOT NULL AND c.status IN ('open', 'paused', 'disputed');
INSERT INTO contact_zones (zone, jurisdiction, time_zone)
    SELECT DISTINCT zone, split_part(zone, ' ', 1), split_part(zone, ' ', 2) FROM work_items;
