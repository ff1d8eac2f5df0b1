-- 0005-pipeline: one definition of what a series is to the queues, and the
-- rebuild trigger's memory.

-- A series is complete when every patch 1..total of it is stored. Every
-- query that needs "complete" reads this view, never its own count.
CREATE VIEW complete_series AS
SELECT s.* FROM series s
WHERE (SELECT count(DISTINCT m.idx) FROM message m
       WHERE m.series_id = s.id AND m.idx BETWEEN 1 AND s.total) = s.total;

-- The series on a queue: those with commits on its branch now, in the
-- order they went in (a rebuild retires the rows it replaced).
CREATE VIEW queue_series AS
SELECT queue, series_id, min(id) AS position FROM application
WHERE active GROUP BY queue, series_id;

-- Newer versions are found by what they supersede.
CREATE INDEX series_supersedes ON series(supersedes);

-- Each rebuildable queue's base tip when it was last rebuilt: a rebuild is
-- due when the base moved since, across restarts too.
CREATE TABLE queue_base (
	queue TEXT PRIMARY KEY,
	tip TEXT NOT NULL,
	rebuilt INTEGER NOT NULL        -- unix time
);
