/*
 * patchq: the maintainer's command-line tool.
 *
 * Parses arguments, opens the database, calls libpatchq and prints. All
 * behaviour lives in lib/; this file only decides what to call and how to
 * say what happened.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "am.h"
#include "apply.h"
#include "approval.h"
#include "buf.h"
#include "checks.h"
#include "config.h"
#include "elsewhere.h"
#include "error.h"
#include "ingest.h"
#include "note.h"
#include "outbox.h"
#include "pipeline.h"
#include "push.h"
#include "rebuild.h"
#include "recover.h"
#include "repo.h"
#include "series.h"
#include "source.h"
#include "state.h"
#include "store.h"
#include "todo.h"
#include "token.h"
#include "triage.h"
#include "view.h"

static const char usage_text[] =
	"usage: patchq [-c FILE | --db PATH] [--json] COMMAND [ARGS...]\n"
	"\n"
	"patchq keeps a kernel mailing list's patches in one SQLite database:\n"
	"messages, series and their versions, review trailers.\n"
	"\n"
	"Commands:\n"
	"  import PATH...      read mail into the database. PATH is an mbox or mboxrd\n"
	"                      file, a maildir, a public-inbox repository (v2 top\n"
	"                      directory or one git repository), or - for a single\n"
	"                      message on standard input (as an MTA pipe delivers it).\n"
	"                      A maildir's new/ and cur/ are read and left as they\n"
	"                      are. Importing the same mail again changes nothing.\n"
	"  stats               counts of messages by kind, series and duplicates\n"
	"  series              every series: version, patches received, completeness,\n"
	"                      state, and the queues it was taken for with its state\n"
	"                      on each; in creation order, or, with --limit, a page\n"
	"                      of the newest. Filters (all optional, combined):\n"
	"                      --queue Q (taken for Q), --state S (new, queued,\n"
	"                      approved, applying, applied, failed, rejected,\n"
	"                      superseded; on Q when --queue is given), --search\n"
	"                      TEXT (in the name or the submitter, any case),\n"
	"                      --since DATE (YYYY-MM-DD in UTC, or unix time);\n"
	"                      --limit N pages, --after ID continues below series\n"
	"                      ID (the \"next\" a page printed)\n"
	"  show SERIES         one series: cover letter, patches, the trailers given\n"
	"                      in replies, and the replies\n"
	"  messages            every message in arrival order\n"
	"  msg MSGID           one message as parsed (angle brackets optional)\n"
	"  unparsable          mail that could not be parsed, with the reasons\n"
	"  am SERIES           a git-am-ready mbox of the series with the collected\n"
	"                      trailers added to each patch\n"
	"  trailer accept SERIES MSGID-or-TRAILER-ID\n"
	"                      count a review trailer held back because its address\n"
	"                      is not its sender's (show lists them with their ids),\n"
	"                      or every such trailer of the reply MSGID; recorded\n"
	"                      with who and when ([alias] in -c FILE does it for an\n"
	"                      address a reviewer always uses)\n"
	"\n";

/* In two parts: C compilers need only take strings of 4095 bytes. */
static const char usage_queues[] =
	"Queue commands (they need the configuration, -c FILE):\n"
	"  triage              every complete new series: dry-run it against every\n"
	"                      queue, let the rules queue it, apply it where the rule\n"
	"                      allows it to go in automatically\n"
	"  why SERIES          which rules send the series where (every queue), why\n"
	"                      the others do not match, whether another tree took it\n"
	"                      or the merge window holds it; --json: {\"queues\",\n"
	"                      \"taken_elsewhere\", \"held\", \"rules\"}\n"
	"  check SERIES        dry-run the series against every queue and record the\n"
	"                      result: applies, or the file and hunk that conflict\n"
	"  checks SERIES [--queue Q] [--run]\n"
	"                      the results of the configured checks ([check \"NAME\"]:\n"
	"                      checkpatch, rustfmt, builds) on the tree the series\n"
	"                      makes on each queue: per check, queue and patch (or\n"
	"                      the whole series) pass, fail, timeout or error, exit\n"
	"                      status, seconds and the output's last lines; with\n"
	"                      --run, run them first on Q, or on every queue the\n"
	"                      series is on (a tree already checked is not checked\n"
	"                      again: its result is reused), exit 1 when one did not\n"
	"                      pass or the series does not apply; --json: a list of\n"
	"                      {\"name\", \"queue\", \"patch\", \"state\", \"exit\",\n"
	"                      \"seconds\", \"output\", ...}\n"
	"  apply SERIES --queue Q [--dry-run] [--note [N:]TEXT]...\n"
	"                      apply the series to queue Q: commits built in memory,\n"
	"                      the branch moved only if every patch applied; each\n"
	"                      --note N:TEXT goes into patch N's commit message just\n"
	"                      before the maintainer's Signed-off-by and into the\n"
	"                      reply, --note TEXT (no number) into the reply only\n"
	"  approve SERIES --queue Q [--force]\n"
	"                      a maintainer's approval: applies the series to Q, or,\n"
	"                      when patches are missing, once they arrive (triage);\n"
	"                      a superseded, RFC or taken-elsewhere series is refused\n"
	"                      (saying which) unless --force\n"
	"  reject SERIES [--queue Q] [--reason TEXT] [--reply]\n"
	"                      record a rejection (on Q, or everywhere); the series'\n"
	"                      replies not sent yet are withdrawn; with --reply, one\n"
	"                      to the list gives the reason\n"
	"  todo                what waits for the maintainer, per queue: series\n"
	"                      waiting for approval (rule, dry run), new versions of\n"
	"                      series on the queue, trailers that arrived after\n"
	"                      applying, series that stopped applying since the\n"
	"                      queue moved, what the last rebuild dropped; then the\n"
	"                      replies that failed or wait. The desk's front page\n"
	"                      shows the same\n";

