#!/usr/bin/env python3
# Corpus tests: run the patchq executable on the shared mail corpus (fixtures
# of patchwork and b4, real linux-kbuild traffic) and assert what the peer
# projects assert about the same files, plus the accounting invariants of our
# own import.
#
#   test_corpus.py --patchq PATH --corpus DIR GROUP
#
# Exit status: 0 all checks passed, 1 at least one mismatch (every mismatch is
# listed), 77 the corpus or the group's files are absent (meson: skipped).
# Standard library only. Nothing from the corpus is copied anywhere: every
# database, clone and output file lives in a temporary directory removed at
# the end.

import argparse
import contextlib
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

EXIT_SKIP = 77

# Per patchq invocation. The largest (kbuild, 36 MB) takes about 2 s.
COMMAND_TIMEOUT = 300


class Skip(Exception):
	"""The group's input is not there: the whole group is skipped."""


class CommandFailed(Exception):
	"""A patchq command failed; the failure is already recorded."""


class Report:
	"""Collects mismatches; a failed check never stops the group."""

	def __init__(self, group):
		self.group = group
		self.failures = []
		self.checks = 0
		self.context = []

	def _where(self):
		return ' / '.join(self.context)

	def fail(self, what):
		where = self._where()
		self.failures.append(f'[{where}] {what}' if where else what)
		print(f'FAIL: [{where}] {what}' if where else f'FAIL: {what}', flush=True)

	def check(self, cond, what):
		self.checks += 1
		if not cond:
			self.fail(what)
		return bool(cond)

	def eq(self, actual, expected, what):
		return self.check(actual == expected,
				  f'{what}: expected {expected!r}, got {actual!r}')

	def note(self, text):
		print(f'  {text}', flush=True)

	@contextlib.contextmanager
	def case(self, name):
		"""One fixture: an exception inside is recorded and the group goes on."""
		self.context.append(name)
		print(f'-- {self._where()}', flush=True)
		try:
			yield
		except CommandFailed:
			pass
		except Exception:
			self.fail('test error:\n' + traceback.format_exc())
		finally:
			self.context.pop()


IMPORT_RE = re.compile(
	r'read (\d+), stored (\d+), duplicates (\d+) \(identical (\d+), re-delivered (\d+)\), '
	r'unparsable (\d+), reused Message-IDs (\d+)\s*$')
IMPORT_KEYS = ('read', 'stored', 'duplicates', 'identical', 'redelivered', 'unparsable',
	       'reused')


class Patchq:
	"""The patchq executable on one database."""

	def __init__(self, exe, db, report):
		self.exe = exe
		self.db = db
		self.report = report

	def run(self, *args, stdin=None, want_rc=0):
		argv = [self.exe, '--db', self.db] + [str(a) for a in args]
		shown = ' '.join(argv)
		for attempt in range(20):
			try:
				p = subprocess.run(argv, input=stdin if stdin is not None else b'',
						   capture_output=True, timeout=COMMAND_TIMEOUT)
				break
			except subprocess.TimeoutExpired:
				self.report.fail(f'{shown}: no answer after {COMMAND_TIMEOUT} s')
				raise CommandFailed()
			except OSError as e:
				# The executable is being relinked (a build running beside
				# the tests): wait for it rather than report a bogus failure.
				if attempt == 19:
					self.report.fail(f'{shown}: cannot run: {e}')
					raise CommandFailed()
				time.sleep(0.5)
		if p.returncode < 0:
			self.report.fail(f'{shown}: CRASHED with signal {-p.returncode}; '
					 f'stderr: {p.stderr.decode(errors="replace")[-2000:]}')
			raise CommandFailed()
		if want_rc is not None and p.returncode != want_rc:
			self.report.fail(f'{shown}: exit status {p.returncode}, expected {want_rc}; '
					 f'stderr: {p.stderr.decode(errors="replace")[-2000:]}')
			raise CommandFailed()
		return p

	def json(self, *args):
		p = self.run(*args, '--json')
		try:
			text = p.stdout.decode('utf-8')
		except UnicodeDecodeError as e:
			self.report.fail(f'patchq {" ".join(map(str, args))} --json: output is not '
					 f'valid UTF-8 ({e})')
			text = p.stdout.decode('utf-8', errors='replace')
		try:
			return json.loads(text)
		except json.JSONDecodeError as e:
			self.report.fail(f'patchq {" ".join(map(str, args))} --json: invalid JSON '
					 f'({e}): {text[max(0, e.pos - 200):e.pos + 200]!r}')
			raise CommandFailed()

	def import_(self, path=None, data=None):
		"""Import a path, or bytes on stdin; returns the summary counts."""
		if data is not None:
			p = self.run('import', '-', stdin=data)
		else:
			p = self.run('import', path)
		out = p.stdout.decode('utf-8', errors='replace').strip().splitlines()
		m = IMPORT_RE.search(out[-1]) if out else None
		if not m:
			self.report.fail(f'import {path or "-"}: summary line not understood: {out!r}')
			raise CommandFailed()
		return dict(zip(IMPORT_KEYS, map(int, m.groups())))

	def stats(self):
		return self.json('stats')

	def series(self):
		return sorted(self.json('series'), key=lambda s: s['id'])

	def show(self, sid):
		return self.json('show', sid)

	def messages(self):
		return self.json('messages')

	def msg(self, msgid):
		return self.json('msg', msgid)

	def am(self, sid, *opts):
		return self.run('am', sid, *opts).stdout


class Env:
	def __init__(self, args, tmp, report):
		self.patchq = os.path.abspath(args.patchq)
		self.corpus = args.corpus
		self.tmp = tmp
		self.report = report
		self._n = 0

	def path(self, *parts):
		return os.path.join(self.corpus, *parts)

	def need(self, *paths):
		missing = [p for p in paths if not os.path.exists(self.path(p))]
		if missing:
			raise Skip('missing from the corpus: ' + ', '.join(missing))

	def db(self, label='db'):
		"""A fresh database in the temporary directory."""
		self._n += 1
		safe = re.sub(r'[^A-Za-z0-9._-]', '_', label)
		return Patchq(self.patchq, os.path.join(self.tmp, f'{self._n:03d}-{safe}.db'),
			      self.report)


def read_tsv(path):
	"""Rows of a tab-separated file with a header line, as dicts."""
	with open(path, encoding='utf-8', newline='') as f:
		lines = f.read().split('\n')
	head = lines[0].split('\t')
	rows = []
	for line in lines[1:]:
		if not line:
			continue
		cols = line.split('\t')
		cols += [''] * (len(head) - len(cols))
		rows.append(dict(zip(head, cols)))
	return rows


def manifest(env, folder):
	"""MANIFEST.tsv of a fixture folder, keyed by file."""
	return {r['file']: r for r in read_tsv(env.path(folder, 'MANIFEST.tsv'))}


FROM_LINE = re.compile(rb'^From [^\n]*\n', re.M)


