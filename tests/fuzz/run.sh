#!/bin/sh
# run.sh TARGET SECONDS SEEDDIR...: one bounded libFuzzer run, for meson test.
#
# libFuzzer writes the inputs it finds into its first corpus directory, so
# that is a fresh temporary directory; the seed directories come after it
# and are only read (missing ones are skipped). A crash, leak or trap is
# kept as fuzz-artifacts/TARGET-crash-* in the working directory (the build
# directory under meson) and fails the test. PQ_FUZZ_SECONDS overrides
# SECONDS. libFuzzer's own failure code, 77, would read as "skipped" to
# meson: every finding exits 1 here.
set -eu
target=$1
case $target in
*/*) ;;
*) target=./$target ;; # meson hands a target in the working directory by name
esac
seconds=${PQ_FUZZ_SECONDS:-$2}
shift 2

# UndefinedBehaviorSanitizer reports are findings too, not noise
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

work=$(mktemp -d "${TMPDIR:-/tmp}/pq-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
artifacts=$(pwd)/fuzz-artifacts
mkdir -p "$artifacts"

seeds=
for d in "$@"; do
	if [ -d "$d" ]; then
		seeds="$seeds
$d"
	fi
done
# a dictionary beside this script, named for the target (mail.dict)
name=$(basename "$target")
dict=$(dirname "$0")/${name#fuzz_}.dict
dictarg=-dict=$dict
[ -f "$dict" ] || dictarg=-print_final_stats=1
# LeakSanitizer suppressions for leaks inside a library, named the same (imap.lsan)
supp=$(dirname "$0")/${name#fuzz_}.lsan
if [ -f "$supp" ]; then
	LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(cd "$(dirname "$supp")" && pwd)/$(basename "$supp")
	export LSAN_OPTIONS
fi
# one seed directory per line: paths may hold spaces
IFS='
'
set +e
# shellcheck disable=SC2086
"$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -max_len=65536 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-print_final_stats=1 "$dictarg" -artifact_prefix="$artifacts/$name-" \
	"$work" $seeds
status=$?
set -e
exit $status
