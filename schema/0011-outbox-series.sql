-- 0011-outbox-series: an index for the replies of one series.
--
-- A series' replies: its page (the replies and their preview) and
-- `patchq show` read them by series_id, which no index of outbox led
-- with (outbox_failure_once is partial): every series page scanned the
-- whole outbox, every reply ever queued with its text (EXPLAIN QUERY PLAN:
-- SCAN outbox; 905 replies in the 200,000-message desk benchmark).
CREATE INDEX outbox_series ON outbox(series_id);
