#!/usr/bin/env bash
# bench_ingest.sh PATCHQ CORPUS_DIR [MBOX_ZST]
#
# Ingest benchmark: how fast `patchq import` reads a real mailing-list
# mbox into SQLite, next to git's own mail tools on the same messages.
#
#   PATCHQ      the patchq executable
#   CORPUS_DIR  the shared corpus (default input is
#               real/bench/linux-kbuild-last10000.mbox.zst beneath it)
#   MBOX_ZST    another zstd-compressed mboxrd file (optional); it is
#               checked against FILE.sha256 beside it when that exists
#
# Runs under `meson test --benchmark` only (see meson.build here); exits 77
# (skipped) when the corpus or zstd is missing. Timings are taken with a
# warm page cache (the mbox has just been decompressed) and need
# /usr/bin/time (Debian package "time") for peak RSS; without it the wall
# time comes from bash and RSS is reported as unknown. Nothing is installed.
set -euo pipefail

me=bench_ingest
skip() { echo "$me: SKIP: $*" >&2; exit 77; }
die() { echo "$me: FAIL: $*" >&2; exit 1; }

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 PATCHQ CORPUS_DIR [MBOX_ZST]" >&2
	exit 2
fi
patchq=$1
corpus=$2
default_zst=$corpus/real/bench/linux-kbuild-last10000.mbox.zst
zst=${3:-$default_zst}

