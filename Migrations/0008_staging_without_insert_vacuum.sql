-- Why: a staged placement's rows live for one merge. The upload commits a million of them at
-- once, which is past autovacuum's insert threshold (1,000 + 20 % of the table), so an automatic
-- vacuum of the just-committed rows started while the merge was reading them: it read the whole
-- staging table again, set its visibility map and wrote WAL, on the same cores and disk as the
-- merge (seen beside the slow merges of the 2026-12-04 benchmark runs). That vacuum buys nothing
-- here: the rows are deleted right after the merge commits, and the vacuum that deletion
-- triggers (dead rows) still runs, after the placement is complete. Freezing is unaffected:
-- anti-wraparound vacuums ignore this setting.
ALTER TABLE placement_rows SET (autovacuum_vacuum_insert_threshold = -1);