def split_mbox(data):
	"""The messages of a small mbox (From_ line at the start or after a blank
	line), without their From_ lines, as an MTA pipe would deliver them."""
	starts = [m for m in FROM_LINE.finditer(data)
		  if m.start() == 0 or data[max(0, m.start() - 2):m.start()] == b'\n\n']
	msgs = []
	for i, m in enumerate(starts):
		end = starts[i + 1].start() if i + 1 < len(starts) else len(data)
		body = data[m.end():end]
		if body.endswith(b'\n\n'):
			body = body[:-1]  # the separator line belongs to the mbox
		msgs.append(body)
	return msgs


def show_diff(expected, actual, exp_name, act_name):
	lines = difflib.unified_diff(
		expected.decode('utf-8', errors='replace').splitlines(keepends=True),
		actual.decode('utf-8', errors='replace').splitlines(keepends=True),
		exp_name, act_name)
	return ''.join(lines)[:20000]


# ---------------------------------------------------------------------------
# 1. patchwork-series
#
# patchwork's test_series.py parses each fixture message by message and checks
# [covers, patches, comments] and the series built. The counts below are the
# MANIFEST's asserted_outcome; the MANIFEST's own "[c, p, m]" triple is also
# read and compared, so the table cannot silently drift from the corpus.
# 'series' lists, per series in creation order, (patches, has cover).
# 'names' is the series name after each message of the file is imported in
# order (asserted by SeriesNameTestCase); the last entry is also checked after
# the whole-file import. Not covered: test_custom_name (a name set by hand is
# never overwritten): patchq has no way to set a series name.

SERIES_FIXTURES = {
	'base-single-patch.mbox': dict(counts=(0, 1, 0), series=[(1, False)]),
	'base-cover-letter.mbox': dict(counts=(1, 2, 0), series=[(2, True)], complete=True,
				       names=['A sample series'] * 3),
	'base-no-cover-letter.mbox': dict(counts=(0, 2, 0), series=[(2, False)],
					  names=['test: Add some lorem ipsum'] * 2),
	'base-deep-threaded.mbox': dict(counts=(1, 2, 0), series=[(2, True)]),
	'base-out-of-order.mbox': dict(counts=(1, 2, 0), series=[(2, True)],
				       names=[None, 'test: Add some lorem ipsum',
					      'A sample series']),
	'base-different-versions.mbox': dict(counts=(1, 4, 0), series=[(4, True)]),
	'base-no-references.mbox': dict(counts=(0, 2, 0), series=[(2, False)]),
	'base-no-references-no-cover.mbox': dict(counts=(1, 2, 0), series=[(2, True)]),
	# No assertSerialized upstream: only the counts, and that the patch
	# exported as mbox has exactly one Content-Type header.
	'bugs-multiple-content-types.mbox': dict(counts=(0, 1, 1), one_content_type=True),
	'revision-basic.mbox': dict(counts=(2, 4, 0), series=[(2, True), (2, True)],
				    revision=True),
	'revision-threaded-to-cover.mbox': dict(counts=(2, 4, 0), series=[(2, True), (2, True)],
						revision=True),
	'base-incomplete.mbox': dict(counts=(1, 1, 0), series=[(1, True)], complete=False),
	'base-extra-patches.mbox': dict(counts=(1, 3, 0), series=[(3, True)], complete=True),
	'mercurial-cover-letter.mbox': dict(counts=(1, 2, 0), series=[(2, True)]),
	'mercurial-no-cover-letter.mbox': dict(counts=(0, 2, 0), series=[(2, False)]),
}

COUNTS_RE = re.compile(r'\[covers, patches, comments\] == \[(\d+), (\d+), (\d+)\]')


def group_patchwork_series(env, rep):
	env.need('patchwork/MANIFEST.tsv', 'patchwork/series')
	man = {f[len('series/'):]: r for f, r in manifest(env, 'patchwork').items()
	       if f.startswith('series/') and f.endswith('.mbox')}
	if not man:
		raise Skip('no series fixtures in patchwork/MANIFEST.tsv')
	for name in sorted(set(man) - set(SERIES_FIXTURES)):
		rep.fail(f'series fixture {name} is in the MANIFEST but this test has no '
			 'expectations for it')
	for name in sorted(set(SERIES_FIXTURES) - set(man)):
		rep.fail(f'expected series fixture {name} is not in the MANIFEST')

	for name in sorted(set(man) & set(SERIES_FIXTURES)):
		exp = SERIES_FIXTURES[name]
		path = env.path('patchwork', 'series', name)
		with rep.case(name):
			m = COUNTS_RE.search(man[name]['asserted_outcome'])
			if rep.check(m, 'MANIFEST row has no [covers, patches, comments] triple'):
				rep.eq(tuple(map(int, m.groups())), exp['counts'],
				       'MANIFEST triple vs this test\'s table')
			pq = env.db(name)
			imp = pq.import_(path)
			rep.eq(imp['unparsable'], 0, 'unparsable messages')
			st = pq.stats()
			rep.eq((st['covers'], st['patches'], st['comments']), exp['counts'],
			       '[covers, patches, comments]')
			series = pq.series()
			if 'series' in exp:
				got = [(len(s['patches']), s['cover'] is not None) for s in series]
				rep.eq(got, exp['series'], 'series as [(patches, has cover)]')
				for s in series:
					# received counts every number sent, 3/2 included
					idx = {p['index'] for p in s['patches'] if p['index'] and p['index'] >= 1}
					rep.eq(s['received'], len(idx),
					       f'series {s["id"]} received vs its distinct patch '
					       f'indexes')
			if 'complete' in exp and rep.eq(len(series), 1, 'series count'):
				rep.eq(series[0]['complete'], exp['complete'],
				       'series complete (received_all)')
			if 'names' in exp and rep.eq(len(series), 1, 'series count'):
				rep.eq(series[0]['name'], exp['names'][-1],
				       'series name after the whole file')
			if exp.get('revision') and rep.eq(len(series), 2, 'series count'):
				v1, v2 = series
				rep.eq((v1['version'], v2['version']), (1, 2), 'versions')
				rep.eq(v2['supersedes'], v1['id'], 'v2 supersedes v1')
				rep.eq(v1['superseded_by'], v2['id'], 'v1 superseded_by v2')
				rep.eq(v1['supersedes'], None, 'v1 supersedes nothing')
			if exp.get('one_content_type'):
				patches = [s for s in series if s['patches']]
				if rep.eq(len(patches), 1, 'series holding the patch'):
					out = pq.am(patches[0]['id'])
					n = len(re.findall(rb'^Content-Type:', out, re.M | re.I))
					rep.eq(n, 1, 'Content-Type headers in the am mbox of the patch')

			# Second import of the same file: nothing changes.
			imp2 = pq.import_(path)
			rep.eq(imp2['identical'], imp['read'], 're-import: identical duplicates')
			rep.eq(pq.stats(), st, 're-import: stats')

		if 'names' in exp:
			with rep.case(name + ' (one message at a time on stdin)'):
				msgs = split_mbox(open(path, 'rb').read())
				if rep.eq(len(msgs), len(exp['names']), 'messages in the file'):
					pq = env.db(name + '-stdin')
					for i, (data, want) in enumerate(zip(msgs, exp['names']), 1):
						imp = pq.import_(data=data)
						rep.eq((imp['read'], imp['stored']), (1, 1),
						       f'message {i}: read, stored')
						series = pq.series()
						if rep.eq(len(series), 1, f'series after message {i}'):
							rep.eq(series[0]['name'], want,
							       f'series name after message {i}')
					st = pq.stats()
					rep.eq((st['covers'], st['patches'], st['comments']),
					       exp['counts'], '[covers, patches, comments]')


