#!/bin/sh
# bench_triage.sh PATCHQ CORPUS_DIR [KERNEL_TARBALL | none]
#
# Triage benchmark: how long `patchq -c CONF triage` takes per series on a
# real list (the 10,000 linux-kbuild messages of the corpus), with queues on
# a real kernel tree.
#
#   PATCHQ          the patchq executable
#   CORPUS_DIR      the shared corpus; the input is
#                   real/bench/linux-kbuild-last10000.mbox.zst beneath it
#   KERNEL_TARBALL  the tree the queues start from: a kernel source tarball
#                   (.tar.xz, .tar.gz, .tar); default: the newest
#                   /usr/src/linux-source-*.tar.xz, which Debian's package
#                   "linux-source" installs. Without one (or with "none")
#                   the queues start from a small stand-in repository of a
#                   few kbuild files, and the report says so: nearly every
#                   dry run then fails at its first hunk, so that figure is
#                   not comparable with one on the kernel tree.
#
# Runs under `meson test --benchmark` only (see meson.build here); exits 77
# (skipped) when the corpus, zstd or git is missing. Nothing is installed.
#
# The kernel tree, committed as one base commit, is the one bench_apply.sh
# caches (the same directory and stamp, so either script builds it for
# both): ${PQ_BENCH_CACHE:-$HOME/.cache/patchq-bench}/NAME/base.git, NAME
# being the tarball's name; building it takes about 5 minutes once.
#
# What is done, per run (PQ_BENCH_RUNS, default 1), each from scratch:
#   a bare local clone of the base with the branches rust-next, rust-fixes,
#   rust-dev and rust at the base commit; a configuration with the queues
#   of contrib/patchq.conf.example and the rules it had before issue 12 (so
#   that figures compare across versions; paths local, no [smtp]: replies
#   wait in the outbox); `patchq -c CONF -q import` of the
#   mbox into a new database (timed, shown apart); then, timed, one
#   `patchq -c CONF triage`: every complete new series dry-run against each
#   queue that is not frozen (three), queued by the first matching rule,
#   applied to rust-dev where the "dev" rule says so.
# The series triaged are those its output names ("series N: ..." lines);
# with sqlite3 they are checked against the database (complete series in
# state new before, series marked triaged after), and the dry runs
# (check_result rows) and their outcomes are counted. Page cache warm (the
# mbox has just been decompressed and imported).
#
# Compare two builds with the same arguments:
#   tests/bench/bench_triage.sh /path/to/patchq /work/shared/corpus
set -eu

me=bench_triage
skip() { echo "$me: SKIP: $*" >&2; exit 77; }
die() { echo "$me: FAIL: $*" >&2; exit 1; }
note() { echo "$me: $*" >&2; }

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 PATCHQ CORPUS_DIR [KERNEL_TARBALL | none]" >&2
	exit 2
