-- A placement is merged while its file is still coming in (ADR 0007).
--
-- The upload commits its staged rows in slices; the placement exists from the first slice on,
-- in status 'receiving' (its `received` count shows progress), and becomes 'staged' when the
-- last slice is in. A worker may start merging a receiving placement: one merge transaction
-- takes each committed slice in turn and commits after the last, so nothing of the placement
-- is visible before all of it is. An upload that dies leaves a receiving placement whose upload
-- lock is free: workers mark it failed and delete its staged rows.
--
-- `merge_while_receiving` is decided by the upload (which may read the creditor's claims and
-- debtors): only a creditor with no claims and no debtor identifiers yet is merged slice by
-- slice; the others are merged once staged, as before.
ALTER TABLE placements DROP CONSTRAINT placements_status_check;
ALTER TABLE placements ADD CONSTRAINT placements_status_check CHECK (status IN ('receiving', 'staged', 'completed', 'failed'));
ALTER TABLE placements ADD COLUMN merge_while_receiving boolean NOT NULL DEFAULT false;

DROP INDEX placements_queue_idx;
CREATE INDEX placements_queue_idx ON placements (created_at) WHERE status IN ('receiving', 'staged');