# ---------------------------------------------------------------------------
# 2. patchwork-mail
#
# patchwork's find_patch_content(mail) returns (diff, message): we read them as
# msg --json's diff_text (diff true) and body. parse_pull_request returns
# "URL BRANCH" joined by one space; we keep pull_url and pull_branch apart.
# Where the MANIFEST only asserts "is not None" for a pull request, the URL
# line it records as observed is checked as well (that line is exactly what
# parse_pull_request would return).
# Not applicable, so not checked: in 0001 the parsemail/parsearchive parts
# about projects and List-Id ("0 Patch objects" without a project, "1 dropped"):
# patchq has no projects, every message is kept.

def pull(url, branch):
	return dict(kind='pull', diff=False, pull=(url, branch))


MAIL_FIXTURES = {
	# test_valid_stdin: the same mail piped on standard input.
	'0001-git-pull-request.mbox': dict(pull(
		'git://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git', 'next'),
		stdin_too=True),
	'0002-git-pull-request-wrapped.mbox': pull(
		'git://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git', 'next'),
	'0003-git-pull-request-with-diff.mbox': dict(
		pull=('git://git.kernel.org/pub/scm/linux/kernel/git/tip/linux-2.6-tip.git',
		      'x86-fixes-for-linus'),
		diff=True, diff_starts='diff --git a/arch/x86/include/asm/smp.h'),
	'0004-git-pull-request-git+ssh.mbox': pull(
		'git+ssh://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git', 'next'),
	'0005-git-pull-request-ssh.mbox': pull(
		'ssh://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git', 'next'),
	'0006-git-pull-request-http.mbox': pull(
		'http://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git', 'next'),
	'0007-cvs-format-diff.mbox': dict(diff=True, diff_starts='Index'),
	'0008-git-rename.mbox': dict(diff=True, diff_count={'\nrename from ': 2,
							   '\nrename to ': 2}),
	'0009-git-rename-with-diff.mbox': dict(diff=True, diff_count={
		'\nrename from ': 2, '\nrename to ': 2, '\n-a\n+b': 1}),
	'0010-invalid-charset.mbox': dict(diff=True),
	'0011-no-newline-at-end-of-file.mbox': dict(
		diff=True, diff_starts='diff --git a/tools/testing/selftests/powerpc/Makefile',
		no_newline=True),
	'0012-invalid-header-char.mbox': dict(kind='patch'),
	'0013-with-utf8-body.mbox': dict(kind='patch', stdin_too=True),  # test_utf8_stdin
	'0014-with-unencoded-utf8-headers.mbox': dict(kind='patch'),
	'0015-with-invalid-utf8-headers.mbox': dict(kind='patch'),
	'0016-no-subject.mbox': dict(diff=True),
	'0017-git-pull-request-git-2-14-3.mbox': pull(
		'git://git.kernel.org/pub/scm/linux/kernel/git/davem/net', None),
	'0019-multipart-patch.mbox': dict(diff=True, no_html=True),
	'0020-multipart-comment.mbox': dict(kind='reply', no_html=True),
	'0021-git-empty-new-file.mbox': dict(diff=True),
	'0022-git-mode-change.mbox': dict(diff=True),
	'0023-git-pull-request-newline-in-url.mbox': dict(pull=(
		'https://git.kernel.org/pub/scm/linux/kernel/git/matthias.bgg/linux.git/',
		'tags/v5.4-next-soc')),
	'0024-git-pull-request-trailing-space.mbox': dict(pull=(
		'git://git.kernel.org/pub/scm/linux/kernel/git/nsekhar/linux-davinci.git',
		'tags/davinci-for-v5.6/soc')),
	'0025-git-add-binary-file.mbox': dict(
		diff=True, diff_starts='diff --git pixel.bmp pixel.bmp',
		diff_has=['GIT binary patch\n', 'literal 142\n', 'literal 0\n']),
	'0026-git-add-mixed-binary-text-files.mbox': dict(
		diff=True, diff_starts='diff --git pixel.bmp pixel.bmp',
		diff_has=['GIT binary patch\n', 'diff --git quit.sh quit.sh\n']),
	'0027-git-modify-binary-file.mbox': dict(
		diff=True, diff_starts='diff --git pixel.bmp pixel.bmp',
		diff_has=['GIT binary patch\n', 'literal 0\n', 'literal 142\n']),
}

NO_NEWLINE = '\\ No newline at end of file'


def check_mail(rep, m, exp):
	body = m.get('body')
	diff_text = m.get('diff_text') or ''
	# "message is not None": a commit message / comment text was found.
	rep.check(isinstance(body, str) and body.strip(), f'body (message) is empty: {body!r}')
	rep.eq(m.get('error'), None, 'parse error')
	if 'kind' in exp:
		rep.eq(m['kind'], exp['kind'], 'kind')
	if exp.get('diff') is True:
		rep.check(m['diff'] and diff_text, f'diff expected, got diff={m["diff"]!r}, '
			  f'diff_text={diff_text[:80]!r}')
	elif exp.get('diff') is False:
		rep.check(not m['diff'] and not diff_text,
			  f'no diff expected, got diff={m["diff"]!r}, diff_text={diff_text[:200]!r}')
	if 'diff_starts' in exp:
		rep.check(diff_text.startswith(exp['diff_starts']),
			  f'diff should start with {exp["diff_starts"]!r}, starts with '
			  f'{diff_text[:120]!r}')
	for s, n in exp.get('diff_count', {}).items():
		rep.eq(diff_text.count(s), n, f'occurrences of {s!r} in the diff')
	for s in exp.get('diff_has', []):
		rep.check(s in diff_text, f'diff lacks {s!r}')
	if 'pull' in exp:
		url, branch = exp['pull']
		rep.eq(m['kind'], 'pull', 'kind')
		rep.eq(m['pull_url'], url, 'pull_url')
		rep.eq(m['pull_branch'], branch, 'pull_branch')
		joined = ' '.join(x for x in (m['pull_url'], m['pull_branch']) if x)
		rep.eq(joined, ' '.join(x for x in exp['pull'] if x),
		       'parse_pull_request equivalent ("URL BRANCH")')
	if exp.get('no_newline'):
		rep.check(not (body or '').rstrip().endswith(NO_NEWLINE),
			  'the message ends with the "No newline" marker (belongs to the diff)')
		rep.check(diff_text.rstrip().endswith(NO_NEWLINE),
			  f'the diff does not end with the "No newline" marker: '
			  f'{diff_text.rstrip()[-120:]!r}')
		rep.eq(diff_text.count(NO_NEWLINE), 2, 'No newline markers in the diff')
	if exp.get('no_html'):
		rep.check('<div' not in diff_text, 'HTML ("<div") in the diff')
		rep.check('<div' not in (body or ''), 'HTML ("<div") in the message')


