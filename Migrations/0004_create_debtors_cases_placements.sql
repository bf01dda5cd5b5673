-- Why: placement is the front door of all data. A creditor's file lands whole or not at all:
-- the upload streams into placement_rows inside one transaction (a killed upload leaves
-- nothing); a worker then merges the staged rows into debtors, cases and claims in one
-- transaction (a killed merge rolls back and is retried). Re-sending a reference never
-- duplicates a claim: (creditor_id, creditor_reference) is unique.

CREATE TABLE debtors (
    creditor_id uuid NOT NULL REFERENCES creditors (id),
    id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('person', 'company')),
    name text NOT NULL,
    first_name text,
    last_name text,
    siren text CHECK (siren ~ '^[0-9]{9}$'),
    birth_date date,
    emails text[] NOT NULL DEFAULT '{}',
    phones text[] NOT NULL DEFAULT '{}',
    address_line1 text,
    address_line2 text,
    postal_code text,
    city text,
    country text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    time_zone text NOT NULL,
    language text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (creditor_id, id)
);

-- How placements recognise a debtor again: siren:, email:, phone:, nb: (name + birth date).
CREATE TABLE debtor_keys (
    creditor_id uuid NOT NULL,
    key text NOT NULL,
    debtor_id uuid NOT NULL,
    PRIMARY KEY (creditor_id, key),
    FOREIGN KEY (creditor_id, debtor_id) REFERENCES debtors (creditor_id, id)
);

-- One case per debtor and currency while it is live; a debtor's claims are worked together.
CREATE TABLE cases (
    creditor_id uuid NOT NULL REFERENCES creditors (id),
    id uuid NOT NULL,
    debtor_id uuid NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paused', 'disputed', 'closed', 'recalled')),
    principal_minor bigint NOT NULL DEFAULT 0 CHECK (principal_minor >= 0),
    balance_minor bigint NOT NULL DEFAULT 0 CHECK (balance_minor >= 0),
    oldest_due_date date,
    first_placement_id uuid NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    close_reason text,
    assigned_agent_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (creditor_id, id),
    FOREIGN KEY (creditor_id, debtor_id) REFERENCES debtors (creditor_id, id)
);
CREATE UNIQUE INDEX cases_one_live_per_debtor ON cases (creditor_id, debtor_id, currency)
    WHERE status IN ('open', 'paused', 'disputed');

-- A claim's creditor is its case's (the case foreign key carries creditor_id): no second
-- per-row check against creditors.
CREATE TABLE claims (
    creditor_id uuid NOT NULL,
    id uuid NOT NULL,
    case_id uuid NOT NULL,
    debtor_id uuid NOT NULL,
    creditor_reference text NOT NULL,
    invoice_number text NOT NULL,
    issue_date date,
    due_date date NOT NULL,
    principal_minor bigint NOT NULL CHECK (principal_minor > 0),
    balance_minor bigint NOT NULL CHECK (balance_minor >= 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'recalled', 'closed')),
    row_hash bytea NOT NULL,
    first_placement_id uuid NOT NULL,
    last_placement_id uuid NOT NULL,
    recalled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (creditor_id, id),
    CONSTRAINT claims_reference_key UNIQUE (creditor_id, creditor_reference),
    FOREIGN KEY (creditor_id, case_id) REFERENCES cases (creditor_id, id)
);
CREATE INDEX claims_case_idx ON claims (creditor_id, case_id);

CREATE TABLE placements (
    creditor_id uuid NOT NULL REFERENCES creditors (id),
    id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('staged', 'completed', 'failed')),
    format text NOT NULL CHECK (format IN ('csv', 'json', 'ndjson')),
    file_sha256 bytea NOT NULL,
    byte_count bigint NOT NULL,
    idempotency_key text,
    received integer NOT NULL DEFAULT 0,
    accepted integer NOT NULL DEFAULT 0,
    rejected integer NOT NULL DEFAULT 0,
    unchanged integer NOT NULL DEFAULT 0,
    updated integer NOT NULL DEFAULT 0,
    created_by_kind text NOT NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    failure text,
    PRIMARY KEY (creditor_id, id)
);
CREATE UNIQUE INDEX placements_idempotency_key ON placements (creditor_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX placements_queue_idx ON placements (created_at) WHERE status = 'staged';

-- Staged rows of a placement, until merged. A rejected row keeps only its number and why.
-- The one table without row-level security: PostgreSQL does not allow COPY FROM into a table
-- with RLS. Only the placement pipeline touches it, always by (creditor_id, placement_id);
-- rows move into RLS-protected tables and are deleted when the placement is merged.
CREATE TABLE placement_rows (
    creditor_id uuid NOT NULL,
    placement_id uuid NOT NULL,
    row_number integer NOT NULL,
    reject_field text,
    reject_reason text,
    creditor_reference text,
    invoice_number text,
    issue_date date,
    due_date date,
    principal_minor bigint,
    currency text,
    debtor_kind text,
    debtor_name text,
    first_name text,
    last_name text,
    siren text,
    birth_date date,
    email text,
    phone text,
    address_line1 text,
    address_line2 text,
    postal_code text,
    city text,
    country text,
    time_zone text,
    language text,
    row_hash bytea,
    match_keys text[],
    group_key text,
    PRIMARY KEY (creditor_id, placement_id, row_number)
);

CREATE TABLE placement_rejects (
    creditor_id uuid NOT NULL,
    placement_id uuid NOT NULL,
    row_number integer NOT NULL,
    field text NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (creditor_id, placement_id, row_number, field)
);

-- What became of each accepted row: the acknowledgement sent back to the creditor.
CREATE TABLE placement_outcomes (
    creditor_id uuid NOT NULL,
    placement_id uuid NOT NULL,
    row_number integer NOT NULL,
    creditor_reference text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('accepted', 'updated', 'unchanged', 'closed')),
    claim_id uuid NOT NULL,
    case_id uuid NOT NULL,
    PRIMARY KEY (creditor_id, placement_id, row_number)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['debtors', 'debtor_keys', 'cases', 'claims', 'placements', 'placement_rejects', 'placement_outcomes']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (app_is_staff()) WITH CHECK (app_is_staff())', t || '_staff', t);
        EXECUTE format('CREATE POLICY %I ON %I USING (creditor_id = (SELECT app_creditor_id())) WITH CHECK (creditor_id = (SELECT app_creditor_id()))', t || '_own', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO relance_app', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, DELETE ON placement_rows TO relance_app;
-- The placement worker finds staged placements across creditors before taking one on.
CREATE POLICY placements_system ON placements USING (app_principal_kind() = 'system') WITH CHECK (app_principal_kind() = 'system');