fi
patchq=$1
corpus=$2
case $patchq in */*) ;; *) patchq=$(command -v -- "$patchq" || true) ;; esac
{ [ -n "$patchq" ] && [ -x "$patchq" ]; } || die "patchq executable not found: $1"
patchq=$(realpath -- "$patchq")

zst=$corpus/real/bench/linux-kbuild-last10000.mbox.zst
[ -f "$zst" ] || skip "corpus file not found: $zst"
zst=$(realpath -- "$zst")
sumfile=${zst%.zst}.sha256
command -v zstd >/dev/null || skip "zstd is not installed"
command -v git >/dev/null || skip "git is not installed"

if [ $# -ge 3 ]; then
	tarball=$3
	[ "$tarball" = none ] || [ -f "$tarball" ] || die "kernel tarball not found: $tarball"
else
	# shellcheck disable=SC2012 # the names are Debian's, plain
	tarball=$(ls -1 /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$tarball" ] || tarball=none
fi
if [ "$tarball" != none ]; then
	tarball=$(realpath -- "$tarball")
	command -v tar >/dev/null || die "tar is not installed"
	case $tarball in
	*.xz) command -v xz >/dev/null || die "xz is not installed (Debian package xz-utils)" ;;
	*.gz | *.tgz) command -v gzip >/dev/null || die "gzip is not installed" ;;
	esac
fi

runs=${PQ_BENCH_RUNS:-1}
case $runs in '' | *[!0-9]* | 0) die "PQ_BENCH_RUNS must be a positive number" ;; esac

time_bin=
[ -x /usr/bin/time ] && time_bin=/usr/bin/time
have_sqlite=0
command -v sqlite3 >/dev/null && have_sqlite=1

# Byte-wise text handling; git (patchq's git apply fallback included) must
# not read the caller's configuration, hooks or identity, nor find a
# repository around the temp dir. meson sets MALLOC_PERTURB_ for tests (not
# for benchmarks); it would slow malloc down.
export LC_ALL=C
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_COMMON_DIR \
	GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_NAMESPACE MALLOC_PERTURB_ || true
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.org
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.org

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_triage.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM
GIT_CEILING_DIRECTORIES=$(dirname -- "$tmp")
export GIT_CEILING_DIRECTORIES

# ---- helpers ----

# calc EXPR [-v VAR=VALUE...]: floating point through awk
calc() {
	calc_expr=$1
	shift
	awk "$@" "BEGIN { printf \"%s\", ($calc_expr) }" </dev/null
}

# timed LABEL CMD...: runs CMD with its output in $tmp/LABEL.out and
# $tmp/LABEL.err; sets T_WALL (s), T_RSS (peak KiB or "unknown"), T_USER
# and T_SYS (s, or "?"). Returns CMD's status.
timed() {
	timed_label=$1
	timed_rc=0
	shift
	if [ -n "$time_bin" ]; then
		"$time_bin" -f '%e %M %U %S' -o "$tmp/$timed_label.time" -- "$@" \
			>"$tmp/$timed_label.out" 2>"$tmp/$timed_label.err" || timed_rc=$?
		# a failed command adds "Command exited with non-zero status N" first
		read -r T_WALL T_RSS T_USER T_SYS <<-EOF
			$(tail -n 1 "$tmp/$timed_label.time")
		EOF
	else
		timed_t0=$(date +%s.%N)
		"$@" >"$tmp/$timed_label.out" 2>"$tmp/$timed_label.err" || timed_rc=$?
		T_WALL=$(calc 'b - a' -v a="$timed_t0" -v b="$(date +%s.%N)")
		T_RSS=unknown T_USER='?' T_SYS='?'
	fi
	return "$timed_rc"
}

mb_of_kib() {
	case $1 in
	unknown) echo unknown ;;
	*) awk -v k="$1" 'BEGIN { printf "%.1f MB\n", k * 1024 / 1e6 }' </dev/null ;;
	esac
}

# sql DB QUERY: one value, or "?" without sqlite3 or when the query fails
# (another schema)
sql() {
	if [ "$have_sqlite" = 1 ]; then
		sqlite3 -batch -noheader "$1" "$2" 2>/dev/null || echo '?'
	else
		echo '?'
	fi
}

# ---- the base repository ----

if [ "$tarball" != none ]; then
	# Exactly bench_apply.sh's cache: the same directory, stamp and build.
	[ -n "${PQ_BENCH_CACHE:-}" ] || [ -n "${HOME:-}" ] || die "neither PQ_BENCH_CACHE nor HOME is set"
	cache_root=${PQ_BENCH_CACHE:-$HOME/.cache/patchq-bench}
	name=$(basename -- "$tarball")
	name=${name%.tar.xz}
	name=${name%.tar.gz}
	name=${name%.tgz}
	name=${name%.tar}
	cache=$cache_root/$name
	stamp="$name $(stat -c '%s %Y' -- "$tarball")"
	base=$cache/base.git

	build_base() {
		src=$tmp/src
		note "building the base repository from $tarball (once; cached in $cache, about 5 minutes)"
		mkdir -p "$src" "$cache_root"
		case $tarball in
		*.xz) xz -dc -- "$tarball" | tar -x -C "$src" ;;
		*.gz | *.tgz) gzip -dc -- "$tarball" | tar -x -C "$src" ;;
		*) tar -x -C "$src" -f "$tarball" ;;
		esac || die "cannot unpack $tarball"
		top=$src
		if [ "$(find "$src" -mindepth 1 -maxdepth 1 | wc -l)" = 1 ] &&
			[ -d "$(find "$src" -mindepth 1 -maxdepth 1)" ]; then
			top=$(find "$src" -mindepth 1 -maxdepth 1)
		fi
		work=$(mktemp -d "$cache_root/.$name.XXXXXX")
		git init -q --bare -b main "$work/base.git"
		# -f: every file of the tarball, whatever the kernel's .gitignore says
		git --git-dir="$work/base.git" --work-tree="$top" add -A -f . ||
			die "git add of the tree failed"
		GIT_AUTHOR_DATE='1700000000 +0000' GIT_COMMITTER_DATE='1700000000 +0000' \
			git --git-dir="$work/base.git" --work-tree="$top" commit -q --no-verify \
			-m "$name: the tree of $(basename -- "$tarball")" || die "commit of the tree failed"
		rm -f -- "$work/base.git/index"
		git --git-dir="$work/base.git" repack -q -a -d -f --window=10 || die "git repack failed"
		git --git-dir="$work/base.git" prune-packed
		echo "$stamp" >"$work/stamp"
		rm -rf -- "$src"
		rm -rf -- "$cache"
		mv -T -- "$work" "$cache" 2>/dev/null || rm -rf -- "$work" # another run won
	}

	if [ ! -f "$cache/stamp" ] || [ "$(cat "$cache/stamp")" != "$stamp" ] ||
		! git --git-dir="$base" rev-parse -q --verify 'main^{commit}' >/dev/null; then
		t0=$(date +%s)
		build_base
		note "base built in $(($(date +%s) - t0)) s"
	fi
	[ "$(cat "$cache/stamp" 2>/dev/null)" = "$stamp" ] || die "the cache $cache is not usable"
	base_label="$name (the tree of $(basename -- "$tarball"))"
else
	# The stand-in: a few of the files kbuild patches touch, made up.
	name="stand-in"
	base=$tmp/stand-in.git
	st=$tmp/stand-in
	mkdir -p "$st/scripts/kconfig" "$st/scripts/mod" "$st/rust"
	printf '# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\n\nall: vmlinux\n' \
		>"$st/Makefile"
	printf '# SPDX-License-Identifier: GPL-2.0\n#\n# Kbuild for top-level directory of the kernel\n' \
		>"$st/Kbuild"
	# shellcheck disable=SC2016 # make's $(...), not the shell's
	printf '# SPDX-License-Identifier: GPL-2.0\n# Building\n\nsrc := $(obj)\n' \
		>"$st/scripts/Makefile.build"
	printf '# SPDX-License-Identifier: GPL-2.0\n# Backward compatibility\n' \
		>"$st/scripts/Makefile.lib"
	printf '# SPDX-License-Identifier: GPL-2.0\n# kbuild: generic definitions\n' \
		>"$st/scripts/Kbuild.include"
	printf '// SPDX-License-Identifier: GPL-2.0\nint main(void)\n{\n\treturn 0;\n}\n' \
		>"$st/scripts/mod/modpost.c"
	printf '// SPDX-License-Identifier: GPL-2.0\nint conf_main(void)\n{\n\treturn 0;\n}\n' \
		>"$st/scripts/kconfig/conf.c"
	# shellcheck disable=SC2016
	printf '# SPDX-License-Identifier: GPL-2.0\nobj-$(CONFIG_RUST) += core.o\n' \
		>"$st/rust/Makefile"
	git init -q --bare -b main "$base"
	git --git-dir="$base" --work-tree="$st" add -A -f . || die "git add of the stand-in failed"
	GIT_AUTHOR_DATE='1700000000 +0000' GIT_COMMITTER_DATE='1700000000 +0000' \
		git --git-dir="$base" --work-tree="$st" commit -q --no-verify \
		-m "stand-in: a few kbuild files" || die "commit of the stand-in failed"
	rm -f -- "$base/index"
	rm -rf -- "$st"
	base_label="FALLBACK stand-in repository, 8 made-up files (no kernel tarball:"
	base_label="$base_label \`apt-get install linux-source\` provides one); NOT comparable with a kernel-tree figure"
fi
base_commit=$(git --git-dir="$base" rev-parse 'main^{commit}')
nfiles=$(git --git-dir="$base" ls-tree -r --name-only main | wc -l)

# ---- the input ----

mbox=$tmp/linux-kbuild-last10000.mbox
zstd -q -d -o "$mbox" -- "$zst" || die "cannot decompress $zst"
if [ -f "$sumfile" ] && command -v sha256sum >/dev/null; then
	want=$(awk '{ print $1; exit }' "$sumfile")
	got=$(sha256sum -- "$mbox" | awk '{ print $1 }')
	[ "$want" = "$got" ] || die "$(basename -- "$mbox"): sha256 $got, expected $want ($sumfile)"
fi
nmsg=$(grep -c '^From mboxrd@z Thu Jan  1 00:00:00 1970$' "$mbox" || true)
[ "$nmsg" = 10000 ] || die "$mbox: $nmsg messages, expected 10000"

# ---- one run ----

# setup DIR: a bare clone of the base with the queue branches, the
# configuration DIR/c.conf, its database with the mbox imported (timed:
# I_WALL)
setup() {
	dir=$1
	rm -rf -- "$dir"
	mkdir -p "$dir"
	git clone -q --bare "$base" "$dir/repo.git" || die "cannot clone $base"
	for b in rust-next rust-fixes rust-dev rust; do
		git --git-dir="$dir/repo.git" branch -f "$b" "$base_commit" || die "cannot make branch $b"
	done
	# The queues and reply of contrib/patchq.conf.example and the rules it had
	# before issue 12, kept so that the figures compare across versions; no [smtp].
	cat >"$dir/c.conf" <<-EOF
		[patchq]
			database = $dir/db.sqlite
			repository = $dir/repo.git
			committer = Bench <bench@example.org>
			signoff = true
			link = https://lore.kernel.org/r/%s
			committerDate = author
			gitFallback = true
		[queue "rust-next"]
			branch = rust-next
			auto = false
			fastForward = true
			useBaseCommit = false
		[queue "rust-fixes"]
			branch = rust-fixes
			auto = false
			fastForward = true
		[queue "rust-dev"]
			branch = rust-dev
			base = rust-next
			auto = true
			rebuild = true
			reply = false
		[queue "rust"]
			branch = rust
			frozen = true
		[rule "fixes-tag"]
			queue = rust-fixes
			tag = rust-fixes
		[rule "fixes"]
			queue = rust-fixes
			fixes = true
		[rule "next"]
			queue = rust-next
			tag = rust-next
		[rule "frozen"]
			queue = rust
			tag = rust
		[rule "dev"]
			queue = rust-dev
			files = rust/*
			rfc = false
			minReviews = 1
			auto = true
		[reply]
			applied = Applied to \`%s\` -- thanks everyone!
			failures = true
	EOF
	if ! timed import "$patchq" -c "$dir/c.conf" -q import "$mbox"; then
		cat "$tmp/import.out" "$tmp/import.err" >&2
		die "patchq import failed"
	fi
	I_WALL=$T_WALL
}

# the series triage must look at in a fresh database: complete, new, not
# triaged; "complete" as the schema's view says where it has one (a partial
# reroll borrows the patches it leaves out), as older builds counted otherwise
q_candidates="SELECT count(*) FROM complete_series s WHERE s.state = 'new' AND s.triaged IS NULL"
q_candidates_old="SELECT count(*) FROM series s WHERE s.state = 'new' AND (SELECT
 count(DISTINCT idx) FROM message WHERE series_id = s.id AND idx BETWEEN 1 AND s.total)
 = s.total AND s.triaged IS NULL"

echo "triage benchmark: $nmsg messages of linux-kbuild (the corpus), queues on $name ($nfiles files)"
echo "  base: $base_label"
printf '  %s; %s; %s CPUs\n' "$("$patchq" --version 2>/dev/null | head -n 1 || echo patchq)" \
	"$(git --version)" "$(nproc 2>/dev/null || echo '?')"
printf '  load average before: %s (the timings assume an otherwise idle machine)\n' \
	"$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
echo "  queues of contrib/patchq.conf.example, its rules before issue 12 (rust-next, rust-fixes, rust-dev"
echo "  automatic, rust frozen), every branch at the base commit; page cache warm"
[ "$have_sqlite" = 1 ] || echo "  (sqlite3 missing: database counts unknown)"
echo

walls=
r=1
while [ "$r" -le "$runs" ]; do
	dir=$tmp/run$r
	setup "$dir"
	if [ "$(sql "$dir/db.sqlite" "SELECT count(*) FROM sqlite_master WHERE name = 'complete_series'")" = 1 ]; then
		cand=$(sql "$dir/db.sqlite" "$q_candidates")
	else
		cand=$(sql "$dir/db.sqlite" "$q_candidates_old")
	fi
	if ! timed triage "$patchq" -c "$dir/c.conf" triage; then
		tail -n 20 "$tmp/triage.out" >&2
		cat "$tmp/triage.err" >&2
		die "patchq triage failed"
	fi
	# one "series N: ..." line per series triage decided on
	nseries=$(grep -E '^series [0-9]+:' "$tmp/triage.out" | sed 's/:.*//' | sort -u | wc -l)
	[ "$nseries" -gt 0 ] || die "patchq triage named no series: $(head -c 2000 "$tmp/triage.out")"
	marked=$(sql "$dir/db.sqlite" "SELECT count(*) FROM series WHERE triaged IS NOT NULL")
	dry=$(sql "$dir/db.sqlite" "SELECT count(*) FROM check_result")
	dry_ok=$(sql "$dir/db.sqlite" "SELECT count(*) FROM check_result WHERE ok")
	per=$(calc '1000 * t / n' -v t="$T_WALL" -v n="$nseries")
	printf '  run %d: triage %.2f s wall (user %s s, sys %s s), peak RSS %s; %d series, %.1f ms/series; import %.2f s\n' \
		"$r" "$T_WALL" "$T_USER" "$T_SYS" "$(mb_of_kib "$T_RSS")" "$nseries" "$per" "$I_WALL"
	walls="$walls $T_WALL"
	if [ "$r" = "$runs" ]; then
		cp -- "$tmp/triage.out" "$tmp/last.out"
		last_dir=$dir
		last_cand=$cand last_marked=$marked last_dry=$dry last_dry_ok=$dry_ok
		last_rss=$T_RSS last_user=$T_USER last_sys=$T_SYS last_import=$I_WALL
	else
		rm -rf -- "$dir"
	fi
	r=$((r + 1))