def group_patchwork_mail(env, rep):
	env.need('patchwork/MANIFEST.tsv', 'patchwork/mail')
	man = {f[len('mail/'):]: r for f, r in manifest(env, 'patchwork').items()
	       if f.startswith('mail/')}
	if not man:
		raise Skip('no mail fixtures in patchwork/MANIFEST.tsv')
	for name in sorted(set(man) - set(MAIL_FIXTURES)):
		rep.fail(f'mail fixture {name} is in the MANIFEST but this test has no '
			 'expectations for it')
	for name in sorted(set(man) & set(MAIL_FIXTURES)):
		exp = MAIL_FIXTURES[name]
		path = env.path('patchwork', 'mail', name)
		ways = [('file', None)]
		if exp.get('stdin_too'):
			ways.append(('stdin', open(path, 'rb').read()))
		for way, data in ways:
			with rep.case(f'{name} ({way})'):
				pq = env.db(name)
				imp = pq.import_(path=path, data=data)
				rep.eq((imp['read'], imp['stored'], imp['unparsable']), (1, 1, 0),
				       'read, stored, unparsable')
				msgs = pq.messages()
				if not rep.eq(len(msgs), 1, 'messages stored'):
					continue
				msgid = msgs[0]['msgid']
				rep.check(msgid, 'empty Message-ID (a derived one is expected)')
				m = pq.msg(msgid)
				rep.eq(m['msgid'], msgid, 'msg returns the message asked for')
				check_mail(rep, m, exp)
				if 'kind' in exp and exp['kind'] == 'patch':
					st = pq.stats()
					rep.eq(st['patches'], 1, 'patches stored (exactly 1 Patch)')
				# test_dup_mail: parsing the same mail again must not fail.
				imp2 = pq.import_(path=path, data=data)
				rep.eq((imp2['stored'], imp2['identical']), (0, 1),
				       're-import: stored, identical')


# ---------------------------------------------------------------------------
# 3. patchwork-fuzz
#
# patchwork asserts only that parsing succeeds or fails cleanly. For us: the
# import exits 0, nothing crashes, every message read is accounted for, and a
# message that could not be parsed is stored as unparsable with its reason.

def check_fuzz_db(rep, pq, imp):
	rep.eq(imp['read'], imp['stored'] + imp['duplicates'], 'read == stored + duplicates')
	rep.check(imp['read'] >= 1, 'nothing read')
	st = pq.stats()
	rep.eq(st['messages'] + st['redelivered'], imp['read'],
	       'stats messages + redelivered == read')
	rep.eq(st['unparsable'], imp['unparsable'], 'stats unparsable vs import summary')
	msgs = pq.messages()
	rep.eq(len(msgs), st['messages'], 'messages listed vs stats')
	for m in msgs:
		rep.check(m['kind'] in ('patch', 'cover', 'reply', 'pull', 'other', 'unparsable'),
			  f'{m["msgid"]!r}: unknown kind {m["kind"]!r}')
		if m['kind'] == 'unparsable':
			rep.check(m.get('error'), f'{m["msgid"]!r}: unparsable without a reason')
		full = pq.msg(m['msgid'])
		rep.eq(full['msgid'], m['msgid'], 'msg finds the message by its id')


def group_patchwork_fuzz(env, rep):
	env.need('patchwork/fuzz')
	files = sorted(f for f in os.listdir(env.path('patchwork', 'fuzz')) if f.endswith('.mbox'))
	if not files:
		raise Skip('no fuzz fixtures')
	for name in files:
		path = env.path('patchwork', 'fuzz', name)
		with rep.case(f'{name} (file)'):
			pq = env.db(name)
			imp = pq.import_(path)
			check_fuzz_db(rep, pq, imp)
			summary = f'read {imp["read"]}, unparsable {imp["unparsable"]}'
			kinds = [m['kind'] for m in pq.messages()]
			rep.note(f'{summary}, kinds {kinds}')
		with rep.case(f'{name} (stdin)'):
			pq = env.db(name + '-stdin')
			imp = pq.import_(data=open(path, 'rb').read())
			rep.eq(imp['read'], 1, 'stdin is one message')
			check_fuzz_db(rep, pq, imp)


# ---------------------------------------------------------------------------
# 4. b4
#
# b4's test_followup_trailers: the am-ready mbox must equal the reference
# byte for byte. Covered: single/defaults, single/addmysob, single/addlink,
# nore/defaults, with-cover/defaults, with-cover/addlink. Not covered (they
# need options patchq does not have): single/noadd (no trailer collection),
# single/copyccs (Cc: from headers), single/addmsgid (Message-ID: instead of
# Link:), single/ordered (trailer-order), single/sloppy (accept mismatched
# addresses), custody/unordered, custody/ordered, custody/with-ignored
# (copyccs, trailer-order, trailers-ignore-from). Not covered either:
# test_parse_trailers (trailers-test-*.txt: extinfo), naked-cover-* (cover
# letters without [PATCH 0/N]), save-*bit-clean.txt, shazam merge/-H variants.

B4_USER = 'Test Override <test-override@example.com>'
B4_LINK = 'https://patch.msgid.link/%s'
SHAZAM_BASE = 'f435c12df7c0ecf20ab8937859e63cddffacabb4'
SHAZAM_TREE = 'f0469aa5d9b93a873c000c13dc17b1edf7fe0fb4'


def trailer_list(items):
	return [(t['name'], t['value']) for t in items]


def compare_am(rep, pq, sid, opts, ref_path):
	out = pq.am(sid, *opts)
	ref = open(ref_path, 'rb').read()
	label = f'am {" ".join(opts)}'.strip()
	name = os.path.basename(ref_path)
	if out != ref:
		rep.check(False, f'{label}: output differs from {name}:\n'
			  + show_diff(ref, out, name, 'patchq ' + label))
	else:
		rep.check(True, '')


def one_series(rep, pq):
	series = pq.series()
	if not rep.eq(len(series), 1, 'series count'):
		raise CommandFailed()
	return series[0]


