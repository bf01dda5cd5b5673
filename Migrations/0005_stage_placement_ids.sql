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
