#!/usr/bin/env bash
# bench_apply.sh PATCHQ [KERNEL_TARBALL]
#
# Apply benchmark: a 200-patch series applied to a kernel-sized tree by
# `patchq apply` (libgit2, in memory, on a bare repository) next to
# `git am` on a checkout of the same tree, with the same mbox.
#
#   PATCHQ          the patchq executable
#   KERNEL_TARBALL  a kernel source tarball (.tar.xz, .tar.gz, .tar);
#                   default: the newest /usr/src/linux-source-*.tar.xz, which
#                   Debian's package "linux-source" installs
#
# Runs under `meson test --benchmark` only (see meson.build here); exits 77
# (skipped) when the tarball, git, tar or xz is missing. Nothing is
# installed.
#
# The tree, committed as one base commit, is cached under
# ${PQ_BENCH_CACHE:-$HOME/.cache/patchq-bench}/NAME, NAME being the
# tarball's name (about 250 MB; building it unpacks 1.3 GB under TMPDIR and
# takes about 5 minutes); it is rebuilt when the tarball's size or time
# changes. The series is made once too (about 3 minutes) and cached beside
# it: 200 commits on the base, each editing 1-3 existing .c/.h files in
# different directories (lines added, changed, removed, in the middle and
# at the end of files), with renames and new files mixed in, chosen by a
# fixed pseudo-random sequence so every run applies the same mail, sent by
# one sender (other authors in an in-body From:). Delete the directory to
# start over. A run from the cache takes about 3 minutes.
#
# What is timed, page cache warm, on fresh clones of the cached base:
#   patchq import  the 200 messages into a new database
#   patchq apply   the series onto a bare clone (what is compared), with
#                  the configuration's defaults (Link:, Signed-off-by:)
#   git am         the same mbox, `git am -q --committer-date-is-author-date`,
#                  on a non-bare clone (a checkout of the 80,000 files)
# Both results must have the tree of the series' last commit; the authors,
# dates and messages of patchq's commits are compared with git am's (less
# the trailers patchq adds). patchq apply also runs on the first 50 patches
# alone (a 50-patch series), to show whether its memory grows with the
# series' length.
#
# PQ_BENCH_RUNS (default 3) runs of patchq apply and git am each, every one
# on a fresh clone; the medians are compared. Peak RSS comes from
# /usr/bin/time (Debian package "time"; without it memory is reported as
# unknown). It counts the pages of the mapped pack a process touched, which
# are page cache, so the anonymous and file-backed parts are also shown,
# as the peaks of RssAnon and RssFile in /proc/PID/status sampled every
# 50 ms (a peak shorter than that can be missed).
set -euo pipefail