static const char usage_branches[] =
	"  queue Q             the series applied to Q, in order, with their commits,\n"
	"                      then those waiting there for approval\n"
	"  rebuild Q           apply Q's series again on its base (rust-dev on\n"
	"                      rust-next), newest versions and late trailers in;\n"
	"                      reports the series that no longer apply (failed there,\n"
	"                      \"dropped by the rebuild of Q at TIME: why\"; a replaced\n"
	"                      version is superseded there); exit 1 when it dropped\n"
	"                      one; --json: the rebuild as data\n"
	"  push [REMOTE]       push every queue branch that is not frozen to REMOTE\n"
	"                      (default: patchq.pushRemote); only rebuilt queues\n"
	"                      (rust-dev) are forced\n"
	"  recover             finish or undo applications a crash interrupted\n"
	"  run                 one pass of the pipeline, as patchqd runs it after each\n"
	"                      batch of mail: recover, triage, the rebuilds that are\n"
	"                      due (a base moved, a newer version), the checks of a\n"
	"                      few series that wait (patchqd runs those on a worker of\n"
	"                      their own) and what waited for them, the replies due;\n"
	"                      exit 1 when a reply failed\n"
	"\n";

static const char usage_replies[] =
	"Replies to the list (composed when a series is applied, or when one a rule\n"
	"applies automatically does not apply there; see [reply] and [smtp]):\n"
	"  outbox              every reply: pending, sent or failed, with attempts and\n"
	"                      the server's last answer\n"
	"  outbox send         deliver the pending replies now (due or not) through\n"
	"                      [smtp]: a server, a sendmail program, or a maildir for a\n"
	"                      dry run; temporary failures are retried later\n"
	"  outbox preview SERIES\n"
	"                      the series' replies as they are or would be sent\n"
	"  outbox retry ID     a failed reply pending again (the cause was fixed)\n"
	"  outbox hold ID      keep a pending reply from going out until released\n"
	"  outbox release ID   let a held reply go with the next send ([reply] hold =\n"
	"                      true holds every reply when it is made)\n"
	"  outbox edit ID      edit a reply not sent yet in $VISUAL or $EDITOR (vi):\n"
	"                      its Subject and body; the other fields stay\n"
	"  reply rebase SERIES --queue Q\n"
	"                      ask the submitter to rebase: the \"does not apply\"\n"
	"                      reply for a series that failed on Q (or its dry run\n"
	"                      did); never for your own series\n"
	"\n"
	"Maintainers of the desk (patchqd's web pages and API; see [http]):\n"
	"  token new NAME      make NAME's token for the desk's actions and print it,\n"
	"                      once: only its hash is kept (revoke it to make another)\n"
	"  token list          the tokens' names, when made and last used\n"
	"  token revoke NAME   NAME's token no longer works\n"
	"\n";

static const char usage_options[] =
	"Options:\n"
	"  -c, --config FILE   the configuration (git-config format; default\n"
	"                      /etc/patchq/patchq.conf); its patchq.database is the\n"
	"                      database unless --db is given\n"
	"  --db PATH           the database (created when missing)\n"
	"  --queue Q           apply, approve, reject, checks: the queue\n"
	"  --run               checks: run the checks now, then print their results\n"
	"  --dry-run           apply: check only, move nothing\n"
	"  --force             approve: even a superseded, RFC or taken-elsewhere series\n"
	"  --reason TEXT       reject: why, recorded with the rejection\n"
	"  --reply             reject: a reply to the list with the reason\n"
	"  --note [N:]TEXT     apply: the maintainer's note on patch N (\"2:[ Reworded\n"
	"                      the title. - Miguel ]\"), or on the whole series\n"
	"                      without N:; repeatable; they replace the series' notes\n"
	"  --state S, --search TEXT, --since DATE, --limit N, --after ID\n"
	"                      series: filters and pages (see series); with --json\n"
	"                      and --limit the page is {\"items\": [...], \"next\": ID\n"
	"                      or null}\n"
	"  --json              print JSON instead of text: series, stats, messages,\n"
	"                      unparsable, show, msg, queue, todo, outbox, rebuild,\n"
	"                      why, checks\n"
	"                      (any other command refuses it: exit 2)\n"
	"  -o, --output FILE   am: write the mbox to FILE instead of standard output\n"
	"  --signoff IDENT     am: add \"Signed-off-by: IDENT\" last to each patch\n"
	"  --add-link FMT      am: add \"Link: FMT\" with %s replaced by the Message-ID\n"
	"  -q, --quiet         import: nothing on success (no progress, no summary),\n"
	"                      only warnings and errors\n"
	"  -h, --help          this text\n"
	"  --version           the program's version\n"
	"\n"
	"Exit status: 0 on success, 1 when the command failed (the reason is printed\n"
	"on standard error), 2 on a usage error.\n";

#define DEFAULT_CONFIG "/etc/patchq/patchq.conf"

struct options {
	const char *config;
	const char *db;
	const char *queue;
	const char *reason;
	int reply;
	struct pq_note *notes;
	size_t nnotes;
	struct pq_series_filter filter;
	int paged; /* --limit or --after given */
	int dry_run;
	const char *output;
	const char *signoff;
	const char *link;
	int json;
	int quiet;
	int force;
	int run_checks;
};

