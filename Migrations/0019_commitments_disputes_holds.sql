-- Why: what comes out of a conversation with a debtor had nowhere to live. A promise to pay
-- (amount, date, grace days) must be followed and decided kept or broken by the payments that
-- arrive; a payment plan (échéancier) splits the balance into instalments within the
-- creditor's terms, a large one approved by a supervisor, and breaks when an instalment is
-- missed; a dispute (litige) stops collection until it is resolved; a hold pauses a case
-- between two dates, at the agency's or the creditor's request. Each moves the case in its
-- agent's queue (Docs/work-queue.md). Claims gain the interest and fees their balance holds, so
-- a case shows what it is made of (zero until the payments module computes them).

ALTER TABLE claims
    ADD COLUMN interest_minor bigint NOT NULL DEFAULT 0 CHECK (interest_minor >= 0),
    ADD COLUMN fees_minor bigint NOT NULL DEFAULT 0 CHECK (fees_minor >= 0);

-- Promises to pay: at most one open per case (a new one replaces it).
CREATE TABLE promises (
    creditor_id uuid NOT NULL,
    id uuid NOT NULL,
    case_id uuid NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    due_date date NOT NULL,
    grace_days integer NOT NULL CHECK (grace_days BETWEEN 0 AND 30),
    paid_minor bigint NOT NULL DEFAULT 0 CHECK (paid_minor >= 0),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'kept', 'broken', 'cancelled')),
    created_by uuid,
    created_at timestamptz NOT NULL,
    decided_at timestamptz,
    PRIMARY KEY (creditor_id, id),
    CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX promises_one_open ON promises (creditor_id, case_id) WHERE status = 'open';
CREATE INDEX promises_by_case ON promises (creditor_id, case_id, created_at);
-- The clock's sweep: open promises past their date and grace.
CREATE INDEX promises_open_by_date ON promises ((due_date + grace_days)) WHERE status = 'open';

-- A creditor's terms for payment plans; absent: the defaults of Docs/work-queue.md.
CREATE TABLE plan_policies (
    creditor_id uuid PRIMARY KEY,
    min_instalment_minor bigint NOT NULL CHECK (min_instalment_minor > 0),
    max_instalments integer NOT NULL CHECK (max_instalments BETWEEN 1 AND 120),
    approval_above_minor bigint NOT NULL CHECK (approval_above_minor >= 0),
    grace_days integer NOT NULL CHECK (grace_days BETWEEN 0 AND 30),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid
);

-- Payment plans and their instalments: at most one plan pending or active per case.
CREATE TABLE payment_plans (
    creditor_id uuid NOT NULL,
    id uuid NOT NULL,
    case_id uuid NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    total_minor bigint NOT NULL CHECK (total_minor > 0),
    grace_days integer NOT NULL CHECK (grace_days BETWEEN 0 AND 30),
    status text NOT NULL CHECK (status IN ('pending_approval', 'active', 'completed', 'broken', 'cancelled', 'rejected')),
    created_by uuid,
    created_at timestamptz NOT NULL,
    approved_by uuid,
    approved_at timestamptz,
    decided_at timestamptz,
    PRIMARY KEY (creditor_id, id)
);
CREATE UNIQUE INDEX payment_plans_one_live ON payment_plans (creditor_id, case_id) WHERE status IN ('pending_approval', 'active');
CREATE INDEX payment_plans_by_case ON payment_plans (creditor_id, case_id, created_at);
CREATE TABLE plan_instalments (
    creditor_id uuid NOT NULL,
    plan_id uuid NOT NULL,
    seq integer NOT NULL CHECK (seq > 0),
    due_date date NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    paid_minor bigint NOT NULL DEFAULT 0 CHECK (paid_minor >= 0),
    status text NOT NULL DEFAULT 'due' CHECK (status IN ('due', 'paid', 'missed')),
    PRIMARY KEY (creditor_id, plan_id, seq)
);
CREATE INDEX plan_instalments_due ON plan_instalments ((due_date)) WHERE status = 'due';

-- Disputes: a reason code, open until resolved (collection resumed, or the case closed).
CREATE TABLE disputes (
    creditor_id uuid NOT NULL,
    id uuid NOT NULL,
    case_id uuid NOT NULL,
    reason text NOT NULL CHECK (reason IN ('not_delivered', 'defective', 'already_paid', 'amount_contested', 'not_me')),
    note text CHECK (length(note) <= 4000),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resumed', 'closed')),
    opened_by uuid,
    opened_by_kind text NOT NULL,
    opened_at timestamptz NOT NULL,
    resolved_by uuid,
    resolved_at timestamptz,
    resolution_note text CHECK (length(resolution_note) <= 4000),
    PRIMARY KEY (creditor_id, id),
    CHECK ((status = 'open') = (resolved_at IS NULL))
);
CREATE UNIQUE INDEX disputes_one_open ON disputes (creditor_id, case_id) WHERE status = 'open';
CREATE INDEX disputes_by_case ON disputes (creditor_id, case_id, opened_at);