me=bench_apply
skip() { echo "$me: SKIP: $*" >&2; exit 77; }
die() { echo "$me: FAIL: $*" >&2; exit 1; }
note() { echo "$me: $*" >&2; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 PATCHQ [KERNEL_TARBALL]" >&2
	exit 2
fi
patchq=$1
case $patchq in */*) ;; *) patchq=$(command -v -- "$patchq" || true) ;; esac
{ [ -n "$patchq" ] && [ -x "$patchq" ]; } || die "patchq executable not found: $1"
patchq=$(realpath -- "$patchq")

if [ $# -ge 2 ]; then
	tarball=$2
	[ -f "$tarball" ] || skip "kernel tarball not found: $tarball"
else
	tarball=$(ls -1 /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$tarball" ] ||
		skip "no kernel tree: /usr/src/linux-source-*.tar.xz is missing (\`apt-get install linux-source\` provides it), or give a tarball"
fi
tarball=$(realpath -- "$tarball")
command -v git >/dev/null || skip "git is not installed"
command -v tar >/dev/null || skip "tar is not installed"
case $tarball in
*.xz) command -v xz >/dev/null || skip "xz is not installed (Debian package xz-utils)" ;;
*.gz | *.tgz) command -v gzip >/dev/null || skip "gzip is not installed" ;;
esac

runs=${PQ_BENCH_RUNS:-3}
case $runs in '' | *[!0-9]* | 0) die "PQ_BENCH_RUNS must be a positive number" ;; esac
npatches=200
nsmall=50

time_bin=
[ -x /usr/bin/time ] && time_bin=/usr/bin/time

# Byte-wise text handling; git must not read the caller's configuration,
# hooks or identity, nor find a repository around the temp dir.
export LC_ALL=C
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_COMMON_DIR \
	GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_NAMESPACE MALLOC_PERTURB_ || true
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.org
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.org

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_apply.XXXXXX")
cleanup() { rm -rf -- "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
GIT_CEILING_DIRECTORIES=$(dirname -- "$tmp")
export GIT_CEILING_DIRECTORIES
mkfifo "$tmp/tick" # read -t on it is a sleep without a process
exec {sleep_fd}<>"$tmp/tick"

# ---- helpers ----

calc() { # calc EXPR [-v VAR=VALUE...]: floating point through awk
	local expr=$1
	shift
	awk "$@" "BEGIN { printf \"%s\", ($expr) }" </dev/null
}

# sample_rss PID: until PID (the /usr/bin/time process) exits, polls the
# memory of its child (the command) with bash builtins only, every 50 ms;
# sets S_ANON and S_FILE, the peak anonymous and file-backed (mapped files:
# the pack) resident KiB seen, or "unknown".
sample_rss() {
	local pid=$1 kids k key val rest state seen=0
	S_ANON=0 S_FILE=0
	while :; do
		state=Z
		{ read -r _ _ state _ </proc/"$pid"/stat; } 2>/dev/null || true
		[ "$state" != Z ] || break
		kids=
		{ read -r kids </proc/"$pid"/task/"$pid"/children; } 2>/dev/null || true
		for k in $kids; do
			while read -r key val rest; do
				case $key in
				RssAnon:) if [ "$val" -gt "$S_ANON" ]; then S_ANON=$val; fi; seen=1 ;;
				RssFile:) if [ "$val" -gt "$S_FILE" ]; then S_FILE=$val; fi ;;
				esac
			done 2>/dev/null </proc/"$k"/status || true
		done
		read -r -t 0.05 -u "$sleep_fd" _ || true
	done
	if [ "$seen" = 0 ]; then S_ANON=unknown S_FILE=unknown; fi
	return 0
}

# timed LABEL CMD...: runs CMD with its output in $tmp/LABEL.out and .err;
# sets T_WALL (s), T_RSS (peak KiB or "unknown"), T_ANON and T_FILE (sampled
# peaks of anonymous and file-backed memory, see sample_rss), T_USER, T_SYS.
# Returns CMD's status.
timed() {
	local label=$1 rc=0 tpid
	shift
	if [ -n "$time_bin" ]; then
		"$time_bin" -f '%e %M %U %S' -o "$tmp/$label.time" -- "$@" \
			>"$tmp/$label.out" 2>"$tmp/$label.err" &
		tpid=$!
		sample_rss "$tpid"
		wait "$tpid" || rc=$?
		read -r T_WALL T_RSS T_USER T_SYS < <(tail -n 1 "$tmp/$label.time")
		T_ANON=$S_ANON T_FILE=$S_FILE
	else
		local TIMEFORMAT='%3R %3U %3S'
		{ time "$@" >"$tmp/$label.out" 2>"$tmp/$label.err" || rc=$?; } 2>"$tmp/$label.time"
		read -r T_WALL T_USER T_SYS < <(tail -n 1 "$tmp/$label.time")
		T_RSS=unknown T_ANON=unknown T_FILE=unknown
	fi
	return "$rc"
}

mb_of_kib() {
	case $1 in
	unknown | -) echo "$1" ;;
	*) awk -v k="$1" 'BEGIN { printf "%.1f MB\n", k * 1024 / 1e6 }' </dev/null ;;
	esac
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxof() { printf '%s\n' "$@" | awk '$1 == "unknown" { u = 1 } $1 > m { m = $1 } END { print u ? "unknown" : m }'; }

# A fixed pseudo-random sequence (same everywhere: bash's 64-bit arithmetic).
rng_state=20240601
rnd() { # rnd N: sets R to a number in 0..N-1
	rng_state=$(((rng_state * 1103515245 + 12345) % 2147483648))
	R=$(((rng_state >> 8) % $1))
}

# ---- the base: the tarball's tree as one commit, cached ----

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
	local src=$tmp/src top work
	note "building the base repository from $tarball (once; cached in $cache)"
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
	! git --git-dir="$base" rev-parse -q --verify main^{commit} >/dev/null; then
	t0=$(date +%s)
	build_base
	note "base built in $(($(date +%s) - t0)) s"
fi
[ "$(cat "$cache/stamp" 2>/dev/null)" = "$stamp" ] || die "the cache $cache is not usable"
base_commit=$(git --git-dir="$base" rev-parse main^{commit})
nfiles=$(git --git-dir="$base" ls-tree -r --name-only main | wc -l)

# ---- the series: 200 commits on the base, as mail, cached ----

series_version=g1 # bump when the generator below changes
sdir=$cache/series-$series_version

# add_lines N TAG: N lines of kernel-style C comment and code
add_lines() {
	local n=$1 tag=$2 j
	echo "	/*"
	echo "	 * $tag: keep the state consistent when the device goes away"
	for ((j = 2; j < n; j++)); do
		echo "	 * while a request is in flight (step $j of $n)."
	done
	echo "	 */"
}

