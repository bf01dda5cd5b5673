-- Why: a placement that meets nothing already known is merged by two transactions at once, on
-- two connections (PostgreSQL runs one statement on one core; the machine has more). The merge
-- transaction writes debtors, cases and claims and leaves the placement `merged`; the finishing
-- transaction, started beside it, writes the debtors' identifiers (debtor_keys) and the
-- acknowledgement (placement_outcomes), then waits on the placement's row for the merge to
-- commit and sets `completed`. Measured on 1,000,000 staged rows, alternating: 50.8, 48.8 and
-- 47.6 s against 63.0, 68.3 and 60.7 s in one transaction (Docs/benchmarks.md).
--
-- `merged` is short-lived: claims and cases are in place, the acknowledgement is not yet. A
-- placement left `merged` (the process died between the two commits, or the finishing
-- transaction failed) keeps its staged rows and is finished by the next worker pass; merges of
-- the same creditor wait for it, since later matching reads its identifiers.
ALTER TABLE placements DROP CONSTRAINT placements_status_check;
ALTER TABLE placements ADD CONSTRAINT placements_status_check CHECK (status IN ('staged', 'merged', 'completed', 'failed'));
CREATE INDEX placements_merged_idx ON placements (creditor_id) WHERE status = 'merged';