def group_b4(env, rep):
	files = ['trailers-followup-single.mbox', 'trailers-followup-single-ref-defaults.txt',
		 'trailers-followup-single-ref-addmysob.txt',
		 'trailers-followup-single-ref-addlink.txt',
		 'trailers-followup-nore.mbox', 'trailers-followup-nore-ref-defaults.txt',
		 'trailers-followup-with-cover.mbox',
		 'trailers-followup-with-cover-ref-defaults.txt',
		 'trailers-followup-with-cover-ref-addlink.txt',
		 'shazam-git1-just-series.mbox']
	env.need(*('b4/' + f for f in files))
	b4 = lambda f: env.path('b4', f)

	with rep.case('trailers-followup-single'):
		pq = env.db('single')
		imp = pq.import_(b4('trailers-followup-single.mbox'))
		rep.eq((imp['read'], imp['stored'], imp['unparsable']), (4, 4, 0),
		       'read, stored, unparsable')
		s = one_series(rep, pq)
		show = pq.show(s['id'])
		if rep.eq(len(show['patches']), 1, 'patches'):
			p = show['patches'][0]
			collected = trailer_list(p['collected'])
			rep.eq(collected, [
				('Reviewed-by', 'Followup Reviewer1 <followup-reviewer1@example.com>'),
				('Tested-by', 'Followup Reviewer2 <followup-reviewer2@example.com>'),
			], 'collected trailers')
			quoted = 'Followup Reviewer1 <reviewer1@example.com>'
			rep.check(all(v != quoted for _, v in collected),
				  'the quoted "> Reviewed-by:" was collected')
			rep.check(all(v != quoted for _, v in trailer_list(p['mismatched'])),
				  'the quoted "> Reviewed-by:" is listed as mismatched')
			rep.eq(trailer_list(p['mismatched']), [
				('Reviewed-by', 'Mismatched Reviewer1 <mismatched-reviewer1@example.net>'),
			], 'mismatched trailers')
		compare_am(rep, pq, s['id'], [], b4('trailers-followup-single-ref-defaults.txt'))
		compare_am(rep, pq, s['id'], ['--signoff', B4_USER],
			   b4('trailers-followup-single-ref-addmysob.txt'))
		compare_am(rep, pq, s['id'], ['--signoff', B4_USER, '--add-link', B4_LINK],
			   b4('trailers-followup-single-ref-addlink.txt'))
		# -o FILE writes the same bytes as standard output.
		out_file = os.path.join(env.tmp, 'single-am.mbox')
		pq.run('am', s['id'], '-o', out_file)
		rep.check(os.path.exists(out_file) and open(out_file, 'rb').read()
			  == open(b4('trailers-followup-single-ref-defaults.txt'), 'rb').read(),
			  'am -o FILE differs from the defaults reference')

	with rep.case('trailers-followup-nore'):
		pq = env.db('nore')
		pq.import_(b4('trailers-followup-nore.mbox'))
		s = one_series(rep, pq)
		rep.eq(len(s['patches']), 1, 'patches (the Re:-less followup is a reply)')
		compare_am(rep, pq, s['id'], [], b4('trailers-followup-nore-ref-defaults.txt'))

	with rep.case('trailers-followup-with-cover'):
		pq = env.db('with-cover')
		pq.import_(b4('trailers-followup-with-cover.mbox'))
		s = one_series(rep, pq)
		rep.eq((s['total'], s['received'], s['complete'], s['version']), (2, 2, True, 2),
		       'total, received, complete, version')
		rep.eq(s['cover'], 'cover-message@example.com', 'cover')
		show = pq.show(s['id'])
		cover_rb = ('Reviewed-by', 'Coverletter Reviewer1 <followup-reviewer1@example.com>')
		want = {1: [cover_rb],
			2: [('Reviewed-by', 'Followup Reviewer1 <followup-reviewer1@example.com>'),
			    cover_rb]}
		for p in show['patches']:
			rep.eq(trailer_list(p['collected']), want.get(p['index']),
			       f'collected trailers of patch {p["index"]}')
		compare_am(rep, pq, s['id'], ['--signoff', B4_USER],
			   b4('trailers-followup-with-cover-ref-defaults.txt'))
		compare_am(rep, pq, s['id'], ['--signoff', B4_USER, '--add-link', B4_LINK],
			   b4('trailers-followup-with-cover-ref-addlink.txt'))

	with rep.case('shazam-git1-just-series'):
		pq = env.db('shazam')
		pq.import_(b4('shazam-git1-just-series.mbox'))
		s = one_series(rep, pq)
		rep.eq((s['total'], s['received'], s['complete']), (4, 4, True),
		       'total, received, complete')
		rep.eq([p['index'] for p in s['patches']], [1, 2, 3, 4], 'patch indexes')
		if rep.check(s['cover'], 'the series has no cover letter'):
			cover = pq.msg(s['cover'])
			rep.eq(cover['kind'], 'cover', 'kind of the cover')
			rep.eq(cover['base_commit'], SHAZAM_BASE, 'base-commit of the cover')
			rep.eq(cover['change_id'], '20221025-test1-e8520c2200a3',
			       'change-id of the cover')
		if shutil.which('git') and os.path.exists(b4('gitdir.bundle')):
			shazam_apply(env, rep, pq, s['id'])
		else:
			rep.note('git or gitdir.bundle absent: the apply check is skipped')


def git(rep, cwd, *args, env=None, want_ok=True):
	p = subprocess.run(['git'] + list(args), cwd=cwd, capture_output=True, env=env,
			   timeout=120)
	if want_ok and p.returncode != 0:
		rep.fail(f'git {" ".join(args)}: exit {p.returncode}: '
			 f'{p.stderr.decode(errors="replace")[-2000:]}')
		raise CommandFailed()
	return p.stdout.decode('utf-8', errors='replace')


def shazam_apply(env, rep, pq, sid):
	"""The README's apply case: the am mbox applies with git am on master of
	gitdir.bundle, gives the known tree and the log b4 expects."""
	genv = dict(os.environ, HOME=env.tmp, GIT_CONFIG_NOSYSTEM='1',
		    GIT_CONFIG_GLOBAL=os.devnull, GIT_COMMITTER_NAME='Test Override',
		    GIT_COMMITTER_EMAIL='test-override@example.com', LC_ALL='C')
	cases = [([], 'shazam-git1-just-series-defaults.verify'),
		 (['--add-link', B4_LINK], 'shazam-git1-just-series-addlink.verify')]
	for n, (opts, verify) in enumerate(cases):
		with rep.case('git am ' + ' '.join(opts)):
			repo = os.path.join(env.tmp, f'shazam-repo-{n}')
			git(rep, env.tmp, 'clone', '-q', '--branch', 'master',
			    env.path('b4', 'gitdir.bundle'), repo, env=genv)
			rep.eq(git(rep, repo, 'rev-parse', 'HEAD', env=genv).strip(), SHAZAM_BASE,
			       'master of gitdir.bundle')
			mbox = os.path.join(env.tmp, f'shazam-{n}.mbox')
			pq.run('am', sid, '-o', mbox, *opts)
			p = subprocess.run(['git', 'am', '-q', mbox], cwd=repo, capture_output=True,
					   env=genv, timeout=120)
			if not rep.check(p.returncode == 0, 'git am of the am mbox failed: '
					 + p.stderr.decode(errors='replace')[-2000:]
					 + p.stdout.decode(errors='replace')[-2000:]):
				continue
			rep.eq(git(rep, repo, 'rev-parse', 'HEAD^{tree}', env=genv).strip(),
			       SHAZAM_TREE, 'tree after applying the series')
			log = git(rep, repo, 'log', '--format=%ae%n%ce%n%s%n%b---', 'HEAD~4..',
				  env=genv).encode()
			ref = open(env.path('b4', verify), 'rb').read()
			rep.check(log == ref, f'git log differs from {verify}:\n'
				  + show_diff(ref, log, verify, 'git log'))