# edit_file PATH COMMIT K: one or two edits of a text file in place
edit_file() {
	local f=$1 c=$2 k=$3 lines nedits e kind at tag
	lines=$(wc -l <"$f")
	[ "$lines" -ge 1 ] || lines=1
	rnd 2
	nedits=$((R + 1))
	for ((e = 0; e < nedits; e++)); do
		rnd 5
		kind=$R
		rnd "$lines"
		at=$((R + 1))
		tag="bench $c.$k.$e"
		case $kind in
		0) # append at the end
			add_lines 4 "$tag" >>"$f" ;;
		1 | 2) # insert in the middle
			add_lines $((3 + kind)) "$tag" >"$tmp/ins"
			awk -v at="$at" -v ins="$tmp/ins" '
				{ print }
				NR == at { while ((getline l < ins) > 0) print l }' "$f" >"$tmp/edit"
			cat "$tmp/edit" >"$f" ;;
		3) # change a line
			awk -v at="$at" -v tag="$tag" '
				NR == at { sub(/[ \t]+$/, ""); print $0 " /* " tag " */"; next }
				{ print }' "$f" >"$tmp/edit"
			cat "$tmp/edit" >"$f" ;;
		4) # replace a line by two
			awk -v at="$at" -v tag="$tag" '
				NR == at { print "\t/* " tag ": was */"; print "\t/* " tag ": now */"; next }
				{ print }' "$f" >"$tmp/edit"
			cat "$tmp/edit" >"$f" ;;
		esac
		lines=$(wc -l <"$f")
	done
}

new_file() { # new_file PATH COMMIT
	local f=$1 c=$2 j
	{
		echo "// SPDX-License-Identifier: GPL-2.0"
		echo "/*"
		echo " * Generated by patchq's apply benchmark (commit $c)."
		echo " */"
		echo
		echo "#include <linux/kernel.h>"
		echo "#include <linux/module.h>"
		echo
		for ((j = 0; j < 4; j++)); do
			echo "static int bench_${c}_step$j(int v)"
			echo "{"
			echo "	return v * $((j + 2)) + $c;"
			echo "}"
			echo
		done
		echo "MODULE_LICENSE(\"GPL\");"
	} >"$f"
}

