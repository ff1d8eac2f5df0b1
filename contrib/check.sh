#!/bin/sh
# Sets up and runs the whole test suite, as CI does:
#   1. a normal build: every suite but the benchmarks (unit, corpus, integration)
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. a short run of each libFuzzer target (clang)
# Warnings are errors, and the layout must be what .clang-format says.
# The corpus suite reads ../shared/corpus (or $PATCHQ_CORPUS) and is skipped
# when it is absent. Ends with one line: "N passed, N failed, N skipped".
set -eu
cd "$(dirname "$0")/.."

contrib/deps.sh
corpus=${PATCHQ_CORPUS:-$(pwd)/../shared/corpus}
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

setup() { # DIR [meson options...]
	dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" -Dcorpus="$corpus" "$@" >/dev/null
	else
		meson setup "$dir" -Dcorpus="$corpus" "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null
}

status=0
# the repository's .clang-format is the judge of layout
if ! clang-format --dry-run --Werror lib/*.[ch] daemon/*.c tests/unit/*.[ch] tests/fuzz/*.c; then
	echo "check: code is not clang-formatted (run clang-format -i on the files above)" >&2
	status=1
fi

setup build -Dwerror=true
meson test -C build --print-errorlogs || status=1

setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
meson test -C build-asan --print-errorlogs || status=1

CC=clang setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
meson test -C build-fuzz --suite fuzz --print-errorlogs || status=1

python3 - build build-asan build-fuzz <<'PY'
import json, os, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        continue
    for line in open(log):
        r = json.loads(line)["result"]
        key = {"OK": "passed", "EXPECTEDFAIL": "passed", "SKIP": "skipped"}.get(r, "failed")
        counts[key] += 1
print("%(passed)d passed, %(failed)d failed, %(skipped)d skipped" % counts)
PY
exit $status
