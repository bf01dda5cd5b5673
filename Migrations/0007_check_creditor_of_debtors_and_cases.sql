-- Debtors and cases name an existing creditor, checked by the database again.
--
-- Migration 0005 dropped the per-row foreign keys debtors -> creditors and cases -> creditors
-- (one index probe and one row lock per inserted row: seconds on a large placement), relying
-- on "a creditor is never deleted" and on the routes checking the creditor. This restores the
-- check for every writer, staff in psql included, at the cost of one pass per statement: the
-- distinct creditors of the inserted or updated rows, looked up once each. No lock is needed
-- on the creditor: creditors are never deleted (trigger creditors_never_deleted).
-- Runs as the writer (row-level security on creditors applies: every writer allowed to write a
-- creditor's debtors or cases can see that creditor), with qualified names and pg_temp searched
-- last, so a session's temporary table cannot stand in for creditors.
CREATE FUNCTION rows_name_a_creditor() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    missing uuid;
BEGIN
    SELECT d.creditor_id INTO missing
    FROM (SELECT DISTINCT creditor_id FROM written) d
    WHERE NOT EXISTS (SELECT 1 FROM public.creditors c WHERE c.id = d.creditor_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'no creditor % for these % rows', missing, TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER debtors_name_a_creditor_insert AFTER INSERT ON debtors REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION rows_name_a_creditor();
CREATE TRIGGER debtors_name_a_creditor_update AFTER UPDATE ON debtors REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION rows_name_a_creditor();
CREATE TRIGGER cases_name_a_creditor_insert AFTER INSERT ON cases REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION rows_name_a_creditor();
CREATE TRIGGER cases_name_a_creditor_update AFTER UPDATE ON cases REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION rows_name_a_creditor();
