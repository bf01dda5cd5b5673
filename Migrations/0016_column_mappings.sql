-- Why: creditors send what their accounting tool exports, and a fixed list of header aliases
-- always misses some tool's. A creditor's column mapping (source header -> the field it holds,
-- or "ignore" for a column Relance does not use) is saved here, one row per version: a change is
-- a new version, audited, and the placements staged under a version keep it. Each placement
-- records which mapping it was read with (the creditor's saved one and its version, or one given
-- with the upload) and how each source column was read.

CREATE TABLE column_mappings (
    creditor_id uuid NOT NULL REFERENCES creditors (id),
    version integer NOT NULL CHECK (version > 0),
    -- {"Référence client": "debtor_reference", "Centre de coût": "ignore", ...}
    columns jsonb NOT NULL CHECK (jsonb_typeof(columns) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by_kind text NOT NULL,
    created_by uuid,
    PRIMARY KEY (creditor_id, version)
);

ALTER TABLE column_mappings ENABLE ROW LEVEL SECURITY;
ALTER TABLE column_mappings FORCE ROW LEVEL SECURITY;
CREATE POLICY column_mappings_staff ON column_mappings USING (app_is_staff()) WITH CHECK (app_is_staff());
CREATE POLICY column_mappings_own ON column_mappings
    USING (creditor_id = (SELECT app_creditor_id())) WITH CHECK (creditor_id = (SELECT app_creditor_id()));

-- Who sets a creditor's mapping: those who manage its access (0013's app_may_manage_access: the
-- system, the agency's administrators, the creditor's own administrators, whom the tenant
-- policies keep to their creditor). Read as the creditor's other records are (0015): the agency's
-- administrators and supervisors, the creditor's users, keys and jobs (an upload by a
-- `placements` key reads the mapping it is placed with).
CREATE POLICY column_mappings_insert_by_role ON column_mappings AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_may_manage_access()));
CREATE POLICY column_mappings_read_by_role ON column_mappings AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_may_read_creditor_records()));
-- Versions are never changed or deleted: a change is a new version.
GRANT SELECT, INSERT ON column_mappings TO relance_app;

ALTER TABLE placements
    ADD COLUMN column_mapping text CHECK (column_mapping IN ('saved', 'upload')),
    ADD COLUMN column_mapping_version integer,
    ADD COLUMN column_readings jsonb NOT NULL DEFAULT '[]',
    ADD CONSTRAINT placements_column_mapping_version CHECK (coalesce(column_mapping = 'saved', false) = (column_mapping_version IS NOT NULL));