# What git mailsplit takes for the start of a message: "From " + a word +
# an asctime date (git's is_from_line checks the same shape).
MBOX_SEPARATOR = re.compile(
	rb'^From \S+ +[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d \d{4}$', re.M)


def check_am_all(rep, pq, series, limit_report=20):
	"""patchq am of every series is an mbox git am splits into exactly the
	series' patches, in order, as UTF-8 text."""
	bad = 0
	for s in series:
		out = pq.am(s['id'])
		seps = MBOX_SEPARATOR.findall(out)
		mids = [m.decode(errors='replace') for m in
			re.findall(rb'^Message-Id: <([^>]*)>', out, re.M | re.I)]
		want = [p['msgid'] for p in s['patches']]
		problems = []
		if len(seps) != len(want):
			extra = [x.decode(errors='replace') for x in seps
				 if not x.startswith(b'From git@z ')]
			problems.append(f'{len(seps)} mbox separator lines for {len(want)} '
					f'patches (git am would see {len(seps)} mails); '
					f'foreign separators: {extra[:3]}')
		if mids[:len(want)] != want:
			problems.append(f'Message-Id headers {mids[:5]} instead of {want[:5]}')
		try:
			out.decode('utf-8')
		except UnicodeDecodeError as e:
			problems.append(f'not UTF-8 ({e})')
		if problems:
			bad += 1
			if bad <= limit_report:
				rep.fail(f'am {s["id"]} ({s["name"]!r}, patches {want[:3]}): '
					 + '; '.join(problems))
	rep.note(f'am of {len(series)} series checked, {bad} bad')
	return bad


def mboxrd_messages(data):
	"""{Message-ID: message} of the messages of an mboxrd file that carry
	escaped From lines (">From ")."""
	found = {}
	for m in split_mbox(data):
		if not re.search(rb'^>+From ', m, re.M):
			continue
		head = m.split(b'\n\n', 1)[0]
		mid = re.search(rb'^Message-ID:[ \t]*<([^>\n]+)>', head, re.M | re.I)
		if mid:
			found[mid.group(1).decode(errors='replace')] = m
	return found


# ---------------------------------------------------------------------------
# 5. kbuild: 3,018 real messages, as mboxrd and as a public-inbox git history.

KBUILD_MBOX = 'real/linux-kbuild-threads.mbox'
KBUILD_INDEX = 'real/linux-kbuild-threads.INDEX.tsv'
KBUILD_SERIES = 'real/linux-kbuild-threads.SERIES.tsv'
KBUILD_BUNDLE = 'real/public-inbox-format/linux-kbuild-threads.git.bundle'


def timed_import(rep, pq, path, label):
	t0 = time.monotonic()
	imp = pq.import_(path)
	dt = time.monotonic() - t0
	rate = imp['read'] / dt if dt > 0 else float('inf')
	rep.note(f'{label}: {imp["read"]} messages in {dt:.2f} s = {rate:.0f} messages/s '
		 f'(including process start and commit)')
	return imp


def partition(series):
	"""Series as {(sorted patch msgids, cover): (name, version)}."""
	return {(tuple(sorted(p['msgid'] for p in s['patches'])), s['cover']):
		(s['name'], s['version']) for s in series}