-- Holds: a case paused from one date to another (both included), by the agency or the creditor.
CREATE TABLE case_holds (
    creditor_id uuid NOT NULL,
    id uuid NOT NULL,
    case_id uuid NOT NULL,
    starts_on date NOT NULL,
    ends_on date NOT NULL,
    reason text NOT NULL CHECK (reason IN ('creditor_request', 'debtor_hardship', 'agency_review', 'legal', 'other')),
    note text CHECK (length(note) <= 4000),
    created_by uuid,
    created_by_kind text NOT NULL,
    created_at timestamptz NOT NULL,
    released_at timestamptz,
    released_by uuid,
    PRIMARY KEY (creditor_id, id),
    CHECK (ends_on >= starts_on)
);
CREATE INDEX case_holds_by_case ON case_holds (creditor_id, case_id, starts_on);
-- The clock's sweep: holds starting or ending.
CREATE INDEX case_holds_live ON case_holds (starts_on, ends_on) WHERE released_at IS NULL;

-- Tenant policies as every creditor table, and the work queue's clock (promises broken,
-- instalments missed, holds starting and ending, across creditors, as the system).
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['promises', 'plan_policies', 'payment_plans', 'plan_instalments', 'disputes', 'case_holds'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (app_is_staff()) WITH CHECK (app_is_staff())', t || '_staff', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (creditor_id = (SELECT app_creditor_id())) WITH CHECK (creditor_id = (SELECT app_creditor_id()))', t || '_own', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (app_principal_kind() = ''system'' AND app_job() = ''work_queue'') WITH CHECK (app_principal_kind() = ''system'' AND app_job() = ''work_queue'')', t || '_jobs', t);
    END LOOP;
END
$$;
-- The clock also moves the cases whose holds start or end, and their items (0007's trigger
-- checks, as the writer, that the cases' creditors exist).
CREATE POLICY creditors_work_queue_job ON creditors FOR SELECT USING (app_principal_kind() = 'system' AND app_job() = 'work_queue');
CREATE POLICY cases_work_queue_job_update ON cases FOR UPDATE USING (app_principal_kind() = 'system' AND app_job() = 'work_queue')
    WITH CHECK (app_principal_kind() = 'system' AND app_job() = 'work_queue');

-- Who writes: promises, plans and disputes by those who work cases (agents on theirs); plans
-- approved by supervisors and administrators (the route checks the role; the policy the
-- table); holds by those who work cases and by the creditor's administrators and keys (a
-- creditor's pause); a creditor's plan terms by the agency's administrators.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['promises', 'payment_plans', 'plan_instalments', 'disputes'] LOOP
        EXECUTE format('CREATE POLICY %I ON %I AS RESTRICTIVE FOR INSERT TO relance_app WITH CHECK ((SELECT app_may_work_cases()))', t || '_insert_by_role', t);
        EXECUTE format('CREATE POLICY %I ON %I AS RESTRICTIVE FOR UPDATE TO relance_app USING ((SELECT app_may_work_cases()))', t || '_update_by_role', t);
    END LOOP;
END
$$;
CREATE POLICY case_holds_insert_by_role ON case_holds AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_work_cases()) OR (SELECT app_may_write_portfolio()));
CREATE POLICY case_holds_update_by_role ON case_holds AS RESTRICTIVE FOR UPDATE TO relance_app
    USING ((SELECT app_may_work_cases()) OR (SELECT app_may_write_portfolio()));
CREATE POLICY plan_policies_write_by_role ON plan_policies AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_write_contracts()));
CREATE POLICY plan_policies_update_by_role ON plan_policies AS RESTRICTIVE FOR UPDATE TO relance_app
    USING ((SELECT app_may_write_contracts()));

-- An agent sees and writes these only for the cases they may see.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['promises', 'payment_plans', 'disputes', 'case_holds'] LOOP
        EXECUTE format('CREATE POLICY %I ON %I AS RESTRICTIVE FOR SELECT TO relance_app USING ((SELECT app_role()) IS DISTINCT FROM ''agent'' OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = %I.creditor_id AND c.id = %I.case_id))', t || '_read_by_agent', t, t, t);
        EXECUTE format('CREATE POLICY %I ON %I AS RESTRICTIVE FOR INSERT TO relance_app WITH CHECK ((SELECT app_role()) IS DISTINCT FROM ''agent'' OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = %I.creditor_id AND c.id = %I.case_id))', t || '_insert_by_agent', t, t, t);
    END LOOP;
END
$$;
CREATE POLICY plan_instalments_read_by_agent ON plan_instalments AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent'
           OR EXISTS (SELECT 1 FROM payment_plans p WHERE p.creditor_id = plan_instalments.creditor_id AND p.id = plan_instalments.plan_id));
CREATE POLICY plan_instalments_insert_by_agent ON plan_instalments AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_role()) IS DISTINCT FROM 'agent'
                OR EXISTS (SELECT 1 FROM payment_plans p WHERE p.creditor_id = plan_instalments.creditor_id AND p.id = plan_instalments.plan_id));

GRANT SELECT, INSERT, UPDATE ON promises, plan_policies, payment_plans, plan_instalments, disputes, case_holds TO relance_app;
