#!/bin/sh
# The quick start: installs what patchq needs (Debian), builds it, makes
# the bundled demo list (a maildir and the git repository its patches come
# from, see contrib/demo/make-demo.sh), imports it and shows what patchq
# understood: the series, their versions and the collected review trailers;
# then patchqd takes the list as mail arrives and ends serving the desk at
# http://127.0.0.1:8080/ (PATCHQ_DEMO_LISTEN=HOST:PORT for another) until
# Ctrl-C; not on a terminal, it fetches the to-do once and stops.
set -eu
cd "$(dirname "$0")/.."

contrib/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
demo=build/demo
contrib/demo/make-demo.sh "$demo"
rm -f "$demo/patchq.db"*
pq() { build/patchq --db "$demo/patchq.db" "$@"; }

echo
echo "== patchq import $demo/maildir"
pq import "$demo/maildir"
echo
echo "== patchq series"
pq series
echo
echo "== patchq show 2   (the v2 that supersedes series 1; + marks trailers from replies)"
pq show 2
echo
echo "== patchq -c patchq.conf triage   (contrib/patchq.conf.example on the demo repository)"
rm -rf "$demo/queues.git"
git clone -q --bare "$demo/repo" "$demo/queues.git"
sed -e "s|/var/lib/patchq/patchq.db|$(pwd)/$demo/patchq.db|" \
	-e "s|/var/lib/patchq/linux.git|$(pwd)/$demo/queues.git|" \
	contrib/patchq.conf.example >"$demo/patchq.conf"
pqc() { build/patchq -c "$demo/patchq.conf" "$@"; }
pqc triage
echo
echo "== patchq -c patchq.conf queue rust-dev"
pqc queue rust-dev
echo
echo "== patchq -c patchq.conf why 3"
pqc why 3
echo
echo "== patchq am 2 | git am   (on a copy of the demo repository)"
rm -rf "$demo/am-check"
git clone -q "$demo/repo" "$demo/am-check"
git -C "$demo/am-check" checkout -q rust-next
pq am 2 | git -C "$demo/am-check" -c user.name=Demo -c user.email=demo@example.org am -q
git -C "$demo/am-check" log --format='%h %s%n%(trailers:only,unfold)' rust-next~3..rust-next

echo
echo "== patchqd on the demo list: a maildir source under inotify, replies to a dry-run maildir"
# a fresh database and queue repository; the mail arrives while it runs
d=$(pwd)/$demo/daemon
rm -rf "$d"
mkdir -p "$d/inbox/new" "$d/inbox/cur" "$d/inbox/tmp"
git clone -q --bare "$demo/repo" "$d/queues.git"
sed -e "s|/var/lib/patchq/patchq.db|$d/patchq.db|" \
	-e "s|/var/lib/patchq/linux.git|$d/queues.git|" \
	-e "s|^	reply = false|	reply = true|" \
	-e "s|^	listen = .*|	listen = ${PATCHQ_DEMO_LISTEN:-127.0.0.1:8080}|" \
	contrib/patchq.conf.example >"$d/patchq.conf"
printf '[source "demo"]\n\ttype = maildir\n\tpath = %s/inbox\n[smtp]\n\tmaildir = %s/sent\n' \
	"$d" "$d" >>"$d/patchq.conf"
build/patchqd -c "$d/patchq.conf" 2>"$d/patchqd.log" &
pid=$!
sleep 1
for f in "$demo"/maildir/new/*; do
	cp "$f" "$d/inbox/tmp/${f##*/}" && mv "$d/inbox/tmp/${f##*/}" "$d/inbox/new/"
done
pqd() { build/patchq -c "$d/patchq.conf" "$@"; }
# until the mail is in, rust-dev took the reviewed series (its reply waits
# in the outbox, held) and the fix waits for approval
for _ in $(seq 100); do
	[ -z "$(ls "$d/inbox/new")" ] && grep -q "waits for approval" "$d/patchqd.log" &&
		pqd outbox | grep -q " held " && break
	sleep 0.2
done
cat "$d/patchqd.log"
echo
echo "== the reply waits for the maintainer ([reply] hold = true): read, release, send"
pqd outbox
held=$(pqd outbox | sed -n 's/^ *\([0-9]*\) .* held .*/\1/p' | head -n 1)
pqd outbox release "$held"
pqd outbox send
echo
echo "== the reply patchqd sent (dry run: $demo/daemon/sent/new)"
cat "$d"/sent/new/*

echo
echo "== the desk: patchqd serves it (see the README, \"The desk\")"
url=$(sed -n 's|.*desk at \(http://[^ ]*\).*|\1|p' "$d/patchqd.log" | head -n 1)
token=$(build/patchq -c "$d/patchq.conf" token new demo)
echo "open $url in a browser (or w3m $url) and log in with the token"
echo "  $token"
echo "to approve the fix waiting for rust-fixes, read a diff, see the outbox."
if [ -t 0 ] && [ -t 1 ]; then
	echo "patchqd keeps serving until Ctrl-C."
	trap 'kill -TERM "$pid"' INT TERM
	wait "$pid" || true
	trap - INT TERM
	wait "$pid" 2>/dev/null || true
else
	# not on a terminal (a script, CI): show that it answers, then stop
	python3 -c 'import sys, urllib.request
page = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
print("GET", sys.argv[1], "->", page[page.find("<title>") + 7:page.find("</title>")])' "$url"
	kill -TERM "$pid"
	wait "$pid"
fi