def group_kbuild(env, rep):
	env.need(KBUILD_MBOX, KBUILD_INDEX, KBUILD_SERIES)
	index = read_tsv(env.path(KBUILD_INDEX))
	kind_of = {}
	irt_of = {}
	for r in index:
		kind_of.setdefault(r['message_id'], r['kind'])
		irt_of.setdefault(r['message_id'], r['in_reply_to'])

	pq = env.db('kbuild-mbox')
	st = msgs = series = None
	ours = {}
	with rep.case('mbox import'):
		imp = timed_import(rep, pq, env.path(KBUILD_MBOX), 'mbox import')
		rep.eq(imp['read'], len(index), 'read (INDEX rows)')
		rep.eq(imp['read'], 3018, 'read')
		rep.eq(imp['read'], imp['stored'] + imp['duplicates'], 'read == stored + duplicates')
		rep.eq(imp['redelivered'], 3, 're-delivered')
		rep.eq(imp['unparsable'], 0, 'unparsable')
		st = pq.stats()
		rep.eq(st['msgids'], len(kind_of), 'distinct Message-IDs (INDEX)')
		rep.eq(st['msgids'], 3015, 'distinct Message-IDs')
		rep.eq(st['redelivered'], 3, 'stats redelivered')
		rep.eq(st['unparsable'], 0, 'stats unparsable')
		rep.eq(st['deliveries'], 3018, 'stats deliveries')
		rep.eq(st['messages'] + st['redelivered'], imp['read'],
		       'stats messages + redelivered == read')
		rep.note('stats: ' + json.dumps(st, sort_keys=True))

	with rep.case('mbox re-import'):
		t0 = time.monotonic()
		imp2 = pq.import_(env.path(KBUILD_MBOX))
		rep.note(f're-import: {time.monotonic() - t0:.2f} s')
		rep.eq(imp2['identical'], 3018, 're-import: identical duplicates')
		rep.eq((imp2['stored'], imp2['redelivered'], imp2['reused']), (0, 0, 0),
		       're-import: stored, re-delivered, reused')
		if st is not None:
			rep.eq(pq.stats(), st, 're-import: stats')

	with rep.case('kinds vs INDEX.tsv'):
		msgs = pq.messages()
		ours = {m['msgid']: m for m in msgs}
		rep.eq(set(ours), set(kind_of), 'the set of Message-IDs vs INDEX')
		reclassified, differ = [], []
		for mid, want in sorted(kind_of.items()):
			m = ours.get(mid)
			if m is None or m['kind'] == want:
				continue
			if want == 'other' and m['kind'] == 'reply' and (m['in_reply_to']
									 or irt_of[mid]):
				reclassified.append(mid)
			else:
				differ.append(f'{mid}: INDEX {want}, ours {m["kind"]} '
					      f'({m["subject"]!r})')
		for mid in reclassified:
			rep.note(f'known reclassification other -> reply: {mid} '
				 f'({ours[mid]["subject"]!r})')
		for d in differ:
			rep.note('kind differs: ' + d)
		total = len(reclassified) + len(differ)
		rep.note(f'{total} kind differences ({len(reclassified)} other -> reply)')
		rep.check(total <= 5, f'{total} messages of another kind than INDEX.tsv says '
			  '(more than 5): ' + '; '.join(differ[:20]))
		counts = {}
		for m in msgs:
			counts[m['kind']] = counts.get(m['kind'], 0) + 1
		rep.note('our kinds: ' + json.dumps(counts, sort_keys=True))

	with rep.case('series vs SERIES.tsv'):
		series = pq.series()
		srows = read_tsv(env.path(KBUILD_SERIES))
		lo, hi = len(srows) * 0.97, len(srows) * 1.03
		rep.note(f'{len(series)} series (SERIES.tsv {len(srows)} rows), '
			 f'{sum(1 for s in series if s["complete"])} complete')
		rep.check(lo <= len(series) <= hi, f'{len(series)} series, SERIES.tsv has '
			  f'{len(srows)}: not within 3%')
		check_series_rows(rep, index, srows, series, ours)

	if series is not None:
		with rep.case('am of every series'):
			t0 = time.monotonic()
			check_am_all(rep, pq, series)
			rep.note(f'{time.monotonic() - t0:.1f} s')

	if shutil.which('git') is None or not os.path.exists(env.path(KBUILD_BUNDLE)):
		rep.note('git or the public-inbox bundle absent: public-inbox import skipped')
		return
	with rep.case('public-inbox import'):
		repo = os.path.join(env.tmp, 'kbuild-pi.git')
		t0 = time.monotonic()
		git(rep, env.tmp, 'clone', '-q', '--mirror', env.path(KBUILD_BUNDLE), repo)
		rep.note(f'git clone --mirror: {time.monotonic() - t0:.2f} s')
		pi = env.db('kbuild-public-inbox')
		imp = timed_import(rep, pi, repo, 'public-inbox import')
		rep.eq(imp['read'], 3018, 'read (commits)')
		rep.eq(imp['read'], imp['stored'] + imp['duplicates'], 'read == stored + duplicates')
		rep.eq(imp['unparsable'], 0, 'unparsable')
		pst = pi.stats()
		if st is not None:
			skip = {'deliveries', 'redelivered'}
			a = {k: v for k, v in st.items() if k not in skip}
			b = {k: v for k, v in pst.items() if k not in skip}
			for k in sorted(set(a) | set(b)):
				rep.eq(b.get(k), a.get(k), f'stats {k}: public-inbox vs mbox')
		if series is not None:
			pa, pb = partition(series), partition(pi.series())
			only_a = sorted(set(pa) - set(pb), key=str)
			only_b = sorted(set(pb) - set(pa), key=str)
			for k in only_a[:20]:
				rep.fail(f'series only in the mbox import: cover {k[1]}, patches {k[0]}')
			for k in only_b[:20]:
				rep.fail(f'series only in the public-inbox import: cover {k[1]}, '
					 f'patches {k[0]}')
			rep.check(not only_a and not only_b,
				  f'series partitions differ: {len(only_a)} only from mbox, '
				  f'{len(only_b)} only from public-inbox')
			for k in sorted(set(pa) & set(pb), key=str):
				rep.eq(pb[k], pa[k], f'(name, version) of series with cover {k[1]}, '
				       f'patches {k[0][:3]}...')
		# Messages parse the same way from both sources.
		if msgs is not None:
			theirs = {m['msgid']: m for m in pi.messages()}
			diffs = 0
			for m in msgs:
				o = theirs.get(m['msgid'])
				if o is None:
					continue
				keys = [k for k in m if k not in ('series',) and m[k] != o.get(k)]
				if keys:
					diffs += 1
					if diffs <= 20:
						rep.fail(f'{m["msgid"]}: differs between mbox and '
							 f'public-inbox in {keys}: '
							 + '; '.join(f'{k}: {m[k]!r} vs {o.get(k)!r}'
								     for k in keys))
			rep.eq(diffs, 0, 'messages parsed differently from the two sources')

		# mboxrd: the mbox carries body lines ">From " for "From "; the
		# public-inbox blobs are unescaped. Both must give the same text.
		escaped = mboxrd_messages(open(env.path(KBUILD_MBOX), 'rb').read())
		rep.note(f'{len(escaped)} messages with escaped From lines compared in full')
		rep.check(escaped, 'no message with an escaped ">From " line found')
		for mid in sorted(escaped):
			a, b = pq.msg(mid), pi.msg(mid)
			keys = [k for k in a if k != 'series' and a[k] != b.get(k)]
			rep.check(not keys, f'{mid}: mbox and public-inbox differ in {keys}')
			text = (a.get('body') or '') + (a.get('diff_text') or '')
			rep.check(not re.search(r'^>From ', text, re.M) or
				  re.search(rb'^>>From ', escaped[mid], re.M),
				  f'{mid}: a ">From " line left escaped in the text')


def check_series_rows(rep, index, srows, series, ours):
	"""Each SERIES.tsv row marked complete whose patches we have: one series of
	ours holds them all and is complete."""
	# SERIES.tsv groups patches by thread root, version and total; rebuild the
	# groups' Message-IDs from INDEX.tsv the same way.
	groups = {}
	for r in index:
		if r['kind'] != 'patch':
			continue
		key = (r['thread_root'], r['version'] or '1', r['total'] or '1')
		groups.setdefault(key, set()).add(r['message_id'])
	series_of = {}
	for s in series:
		for p in s['patches']:
			series_of.setdefault(p['msgid'], []).append(s)
	failures = []
	checked = 0
	for row in srows:
		if row['complete'] != 'y':
			continue
		key = (row['thread_root'], row['version'] or '1', row['expected_total'] or '1')
		mids = groups.get(key)
		if not mids or not all(m in ours for m in mids):
			continue
		checked += 1
		holders = {s['id']: s for m in mids for s in series_of.get(m, [])}
		good = [s for s in holders.values()
			if mids <= {p['msgid'] for p in s['patches']} and s['complete']]
		if not good:
			desc = ', '.join(f'#{s["id"]} {s["name"]!r} v{s["version"]} '
					 f'{s["received"]}/{s["total"]} complete={s["complete"]}'
					 for s in holders.values()) or 'none'
			failures.append(f'{row["series_name"]!r} v{row["version"]} '
					f'({len(mids)} patches, root {row["thread_root"]}): held by {desc}')
	for f in failures:
		rep.note('complete SERIES.tsv row not matched: ' + f)
	rep.note(f'{checked} complete SERIES.tsv rows checked, {len(failures)} not matched')
	rep.check(checked > 0, 'no complete SERIES.tsv row could be checked')
	rep.check(len(failures) <= 3, f'{len(failures)} complete SERIES.tsv rows have no '
		  'complete series of ours holding all their patches (at most 3 allowed): '
		  + '; '.join(failures))


# ---------------------------------------------------------------------------
# 6. oddities: 147 hard messages (charsets, base64/QP diffs, attachments).

ODD_MBOX = 'real/mime-charset-oddities.mbox'
ODD_INDEX = 'real/mime-charset-oddities.INDEX.tsv'


