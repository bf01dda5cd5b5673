-- Why: a placement merged right after a large one was planned on statistics that still
-- described the tables before it ("one debtor, one claim"); re-placing the same 200,000-row
-- file then took ten minutes, in a nested loop over every debtor (found by the benchmark's
-- PLACE_AGAIN run). Autovacuum would have caught up within a minute or so, too late for the
-- worker. After a merge that wrote 1,000 claims or more, the worker analyses the tables a
-- merge reads; before each merge, it analyses the staged rows, and any of those tables that
-- others changed by a tenth (at least 1,000 rows) since its last analysis. The functions run
-- as the owner (the service role may not analyse tables it does not own), with schema-qualified
-- names and pg_temp searched last, so a caller's temporary table cannot stand in for ours.
CREATE FUNCTION placement_merge_analyze() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
BEGIN
    ANALYZE public.placement_rows;
    FOR t IN
        SELECT s.relname FROM pg_catalog.pg_stat_user_tables s JOIN pg_catalog.pg_class c ON c.oid = s.relid
        WHERE s.schemaname = 'public' AND s.relname IN ('debtors', 'debtor_keys', 'cases', 'claims')
          AND s.n_mod_since_analyze > greatest(1000, 0.1 * greatest(c.reltuples, 0))
    LOOP
        EXECUTE format('ANALYZE public.%I', t);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION placement_merge_analyze() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION placement_merge_analyze() TO relance_app;
DROP FUNCTION placement_rows_analyze();

CREATE FUNCTION placement_tables_analyze() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    ANALYZE public.debtors, public.debtor_keys, public.cases, public.claims;
END
$$;
REVOKE ALL ON FUNCTION placement_tables_analyze() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION placement_tables_analyze() TO relance_app;