done

# ---- the report ----

# shellcheck disable=SC2086 # one word per run
med=$(printf '%s\n' $walls | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
# shellcheck disable=SC2086
best=$(printf '%s\n' $walls | sort -g | head -n 1)
out=$tmp/last.out
queued=$(grep -cE '^series [0-9]+: queued for ' "$out" || true)
norule=$(grep -cE '^series [0-9]+: no rule matches' "$out" || true)
frozen=$(grep -cE '^series [0-9]+: aimed at .*frozen' "$out" || true)
applied=$(grep -cE '^series [0-9]+: queued for .*, applying$' "$out" || true)
notapplied=$(grep -c '^  not applied: ' "$out" || true)
git_path=$(grep -c ' (git apply)$' "$out" || true)
rust_dev=$(git --git-dir="$last_dir/repo.git" rev-list --count "$base_commit..rust-dev" 2>/dev/null || echo '?')

echo
if [ "$runs" -gt 1 ]; then
	printf 'triage, %d runs: best %.2f s, median %.2f s\n' "$runs" "$best" "$med"
fi
printf 'series triaged:  %d\n' "$nseries"
printf 'total:           %.2f s wall (last run: user %s s, sys %s s, peak RSS %s)\n' "$med" \
	"$last_user" "$last_sys" "$(mb_of_kib "$last_rss")"
printf 'per series:      %.1f ms\n' "$(calc '1000 * t / n' -v t="$med" -v n="$nseries")"
if [ "$last_dry" != '?' ]; then
	printf 'dry runs:        %d recorded (%d apply, %d do not), %.1f ms each, the rest of triage included\n' \
		"$last_dry" "$last_dry_ok" "$((last_dry - last_dry_ok))" \
		"$(calc '1000 * t / n' -v t="$med" -v n="$last_dry")"
	echo '                 (a series with a message that carries no diff, a pull request, is not dry-run)'
else
	echo "dry runs:        unknown (sqlite3 missing, or another schema)"
fi
printf 'outcomes:        %d queued (%d applied to rust-dev at once, %d of them failed to apply),\n' \
	"$queued" "$applied" "$notapplied"
printf '                 %d left for a maintainer, %d refused (frozen); rust-dev now %s commits\n' \
	"$norule" "$frozen" "$rust_dev"
printf '                 ahead of the base; %d patches of those applications went through\n' "$git_path"
echo '                 git apply (dry runs do not say which path they took)'
printf 'database:        %s complete new series before triage, %s marked triaged after\n' \
	"$last_cand" "$last_marked"
if [ "$last_cand" != '?' ] && [ "$last_cand" != "$nseries" ]; then
	echo "  WARNING: triage named $nseries series, the database had $last_cand complete new ones"
fi
printf 'import (untimed above): %.2f s\n' "$last_import"