case $patchq in */*) ;; *) patchq=$(command -v -- "$patchq" || true) ;; esac
{ [ -n "$patchq" ] && [ -x "$patchq" ]; } || die "patchq executable not found: $1"
patchq=$(realpath -- "$patchq")

[ -f "$zst" ] || skip "corpus file not found: $zst"
command -v zstd >/dev/null || skip "zstd is not installed"
command -v sha256sum >/dev/null || die "sha256sum is not installed"
zst=$(realpath -- "$zst")
sumfile=${zst%.zst}.sha256
name=$(basename -- "${zst%.zst}")

# Timing: /usr/bin/time for wall seconds and peak RSS, else bash's time.
time_bin=
[ -x /usr/bin/time ] && time_bin=/usr/bin/time
have_git=1
command -v git >/dev/null || have_git=0

# meson sets this for tests (not for benchmarks); it would slow malloc down.
unset MALLOC_PERTURB_ || true

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_ingest.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM

# ---- helpers ----

# calc EXPR [VAR=VALUE...]: floating point arithmetic through awk.
calc() {
	local expr=$1
	shift
	awk "$@" "BEGIN { printf \"%s\", ($expr) }" </dev/null # () keeps > a comparison
}

# timed LABEL CMD...: runs CMD with its output in $tmp/LABEL.out and
# $tmp/LABEL.err; sets T_WALL (seconds), T_RSS (KiB or "unknown"),
# T_USER and T_SYS. Returns CMD's exit status.
timed() {
	local label=$1 rc=0
	shift
	if [ -n "$time_bin" ]; then
		"$time_bin" -f '%e %M %U %S' -o "$tmp/$label.time" -- "$@" \
			>"$tmp/$label.out" 2>"$tmp/$label.err" || rc=$?
		# a failed command adds "Command exited with non-zero status N" first
		read -r T_WALL T_RSS T_USER T_SYS < <(tail -n 1 "$tmp/$label.time")
	else
		local TIMEFORMAT='%3R %3U %3S'
		{ time "$@" >"$tmp/$label.out" 2>"$tmp/$label.err" || rc=$?; } 2>"$tmp/$label.time"
		read -r T_WALL T_USER T_SYS < <(tail -n 1 "$tmp/$label.time")
		T_RSS=unknown
	fi
	return "$rc"
}

# mb KIB: "123.4 MB" (10^6 bytes) or "unknown"
mb_of_kib() {
	case $1 in
	unknown) echo unknown ;;
	*) awk -v k="$1" 'BEGIN { printf "%.1f MB\n", k * 1024 / 1e6 }' </dev/null ;;
	esac
}

db_size() { # bytes of the database and its WAL/SHM files left behind
	local total=0 f
	for f in "$1" "$1-wal" "$1-shm"; do
		[ -f "$f" ] && total=$((total + $(stat -c %s -- "$f")))
	done
	echo "$total"
}

# import_once LABEL MBOX EXPECTED: a timed import into a fresh database
# $tmp/LABEL.sqlite; fails unless patchq read EXPECTED messages. Leaves
# the database size in T_DB.
import_once() {
	local label=$1 mbox=$2 expected=$3 db=$tmp/$1.sqlite
	rm -f -- "$db" "$db-wal" "$db-shm"
	if ! timed "$label" "$patchq" --db "$db" -q import "$mbox"; then
		cat "$tmp/$label.err" >&2
		die "$label: patchq import failed"
	fi
	if ! grep -qF -- "$mbox: read $expected," "$tmp/$label.out"; then
		cat "$tmp/$label.out" "$tmp/$label.err" >&2
		die "$label: expected \"read $expected\" in patchq's report"
	fi
	T_DB=$(db_size "$db")
	rm -f -- "$db" "$db-wal" "$db-shm"
}

# ---- the input ----

mbox=$tmp/$name
zstd -q -d -o "$mbox" -- "$zst" || die "cannot decompress $zst"
if [ -f "$sumfile" ]; then
	want=$(awk '{ print $1; exit }' "$sumfile")
	got=$(sha256sum -- "$mbox" | awk '{ print $1 }')
	[ "$want" = "$got" ] || die "$name: sha256 $got, expected $want ($sumfile)"
	sum_note="sha256 verified"
elif [ "$zst" = "$(realpath -m -- "$default_zst")" ]; then
	die "checksum file missing: $sumfile"
else
	sum_note="no .sha256 beside it, not verified"
fi
bytes=$(stat -c %s -- "$mbox")
from_re='^From mboxrd@z Thu Jan  1 00:00:00 1970$'
nmsg=$(grep -c -- "$from_re" "$mbox" || true)
[ "$nmsg" -gt 0 ] || die "$name: no mboxrd From lines (not an mboxrd file?)"
if [ "$zst" = "$(realpath -m -- "$default_zst")" ] && [ "$nmsg" -ne 10000 ]; then
	die "$name: $nmsg messages, expected 10000"
fi
mbytes=$(calc 'b / 1e6' -v b="$bytes")

echo "ingest benchmark: $name"
printf '  %d messages, %.2f MB raw (MB = 10^6 bytes), %s\n' "$nmsg" "$mbytes" "$sum_note"
printf '  %s; %s CPUs; %s; page cache warm\n' "$("$patchq" --version 2>/dev/null | head -n 1 || echo patchq)" \
	"$(nproc 2>/dev/null || echo '?')" \
	"$([ $have_git = 1 ] && git --version || echo 'git not installed')"
printf '  load average before: %s (the timings assume an otherwise idle machine)\n' \
	"$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
if [ -n "$time_bin" ]; then
	echo "  timing: /usr/bin/time (wall, peak RSS of the process)"
else
	echo "  timing: bash time (/usr/bin/time missing: peak RSS unknown; Debian package \"time\")"
fi
echo

# ---- patchq: 3 imports, each into a fresh database ----

runs=3
walls=()
rss_max=0
rss_known=1
for i in $(seq 1 "$runs"); do
	import_once "patchq$i" "$mbox" "$nmsg"
	walls+=("$T_WALL")
	db_bytes=$T_DB
	if [ "$T_RSS" = unknown ]; then
		rss_known=0
	elif [ "$T_RSS" -gt "$rss_max" ]; then
		rss_max=$T_RSS
	fi
	printf '  patchq run %d: %6.2f s wall (user %.2f s, sys %.2f s), peak RSS %s\n' "$i" \
		"$T_WALL" "$T_USER" "$T_SYS" "$(mb_of_kib "$T_RSS")"
done
sed 's/^/  patchq: /' "$tmp/patchq$runs.out"
read -r pq_best pq_median < <(printf '%s\n' "${walls[@]}" | sort -g |
	awk '{ v[NR] = $1 } END { print v[1], v[int((NR + 1) / 2)] }')
pq_rss=unknown
[ "$rss_known" = 1 ] && pq_rss=$rss_max

# ---- git: mailsplit, then mailinfo on every message ----

if [ "$have_git" = 1 ]; then
	# git's configuration must not change the parsing, and no repository
	# around the temp dir may be found
	export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
	GIT_CEILING_DIRECTORIES=$(dirname -- "$tmp")
	export GIT_CEILING_DIRECTORIES
	split=$tmp/split
	mkdir "$split"
	cd "$tmp"
	# mailsplit wants the directory glued to -o
	timed mailsplit git mailsplit --mboxrd -o"$split" "$mbox" || {
		cat "$tmp/mailsplit.err" >&2
		die "git mailsplit failed"
	}
	ms_wall=$T_WALL
	nsplit=$(tail -n 1 "$tmp/mailsplit.out")
	[ "$nsplit" = "$nmsg" ] || die "git mailsplit split $nsplit messages, expected $nmsg"

	# one git mailinfo process per message, the way a shell pipeline over
	# git's mail tools does it; a message mailinfo rejects is counted
	cat >"$tmp/mailinfo.sh" <<-'EOF'
		split=$1 out=$2 fails=0
		for f in "$split"/*; do
			git mailinfo "$out/msg" "$out/patch" <"$f" >"$out/info" 2>>"$out/warnings" ||
				fails=$((fails + 1))
		done
		echo "$fails" >"$out/fails"
	EOF
	mkdir "$tmp/mi"
	: >"$tmp/mi/warnings"
	timed mailinfo bash "$tmp/mailinfo.sh" "$split" "$tmp/mi" || die "the mailinfo loop failed"
	mi_wall=$T_WALL
	mi_fails=$(cat "$tmp/mi/fails")
	git_total=$(calc 'a + b' -v a="$ms_wall" -v b="$mi_wall")
	rm -rf -- "$split"

	# What process start-up alone costs: 1,000 mailinfo runs on a
	# three-line message, scaled to the message count.
	printf 'From: a <a@b>\nSubject: x\n\ny\n' >"$tmp/tiny"
	cat >"$tmp/spawn.sh" <<-'EOF'
		for i in $(seq 1 1000); do git mailinfo "$1/msg" "$1/patch" <"$1/tiny" >"$1/info"; done
	EOF
	timed spawn bash "$tmp/spawn.sh" "$tmp" || die "git mailinfo on a tiny message failed"
	spawn_est=$(calc 's * n / 1000' -v s="$T_WALL" -v n="$nmsg")
	spawn_ms=$T_WALL # 1,000 runs: seconds = ms per run
	cd - >/dev/null
fi

# ---- memory: does peak RSS grow with the input? ----

quarter=$((nmsg / 4))
awk -v n="$quarter" -v re="$from_re" '$0 ~ re && ++c > n { exit } { print }' "$mbox" >"$tmp/quarter.mbox"
import_once mem-quarter "$tmp/quarter.mbox" "$quarter"
rss_quarter=$T_RSS
quarter_mb=$(calc 'b / 1e6' -v b="$(stat -c %s -- "$tmp/quarter.mbox")")
rm -f -- "$tmp/quarter.mbox"
import_once mem-all "$mbox" "$nmsg"
rss_all=$T_RSS

# ---- the report ----

rate() { calc 'n / t' -v n="$1" -v t="$2"; }
echo
printf '%-44s %5s %9s %9s %9s %8s %11s %11s\n' tool runs best median msgs/s MB/s "peak RSS" "db size"
printf '%-44s %5s %9s %9s %9s %8s %11s %11s\n' "" "" "(s)" "(s)" "(median)" "(median)" "" ""
printf '%-44s %5d %9.2f %9.2f %9.0f %8.1f %11s %11s\n' "patchq import (parse + store in SQLite)" \
	"$runs" "$pq_best" "$pq_median" "$(rate "$nmsg" "$pq_median")" \
	"$(rate "$mbytes" "$pq_median")" "$(mb_of_kib "$pq_rss")" \
	"$(awk -v b="$db_bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }' </dev/null)"
if [ "$have_git" = 1 ]; then
	printf '%-44s %5d %9.2f %9s %9.0f %8.1f %11s %11s\n' "git mailsplit --mboxrd" 1 "$ms_wall" - \
		"$(rate "$nmsg" "$ms_wall")" "$(rate "$mbytes" "$ms_wall")" - -
	printf '%-44s %5d %9.2f %9s %9.0f %8.1f %11s %11s\n' "git mailsplit + $nmsg x git mailinfo" 1 \
		"$git_total" - "$(rate "$nmsg" "$git_total")" "$(rate "$mbytes" "$git_total")" - -
fi
echo
printf 'patchq: best %.2f s = %.0f msgs/s, %.1f MB/s; median %.2f s = %.0f msgs/s, %.1f MB/s\n' \
	"$pq_best" "$(rate "$nmsg" "$pq_best")" "$(rate "$mbytes" "$pq_best")" \
	"$pq_median" "$(rate "$nmsg" "$pq_median")" "$(rate "$mbytes" "$pq_median")"
if [ "$have_git" = 1 ]; then
	printf 'patchq import (parse + store in SQLite) vs git mailsplit+mailinfo (parse only, no storage): %.2f times faster\n' \
		"$(calc 'g / p' -v g="$git_total" -v p="$pq_median")"
	printf '  (patchq median %.2f s, %.0f msgs/s; git %.2f s, %.0f msgs/s: mailsplit %.2f s + mailinfo loop %.2f s)\n' \
		"$pq_median" "$(rate "$nmsg" "$pq_median")" "$git_total" "$(rate "$nmsg" "$git_total")" \
		"$ms_wall" "$mi_wall"
	printf '  git mailinfo rejected %d of %d messages; it printed %d warnings\n' "$mi_fails" "$nmsg" \
		"$(wc -l <"$tmp/mi/warnings")"
	printf '  process start-up alone: %.1f ms per git mailinfo (1,000 runs on a 3-line message),\n' \
		"$spawn_ms"
	printf '  about %.0f s of the %.0f s mailinfo loop' "$spawn_est" "$mi_wall"
	if [ "$(calc 'm - s > 0.2 * m' -v m="$mi_wall" -v s="$spawn_est")" = 1 ]; then
		printf ': without it git would take about %.1f s, patchq %.2f times faster\n' \
			"$(calc 'g - s' -v g="$git_total" -v s="$spawn_est")" \
			"$(calc '(g - s) / p' -v g="$git_total" -v s="$spawn_est" -v p="$pq_median")"
	else
		printf ': git'"'"'s parsing is lost in that noise, so the ratio measures\n'
		printf '  process creation (git am calls mailinfo in-process and does not pay it)\n'
	fi
else
	echo "git: not installed, comparison skipped"
fi
printf 'memory: peak RSS %s for the first %d messages (%.1f MB), %s for all %d (%.1f MB)\n' \
	"$(mb_of_kib "$rss_quarter")" "$quarter" "$quarter_mb" "$(mb_of_kib "$rss_all")" "$nmsg" "$mbytes"
if [ "$rss_quarter" != unknown ] && [ "$rss_all" != unknown ]; then
	printf '  peak RSS grows %.2fx for %.1fx the input\n' \
		"$(calc 'a / q' -v a="$rss_all" -v q="$rss_quarter")" "$(calc 'n / q' -v n="$nmsg" -v q="$quarter")"
	echo "  (patchq hands the pages of the mapped mbox back every 8 MiB; SQLite's cache is 32 MiB)"
fi