static void die_usage(const char *msg)
{
	fprintf(stderr, "patchq: %s\n(see patchq --help)\n", msg);
	exit(2);
}

/* A whole decimal number of at least min (and at most INT_MAX), else a usage error. */
static long long number_arg(const char *arg, const char *what, long long min)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > INT_MAX)
		die_usage(what);
	return v;
}

/* --since: YYYY-MM-DD (midnight UTC) or a unix time. */
static long long date_arg(const char *arg)
{
	struct tm tm;
	const char *end;

	if (strchr(arg, '-')) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(arg, "%Y-%m-%d", &tm);
		if (!end || *end)
			die_usage("--since takes YYYY-MM-DD or a unix time");
		return (long long)timegm(&tm);
	}
	return number_arg(arg, "--since takes YYYY-MM-DD or a unix time", 0);
}

/* What goes to a terminal carries no control characters from mail
 * (escape sequences in a subject, a name, a Message-ID). */
static int write_safe(FILE *f, const char *s, size_t len)
{
	struct pq_buf safe = PQ_BUF_INIT;
	int ret = 0;

	pq_view_text_safe(&safe, s, len);
	if (safe.len && fwrite(safe.ptr, 1, safe.len, f) != safe.len)
		ret = 1;
	pq_buf_free(&safe);
	return ret;
}

static int fail(const char *what)
{
	struct pq_buf b = PQ_BUF_INIT;

	pq_buf_addf(&b, "patchq: %s%s%s\n", what, *pq_error_last() ? ": " : "", pq_error_last());
	write_safe(stderr, b.ptr, b.len);
	pq_buf_free(&b);
	return 1;
}

static int print_buf(const struct pq_buf *b)
{
	if (write_safe(stdout, pq_buf_str(b), b->len))
		return 1;
	return fflush(stdout) ? 1 : 0;
}

/* ---- import ---- */

struct import_ctx {
	int progress;
	time_t last;
};

static void on_progress(void *arg, const struct pq_ingest_stats *st)
{
	struct import_ctx *ctx = arg;
	time_t now = time(NULL);

	if (!ctx->progress || now == ctx->last)
		return;
	ctx->last = now;
	fprintf(stderr, "\r  %zu read, %zu stored", st->read, st->stored);
}

static void on_warning(void *arg, const char *msg)
{
	fprintf(stderr, "%spatchq: warning: %s\n", ((struct import_ctx *)arg)->last ? "\n" : "",
		msg);
}

/*
 * One PATH through the same reader patchqd uses, with the cursor stored
 * under the absolute path ("stdin" for -). A maildir is read (new/ and
 * cur/) and left as it is: importing moves no file.
 */
static int import_one(struct pq_store *s, const char *path, const struct options *o)
{
	struct import_ctx ctx = { .progress = !o->quiet && isatty(2) };
	struct pq_source_spec spec = {
		.warn = on_warning,
		.progress = on_progress,
		.ctx = &ctx,
	};
	const struct pq_ingest_stats *st;
	struct pq_source_stats stats;
	struct pq_source *src;
	char *name = NULL;
	int ret;

	if (!strcmp(path, "-")) {
		spec.kind = PQ_SOURCE_STDIN;
		name = pq_strdup("stdin");
	} else if (!(name = realpath(path, NULL))) {
		return pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
	}
	spec.path = path;
	spec.name = name;
	if ((ret = pq_source_open(&src, &spec)) < 0) {
		free(name);
		return ret;
	}
	ret = pq_source_read(src, s, 0, &stats);
	pq_source_free(src);
	if (ctx.progress)
		fprintf(stderr, "\r  %zu read, %zu stored\n", stats.ingest.read,
			stats.ingest.stored);
	st = &stats.ingest;
	if (!o->quiet)
		printf("%s: read %zu, stored %zu, duplicates %zu (identical %zu, re-delivered %zu),"
		       " unparsable %zu, reused Message-IDs %zu\n",
		       path, st->read, st->stored, st->same_bytes + st->redelivered, st->same_bytes,
		       st->redelivered, st->unparsable, st->reused_id);
	if (ret == 0 && stats.unreadable)
		ret = pq_error_set(PQ_EIO, "%s: %zu file%s could not be read", path,
				   stats.unreadable, stats.unreadable == 1 ? "" : "s");
	free(name);
	return ret;
}

static int cmd_import(struct pq_store *s, int argc, char **argv, const struct options *o)
{
	struct pq_buf b = PQ_BUF_INIT;
	long long before;
	int i, status = 0;

	if (!argc)
		die_usage("import needs at least one PATH");
	if (pq_ingest_last_message(s, &before) < 0)
		return fail("import");
	for (i = 0; i < argc; i++)
		if (import_one(s, argv[i], o) < 0)
			status = fail("import");
	if (!o->quiet && pq_view_unparsable(s, before, &b, 0) == 0 && b.len) {
		printf("could not parse (kept raw, see `patchq unparsable`):\n");
		print_buf(&b);
	}
	pq_buf_free(&b);
	return status;
}

/* ---- listings ---- */

static long long series_arg(const char *arg)
{
	char *end;
	long long id = strtoll(arg, &end, 10);

	if (*end || id <= 0)
		die_usage("SERIES is a series number, as `patchq series` shows");
	return id;
}