make_series() {
	local gen=$tmp/gen work c nf k f d dirs files subj i authors email
	note "making the $npatches-patch series (once; cached in $sdir)"
	git clone -q "$base" "$gen" || die "cannot clone $base"
	cd "$gen"
	git config core.autocrlf false
	# candidates: C sources and headers with plain names and at least 40 lines
	git ls-files -- '*.c' '*.h' | grep -E '^[A-Za-z0-9_./+-]+$' |
		xargs -d '\n' wc -l | awk '$1 >= 40 && $2 != "total" { print $2 }' >"$tmp/cands"
	mapfile -t cands <"$tmp/cands"
	[ "${#cands[@]}" -gt 1000 ] || die "only ${#cands[@]} C files of 40 lines or more in the tree"
	authors=("Alice Maintainer <alice@example.org>" "Bob Hacker <bob@example.com>"
		"Chloé Dévelopeuse <chloe@example.fr>" "Dmitri Reviewer <dmitri@example.net>"
		"Eve Contributor <eve@example.org>")
	for ((c = 1; c <= npatches; c++)); do
		rnd 3
		nf=$((R + 1))
		dirs=" "
		files=()
		while [ "${#files[@]}" -lt "$nf" ]; do
			rnd "${#cands[@]}"
			f=${cands[$R]}
			d=${f%/*}
			[ -f "$f" ] || continue # renamed away
			case $dirs in *" $d "*) continue ;; esac
			dirs="$dirs$d "
			files+=("$f")
		done
		for ((k = 0; k < nf; k++)); do
			edit_file "${files[$k]}" "$c" "$k"
		done
		git add -f -- "${files[@]}"
		subj="${files[0]%/*}"
		subj="${subj#drivers/}"
		subj="${subj//\//: }: $(basename -- "${files[0]%.*}"): keep state across removal"
		if [ $((c % 20)) = 7 ]; then # a rename, with the edit above
			f=${files[0]}
			git mv -- "$f" "${f%.*}_bench$c.${f##*.}"
			subj="${subj% keep state across removal} rename and keep state across removal"
		fi
		if [ $((c % 12)) = 5 ]; then # a new file beside the first
			new_file "${files[0]%/*}/bench_new_$c.c" "$c"
			git add -f -- "${files[0]%/*}/bench_new_$c.c" # Debian's .gitignore ends in /*
		fi
		i=$((c % ${#authors[@]}))
		email=${authors[$i]#*<}
		email=${email%>}
		{
			echo "$subj"
			echo
			echo "Patch $c of the patchq apply benchmark. When the device is removed while"
			echo "a request is in flight, the state must stay consistent; document where."
			echo
			echo "Touches: ${files[*]}"
			echo
			echo "Signed-off-by: ${authors[$i]}"
		} >"$tmp/msg"
		GIT_AUTHOR_NAME=${authors[$i]% <*} GIT_AUTHOR_EMAIL=$email \
			GIT_AUTHOR_DATE="$((1700000000 + c * 600)) +0100" \
			GIT_COMMITTER_DATE="$((1700000000 + c * 600)) +0100" \
			git commit -q --no-verify -F "$tmp/msg" || die "commit $c of the series failed"
	done
	work=$(mktemp -d "$cache/.series.XXXXXX")
	# one sender, as on a list: the other authors get an in-body From:
	git format-patch -q -M --thread --from="${authors[0]}" --stdout "-$npatches" \
		>"$work/series$npatches.mbox"
	git format-patch -q -M --thread --from="${authors[0]}" --stdout "-$nsmall" \
		"HEAD~$((npatches - nsmall))" >"$work/series$nsmall.mbox"
	git rev-parse "HEAD^{tree}" >"$work/tree$npatches"
	git rev-parse "HEAD~$((npatches - nsmall))^{tree}" >"$work/tree$nsmall"
	git diff --shortstat "$base_commit" HEAD >"$work/shortstat"
	git log --format= --name-status -M "$base_commit..HEAD" |
		awk '{ s[substr($1, 1, 1)]++ } END { printf "%d modified, %d added, %d renamed\n", s["M"], s["A"], s["R"] }' \
			>"$work/kinds"
	echo "$base_commit" >"$work/stamp"
	cd "$tmp"
	rm -rf -- "$gen"
	rm -rf -- "$sdir"
	mv -T -- "$work" "$sdir" 2>/dev/null || rm -rf -- "$work"
}

if [ ! -f "$sdir/stamp" ] || [ "$(cat "$sdir/stamp")" != "$base_commit" ]; then
	t0=$(date +%s)
	make_series
	note "series made in $(($(date +%s) - t0)) s"
fi
[ "$(cat "$sdir/stamp" 2>/dev/null)" = "$base_commit" ] || die "the series cache $sdir is not usable"
cp -- "$sdir/series$npatches.mbox" "$sdir/series$nsmall.mbox" "$tmp/"
mbox=$tmp/series$npatches.mbox
[ "$(grep -c '^From [0-9a-f]\{40\} ' "$mbox")" = "$npatches" ] || die "$mbox: not $npatches messages"

# ---- patchq ----

# pq_setup DIR MBOX: a bare clone of the base in DIR/repo.git, a
# configuration DIR/c.conf (the defaults otherwise: patchq adds Link: and
# the committer's Signed-off-by) and its database with MBOX imported (timed
# as "DIR-import"); sets SERIES to the series' id.
pq_setup() {
	local dir=$1 mbox=$2 label
	label=$(basename -- "$dir")-import
	rm -rf -- "$dir"
	mkdir -p "$dir"
	git clone -q --bare "$base" "$dir/repo.git" || die "cannot clone $base"
	cat >"$dir/c.conf" <<-EOF2
		[patchq]
			database = $dir/db.sqlite
			repository = $dir/repo.git
			committer = Bench <bench@example.org>
			committerDate = author
		[queue "q"]
			branch = main
	EOF2
	if ! timed "$label" "$patchq" -c "$dir/c.conf" -q import "$mbox"; then
		cat "$tmp/$label.out" "$tmp/$label.err" >&2
		die "patchq import of $mbox failed"
	fi
	"$patchq" -c "$dir/c.conf" --json series >"$dir/series.json" || die "patchq series failed"
	SERIES=$(grep -o '"id": *[0-9]*' "$dir/series.json" | head -n 1 | grep -o '[0-9]*$' || true)
	[ -n "$SERIES" ] || die "patchq found no series in $mbox: $(cat "$dir/series.json")"
	[ "$(grep -c '"id": *[0-9]*' "$dir/series.json")" = 1 ] ||
		die "patchq found more than one series in $mbox: $(head -c 2000 "$dir/series.json")"
	grep -q '"complete": *true' "$dir/series.json" ||
		die "patchq took the series in $mbox for incomplete: $(head -c 2000 "$dir/series.json")"
}

# pq_apply LABEL DIR N: times `patchq apply` and checks the result (N
# commits on the base, the series' tree); sets A_WALL, A_RSS, A_ANON,
# A_FILE, A_USER, A_SYS, A_GIT (patches that needed the git apply fallback).
pq_apply() {
	local label=$1 dir=$2 n=$3 want got count
	want=$(cat "$sdir/tree$n")
	if ! timed "$label" "$patchq" -c "$dir/c.conf" apply "$SERIES" --queue q; then
		cat "$tmp/$label.out" "$tmp/$label.err" >&2
		die "$label: patchq apply failed (report above)"
	fi
	A_WALL=$T_WALL A_RSS=$T_RSS A_ANON=$T_ANON A_FILE=$T_FILE A_USER=$T_USER A_SYS=$T_SYS
	got=$(git --git-dir="$dir/repo.git" rev-parse "main^{tree}")
	count=$(git --git-dir="$dir/repo.git" rev-list --count "$base_commit..main")
	[ "$count" = "$n" ] || die "$label: $count commits on main after patchq apply, expected $n"
	[ "$got" = "$want" ] || die "$label: patchq's tree $got differs from the series' $want"
	A_GIT=$(grep -c '(git apply)' "$tmp/$label.out" || true)
}

# what a commit says, for comparing patchq's with git am's
log_format='%an <%ae> %ad | %cn <%ce> %cd%n%B'

libgit2=$(ldd "$patchq" 2>/dev/null | awk '/libgit2/ { print $1; exit }')
echo "apply benchmark: a $npatches-patch series on $name ($nfiles files)"
printf '  series: %s (%s); mbox %.2f MB\n' "$(sed 's/^ *//' "$sdir/shortstat")" \
	"$(cat "$sdir/kinds")" "$(calc 'b / 1e6' -v b="$(stat -c %s -- "$mbox")")"
printf '  %s (%s); %s; %s CPUs\n' "$("$patchq" --version 2>/dev/null | head -n 1 || echo patchq)" \
	"${libgit2:-libgit2 not found by ldd}" "$(git --version)" "$(nproc 2>/dev/null || echo '?')"
printf '  load average before: %s (the timings assume an otherwise idle machine)\n' \
	"$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
echo "  page cache warm; each run on a fresh local clone of the cached base"
if [ -n "$time_bin" ]; then
	echo "  peak RSS: /usr/bin/time; anon/file: peaks of RssAnon/RssFile sampled every 50 ms"
	echo "  (file-backed is mostly the mapped pack: page cache, shared and reclaimable)"
else
	echo "  timing: bash time (/usr/bin/time missing: memory unknown; Debian package \"time\")"
fi
echo

pq_walls=() pq_rss=() pq_anon=() pq_file=() imp_walls=()
for ((r = 1; r <= runs; r++)); do
	pq_setup "$tmp/pq$r" "$mbox"
	imp_walls+=("$T_WALL")
	imp_rss=$T_RSS
	pq_apply "pq$r-apply" "$tmp/pq$r" "$npatches"
	pq_walls+=("$A_WALL")
	pq_rss+=("$A_RSS")
	pq_anon+=("$A_ANON")
	pq_file+=("$A_FILE")
	pq_git=$A_GIT
	printf '  patchq apply run %d: %7.2f s wall (user %.2f s, sys %.2f s), peak RSS %s (anon %s); import %.2f s\n' \
		"$r" "$A_WALL" "$A_USER" "$A_SYS" "$(mb_of_kib "$A_RSS")" "$(mb_of_kib "$A_ANON")" \
		"${imp_walls[-1]}"
	if [ "$r" = "$runs" ]; then
		git --git-dir="$tmp/pq$r/repo.git" log --reverse --format="$log_format" --date=raw \
			"$base_commit..main" >"$tmp/pq.log"
	fi
	rm -rf -- "$tmp/pq$r"
done

# ---- git am ----

am_walls=() am_rss=() am_anon=() am_file=()
for ((r = 1; r <= runs; r++)); do
	dir=$tmp/am$r
	rm -rf -- "$dir"
	git clone -q "$base" "$dir" || die "cannot clone $base with a checkout"
	git -C "$dir" config core.autocrlf false
	cd "$dir"
	if ! timed "am$r" git am -q --committer-date-is-author-date "$mbox"; then
		cat "$tmp/am$r.out" "$tmp/am$r.err" >&2
		die "git am failed"
	fi
	cd "$tmp"
	am_walls+=("$T_WALL")
	am_rss+=("$T_RSS")
	am_anon+=("$T_ANON")
	am_file+=("$T_FILE")
	got=$(git -C "$dir" rev-parse "HEAD^{tree}")
	count=$(git -C "$dir" rev-list --count "$base_commit..HEAD")
	[ "$count" = "$npatches" ] || die "git am made $count commits, expected $npatches"
	[ "$got" = "$(cat "$sdir/tree$npatches")" ] || die "git am's tree $got differs from the series'"
	printf '  git am run %d:       %7.2f s wall (user %.2f s, sys %.2f s), peak RSS %s (anon %s)\n' \
		"$r" "$T_WALL" "$T_USER" "$T_SYS" "$(mb_of_kib "$T_RSS")" "$(mb_of_kib "$T_ANON")"
	if [ "$r" = "$runs" ]; then
		git -C "$dir" log --reverse --format="$log_format" --date=raw "$base_commit..HEAD" \
			>"$tmp/am.log"
	fi
	rm -rf -- "$dir"
done

# ---- memory: the first 50 patches as a series of their own ----

pq_setup "$tmp/small" "$tmp/series$nsmall.mbox"
pq_apply small-apply "$tmp/small" "$nsmall"
small_wall=$A_WALL small_rss=$A_RSS small_anon=$A_ANON small_file=$A_FILE
rm -rf -- "$tmp/small"

# ---- the report ----

best() { printf '%s\n' "$@" | sort -g | head -n 1; }
pq_med=$(median "${pq_walls[@]}")
am_med=$(median "${am_walls[@]}")
imp_med=$(median "${imp_walls[@]}")
pq_peak=$(maxof "${pq_rss[@]}") pq_anon_peak=$(maxof "${pq_anon[@]}")
pq_file_peak=$(maxof "${pq_file[@]}")
am_peak=$(maxof "${am_rss[@]}") am_anon_peak=$(maxof "${am_anon[@]}")
am_file_peak=$(maxof "${am_file[@]}")
per_patch() { calc '1000 * t / n' -v t="$1" -v n="$2"; }
row() { # row LABEL RUNS BEST MEDIAN N RSS ANON FILE
	printf '%-42s %4s %8.2f %8s %9.1f %10s %10s %10s\n' "$1" "$2" "$3" "$4" \
		"$(per_patch "${4/-/$3}" "$5")" "$(mb_of_kib "$6")" "$(mb_of_kib "$7")" "$(mb_of_kib "$8")"
}

echo
printf '%-42s %4s %8s %8s %9s %10s %10s %10s\n' "$npatches patches, $nfiles files" runs best \
	median ms/patch "peak RSS" "anon" "file"
printf '%-42s %4s %8s %8s %9s %10s %10s %10s\n' "" "" "(s)" "(s)" "(median)" "" "(sampled)" \
	"(sampled)"
row "patchq import (mail into SQLite)" "$runs" "$(best "${imp_walls[@]}")" "$imp_med" \
	"$npatches" "$imp_rss" - -
row "patchq apply (libgit2, bare repository)" "$runs" "$(best "${pq_walls[@]}")" "$pq_med" \
	"$npatches" "$pq_peak" "$pq_anon_peak" "$pq_file_peak"
row "git am (checkout of the tree)" "$runs" "$(best "${am_walls[@]}")" "$am_med" "$npatches" \
	"$am_peak" "$am_anon_peak" "$am_file_peak"
row "patchq apply, first $nsmall patches only" 1 "$small_wall" - "$nsmall" "$small_rss" \
	"$small_anon" "$small_file"
echo
ratio=$(calc 'a / p' -v a="$am_med" -v p="$pq_med")
if [ "$(calc 'r >= 1' -v r="$ratio")" = 1 ]; then
	printf 'patchq apply vs git am: %.2f times faster\n' "$ratio"
else
	printf 'patchq apply vs git am: %.2f times faster (that is, %.2f times slower)\n' "$ratio" \
		"$(calc 'p / a' -v a="$am_med" -v p="$pq_med")"
fi
printf '  (medians %.2f s and %.2f s; with its import, patchq import + apply vs git am: %.2f times faster)\n' \
	"$pq_med" "$am_med" "$(calc 'a / (p + i)' -v a="$am_med" -v p="$pq_med" -v i="$imp_med")"
printf '  patches applied through the git apply fallback: %d of %d\n' "$pq_git" "$npatches"
echo "  both trees equal the series' own; patchq adds Link: and Signed-off-by: (its defaults),"
if cmp -s "$tmp/am.log" <(grep -v -e '^Link: https://lore.kernel.org/r/' \
	-e '^Signed-off-by: Bench <bench@example.org>$' "$tmp/pq.log"); then
	echo "  apart from which authors, dates and messages equal git am's"
else
	echo "  WARNING: and its authors, dates or messages differ from git am's otherwise:"
	diff "$tmp/am.log" <(grep -v -e '^Link: https://lore.kernel.org/r/' \
		-e '^Signed-off-by: Bench <bench@example.org>$' "$tmp/pq.log") | head -n 20 | sed 's/^/    /'
fi
printf 'memory: patchq apply peak RSS %s for %d patches, %s for %d (git am: %s)\n' \
	"$(mb_of_kib "$small_rss")" "$nsmall" "$(mb_of_kib "$pq_peak")" "$npatches" \
	"$(mb_of_kib "$am_peak")"
if [ "$small_rss" != unknown ] && [ "$pq_peak" != unknown ]; then
	printf '  peak RSS grows %.2fx for %.1fx the patches (%+.1f MB)\n' \
		"$(calc 'a / s' -v a="$pq_peak" -v s="$small_rss")" "$(calc "$npatches / $nsmall")" \
		"$(calc '(a - s) * 1024 / 1e6' -v a="$pq_peak" -v s="$small_rss")"
fi
if [ "$small_anon" != unknown ] && [ "$pq_anon_peak" != unknown ]; then
	printf '  anonymous memory %s for %d patches, %s for %d (%+.1f MB); file-backed %s and %s\n' \
		"$(mb_of_kib "$small_anon")" "$nsmall" "$(mb_of_kib "$pq_anon_peak")" "$npatches" \
		"$(calc '(a - s) * 1024 / 1e6' -v a="$pq_anon_peak" -v s="$small_anon")" \
		"$(mb_of_kib "$small_file")" "$(mb_of_kib "$pq_file_peak")"
fi