def group_oddities(env, rep):
	env.need(ODD_MBOX, ODD_INDEX)
	index = read_tsv(env.path(ODD_INDEX))
	pq = env.db('oddities')
	with rep.case('import'):
		t0 = time.monotonic()
		imp = pq.import_(env.path(ODD_MBOX))
		rep.note(f'{imp["read"]} messages in {time.monotonic() - t0:.2f} s')
		rep.eq(imp['read'], len(index), 'read (INDEX rows)')
		rep.eq(imp['read'], imp['stored'] + imp['duplicates'], 'read == stored + duplicates')
		st = pq.stats()
		rep.eq(st['messages'] + st['redelivered'], imp['read'],
		       'stats messages + redelivered == read')
		rep.note('stats: ' + json.dumps(st, sort_keys=True))
		rep.check(imp['unparsable'] <= 3, f'{imp["unparsable"]} unparsable (at most 3)')

	with rep.case('every message'):
		msgs = pq.messages()
		full = {}
		for m in msgs:
			# Patchq.json already fails on invalid UTF-8 or JSON.
			full[m['msgid']] = pq.msg(m['msgid'])
			if m['kind'] == 'unparsable':
				rep.note(f'unparsable {m["msgid"]}: {full[m["msgid"]].get("error")}')
		ids = {r['message_id'] for r in index}
		rep.eq(set(full), ids, 'the set of Message-IDs vs INDEX')

		misses = []
		bad_diffs = []
		for r in index:
			if r['kind'] != 'patch':
				continue
			m = full.get(r['message_id'])
			if m is None:
				continue
			if r['has_diff'] == 'y' and not m['diff']:
				misses.append(f'{r["message_id"]} ({r["flags"] or "no flags"}; '
					      f'{r["subject"]!r}): kind {m["kind"]}')
			flags = r['flags']
			if any(f in flags for f in ('base64-diff', 'qp-diff', 'diff-in-mime-part')):
				d = m.get('diff_text') or ''
				if not (d.startswith('diff --git') or '\n@@ ' in d):
					bad_diffs.append(f'{r["message_id"]} ({flags}): diff_text starts '
							 f'{d[:100]!r}')
		for x in misses:
			rep.note('has_diff=y patch without a diff: ' + x)
		rep.check(len(misses) <= 3, f'{len(misses)} patches with a diff in INDEX.tsv '
			  'have none for us (at most 3): ' + '; '.join(misses))
		for x in bad_diffs:
			rep.fail('encoded/attached diff not decoded: ' + x)
		# A patch sent inline and attached as well must not be kept twice:
		# the doubled diff would not apply.
		for mid, m in sorted(full.items()):
			if m['kind'] != 'patch':
				continue
			d = m.get('diff_text') or ''
			heads = re.findall(r'^diff --git .*$', d, re.M)
			twice = sorted({h for h in heads if heads.count(h) > 1})
			seps = MBOX_SEPARATOR.findall(d.encode())
			rep.check(not twice and not seps,
				  f'{mid}: diff_text holds the patch twice: repeated {twice[:2]}, '
				  f'mbox separator lines {[x.decode() for x in seps[:2]]}')
		n_diff = sum(1 for r in index if r['kind'] == 'patch' and r['has_diff'] == 'y')
		n_enc = sum(1 for r in index if r['kind'] == 'patch' and any(
			f in r['flags'] for f in ('base64-diff', 'qp-diff', 'diff-in-mime-part')))
		rep.note(f'{n_diff} patches with has_diff=y ({len(misses)} missed), '
			 f'{n_enc} with encoded/attached diffs ({len(bad_diffs)} bad)')

	with rep.case('am of every series'):
		check_am_all(rep, pq, pq.series())

	# The same messages one at a time on standard input (as an MTA pipe
	# delivers them, mboxrd escaping undone) must give the same database.
	with rep.case('one message at a time on stdin'):
		t0 = time.monotonic()
		one = env.db('oddities-stdin')
		msgs_in = split_mbox(open(env.path(ODD_MBOX), 'rb').read())
		rep.eq(len(msgs_in), len(index), 'messages split from the mbox')
		for data in msgs_in:
			one.import_(data=re.sub(rb'(?m)^>(>*From )', rb'\1', data))
		rep.note(f'{len(msgs_in)} stdin imports in {time.monotonic() - t0:.1f} s')
		rep.eq(one.stats(), pq.stats(), 'stats: stdin one by one vs the mbox')
		a = {m['msgid']: m for m in pq.messages()}
		b = {m['msgid']: m for m in one.messages()}
		rep.eq(sorted(b), sorted(a), 'Message-IDs: stdin vs the mbox')
		for mid in sorted(set(a) & set(b)):
			keys = [k for k in a[mid] if k != 'series' and a[mid][k] != b[mid].get(k)]
			rep.check(not keys, f'{mid}: stdin and mbox import differ in ' + '; '.join(
				f'{k}: {a[mid][k]!r} vs {b[mid].get(k)!r}' for k in keys))


GROUPS = {
	'patchwork-series': group_patchwork_series,
	'patchwork-mail': group_patchwork_mail,
	'patchwork-fuzz': group_patchwork_fuzz,
	'b4': group_b4,
	'kbuild': group_kbuild,
	'oddities': group_oddities,
}


def main():
	ap = argparse.ArgumentParser(description=__doc__)
	ap.add_argument('--patchq', required=True, help='the patchq executable')
	ap.add_argument('--corpus', required=True, help='the shared corpus directory')
	ap.add_argument('--keep', action='store_true',
			help='keep the temporary directory (databases) for inspection')
	ap.add_argument('group', choices=sorted(GROUPS))
	args = ap.parse_args()

	if not os.path.isdir(args.corpus):
		print(f'SKIP: corpus directory {args.corpus} is absent')
		return EXIT_SKIP
	if not os.access(args.patchq, os.X_OK):
		print(f'FAIL: {args.patchq} is not an executable')
		return 1

	rep = Report(args.group)
	tmp = tempfile.mkdtemp(prefix=f'patchq-corpus-{args.group}-')
	t0 = time.monotonic()
	try:
		GROUPS[args.group](Env(args, tmp, rep), rep)
	except Skip as e:
		print(f'SKIP: {e}')
		return EXIT_SKIP
	except CommandFailed:
		pass
	except Exception:
		rep.fail('test error:\n' + traceback.format_exc())
	finally:
		if args.keep:
			print(f'kept {tmp}')
		else:
			shutil.rmtree(tmp, ignore_errors=True)
	dt = time.monotonic() - t0
	if rep.failures:
		print(f'\n{args.group}: {len(rep.failures)} of {rep.checks} checks FAILED '
		      f'({dt:.1f} s):')
		for f in rep.failures:
			print('  - ' + f.replace('\n', '\n    '))
		return 1
	print(f'\n{args.group}: all {rep.checks} checks passed ({dt:.1f} s)')
	return 0


if __name__ == '__main__':
	sys.exit(main())
