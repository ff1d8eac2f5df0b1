#!/bin/bash
# Builds the demo: a small git repository (OUT/repo) and a maildir
# (OUT/maildir) holding what a Rust-for-Linux style list would carry:
# a series with a cover letter and its v2, review replies (one on the
# cover, one on a patch, a quoted one, one whose address does not match
# its sender), a fix for rust-fixes, an RFC and a pull request. Every
# patch is made by `git format-patch` from the repository, so the demo
# mail applies to it. Deterministic: dates are fixed.
set -euo pipefail

out=${1:?usage: make-demo.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/repo" "$out/maildir" "$out/work"
mkdir -p "$out/maildir/new" "$out/maildir/cur" "$out/maildir/tmp"
repo=$out/repo
work=$out/work
n=0

export GIT_AUTHOR_DATE GIT_COMMITTER_DATE
gitq() { git -C "$repo" -c user.name="Alice Rustacean" -c user.email=alice@example.org "$@"; }
commit() { # DAY SUBJECT BODY [TRAILER]: the trailer goes in the sign-off's block
	GIT_AUTHOR_DATE="2026-11-0$1T10:00:00+00:00"
	GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
	gitq add -A
	gitq commit -q -m "$2" -m "$3" -m "${4:+$4
}Signed-off-by: Alice Rustacean <alice@example.org>"
}
# deliver FILE: drop one message into the maildir, in arrival order
deliver() {
	n=$((n + 1))
	cp "$1" "$out/maildir/new/$(printf '%04d' $n).demo:2,"
}
# fixed Message-IDs so replies can point at them
patches() { # DIR MSGID-PREFIX format-patch-args...
	local dir=$1 prefix=$2
	shift 2
	mkdir -p "$dir"
	gitq format-patch -q -o "$dir" --thread=shallow --from="Alice Rustacean <alice@example.org>" \
		--to="rust-for-linux@vger.example.org" "$@"
	local i=0 f
	for f in "$dir"/*.patch; do
		# give each message a stable Message-ID: PREFIX-N@example.org
		python3 - "$f" "$prefix-$i@example.org" "$prefix-0@example.org" <<'PY'
import re, sys
path, mid, cover = sys.argv[1:4]
text = open(path).read()
text = re.sub(r'^Message-ID: <[^>]*>', 'Message-ID: <%s>' % mid, text, count=1, flags=re.M | re.I)
if mid != cover:  # the cover keeps what it answers (v2: the v1 cover)
    text = re.sub(r'^(In-Reply-To|References): <[^>]*>', r'\1: <%s>' % cover, text,
                  flags=re.M | re.I)
text = re.sub(r'^From [0-9a-f]{40} ', 'From 0000000000000000000000000000000000000000 ', text)
open(path, 'w').write(text)
PY
		i=$((i + 1))
	done
}
reply() { # FILE FROM MSGID IN-REPLY-TO SUBJECT BODY
	cat > "$1" <<MAIL
From: $2
To: rust-for-linux@vger.example.org
Subject: Re: $5
Date: Tue, 10 Nov 2026 12:00:00 +0000
Message-ID: <$3>
In-Reply-To: <$4>
References: <$4>

$6
MAIL
}

mkdir -p "$repo" "$work"
git init -q -b main "$repo"
mkdir -p "$repo/rust/kernel"
printf '// SPDX-License-Identifier: GPL-2.0\n\n//! Kernel crate.\n\npub mod str;\n' > "$repo/rust/kernel/lib.rs"
printf '// SPDX-License-Identifier: GPL-2.0\n\n//! String helpers.\n\npub fn len(s: &str) -> usize {\n    s.len()\n}\n' > "$repo/rust/kernel/str.rs"
commit 1 "rust: kernel: start the crate" "The crate every Rust driver links against."
gitq branch rust-next
gitq branch rust-fixes
gitq checkout -q -b work

# v1: three patches with a cover letter
printf '// SPDX-License-Identifier: GPL-2.0\n\n//! Time helpers.\n\npub const NSEC_PER_SEC: u64 = 1_000_000_000;\n' > "$repo/rust/kernel/time.rs"
printf 'pub mod time;\n' >> "$repo/rust/kernel/lib.rs"
commit 2 "rust: time: add the time module" "Drivers need a common place for time constants."
printf '\npub fn ms_to_ns(ms: u64) -> u64 {\n    ms * 1_000_000\n}\n' >> "$repo/rust/kernel/time.rs"
commit 3 "rust: time: add ms_to_ns()" "Convert milliseconds to nanoseconds without overflow checks for now."
printf '\npub fn is_empty(s: &str) -> bool {\n    s.is_empty()\n}\n' >> "$repo/rust/kernel/str.rs"
commit 4 "rust: str: add is_empty()" "A small helper used by the time module's parsers."
patches "$work/v1" demo-time-v1 --cover-letter -3 \
	--subject-prefix="PATCH" HEAD
sed -i 's/\*\*\* SUBJECT HERE \*\*\*/rust: time helpers/; s/\*\*\* BLURB HERE \*\*\*/This adds a time module with conversion helpers./' "$work"/v1/0000-cover-letter.patch
for f in "$work"/v1/*.patch; do deliver "$f"; done

reply "$work/r1" "Bob Reviewer <bob@example.org>" demo-r1@example.org demo-time-v1-0@example.org \
	"[PATCH 0/3] rust: time helpers" "On the whole series:

Reviewed-by: Bob Reviewer <bob@example.org>"
deliver "$work/r1"
reply "$work/r2" "Carol Tester <carol@example.org>" demo-r2@example.org demo-time-v1-2@example.org \
	"[PATCH 2/3] rust: time: add ms_to_ns()" "> Reviewed-by: Bob Reviewer <bob@example.org>

This overflows for large values; please use checked_mul.

Tested-by: Carol Tester <carol@example.org>"
deliver "$work/r2"
reply "$work/r3" "Dave Someone <dave@example.org>" demo-r3@example.org demo-time-v1-1@example.org \
	"[PATCH 1/3] rust: time: add the time module" "Acked-by: Dave Someone <dave@elsewhere.example>"
deliver "$work/r3"

# v2, sent in reply to the v1 cover letter
gitq reset -q --hard HEAD~2
printf '\npub fn ms_to_ns(ms: u64) -> Option<u64> {\n    ms.checked_mul(1_000_000)\n}\n' >> "$repo/rust/kernel/time.rs"
commit 5 "rust: time: add ms_to_ns()" "Convert milliseconds to nanoseconds; None on overflow."
printf '\npub fn is_empty(s: &str) -> bool {\n    s.is_empty()\n}\n' >> "$repo/rust/kernel/str.rs"
commit 6 "rust: str: add is_empty()" "A small helper used by the time module's parsers."
patches "$work/v2" demo-time-v2 --cover-letter -3 -v2 \
	--in-reply-to=demo-time-v1-0@example.org HEAD
sed -i 's/\*\*\* SUBJECT HERE \*\*\*/rust: time helpers/; s/\*\*\* BLURB HERE \*\*\*/Changes in v2: ms_to_ns() checks for overflow (Carol)./' "$work"/v2/*0000-cover-letter.patch
for f in "$work"/v2/*.patch; do deliver "$f"; done
reply "$work/r4" "Bob Reviewer <bob@example.org>" demo-r4@example.org demo-time-v2-0@example.org \
	"[PATCH v2 0/3] rust: time helpers" "Reviewed-by: Bob Reviewer <bob@example.org>"
deliver "$work/r4"

# a fix for rust-fixes, and an RFC
gitq checkout -q -B work rust-next
sed -i 's/s.len()/s.as_bytes().len()/' "$repo/rust/kernel/str.rs"
commit 7 "rust: str: count bytes in len()" "len() must count bytes, not characters." \
	"Fixes: $(gitq rev-parse --short=12 HEAD) (\"rust: kernel: start the crate\")"
patches "$work/fix" demo-fix -1 --subject-prefix="PATCH rust-fixes" HEAD
for f in "$work"/fix/*.patch; do deliver "$f"; done
printf '\npub fn sleep_ms(_ms: u64) {}\n' >> "$repo/rust/kernel/lib.rs"
commit 8 "rust: add a sleep stub" "Only to discuss the API; not for merging."
patches "$work/rfc" demo-rfc -1 --rfc HEAD
for f in "$work"/rfc/*.patch; do deliver "$f"; done

# a pull request, in request-pull's words
cat > "$work/pull" <<'MAIL'
From: Erin Maintainer <erin@example.org>
To: rust-for-linux@vger.example.org
Subject: [GIT PULL] Rust fixes for 7.1-rc3
Date: Wed, 11 Nov 2026 09:00:00 +0000
Message-ID: <demo-pull@example.org>

The following changes since commit 0123456789abcdef0123456789abcdef01234567:

  rust: kernel: start the crate (2026-11-01 10:00:00 +0000)

are available in the Git repository at:

  https://git.example.org/rust/linux.git tags/rust-fixes-7.1-rc3

for you to fetch changes up to 89abcdef0123456789abcdef0123456789abcdef:

  rust: str: count bytes in len() (2026-11-07 10:00:00 +0000)
MAIL
deliver "$work/pull"
# the repository keeps only its queues at the base: the patches live in the mail
gitq checkout -q main
gitq branch -q -D work
rm -rf "$work"
echo "demo: $n messages in $out/maildir, repository in $out/repo"
