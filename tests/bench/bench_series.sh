#!/bin/sh
# bench_series.sh PATCHQ CORPUS_DIR
#
# Listing benchmark: how `patchq series --json` and `patchq todo --json`
# grow with the number of series. Both once read a series' newer version
# with a correlated subquery per series (quadratic); they must now grow
# linearly.
#
#   PATCHQ      the patchq executable
#   CORPUS_DIR  the shared corpus; the input is
#               real/bench/linux-kbuild-last10000.mbox.zst beneath it
#
# Two sizes: the first half of the 10,000 linux-kbuild messages (about 600
# series) and all of them (about 1,100). Each is imported into a database
# of its own; then, so that every section of the to-do has rows to read,
# sqlite3 gives the database a queue's worth of states, as triage and the
# maintainer would leave them (set in SQL: a benchmark of the listings, not
# of triage, which bench_triage.sh measures):
#   every complete series queued on rust-next by the rule "next", with a dry
#   run recorded there (every third one failing: it stopped applying);
#   every fourth complete series applied on rust-dev, each patch with its
#   application row (seen: the patch itself, so the replies that came
#   after it bring late trailers);
#   every tenth series a failed reply in the outbox.
# Then each command runs PQ_BENCH_RUNS times (default 3) and the fastest
# CPU time (user + system) and wall time are kept. The report gives, per
# command and size, the series, the seconds and the microseconds per
# series, and the verdict: linear when the time per series at the larger
# size is at most 1.5 times that at the smaller (a quadratic listing
# doubles it).
#
# Runs under `meson test --benchmark` only (see meson.build here); exits 77
# (skipped) when the corpus, zstd, sqlite3 or python3 is missing. About a
# minute, most of it the two imports. Work files in a temporary directory,
# removed at the end (PQ_KEEP_TMP=1 keeps them).
set -eu

me=bench_series
skip() { echo "$me: SKIP: $*" >&2; exit 77; }
die() { echo "$me: FAIL: $*" >&2; exit 1; }
note() { echo "$me: $*" >&2; }