static int report(int ret, struct pq_buf *b, const char *what)
{
	if (ret < 0) {
		pq_buf_free(b);
		return fail(what);
	}
	ret = print_buf(b);
	pq_buf_free(b);
	return ret;
}

static int cmd_am(struct pq_store *s, const struct pq_config *c, long long id,
		  const struct options *o)
{
	struct pq_am_options ao = { .signoff = o->signoff, .link = o->link, .config = c };
	struct pq_buf b = PQ_BUF_INIT;
	FILE *f = stdout;
	int ret;

	if ((ret = pq_am_write(s, id, &ao, &b)) < 0) {
		pq_buf_free(&b);
		return fail("am");
	}
	if (o->output && !(f = fopen(o->output, "w"))) {
		pq_buf_free(&b);
		pq_error_set(PQ_EIO, "%s", strerror(errno));
		return fail(o->output);
	}
	/* the mbox is data for git am, written as it is, unless to a terminal */
	if ((f == stdout && isatty(1) ? write_safe(f, pq_buf_str(&b), b.len)
				      : b.len && fwrite(b.ptr, 1, b.len, f) != b.len) ||
	    (f != stdout && fclose(f))) {
		pq_buf_free(&b);
		pq_error_set(PQ_EIO, "%s", strerror(errno));
		return fail(o->output ? o->output : "standard output");
	}
	pq_buf_free(&b);
	return 0;
}

/*
 * trailer accept SERIES WHAT: a trailer held back because its address is
 * not its sender's counts from now on; the maintainer is the configured
 * committer, else the login name.
 */
/* Who acts from the command line: the configured committer, else the login. */
static void cli_who(const struct pq_config *c, struct pq_buf *who)
{
	const char *login = getenv("USER");

	if (c)
		pq_buf_addf(who, "%s <%s>", c->committer_name, c->committer_email);
	else
		pq_buf_adds(who, login && *login ? login : "unknown");
}

/* Records a maintainer's action done from the command line (see token.h). */
static int record(struct pq_store *s, const struct pq_config *c, long long id, const char *queue,
		  const char *what, const char *reason)
{
	struct pq_buf who = PQ_BUF_INIT;
	int ret;

	cli_who(c, &who);
	ret = pq_token_record(s, id, queue, what, pq_buf_str(&who), reason, (long long)time(NULL));
	pq_buf_free(&who);
	return ret;
}

static int cmd_trailer(struct pq_store *s, const struct pq_config *c, int argc, char **argv)
{
	struct pq_buf who = PQ_BUF_INIT, b = PQ_BUF_INIT;
	int ret;

	(void)argc;
	cli_who(c, &who);
	ret = pq_series_trailer_accept(s, c, series_arg(argv[2]), argv[3], pq_buf_str(&who),
				       (int64_t)time(NULL), &b);
	pq_buf_free(&who);
	return report(ret, &b, "trailer accept");
}

static int cmd_token(struct pq_store *s, int argc, char **argv)
{
	struct pq_buf b = PQ_BUF_INIT;
	char token[PQ_TOKEN_HEX + 1];

	if (argc == 2 && !strcmp(argv[1], "list"))
		return report(pq_token_list(s, &b), &b, "token list");
	if (argc == 3 && !strcmp(argv[1], "revoke")) {
		if (pq_token_revoke(s, argv[2]) < 0)
			return fail("token revoke");
		printf("the token of %s no longer works\n", argv[2]);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "new"))
		die_usage("token takes new NAME, list or revoke NAME");
	if (pq_token_new(s, argv[2], (long long)time(NULL), token) < 0)
		return fail("token new");
	printf("%s\n", token);
	if (isatty(STDOUT_FILENO))
		fprintf(stderr, "the token of %s: keep it now, it is not shown again\n", argv[2]);
	return 0;
}

static int needs_config(const char *cmd)
{
	static const char *const cmds[] = { "why",    "check",	 "apply",   "approve", "reject",
					    "queue",  "recover", "rebuild", "push",    "triage",
					    "outbox", "run",	 "todo",    "reply",   "checks" };
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i]))
			return 1;
	return 0;
}

static int cmd_push(struct pq_repo *repo, const struct pq_config *c, const char *remote)
{
	size_t n;

	if (!remote)
		die_usage("push needs a REMOTE, or patchq.pushRemote in the configuration");
	if (pq_push_queues(repo, c, remote, &n) < 0)
		return fail("push");
	printf("pushed %zu queue branch(es) to %s\n", n, remote);
	return 0;
}

/* apply and approve: the report goes out whatever happened */
static int cmd_apply(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		     long long id, const struct options *o, int approve)
{
	struct pq_buf b = PQ_BUF_INIT, warning = PQ_BUF_INIT, forced = PQ_BUF_INIT;
	int ret;

	if (!o->queue)
		die_usage("apply and approve need --queue Q");
	if (o->nnotes && approve)
		die_usage("--note goes with apply");
	/* the notes are the series': recovery and rebuilds make the same commits */
	if (o->nnotes && !o->dry_run && pq_note_set(s, id, o->notes, o->nnotes) < 0)
		return fail("apply");
	/* superseded, RFC, taken elsewhere: the maintainer says so with --force */
	if (approve && pq_approval_warnings(s, id, &warning) < 0) {
		pq_buf_free(&warning);
		return fail("approve");
	}
	if (warning.len && !o->force) {
		pq_error_set(PQ_EPERM, "%s; --force approves it anyway", pq_buf_str(&warning));
		pq_buf_free(&warning);
		return fail("not approved");
	}
	if (warning.len) {
		pq_buf_addf(&forced, "forced: %s", pq_buf_str(&warning));
		printf("approving anyway (--force): %s\n", pq_buf_str(&warning));
	}
	pq_buf_free(&warning);
	ret = approve ? pq_approval_grant(s, c, repo, id, o->queue, &b)
		      : pq_apply_series(s, c, repo, id, o->queue, o->dry_run, &b);
	print_buf(&b);
	pq_buf_free(&b);
	if (!o->dry_run && ret != PQ_EDB && ret != PQ_ENOTFOUND && ret != PQ_EINVAL &&
	    record(s, c, id, o->queue, approve ? "approve" : "apply",
		   ret < 0	? pq_error_last()
		   : forced.len ? pq_buf_str(&forced)
				: NULL) < 0) {
		pq_buf_free(&forced);
		return fail("recording the action");
	}
	pq_buf_free(&forced);
	if (ret < 0)
		return fail(o->dry_run ? "would not apply" : "not applied");
	if (!approve)
		printf("%s series %lld %s %s\n", o->dry_run ? "would apply" : "applied", id,
		       o->dry_run ? "to" : "on", o->queue);
	return 0;
}

