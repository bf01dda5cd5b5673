-- Why: a French agency onboards a creditor with its legal identity and bank details, may
-- collect only under a signed written mandate (CPCE R124-3: power to receive funds, basis of
-- fees, remittance terms), and charges by a fee schedule that changes over time. Placements
-- are refused without an active mandate.

ALTER TABLE creditors
    ADD COLUMN siren text CHECK (siren ~ '^[0-9]{9}$'),
    ADD COLUMN siret text CHECK (siret ~ '^[0-9]{14}$'),
    ADD COLUMN vat_number text CHECK (vat_number ~ '^[A-Z]{2}[A-Z0-9]{2,12}$'),
    ADD COLUMN address_line1 text CHECK (length(address_line1) <= 200),
    ADD COLUMN address_line2 text CHECK (length(address_line2) <= 200),
    ADD COLUMN postal_code text CHECK (length(postal_code) <= 20),
    ADD COLUMN city text CHECK (length(city) <= 100),
    ADD COLUMN country text NOT NULL DEFAULT 'FR' CHECK (country ~ '^[A-Z]{2}$'),
    -- The creditor's contact person: personal data (see the GDPR register).
    ADD COLUMN contact_name text CHECK (length(contact_name) <= 200),
    ADD COLUMN contact_email text CHECK (length(contact_email) <= 254),
    ADD COLUMN contact_phone text CHECK (length(contact_phone) <= 20),
    ADD COLUMN jurisdiction text NOT NULL DEFAULT 'FR' CHECK (jurisdiction ~ '^[A-Z]{2}$'),
    ADD COLUMN default_currency text NOT NULL DEFAULT 'EUR' CHECK (default_currency ~ '^[A-Z]{3}$'),
    ADD COLUMN remittance_iban text CHECK (remittance_iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$'),
    ADD CONSTRAINT creditors_siret_matches_siren CHECK (siret IS NULL OR siren IS NULL OR left(siret, 9) = siren);

-- A signed mandate. Terms are recorded as signed; a new mandate replaces an old one by
-- terminating it (history is kept).
CREATE TABLE mandates (
    creditor_id uuid NOT NULL REFERENCES creditors (id),
    id uuid NOT NULL,
    reference text NOT NULL CHECK (length(reference) BETWEEN 1 AND 100),
    signed_on date NOT NULL,
    valid_from date NOT NULL,
    valid_until date,
    power_to_receive_funds boolean NOT NULL CHECK (power_to_receive_funds),
    fee_basis text NOT NULL CHECK (length(fee_basis) BETWEEN 1 AND 1000),
    remittance_basis text NOT NULL CHECK (remittance_basis IN ('net', 'gross')),
    remittance_frequency text NOT NULL CHECK (remittance_frequency IN ('weekly', 'fortnightly', 'monthly')),
    -- R124-6: funds are remitted at most one month after encashment.
    remittance_days_after_encashment integer NOT NULL CHECK (remittance_days_after_encashment BETWEEN 0 AND 31),
    insurance_reference text NOT NULL CHECK (length(insurance_reference) BETWEEN 1 AND 100),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'terminated')),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    terminated_at timestamptz,
    PRIMARY KEY (creditor_id, id),
    CHECK (valid_until IS NULL OR valid_until >= valid_from),
    CHECK (signed_on <= valid_from)
);
CREATE UNIQUE INDEX mandates_reference_key ON mandates (creditor_id, reference);
ALTER TABLE mandates ENABLE ROW LEVEL SECURITY;
ALTER TABLE mandates FORCE ROW LEVEL SECURITY;
CREATE POLICY mandates_staff ON mandates USING (app_is_staff()) WITH CHECK (app_is_staff());
CREATE POLICY mandates_own ON mandates FOR SELECT USING (creditor_id = (SELECT app_creditor_id()));
GRANT SELECT, INSERT, UPDATE ON mandates TO relance_app;

-- Fee schedules, versioned by the date they take effect. Commission = rate of the tier the
-- case falls in (by days past due at placement, or by balance at placement, or flat), applied
-- to amounts collected, then bounded per case by the minimum and maximum.
CREATE TABLE fee_schedules (
    creditor_id uuid NOT NULL REFERENCES creditors (id),
    id uuid NOT NULL,
    effective_from date NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    basis text NOT NULL CHECK (basis IN ('flat', 'age_at_placement', 'balance_at_placement')),
    -- [{"from": 0, "rateBasisPoints": 1500}, ...]: `from` in days or in minor units.
    tiers jsonb NOT NULL CHECK (jsonb_typeof(tiers) = 'array' AND jsonb_array_length(tiers) BETWEEN 1 AND 20),
    minimum_fee_minor bigint CHECK (minimum_fee_minor >= 0),
    maximum_fee_minor bigint CHECK (maximum_fee_minor >= 0),
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (creditor_id, id),
    CONSTRAINT fee_schedules_one_per_day UNIQUE (creditor_id, effective_from),
    CHECK (minimum_fee_minor IS NULL OR maximum_fee_minor IS NULL OR minimum_fee_minor <= maximum_fee_minor)
);
ALTER TABLE fee_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE fee_schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY fee_schedules_staff ON fee_schedules USING (app_is_staff()) WITH CHECK (app_is_staff());
CREATE POLICY fee_schedules_own ON fee_schedules FOR SELECT USING (creditor_id = (SELECT app_creditor_id()));
GRANT SELECT, INSERT ON fee_schedules TO relance_app;