if [ $# -ne 2 ]; then
	echo "usage: $0 PATCHQ CORPUS_DIR" >&2
	exit 2
fi
patchq=$1
corpus=$2
case $patchq in */*) ;; *) patchq=$(command -v -- "$patchq" || true) ;; esac
{ [ -n "$patchq" ] && [ -x "$patchq" ]; } || die "patchq executable not found: $1"
patchq=$(realpath -- "$patchq")
mbox_zst=$corpus/real/bench/linux-kbuild-last10000.mbox.zst
[ -r "$mbox_zst" ] || skip "no $mbox_zst (give the corpus directory)"
for tool in zstd sqlite3 python3; do
	command -v $tool >/dev/null 2>&1 || skip "$tool is not installed"
done
runs=${PQ_BENCH_RUNS:-3}

work=$(mktemp -d "${TMPDIR:-/tmp}/pq-bench-series-XXXXXX")
cleanup() {
	if [ -n "${PQ_KEEP_TMP:-}" ]; then note "kept $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

zstd -dcq -- "$mbox_zst" >"$work/all.mbox"
# the first half: the messages before the 5001st "From " line
python3 - "$work/all.mbox" "$work/half.mbox" <<'EOF'
import re, sys
data = open(sys.argv[1], 'rb').read()
starts = [m.start() for m in re.finditer(rb'^From ', data, re.M)]
open(sys.argv[2], 'wb').write(data[:starts[len(starts) // 2]])
EOF

git init -q --bare "$work/queues.git" 2>/dev/null || mkdir -p "$work/queues.git"
cat >"$work/patchq.conf" <<EOF
[patchq]
	database = bench.db
	repository = queues.git
	committer = Bench Maint <maint@example.org>
[queue "rust-next"]
	branch = rust-next
[queue "rust-fixes"]
	branch = rust-fixes
[queue "rust-dev"]
	branch = rust-dev
	base = rust-next
	rebuild = true
[rule "next"]
	queue = rust-next
	tag = rust-next
EOF

# The states triage and a maintainer would leave (see the top).
states_sql="
BEGIN;
INSERT INTO series_queue (series_id, queue, state, rule, updated)
	SELECT id, 'rust-next', 'queued', 'next', 0 FROM complete_series;
UPDATE series SET state = 'queued' WHERE id IN (SELECT id FROM complete_series);
INSERT INTO check_result (series_id, queue, tip, ok, error, path, checked)
	SELECT id, 'rust-next', '0123456789abcdef0123456789abcdef01234567', id % 3 != 0,
	       CASE WHEN id % 3 = 0 THEN 'Makefile, hunk @@ -1,3 +1,3 @@: hunk does not match' END,
	       'libgit2', 0 FROM complete_series;
INSERT INTO series_queue (series_id, queue, state, rule, updated)
	SELECT id, 'rust-dev', 'applied', NULL, 0 FROM complete_series WHERE id % 4 = 0;
INSERT INTO application (queue, series_id, message_id, msgid, commit_id, path, applied, seen)
	SELECT 'rust-dev', m.series_id, m.id, m.msgid, printf('%040x', m.id), 'libgit2', 0, m.id
	FROM message m JOIN complete_series c ON c.id = m.series_id
	WHERE c.id % 4 = 0 AND m.kind = 'patch' ORDER BY m.series_id, m.idx;
INSERT INTO outbox (series_id, queue, kind, msgid, sender, recipients, message, state,
		    attempts, error, created)
	SELECT id, 'rust-next', 'failed', 'bench-' || id || '@example.org', 'maint@example.org',
	       'list@example.org', 'Subject: bench', 'failed', 1, '550 no such list', 0
	FROM series WHERE id % 10 = 0;
COMMIT;
"

# cpu_and_wall CMD...: the fastest of $runs runs, "CPU WALL" in seconds;
# the output goes to $work/out.
cpu_and_wall() {
	python3 - "$runs" "$work/out" "$@" <<'EOF'
import os, resource, subprocess, sys, time
runs, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
best_cpu = best_wall = None
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    with open(out, 'wb') as f:
        rc = subprocess.call(cmd, stdout=f)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        sys.exit('%s exited with %d' % (' '.join(cmd), rc))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    best_wall = wall if best_wall is None else min(best_wall, wall)
print('%.3f %.3f' % (best_cpu, best_wall))
EOF
}

report=$work/report
: >"$report"
for size in half all; do
	db=$work/$size.db
	"$patchq" --db "$db" -q import "$work/$size.mbox" >/dev/null ||
		die "import of the $size mbox failed"
	sqlite3 "$db" "$states_sql" || die "setting the states failed"
	n=$(sqlite3 "$db" "SELECT count(*) FROM series")
	waiting=$(sqlite3 "$db" "SELECT count(*) FROM series_queue WHERE state = 'queued'")
	on_dev=$(sqlite3 "$db" "SELECT count(DISTINCT series_id) FROM application")
	note "$size: $n series, $waiting waiting on rust-next, $on_dev on rust-dev"
	sed -i "s|^\tdatabase = .*|\tdatabase = $db|" "$work/patchq.conf"
	t=$(cpu_and_wall "$patchq" --db "$db" series --json) || die "patchq series failed"
	python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); assert len(l)==int(sys.argv[2]), len(l)' \
		"$work/out" "$n" || die "series --json did not list the $n series"
	echo "series $size $n $t" >>"$report"
	t=$(cpu_and_wall "$patchq" -c "$work/patchq.conf" todo --json) || die "patchq todo failed"
	python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); q=t["queues"][0]; assert len(q["waiting"])==int(sys.argv[2]), len(q["waiting"])' \
		"$work/out" "$waiting" || die "todo --json did not list the $waiting waiting"
	late=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(sum(len(q["late_trailers"]) for q in t["queues"]))' "$work/out")
	note "$size: the to-do lists $late late trailers"
	echo "todo $size $n $t" >>"$report"
done

python3 - "$report" <<'EOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    cmd, size, n, cpu, wall = line.split()
    rows.setdefault(cmd, []).append((int(n), float(cpu), float(wall)))
bad = 0
for cmd, ((n1, c1, w1), (n2, c2, w2)) in rows.items():
    u1, u2 = c1 / n1 * 1e6, c2 / n2 * 1e6
    ratio = u2 / u1 if u1 else 0
    verdict = 'linear' if ratio <= 1.5 else 'NOT linear'
    bad += ratio > 1.5
    print('bench_series: patchq %s --json: %d series %.3f s CPU (%.2f s wall), %.0f us/series;'
          ' %d series %.3f s CPU (%.2f s wall), %.0f us/series; per-series ratio %.2f: %s'
          % (cmd, n1, c1, w1, u1, n2, c2, w2, u2, ratio, verdict))
sys.exit(1 if bad else 0)
EOF