/* outbox retry|hold|release ID: done and recorded on the reply's series. */
static int cmd_reply_action(struct pq_store *s, const struct pq_config *c, const char *what,
			    long long id)
{
	struct pq_buf who = PQ_BUF_INIT;
	int ret;

	cli_who(c, &who);
	ret = pq_outbox_act(s, id, what, pq_buf_str(&who), (long long)time(NULL));
	pq_buf_free(&who);
	if (ret < 0)
		return fail("outbox");
	printf("reply %lld %s\n", id,
	       !strcmp(what, "retry")  ? "is pending again"
	       : !strcmp(what, "hold") ? "is held until released"
				       : "goes with the next send");
	return 0;
}

/* Runs the maintainer's editor on path, as git does: $VISUAL, $EDITOR, vi, through sh. */
static int run_editor(const char *path)
{
	const char *ed = getenv("VISUAL");
	pid_t pid;
	int status;

	if (!ed || !*ed)
		ed = getenv("EDITOR");
	if (!ed || !*ed)
		ed = "vi";
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return pq_error_set(PQ_EIO, "fork: %s", strerror(errno));
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "$0 \"$1\"", ed, path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return pq_error_set(PQ_EIO, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return pq_error_set(PQ_EIO, "the editor (%s) failed: the reply stays as it was",
				    ed);
	return 0;
}

/* outbox edit ID: the reply in the editor, stored when it changed and is fit to go. */
static int cmd_outbox_edit(struct pq_store *s, const struct pq_config *c, long long id)
{
	struct pq_buf text = PQ_BUF_INIT, who = PQ_BUF_INIT, edited = PQ_BUF_INIT;
	const char *tmpdir = getenv("TMPDIR");
	char path[PATH_MAX], chunk[4096];
	FILE *f = NULL;
	size_t n;
	int fd = -1, ret, changed = 0;

	if ((ret = pq_outbox_text(s, id, &text)) < 0)
		return fail("outbox edit");
	snprintf(path, sizeof(path), "%s/patchq-reply-%lld.XXXXXX.eml",
		 tmpdir && *tmpdir ? tmpdir : "/tmp", id);
	if ((fd = mkstemps(path, 4)) < 0 || write(fd, text.ptr, text.len) != (ssize_t)text.len ||
	    close(fd) < 0) {
		ret = pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if ((ret = run_editor(path)) < 0)
		goto out;
	if (!(f = fopen(path, "r"))) {
		ret = pq_error_set(PQ_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pq_buf_add(&edited, chunk, n);
	if (ferror(f) || memchr(pq_buf_str(&edited), '\0', edited.len)) {
		ret = pq_error_set(PQ_EINVAL, "%s: unreadable, or a NUL byte", path);
		goto out;
	}
	cli_who(c, &who);
	ret = pq_outbox_edit(s, id, pq_buf_str(&edited), pq_buf_str(&who), (long long)time(NULL),
			     &changed);
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (path[0] && strstr(path, "patchq-reply-"))
		unlink(path);
	pq_buf_free(&text);
	pq_buf_free(&who);
	pq_buf_free(&edited);
	if (ret < 0)
		return fail("outbox edit");
	printf("reply %lld %s\n", id, changed ? "edited (recorded)" : "unchanged");
	return 0;
}

static int cmd_outbox(struct pq_store *s, const struct pq_config *c, int argc, char **argv,
		      const struct options *o)
{
	struct pq_outbox_stats st;
	struct pq_buf b = PQ_BUF_INIT;
	int ret;

	if (argc == 1)
		return report(pq_outbox_list(s, NULL, &b, o->json, NULL), &b, "outbox");
	if (!strcmp(argv[1], "preview") && argc == 3)
		return report(pq_outbox_preview(s, c, series_arg(argv[2]), &b), &b, "outbox");
	if (argc == 3 &&
	    (!strcmp(argv[1], "retry") || !strcmp(argv[1], "hold") || !strcmp(argv[1], "release")))
		return cmd_reply_action(s, c, argv[1], series_arg(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "edit"))
		return cmd_outbox_edit(s, c, series_arg(argv[2]));
	if (strcmp(argv[1], "send") || argc != 2)
		die_usage("outbox takes nothing, send, preview SERIES, retry ID, hold ID, release "
			  "ID or edit ID");
	ret = pq_outbox_send(s, c, (int64_t)time(NULL), 1, 0, &b, &st);
	print_buf(&b);
	pq_buf_free(&b);
	if (ret < 0)
		return fail("outbox send");
	printf("%zu sent, %zu to retry, %zu refused\n", st.sent, st.retry, st.failed);
	return st.retry || st.failed ? 1 : 0;
}

/* reply rebase SERIES --queue Q: the "please rebase" a maintainer asks for, recorded. */
static int cmd_reply(struct pq_store *s, const struct pq_config *c, int argc, char **argv,
		     const struct options *o)
{
	long long id, reply;

	if (argc != 3 || strcmp(argv[1], "rebase"))
		die_usage("reply takes rebase SERIES --queue Q");
	if (!o->queue)
		die_usage("reply rebase needs --queue Q");
	id = series_arg(argv[2]);
	if (pq_apply_reply_rebase(s, c, id, o->queue, (int64_t)time(NULL), &reply) < 0 ||
	    record(s, c, id, o->queue, "ask to rebase", NULL) < 0)
		return fail("reply rebase");
	printf("reply %lld asks to rebase series %lld on %s%s\n", reply, id, o->queue,
	       c->reply.hold ? ", held until released (patchq outbox release)" : "");
	return 0;
}

/* One pipeline pass, as patchqd runs it after each batch of mail. */
static int cmd_run(struct pq_store *s, const struct pq_config *c, const struct options *o)
{
	struct pq_pipeline_stats st;
	struct pq_buf b = PQ_BUF_INIT;
	int ret = pq_pipeline_run(s, c, PQ_PIPELINE_RECOVER | PQ_PIPELINE_RUN_CHECKS,
				  (int64_t)time(NULL), &b, &st);

	print_buf(&b);
	pq_buf_free(&b);
	if (ret < 0)
		return fail("run");
	return st.retry || st.failed ? 1 : 0;
}

/* The maintainer's to-do, as the desk's front page shows it. */
static int cmd_todo(struct pq_store *s, const struct pq_config *c, const struct options *o)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_todo *t;

	if (pq_todo_load(s, c, &t) < 0)
		return fail("todo");
	pq_todo_write(t, o->json ? PQ_VIEW_JSON : PQ_VIEW_TEXT, &b);
	pq_todo_free(t);
	return report(0, &b, "todo");
}

/* The series listing: today's list, filtered, or a page of it. */
static int cmd_series(struct pq_store *s, int argc, const struct options *o)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_series_filter f = o->filter;
	long long next = 0;
	int ret;

	if (argc != 1)
		die_usage("series takes no argument (filters are options: see --help)");
	f.queue = o->queue;
	if (o->paged && !f.limit)
		f.limit = 50;
	ret = pq_view_series_page(s, &f, o->json ? PQ_VIEW_JSON : PQ_VIEW_TEXT, &b, &next);
	if (ret == 0 && !o->json && next)
		pq_buf_addf(&b, "next: --after %lld\n", next);
	return report(ret, &b, "series");
}

/*
 * rebuild Q: the report (or, with --json, the rebuild as data); exit 1
 * when the rebuild failed or dropped a series.
 */
static int cmd_rebuild(struct pq_store *s, const struct pq_config *c, struct pq_repo *repo,
		       const char *queue, const struct options *o)
{
	struct pq_buf b = PQ_BUF_INIT, js = PQ_BUF_INIT;
	size_t dropped = 0;
	int ret = pq_rebuild_queue(s, c, repo, queue, &b);

	if (!o->json || ret < 0)
		print_buf(&b);
	if (ret != PQ_EDB && ret != PQ_EINVAL &&
	    record(s, c, 0, queue, "rebuild", ret < 0 ? pq_error_last() : NULL) < 0)
		ret = PQ_EDB;
	if (ret < 0)
		ret = fail("rebuild");
	else if (pq_rebuild_last(s, queue, pq_buf_str(&b), o->json ? &js : NULL, &dropped) < 0)
		ret = fail("rebuild");
	else if (o->json && print_buf(&js))
		ret = 1;
	else if (dropped) {
		fprintf(stderr, "patchq: rebuild of %s dropped %zu series (they no longer apply)\n",
			queue, dropped);
		ret = 1;
	}
	pq_buf_free(&b);
	pq_buf_free(&js);
	return ret;
}

/* checks SERIES [--queue Q] [--run]: run them (on Q, or every queue of the series), then list. */
static int cmd_checks(struct pq_store *s, const struct pq_config *c, long long id,
		      const struct options *o)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_repo *repo = NULL;
	char **queues = NULL;
	size_t nq = 0, i;
	int ret = 0, bad = 0, r;

	if (o->queue && !pq_config_queue(c, o->queue)) {
		pq_error_set(PQ_EINVAL, "no queue \"%s\" in %s", o->queue, c->path);
		return fail("checks");
	}
	if (!o->run_checks)
		return report(pq_checks_list(s, id, o->queue, o->json, &b), &b, "checks");
	if (o->queue) {
		queues = pq_calloc(1, sizeof(*queues));
		queues[nq++] = pq_strdup(o->queue);
	} else if (pq_state_queues(s, id, &queues, &nq) < 0) {
		return fail("checks");
	}
	if (!nq) {
		pq_error_set(PQ_EINVAL, "series %lld is on no queue: give --queue Q", id);
		ret = fail("checks");
		goto out;
	}
	if (pq_repo_open(&repo, c->repository) < 0) {
		ret = fail("checks");
		goto out;
	}
	for (i = 0; i < nq; i++) {
		r = pq_checks_run(s, c, repo, id, queues[i], &b);
		/* what the run found goes to stderr when stdout carries JSON */
		write_safe(o->json ? stderr : stdout, pq_buf_str(&b), b.len);
		pq_buf_reset(&b);
		if (r == PQ_EGIT || r == PQ_EINVAL) {
			bad = 1;
			pq_buf_addf(&b, "patchq: checks on %s: %s\n", queues[i], pq_error_last());
			write_safe(stderr, b.ptr, b.len);
			pq_buf_reset(&b);
		} else if (r < 0) {
			ret = fail("checks");
			goto out;
		}
	}
	fflush(stdout);
	/* the results stored by this run: one not passing makes the exit status 1 */
	if ((r = pq_checks_list(s, id, o->queue, 1, &b)) < 0) {
		ret = fail("checks");
		goto out;
	}
	bad |= r > 0;
	if (o->json)
		ret = print_buf(&b);
	ret = ret ? ret : bad;
out:
	for (i = 0; i < nq; i++)
		free(queues[i]);
	free(queues);
	pq_buf_free(&b);
	pq_repo_free(repo);
	return ret;
}

/* The commands on the queues' repository: it is opened once for the command. */
static int run_git_cmd(struct pq_store *s, const struct pq_config *c, int argc, char **argv,
		       const struct options *o)
{
	struct pq_buf b = PQ_BUF_INIT;
	struct pq_repo *repo;
	const char *cmd = argv[0];
	int ret;

	if (pq_repo_open(&repo, c->repository) < 0)
		return fail(cmd);
	if (!strcmp(cmd, "recover")) {
		ret = report(pq_recover_run(s, c, repo, &b), &b, "recover");
	} else if (!strcmp(cmd, "triage")) {
		ret = report(pq_triage_run(s, c, repo, &b), &b, "triage");
	} else if (!strcmp(cmd, "push")) {
		ret = cmd_push(repo, c, argc > 1 ? argv[1] : c->push_remote);
	} else if (!strcmp(cmd, "rebuild")) {
		ret = cmd_rebuild(s, c, repo, argv[1], o);
	} else if (!strcmp(cmd, "why")) {
		/* the replies that arrived since the last pass may say another tree took it */
		ret = pq_elsewhere_scan(s, c, NULL, NULL);
		if (ret == 0)
			ret = pq_triage_explain(s, c, repo, series_arg(argv[1]), o->json, &b);
		ret = report(ret, &b, "why");
	} else if (!strcmp(cmd, "check")) {
		ret = report(pq_apply_check(s, c, repo, series_arg(argv[1]), &b), &b, "check");
	} else {
		ret = cmd_apply(s, c, repo, series_arg(argv[1]), o, !strcmp(cmd, "approve"));
	}
	pq_buf_free(&b);
	pq_repo_free(repo);
	return ret;
}

static int run_queue_cmd(struct pq_store *s, const struct pq_config *c, int argc, char **argv,
			 const struct options *o)
{
	struct pq_buf b = PQ_BUF_INIT;
	const char *cmd = argv[0];

	if (!c)
		die_usage("this command needs the configuration: -c FILE");
	if (!strcmp(cmd, "run") && argc == 1)
		return cmd_run(s, c, o);
	if (!strcmp(cmd, "todo")) {
		if (argc != 1)
			die_usage("todo takes no argument");
		return cmd_todo(s, c, o);
	}
	if (!strcmp(cmd, "outbox"))
		return cmd_outbox(s, c, argc, argv, o);
	if (!strcmp(cmd, "reply"))
		return cmd_reply(s, c, argc, argv, o);
	if (!strcmp(cmd, "recover") || !strcmp(cmd, "triage") || !strcmp(cmd, "push"))
		return run_git_cmd(s, c, argc, argv, o);
	if (argc != 2)
		die_usage(!strcmp(cmd, "queue") || !strcmp(cmd, "rebuild") ? "give one queue name"
									   : "give one SERIES");
	if (!strcmp(cmd, "queue")) {
		if (!pq_config_queue(c, argv[1])) {
			pq_error_set(PQ_EINVAL, "no queue \"%s\" in %s", argv[1], c->path);
			return fail("queue");
		}
		return report(pq_view_queue(s, argv[1], &b, o->json), &b, "queue");
	}
	if (!strcmp(cmd, "checks"))
		return cmd_checks(s, c, series_arg(argv[1]), o);
	if (!strcmp(cmd, "reject")) {
		long long reply = 0;

		if ((o->reply ? pq_approval_reject_reply(s, c, series_arg(argv[1]), o->queue,
							 o->reason, (int64_t)time(NULL), &reply)
			      : pq_approval_reject(s, series_arg(argv[1]), o->queue, o->reason)) <
			    0 ||
		    record(s, c, series_arg(argv[1]), o->queue, "reject", o->reason) < 0)
			return fail("reject");
		printf("rejected series %s%s%s\n", argv[1], o->queue ? " on " : "",
		       o->queue ? o->queue : "");
		if (reply)
			printf("reply %lld to the list%s (patchq outbox)\n", reply,
			       c->reply.hold ? ", held until released" : "");
		return 0;
	}
	return run_git_cmd(s, c, argc, argv, o);
}

/* Whether cmd prints JSON with --json (outbox: its listing). */
static int speaks_json(int argc, char **argv)
{
	static const char *const cmds[] = { "series",  "stats", "messages", "unparsable",
					    "show",    "msg",	"queue",    "todo",
					    "rebuild", "why",	"checks" };
	size_t i;

	if (!strcmp(argv[0], "outbox"))
		return argc == 1;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[0], cmds[i]))
			return 1;
	return 0;
}

