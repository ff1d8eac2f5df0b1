#!/bin/sh
# The quick start: installs what patchq needs (Debian), builds it, makes
# the bundled demo list (a maildir and the git repository its patches come
# from, see contrib/demo/make-demo.sh), imports it and shows what patchq
# understood: the series, their versions and the collected review trailers.
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
