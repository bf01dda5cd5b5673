-- Why: merging a placement was the slow half of placing a portfolio (32 s of 47 s for 200,000
-- rows). The upload now gives each staged row the ids it will have: its claim's (time-ordered,
-- so a placement's claims land at the right edge of the indexes), and, should its debtor be
-- new, the debtor's and the case's (derived from the row's identifier group, so all rows of
-- one debtor agree without a lookup). Rows that meet nothing already known are then moved into
-- debtors, cases and claims by plain INSERT ... SELECT, without working tables or joins.
ALTER TABLE placement_rows
    ADD COLUMN claim_id uuid,
    ADD COLUMN debtor_id uuid,
    ADD COLUMN case_id uuid;

-- The merge marks a repeated reference's later rows as refused, in place.
GRANT UPDATE (reject_field, reject_reason) ON placement_rows TO relance_app;

-- The staged rows change wholesale with every upload and merge, faster than autovacuum
-- gathers statistics; planned on stale ones ("one row"), a merge statement can turn into a
-- nested loop over the whole placement. The worker refreshes them before each merge, in a
-- transaction of its own (ANALYZE holds a lock that would otherwise serialise merges). The
-- service role does not own the table; this function, run as its owner, may analyse it.
CREATE FUNCTION placement_rows_analyze() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public AS $$
BEGIN
    ANALYZE placement_rows;
END
$$;
REVOKE ALL ON FUNCTION placement_rows_analyze() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION placement_rows_analyze() TO relance_app;

-- Per-row foreign-key checks were the largest cost of a merge (a quarter of it for a first
-- placement; measured in Docs/benchmarks.md). Two kinds are replaced by guarantees that hold
-- for every writer, not checked row by row:
-- * debtors and cases -> creditors: a creditor is never deleted (offboarding is a status),
--   which the trigger below enforces; row-level security ties a creditor's users and keys to
--   their own creditor, and staff reach creditor data only through routes that look the
--   creditor up first (404 when it does not exist).
-- * debtor_keys -> debtors: identifiers are derived data, written only by the merge together
--   with their debtor; deleting a debtor (erasure) deletes its identifiers, by the trigger
--   below, as ON DELETE CASCADE would.
-- Cases -> debtors and claims -> cases keep their foreign keys.
ALTER TABLE debtors DROP CONSTRAINT debtors_creditor_id_fkey;
ALTER TABLE cases DROP CONSTRAINT cases_creditor_id_fkey;
ALTER TABLE debtor_keys DROP CONSTRAINT debtor_keys_creditor_id_debtor_id_fkey;

CREATE FUNCTION creditors_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'creditors are never deleted; offboard them instead' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER creditors_never_deleted BEFORE DELETE OR TRUNCATE ON creditors
    FOR EACH STATEMENT EXECUTE FUNCTION creditors_refuse_delete();

-- Runs as whoever deletes the debtor: the same row-level security applies to the identifiers.
CREATE FUNCTION debtors_delete_keys() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
    DELETE FROM debtor_keys k USING gone g WHERE k.creditor_id = g.creditor_id AND k.debtor_id = g.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER debtors_delete_keys AFTER DELETE ON debtors REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION debtors_delete_keys();
-- Finding a debtor's identifiers (erasure, access requests) without a foreign key's index.
CREATE INDEX debtor_keys_debtor_idx ON debtor_keys (creditor_id, debtor_id);

-- Identifiers are compared byte for byte, never sorted for people: the "C" collation makes
-- their sorts and index comparisons plain memcmp instead of locale-aware (several times
-- faster on the million-row sorts and index builds of a merge).
ALTER TABLE debtor_keys ALTER COLUMN key TYPE text COLLATE "C";
ALTER TABLE claims ALTER COLUMN creditor_reference TYPE text COLLATE "C";
ALTER TABLE placement_outcomes ALTER COLUMN creditor_reference TYPE text COLLATE "C";
ALTER TABLE placement_rows
    ALTER COLUMN creditor_reference TYPE text COLLATE "C",
    ALTER COLUMN group_key TYPE text COLLATE "C",
    ALTER COLUMN match_keys TYPE text[] COLLATE "C";