static int run(struct pq_store *s, const struct pq_config *c, int argc, char **argv,
	       const struct options *o)
{
	struct pq_buf b = PQ_BUF_INIT;
	const char *cmd = argv[0];

	/* what prints text only says so rather than print text to a JSON reader */
	if (o->json && !speaks_json(argc, argv)) {
		fprintf(stderr,
			"patchq: %s prints no JSON (--json: series, stats, messages,"
			" unparsable, show, msg, queue, todo, outbox, rebuild, why,"
			" checks)\n",
			cmd);
		return 2;
	}

	if (needs_config(cmd))
		return run_queue_cmd(s, c, argc, argv, o);

	if (!strcmp(cmd, "import"))
		return cmd_import(s, argc - 1, argv + 1, o);
	if (!strcmp(cmd, "stats"))
		return report(pq_view_stats(s, &b, o->json), &b, "stats");
	if (!strcmp(cmd, "series"))
		return cmd_series(s, argc, o);
	if (!strcmp(cmd, "messages"))
		return report(pq_view_messages(s, &b, o->json), &b, "messages");
	if (!strcmp(cmd, "unparsable"))
		return report(pq_view_unparsable(s, 0, &b, o->json), &b, "unparsable");
	if (!strcmp(cmd, "token"))
		return cmd_token(s, argc, argv);
	if (!strcmp(cmd, "trailer") && (argc != 4 || strcmp(argv[1], "accept")))
		die_usage("trailer takes accept SERIES MSGID-or-TRAILER-ID");
	if (argc != 2 && (!strcmp(cmd, "show") || !strcmp(cmd, "msg") || !strcmp(cmd, "am")))
		die_usage(!strcmp(cmd, "msg") ? "msg takes one MSGID" : "give one SERIES");
	if (!strcmp(cmd, "show"))
		return report(pq_view_series_show(s, c, series_arg(argv[1]), &b, o->json), &b,
			      "show");
	if (!strcmp(cmd, "trailer"))
		return cmd_trailer(s, c, argc, argv);
	if (!strcmp(cmd, "msg"))
		return report(pq_view_message(s, argv[1], &b, o->json), &b, "msg");
	if (!strcmp(cmd, "am"))
		return cmd_am(s, c, series_arg(argv[1]), o);
	fprintf(stderr, "patchq: unknown command '%s'\n(see patchq --help)\n", cmd);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "queue", required_argument, NULL, 'Q' },
		{ "reason", required_argument, NULL, 'r' },
		{ "reply", no_argument, NULL, 'R' },
		{ "note", required_argument, NULL, 'N' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "state", required_argument, NULL, 'S' },
		{ "search", required_argument, NULL, 'F' },
		{ "since", required_argument, NULL, 'D' },
		{ "limit", required_argument, NULL, 'L' },
		{ "after", required_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "signoff", required_argument, NULL, 's' },
		{ "add-link", required_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "force", no_argument, NULL, 'f' },
		{ "run", no_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { 0 };
	struct pq_config *conf = NULL;
	struct pq_store *s;
	int c, status;

	while ((c = getopt_long(argc, argv, "c:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'd':
			o.db = optarg;
			break;
		case 'Q':
			o.queue = optarg;
			break;
		case 'r':
			o.reason = optarg;
			break;
		case 'R':
			o.reply = 1;
			break;
		case 'N':
			o.notes = pq_reallocarray(o.notes, o.nnotes + 1, sizeof(*o.notes));
			if (pq_note_parse(optarg, &o.notes[o.nnotes]) < 0)
				die_usage(pq_error_last());
			o.nnotes++;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case 'S':
			o.filter.state = optarg;
			break;
		case 'F':
			o.filter.search = optarg;
			break;
		case 'D':
			o.filter.since = date_arg(optarg);
			break;
		case 'L':
			o.filter.limit =
				(int)number_arg(optarg, "--limit takes a number from 1", 1);
			o.paged = 1;
			break;
		case 'A':
			o.filter.after = number_arg(optarg, "--after takes a series number", 1);
			o.paged = 1;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 's':
			o.signoff = optarg;
			break;
		case 'l':
			o.link = optarg;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'f':
			o.force = 1;
			break;
		case 'X':
			o.run_checks = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(usage_queues, stdout);
			fputs(usage_branches, stdout);
			fputs(usage_replies, stdout);
			fputs(usage_options, stdout);
			return 0;
		case 'V':
			printf("patchq %s\n", PATCHQ_VERSION);
			return 0;
		default:
			fprintf(stderr, "(see patchq --help)\n");
			return 2;
		}
	}
	if (optind >= argc)
		die_usage("no command given");
	/* the default configuration only when nothing names a database */
	if (!o.config && !o.db && !access(DEFAULT_CONFIG, F_OK))
		o.config = DEFAULT_CONFIG;
	if (o.config && pq_config_load(&conf, o.config) < 0)
		return fail("configuration");
	if (!o.db && conf)
		o.db = conf->database;
	if (!o.db)
		die_usage("no database: give --db PATH or -c FILE");
	if (pq_store_open(&s, o.db) < 0) {
		pq_config_free(conf);
		return fail("cannot open the database");
	}
	status = run(s, conf, argc - optind, argv + optind, &o);
	pq_note_free(o.notes, o.nnotes);
	pq_store_close(s);
	pq_config_free(conf);
	return status;
}
