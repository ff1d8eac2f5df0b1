/*
 * config: loading and checking patchq's git-config file (see config.h).
 *
 * libgit2 parses the file and hands us its entries in file order; each is
 * checked against the tables of known keys below and stored in struct
 * pq_config. libgit2 does not say on which line an entry was, so a small
 * scanner reads the text a second time to find where each entry and each
 * section header is: the "FILE:LINE:" of every message comes from there.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <git2.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "repo.h"

/* No real configuration comes near this; a larger file is a wrong path. */
#define CONFIG_MAX_SIZE (1024 * 1024)
#define DEFAULT_LINK "https://lore.kernel.org/r/%s"
#define DEFAULT_APPLIED "Applied to %s, thanks!"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The scanner: where entries and headers are in the text.
 *
 * It follows git's syntax closely enough to count lines right: comments,
 * quoted values holding '#' or ';', backslash-newline continuations,
 * "[section]", "[section \"sub\"]" and the old "[section.sub]". Names are
 * built the way libgit2 builds them (section and key lower-case, the
 * subsection as written), so an entry is matched by name and occurrence.
 */
struct scan_header {
	char *section; /* lower-case */
	char *sub;     /* NULL for a section without a name */
	int line;
};

struct scan_entry {
	char *name; /* "section.sub.key" as libgit2 names it */
	int line;
	int header; /* index in headers, -1 before the first header */
	int used;   /* already matched to a libgit2 entry */
};

struct scan {
	struct scan_header *headers;
	size_t nheaders;
	struct scan_entry *entries;
	size_t nentries;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* The index of the newline ending the line at i, or len. */
static size_t line_end(const char *s, size_t len, size_t i)
{
	while (i < len && s[i] != '\n')
		i++;
	return i;
}

/* Reads the header at s[*pos] == '['; returns -1 when it is malformed. */
static int scan_header(struct scan *sc, const char *s, size_t len, size_t *pos, int line)
{
	struct pq_buf name = PQ_BUF_INIT, sub = PQ_BUF_INIT;
	struct scan_header *h;
	size_t i = *pos + 1;
	int quoted = 0;
	char *dot;

	while (i < len && s[i] != ']' && s[i] != '"' && s[i] != '\n' && !is_blank(s[i]))
		pq_buf_addc(&name, (char)tolower((unsigned char)s[i++]));
	while (i < len && is_blank(s[i]))
		i++;
	if (i < len && s[i] == '"') {
		quoted = 1;
		for (i++; i < len && s[i] != '"' && s[i] != '\n'; i++) {
			if (s[i] == '\\' && i + 1 < len && s[i + 1] != '\n')
				i++;
			pq_buf_addc(&sub, s[i]);
		}
		if (i >= len || s[i] != '"')
			goto bad;
		i++;
	}
	if (i >= len || s[i] != ']' || !name.len)
		goto bad;
	*pos = i + 1;

	sc->headers = pq_reallocarray(sc->headers, sc->nheaders + 1, sizeof(*sc->headers));
	h = &sc->headers[sc->nheaders++];
	h->line = line;
	h->sub = NULL;
	if (quoted) {
		h->section = pq_buf_detach(&name);
		h->sub = pq_strndup(sub.ptr ? sub.ptr : "", sub.len);
	} else if ((dot = strchr(pq_buf_str(&name), '.'))) {
		/* [section.sub]: git lower-cases the whole of it. */
		h->section = pq_strndup(name.ptr, (size_t)(dot - name.ptr));
		h->sub = pq_strdup(dot + 1);
	} else {
		h->section = pq_buf_detach(&name);
	}
	pq_buf_free(&name);
	pq_buf_free(&sub);
	return 0;
bad:
	pq_buf_free(&name);
	pq_buf_free(&sub);
	return -1;
}

/* Skips a value from s[*pos], counting the lines its continuations take. */
static void scan_value(const char *s, size_t len, size_t *pos, int *line)
{
	size_t i = *pos;
	int quote = 0;

	while (i < len && s[i] != '\n') {
		if (s[i] == '\\') {
			if (i + 1 < len && s[i + 1] == '\n') {
				(*line)++;
				i += 2;
			} else if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') {
				(*line)++;
				i += 3;
			} else {
				i = i + 2 < len ? i + 2 : len;
			}
			continue;
		}
		if (s[i] == '"')
			quote = !quote;
		else if (!quote && (s[i] == '#' || s[i] == ';'))
			i = line_end(s, len, i) - 1;
		i++;
	}
	*pos = i;
}

/* Reads "key", "key = value" at s[*pos], a letter, under header cur. */
static void scan_entry(struct scan *sc, const char *s, size_t len, size_t *pos, int *line, int cur)
{
	struct pq_buf name = PQ_BUF_INIT;
	struct scan_entry *e;
	size_t i = *pos, key = *pos;
	int at = *line;

	while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '-'))
		i++;
	if (cur >= 0) {
		pq_buf_adds(&name, sc->headers[cur].section);
		if (sc->headers[cur].sub)
			pq_buf_addf(&name, ".%s", sc->headers[cur].sub);
		pq_buf_addc(&name, '.');
	}
	for (; key < i; key++)
		pq_buf_addc(&name, (char)tolower((unsigned char)s[key]));
	while (i < len && is_blank(s[i]))
		i++;
	if (i < len && s[i] == '=') {
		i++;
		scan_value(s, len, &i, line);
	} else if (i < len && s[i] != '\n' && s[i] != '#' && s[i] != ';') {
		/* Not an entry libgit2 would accept: it reports that itself. */
		*pos = line_end(s, len, i);
		pq_buf_free(&name);
		return;
	}
	*pos = line_end(s, len, i);
	if (cur < 0) {
		pq_buf_free(&name);
		return;
	}
	sc->entries = pq_reallocarray(sc->entries, sc->nentries + 1, sizeof(*sc->entries));
	e = &sc->entries[sc->nentries++];
	e->name = pq_buf_detach(&name);
	e->line = at;
	e->header = cur;
	e->used = 0;
	pq_buf_free(&name);
}

static void scan_text(struct scan *sc, const char *s, size_t len)
{
	size_t i = 0;
	int line = 1, cur = -1;

	if (len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < len) {
		char c = s[i];

		if (c == '\n') {
			line++;
			i++;
		} else if (is_blank(c)) {
			i++;
		} else if (c == '[') {
			/* A key may follow the header on the same line. */
			if (scan_header(sc, s, len, &i, line) == 0) {
				cur = (int)sc->nheaders - 1;
			} else {
				cur = -1;
				i = line_end(s, len, i);
			}
		} else if (isalpha((unsigned char)c)) {
			scan_entry(sc, s, len, &i, &line, cur);
		} else {
			/* Comments, and lines libgit2 refuses anyway. */
			i = line_end(s, len, i);
		}
	}
}

/*
 * The line of the next occurrence of entry name, 0 when unknown; the line
 * of the header it is under goes to *header_line.
 */
static int scan_find(struct scan *sc, const char *name, int *header_line)
{
	size_t i;

	*header_line = 0;
	for (i = 0; i < sc->nentries; i++) {
		struct scan_entry *e = &sc->entries[i];

		if (e->used || strcmp(e->name, name) != 0)
			continue;
		e->used = 1;
		*header_line = sc->headers[e->header].line;
		return e->line;
	}
	return 0;
}

/* The line of the first include.path or includeIf.*.path, 0 when none. */
static int scan_include(const struct scan *sc)
{
	size_t i;

	for (i = 0; i < sc->nentries; i++) {
		const struct scan_header *h = &sc->headers[sc->entries[i].header];
		const char *key = strrchr(sc->entries[i].name, '.') + 1;

		if ((!strcmp(h->section, "include") || !strcmp(h->section, "includeif")) &&
		    !strcmp(key, "path"))
			return sc->entries[i].line;
	}
	return 0;
}

static void scan_free(struct scan *sc)
{
	size_t i;

	for (i = 0; i < sc->nheaders; i++) {
		free(sc->headers[i].section);
		free(sc->headers[i].sub);
	}
	for (i = 0; i < sc->nentries; i++)
		free(sc->entries[i].name);
	free(sc->headers);
	free(sc->entries);
}

/*
 * The known keys. Names are spelt as documented and in messages; libgit2
 * hands them lower-case, so they are compared without case.
 */
enum kind {
	K_PATH,	     /* a path; relative to the file's directory, ~/ expanded */
	K_STRING,    /* any non-empty text */
	K_BOOL,	     /* int */
	K_COND,	     /* enum pq_cond */
	K_COUNT,     /* int, 0 or more */
	K_GLOBS,     /* a list, repeatable */
	K_TAGS,	     /* a list of subject tags, repeatable, stored lower-case */
	K_BRANCH,    /* a branch name */
	K_COMMITTER, /* "Name <email>" */
	K_DATE,	     /* author | mail | fixed:<unix time> */
	K_LINK,	     /* a template with one %s */
	K_WORD,	     /* one of a few words, checked with its section (source type, tls) */
	K_ADDRESS,   /* "Name <email>": name at off, email at count_off */
	K_TEMPLATE,  /* a template with one %s */
	K_EMAILS,    /* a list of bare addresses, repeatable, stored lower-case */
	K_MAILERS,   /* bare addresses separated by blanks, repeatable, lower-case */
	K_PREFIXES,  /* subject prefixes, blank-separated, repeatable, stored lower-case */
	K_ARGV,	     /* a command: the text at off, its words at count_off (argv) */
	K_WORDS,     /* names separated by blanks, once: the list at off, count after it */
	K_PER,	     /* patch | series */
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;	  /* the field in the section's struct */
	size_t count_off; /* for lists: the field counting them */
};

static const struct key patchq_keys[] = {
	{ "database", K_PATH, offsetof(struct pq_config, database), 0 },
	{ "repository", K_PATH, offsetof(struct pq_config, repository), 0 },
	{ "committer", K_COMMITTER, 0, 0 },
	{ "signoff", K_BOOL, offsetof(struct pq_config, signoff), 0 },
	{ "link", K_LINK, offsetof(struct pq_config, link), 0 },
	{ "committerDate", K_DATE, 0, 0 },
	{ "gitFallback", K_BOOL, offsetof(struct pq_config, git_fallback), 0 },
	{ "threeWay", K_BOOL, offsetof(struct pq_config, three_way), 0 },
	{ "pushRemote", K_STRING, offsetof(struct pq_config, push_remote), 0 },
	{ "checkDir", K_PATH, offsetof(struct pq_config, check_dir), 0 },
	{ "checkJobs", K_COUNT, offsetof(struct pq_config, check_jobs), 0 },
};

enum { PATCHQ_DATABASE, PATCHQ_REPOSITORY, PATCHQ_COMMITTER, PATCHQ_CHECK_JOBS = 10 };

static const struct key queue_keys[] = {
	{ "branch", K_BRANCH, offsetof(struct pq_queue_conf, branch), 0 },
	{ "base", K_STRING, offsetof(struct pq_queue_conf, base), 0 },
	{ "rebuild", K_BOOL, offsetof(struct pq_queue_conf, rebuild), 0 },
	{ "auto", K_BOOL, offsetof(struct pq_queue_conf, automatic), 0 },
	{ "frozen", K_BOOL, offsetof(struct pq_queue_conf, frozen), 0 },
	{ "fastForward", K_BOOL, offsetof(struct pq_queue_conf, fast_forward), 0 },
	{ "useBaseCommit", K_BOOL, offsetof(struct pq_queue_conf, use_base_commit), 0 },
	{ "reply", K_BOOL, offsetof(struct pq_queue_conf, reply), 0 },
	{ "holdInMergeWindow", K_BOOL, offsetof(struct pq_queue_conf, hold_in_merge_window), 0 },
};

enum { QUEUE_BRANCH, QUEUE_BASE, QUEUE_REBUILD, QUEUE_AUTO, QUEUE_FROZEN, QUEUE_FAST_FORWARD };

static const struct key rule_keys[] = {
	{ "queue", K_STRING, offsetof(struct pq_rule_conf, queue), 0 },
	{ "tag", K_TAGS, offsetof(struct pq_rule_conf, tags),
	  offsetof(struct pq_rule_conf, ntags) },
	{ "fixes", K_COND, offsetof(struct pq_rule_conf, fixes), 0 },
	{ "files", K_GLOBS, offsetof(struct pq_rule_conf, files),
	  offsetof(struct pq_rule_conf, nfiles) },
	{ "from", K_GLOBS, offsetof(struct pq_rule_conf, from),
	  offsetof(struct pq_rule_conf, nfrom) },
	{ "minReviews", K_COUNT, offsetof(struct pq_rule_conf, min_reviews), 0 },
	{ "rfc", K_COND, offsetof(struct pq_rule_conf, rfc), 0 },
	{ "minVersion", K_COUNT, offsetof(struct pq_rule_conf, min_version), 0 },
	{ "auto", K_COND, offsetof(struct pq_rule_conf, automatic), 0 },
	{ "fixesIn", K_STRING, offsetof(struct pq_rule_conf, fixes_in), 0 },
	{ "stable", K_COND, offsetof(struct pq_rule_conf, stable), 0 },
	{ "allFiles", K_GLOBS, offsetof(struct pq_rule_conf, all_files),
	  offsetof(struct pq_rule_conf, nall_files) },
	{ "notFiles", K_GLOBS, offsetof(struct pq_rule_conf, not_files),
	  offsetof(struct pq_rule_conf, nnot_files) },
	{ "shareFiles", K_GLOBS, offsetof(struct pq_rule_conf, share_files),
	  offsetof(struct pq_rule_conf, nshare_files) },
	{ "minShare", K_COUNT, offsetof(struct pq_rule_conf, min_share), 0 },
	{ "prefix", K_PREFIXES, offsetof(struct pq_rule_conf, prefixes),
	  offsetof(struct pq_rule_conf, nprefixes) },
	{ "continue", K_BOOL, offsetof(struct pq_rule_conf, continues), 0 },
	{ "checks", K_STRING, offsetof(struct pq_rule_conf, checks), 0 },
};

enum { RULE_QUEUE, RULE_FIXES_IN = 9, RULE_MIN_SHARE = 14, RULE_CHECKS = 17 };

static const struct key source_keys[] = {
	{ "type", K_WORD, 0, 0 },
	{ "path", K_PATH, offsetof(struct pq_source_conf, path), 0 },
	{ "host", K_STRING, offsetof(struct pq_source_conf, host), 0 },
	{ "port", K_STRING, offsetof(struct pq_source_conf, port), 0 },
	{ "tls", K_WORD, 0, 0 },
	{ "verify", K_BOOL, offsetof(struct pq_source_conf, verify), 0 },
	{ "caFile", K_PATH, offsetof(struct pq_source_conf, ca_file), 0 },
	{ "user", K_STRING, offsetof(struct pq_source_conf, user), 0 },
	{ "passwordFile", K_PATH, offsetof(struct pq_source_conf, password_file), 0 },
	{ "credential", K_STRING, offsetof(struct pq_source_conf, credential), 0 },
	{ "mailbox", K_GLOBS, offsetof(struct pq_source_conf, mailboxes),
	  offsetof(struct pq_source_conf, nmailboxes) },
	{ "pollInterval", K_COUNT, offsetof(struct pq_source_conf, poll_interval), 0 },
	{ "timeout", K_COUNT, offsetof(struct pq_source_conf, timeout), 0 },
};

enum {
	SOURCE_TYPE,
	SOURCE_PATH,
	SOURCE_HOST,
	SOURCE_PORT,
	SOURCE_TLS,
	SOURCE_USER = 7,
	SOURCE_PASSWORD_FILE,
	SOURCE_CREDENTIAL,
	SOURCE_POLL = 11,
	SOURCE_TIMEOUT,
};

struct section {
	const char *name;
	const struct key *keys;
	size_t nkeys;
	int named; /* [name "sub"] */
};

static const struct key reply_keys[] = {
	{ "from", K_ADDRESS, offsetof(struct pq_config, reply.from_name),
	  offsetof(struct pq_config, reply.from_email) },
	{ "applied", K_TEMPLATE, offsetof(struct pq_config, reply.applied), 0 },
	{ "commitUrl", K_TEMPLATE, offsetof(struct pq_config, reply.commit_url), 0 },
	{ "signature", K_STRING, offsetof(struct pq_config, reply.signature), 0 },
	{ "failures", K_BOOL, offsetof(struct pq_config, reply.failures), 0 },
	{ "hold", K_BOOL, offsetof(struct pq_config, reply.hold), 0 },
	{ "dropnotice", K_BOOL, offsetof(struct pq_config, reply.drop_notice), 0 },
	{ "checks", K_BOOL, offsetof(struct pq_config, reply.checks), 0 },
};

static const struct key smtp_keys[] = {
	{ "host", K_STRING, offsetof(struct pq_config, smtp.host), 0 },
	{ "port", K_STRING, offsetof(struct pq_config, smtp.port), 0 },
	{ "tls", K_WORD, 0, 0 },
	{ "verify", K_BOOL, offsetof(struct pq_config, smtp.verify), 0 },
	{ "caFile", K_PATH, offsetof(struct pq_config, smtp.ca_file), 0 },
	{ "user", K_STRING, offsetof(struct pq_config, smtp.user), 0 },
	{ "passwordFile", K_PATH, offsetof(struct pq_config, smtp.password_file), 0 },
	{ "credential", K_STRING, offsetof(struct pq_config, smtp.credential), 0 },
	{ "sendmail", K_PATH, offsetof(struct pq_config, smtp.sendmail), 0 },
	{ "maildir", K_PATH, offsetof(struct pq_config, smtp.maildir), 0 },
};

enum {
	SMTP_HOST,
	SMTP_PORT,
	SMTP_TLS,
	SMTP_USER = 5,
	SMTP_PASSWORD_FILE,
	SMTP_CREDENTIAL,
	SMTP_SENDMAIL,
	SMTP_MAILDIR,
};

static const struct key http_keys[] = {
	{ "listen", K_STRING, offsetof(struct pq_config, http.listen), 0 },
	{ "timeout", K_COUNT, offsetof(struct pq_config, http.timeout), 0 },
};

enum { HTTP_LISTEN, HTTP_TIMEOUT };

static const struct key alias_keys[] = {
	{ "address", K_EMAILS, offsetof(struct pq_alias_conf, addresses),
	  offsetof(struct pq_alias_conf, naddresses) },
};

static const struct key elsewhere_keys[] = {
	{ "from", K_MAILERS, offsetof(struct pq_elsewhere_conf, from),
	  offsetof(struct pq_elsewhere_conf, nfrom) },
	{ "tree", K_STRING, offsetof(struct pq_elsewhere_conf, tree), 0 },
};

enum { ELSEWHERE_FROM, ELSEWHERE_TREE };

static const struct key check_keys[] = {
	{ "command", K_ARGV, offsetof(struct pq_check_conf, command), 0 },
	{ "queues", K_WORDS, offsetof(struct pq_check_conf, queues),
	  offsetof(struct pq_check_conf, nqueues) },
	{ "per", K_PER, offsetof(struct pq_check_conf, per), 0 },
	{ "timeout", K_COUNT, offsetof(struct pq_check_conf, timeout), 0 },
	{ "blocking", K_BOOL, offsetof(struct pq_check_conf, blocking), 0 },
	{ "enabled", K_BOOL, offsetof(struct pq_check_conf, enabled), 0 },
};

enum { CHECK_COMMAND, CHECK_QUEUES, CHECK_PER, CHECK_TIMEOUT };

static const struct section sections[] = {
	{ "patchq", patchq_keys, ARRAY_SIZE(patchq_keys), 0 },
	{ "queue", queue_keys, ARRAY_SIZE(queue_keys), 1 },
	{ "rule", rule_keys, ARRAY_SIZE(rule_keys), 1 },
	{ "source", source_keys, ARRAY_SIZE(source_keys), 1 },
	{ "reply", reply_keys, ARRAY_SIZE(reply_keys), 0 },
	{ "smtp", smtp_keys, ARRAY_SIZE(smtp_keys), 0 },
	{ "alias", alias_keys, ARRAY_SIZE(alias_keys), 1 },
	{ "http", http_keys, ARRAY_SIZE(http_keys), 0 },
	{ "elsewhere", elsewhere_keys, ARRAY_SIZE(elsewhere_keys), 1 },
	{ "check", check_keys, ARRAY_SIZE(check_keys), 1 },
};

enum {
	SEC_PATCHQ,
	SEC_QUEUE,
	SEC_RULE,
	SEC_SOURCE,
	SEC_REPLY,
	SEC_SMTP,
	SEC_ALIAS,
	SEC_HTTP,
	SEC_ELSEWHERE,
	SEC_CHECK
};

/* Where each single-valued key of one section was set, to refuse twice. */
#define KEYS_MAX 24
_Static_assert(ARRAY_SIZE(patchq_keys) <= KEYS_MAX && ARRAY_SIZE(queue_keys) <= KEYS_MAX &&
		       ARRAY_SIZE(rule_keys) <= KEYS_MAX && ARRAY_SIZE(source_keys) <= KEYS_MAX,
	       "struct meta holds KEYS_MAX keys");

struct meta {
	int line;		/* of the section header, 0 when unknown */
	int key_line[KEYS_MAX]; /* where a key was set, 0 when unknown */
	unsigned seen;		/* one bit per key index */
};

struct loader {
	const char *path; /* as the caller gave it, for messages */
	char *dir;	  /* absolute directory of the file */
	struct scan scan;
	struct pq_config *c;
	struct meta top;
	struct meta reply;
	struct meta smtp;
	struct meta http;
	char *smtp_tls;	    /* as written */
	struct meta *qmeta; /* parallel to c->queues */
	struct meta *rmeta; /* parallel to c->rules */
	struct meta *smeta; /* parallel to c->sources */
	struct meta *ameta; /* parallel to c->aliases */
	struct meta *emeta; /* parallel to c->elsewhere */
	struct meta *cmeta; /* parallel to c->checks */
	char **stype;	    /* parallel to c->sources: type and tls as written */
	char **stls;
};

static int fail(struct loader *ld, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sets "FILE:LINE: message" (or "FILE: message" when line is 0). */
static int fail(struct loader *ld, int line, const char *fmt, ...)
{
	struct pq_buf b = PQ_BUF_INIT;
	va_list ap;

	if (line > 0)
		pq_buf_addf(&b, "%s:%d: ", ld->path, line);
	else
		pq_buf_addf(&b, "%s: ", ld->path);
	va_start(ap, fmt);
	pq_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	pq_error_set(PQ_EINVAL, "%s", pq_buf_str(&b));
	pq_buf_free(&b);
	return PQ_EINVAL;
}

static char *join_dir(const char *dir, const char *path)
{
	struct pq_buf b = PQ_BUF_INIT;
	size_t n = strlen(dir);

	if (path[0] == '/')
		return pq_strdup(path);
	pq_buf_adds(&b, dir);
	if (n && dir[n - 1] != '/')
		pq_buf_addc(&b, '/');
	pq_buf_adds(&b, path);
	return pq_buf_detach(&b);
}

/* The absolute directory of path, or NULL when the cwd is unknown. */
static char *config_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *cwd, *dir, *joined;

	if (path[0] == '/')
		return slash == path ? pq_strdup("/") : pq_strndup(path, (size_t)(slash - path));
	cwd = getcwd(NULL, 0);
	if (!cwd || !slash)
		return cwd;
	dir = pq_strndup(path, (size_t)(slash - path));
	joined = join_dir(cwd, dir);
	free(cwd);
	free(dir);
	return joined;
}

static int read_file(struct loader *ld, struct pq_buf *text)
{
	char chunk[8192];
	size_t n;
	FILE *f = fopen(ld->path, "r");

	if (!f)
		return pq_error_set(PQ_EIO, "%s: cannot open: %s", ld->path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		pq_buf_add(text, chunk, n);
		if (text->len > CONFIG_MAX_SIZE) {
			fclose(f);
			return fail(ld, 0, "larger than %d bytes: not a patchq configuration",
				    CONFIG_MAX_SIZE);
		}
	}
	if (ferror(f)) {
		int err = errno;

		fclose(f);
		return pq_error_set(PQ_EIO, "%s: cannot read: %s", ld->path, strerror(err));
	}
	fclose(f);
	return 0;
}

/*
 * Turns libgit2's "failed to parse config file: WHAT (in FILE:LINE, ...)"
 * into our "FILE:LINE: WHAT".
 */
static int fail_parse(struct loader *ld)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "cannot parse";
	const char *prefix = "failed to parse config file: ";
	const char *in = strstr(msg, " (in ");
	size_t plen = strlen(ld->path);
	int line = 0;

	if (!strncmp(msg, prefix, strlen(prefix)))
		msg += strlen(prefix);
	if (in && !strncmp(in + 5, ld->path, plen) && in[5 + plen] == ':') {
		line = atoi(in + 6 + plen);
		return fail(ld, line, "%.*s", (int)(in - msg), msg);
	}
	return fail(ld, 0, "%s", msg);
}

static int need_value(struct loader *ld, int line, const char *key, const char *value)
{
	if (!value || !*value)
		return fail(ld, line, "%s needs a value", key);
	return 0;
}

static int parse_committer(const char *v, char **name, char **email)
{
	const char *end = v + strlen(v), *lt, *gt, *p;
	const char *nend;

	while (isspace((unsigned char)*v))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	lt = memchr(v, '<', (size_t)(end - v));
	if (!lt || end[-1] != '>')
		return -1;
	gt = end - 1;
	for (nend = lt; nend > v && isspace((unsigned char)nend[-1]); nend--)
		;
	if (nend == v || gt == lt + 1)
		return -1;
	for (p = v; p < nend; p++)
		if (*p == '>' || *p == '\n')
			return -1;
	for (p = lt + 1; p < gt; p++)
		if (*p == '<' || *p == '>' || isspace((unsigned char)*p))
			return -1;
	*name = pq_strndup(v, (size_t)(nend - v));
	*email = pq_strndup(lt + 1, (size_t)(gt - lt - 1));
	return 0;
}

static int parse_date(struct pq_config *c, const char *v)
{
	const char *digits;
	char *end;
	long long t;

	if (!strcmp(v, "author")) {
		c->committer_date = PQ_DATE_AUTHOR;
		return 0;
	}
	if (!strcmp(v, "mail")) {
		c->committer_date = PQ_DATE_MAIL;
		return 0;
	}
	if (strncmp(v, "fixed:", 6) != 0)
		return -1;
	digits = v + 6 + (v[6] == '-');
	if (!isdigit((unsigned char)*digits))
		return -1;
	errno = 0;
	t = strtoll(v + 6, &end, 10);
	if (errno || *end)
		return -1;
	c->committer_date = PQ_DATE_FIXED;
	c->fixed_date = t;
	return 0;
}

/* A template printf can take with one string: exactly one %s, %% allowed. */
static int link_ok(const char *v)
{
	int n = 0;

	for (; *v; v++) {
		if (*v != '%')
			continue;
		if (v[1] == 's')
			n++;
		else if (v[1] != '%')
			return 0;
		v++;
	}
	return n == 1;
}

/* A bare address: one '@' with text on both sides, no blank, no <>, no
 * control character. */
static int email_ok(const char *v)
{
	const char *at = strchr(v, '@'), *p;

	if (!at || at == v || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("<>()[],;:\\\"", *p))
			return 0;
	return 1;
}

/* The name of the alias that has address email (lower-case), or NULL. */
static const char *alias_of(const struct pq_config *c, const char *email)
{
	size_t i, j;

	for (i = 0; i < c->naliases; i++)
		for (j = 0; j < c->aliases[i].naddresses; j++)
			if (!strcmp(c->aliases[i].addresses[j], email))
				return c->aliases[i].name;
	return NULL;
}

static void list_add(void *obj, const struct key *k, char *s)
{
	char ***list = (char ***)((char *)obj + k->off);
	size_t *n = (size_t *)((char *)obj + k->count_off);

	*list = pq_reallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = s;
}

static void set_string(void *obj, const struct key *k, char *s)
{
	char **field = (char **)((char *)obj + k->off);

	free(*field);
	*field = s;
}

/* Checks value for key k (named kname in messages) and stores it in obj. */
static int set_value(struct loader *ld, void *obj, struct meta *m, size_t ki, const struct key *k,
		     const char *kname, const char *value, int line)
{
	int b, err;
	int64_t n;

	if (k->kind != K_GLOBS && k->kind != K_TAGS && k->kind != K_EMAILS &&
	    k->kind != K_MAILERS && k->kind != K_PREFIXES) {
		if (m->seen & (1u << ki)) {
			if (m->key_line[ki])
				return fail(ld, line, "%s is set twice (first at line %d)", kname,
					    m->key_line[ki]);
			return fail(ld, line, "%s is set twice", kname);
		}
		m->seen |= 1u << ki;
		m->key_line[ki] = line;
	}

	switch (k->kind) {
	case K_BOOL:
	case K_COND:
		if (git_config_parse_bool(&b, value) < 0)
			return fail(ld, line, "%s: \"%s\" is not a boolean (true or false)", kname,
				    value);
		if (k->kind == K_BOOL)
			*(int *)((char *)obj + k->off) = b;
		else
			*(enum pq_cond *)((char *)obj + k->off) = b ? PQ_COND_YES : PQ_COND_NO;
		return 0;
	default:
		break;
	}

	if ((err = need_value(ld, line, kname, value)) < 0)
		return err;

	switch (k->kind) {
	case K_PATH: {
		/* ~/ is $HOME read now, as git reads it (libgit2's copy is the one seen at its start) */
		const char *home = getenv("HOME");
		struct pq_buf path = PQ_BUF_INIT;

		if (value[0] == '~' && value[1] && value[1] != '/')
			return fail(ld, line, "%s: \"%s\": only ~/ is expanded, not ~user", kname,
				    value);
		if (value[0] == '~' && (!home || !*home))
			return fail(ld, line, "%s: \"%s\": ~ needs HOME, which is not set", kname,
				    value);
		if (value[0] == '~')
			pq_buf_addf(&path, "%s%s", home, value + 1);
		else
			pq_buf_adds(&path, value);
		set_string(obj, k, join_dir(ld->dir, pq_buf_str(&path)));
		pq_buf_free(&path);
		return 0;
	}
	case K_STRING:
		set_string(obj, k, pq_strdup(value));
		return 0;
	case K_COUNT:
		if (git_config_parse_int64(&n, value) < 0)
			return fail(ld, line, "%s: \"%s\" is not a number", kname, value);
		if (n < 0 || n > INT_MAX)
			return fail(ld, line, "%s: %s is out of range (0 or more)", kname, value);
		*(int *)((char *)obj + k->off) = (int)n;
		return 0;
	case K_GLOBS:
		list_add(obj, k, pq_strdup(value));
		return 0;
	case K_TAGS: {
		char *tag = pq_strdup(value), *p;

		for (p = tag; *p; p++) {
			if (isspace((unsigned char)*p) || *p == '[' || *p == ']') {
				free(tag);
				return fail(
					ld, line,
					"%s: \"%s\" is not one subject tag (no spaces or brackets)",
					kname, value);
			}
			*p = (char)tolower((unsigned char)*p);
		}
		list_add(obj, k, tag);
		return 0;
	}
	case K_PREFIXES: {
		const char *p = value;

		for (;;) {
			size_t len, i;
			char *word;

			while (isspace((unsigned char)*p))
				p++;
			if (!*p)
				return 0;
			for (len = 0; p[len] && !isspace((unsigned char)p[len]); len++)
				if (p[len] == ':' || p[len] == '[' || p[len] == ']')
					return fail(
						ld, line,
						"%s: \"%s\": a prefix is the word before the "
						"subject's colon, without ':' or brackets (\"rust\" "
						"for \"rust: ...\")",
						kname, value);
			word = pq_strndup(p, len);
			for (i = 0; i < len; i++)
				word[i] = (char)tolower((unsigned char)word[i]);
			list_add(obj, k, word);
			p += len;
		}
	}
	case K_BRANCH:
		if (!strncmp(value, "refs/", 5))
			return fail(ld, line,
				    "%s: \"%s\": give the branch name without refs/heads/", kname,
				    value);
		if (git_branch_name_is_valid(&b, value) < 0 || !b)
			return fail(ld, line, "%s: \"%s\" is not a valid branch name", kname,
				    value);
		set_string(obj, k, pq_strdup(value));
		return 0;
	case K_COMMITTER: {
		char *name, *email;

		if (parse_committer(value, &name, &email) < 0)
			return fail(ld, line, "%s: \"%s\" is not of the form \"Name <email>\"",
				    kname, value);
		ld->c->committer_name = name;
		ld->c->committer_email = email;
		return 0;
	}
	case K_DATE:
		if (parse_date(ld->c, value) < 0)
			return fail(ld, line, "%s: \"%s\" is not author, mail or fixed:<unix time>",
				    kname, value);
		return 0;
	case K_ADDRESS: {
		char *name, *email;

		if (parse_committer(value, &name, &email) < 0)
			return fail(ld, line, "%s: \"%s\" is not of the form \"Name <email>\"",
				    kname, value);
		set_string(obj, k, name);
		free(*(char **)((char *)obj + k->count_off));
		*(char **)((char *)obj + k->count_off) = email;
		return 0;
	}
	case K_EMAILS: {
		char *email = pq_strdup(value), *p;
		const char *other;

		for (p = email; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!email_ok(email)) {
			free(email);
			return fail(ld, line,
				    "%s: \"%s\" is not one address (local@domain, without a name "
				    "or <>)",
				    kname, value);
		}
		if ((other = alias_of(ld->c, email))) {
			err = fail(ld, line, "%s: %s is already an address of alias \"%s\"", kname,
				   email, other);
			free(email);
			return err;
		}
		list_add(obj, k, email);
		return 0;
	}
	case K_MAILERS: {
		const char *p = value, *end;

		while (*p) {
			char *email;
			size_t i;

			while (*p && isspace((unsigned char)*p))
				p++;
			for (end = p; *end && !isspace((unsigned char)*end); end++)
				;
			if (end == p)
				break;
			email = pq_strndup(p, (size_t)(end - p));
			for (i = 0; email[i]; i++)
				email[i] = (char)tolower((unsigned char)email[i]);
			if (!email_ok(email)) {
				err = fail(ld, line,
					   "%s: \"%s\" is not an address (local@domain, without a "
					   "name or <>; several are separated by blanks)",
					   kname, email);
				free(email);
				return err;
			}
			list_add(obj, k, email);
			p = end;
		}
		return 0;
	}
	case K_ARGV: {
		struct pq_check_conf *check = obj;

		if (pq_config_split_argv(value, &check->argv, &check->argc) < 0)
			return fail(ld, line, "%s: %s", kname, pq_error_last());
		set_string(obj, k, pq_strdup(value));
		return 0;
	}
	case K_WORDS: {
		const char *p = value, *end;

		while (*p) {
			while (*p && isspace((unsigned char)*p))
				p++;
			for (end = p; *end && !isspace((unsigned char)*end); end++)
				;
			if (end == p)
				break;
			list_add(obj, k, pq_strndup(p, (size_t)(end - p)));
			p = end;
		}
		return 0;
	}
	case K_PER:
		if (!strcmp(value, "patch"))
			*(enum pq_check_per *)((char *)obj + k->off) = PQ_CHECK_PER_PATCH;
		else if (!strcmp(value, "series"))
			*(enum pq_check_per *)((char *)obj + k->off) = PQ_CHECK_PER_SERIES;
		else
			return fail(ld, line, "%s: \"%s\" is not patch or series", kname, value);
		return 0;
	case K_TEMPLATE:
		if (!link_ok(value))
			return fail(
				ld, line,
				"%s: \"%s\" must hold %%s exactly once and no other %% directive",
				kname, value);
		set_string(obj, k, pq_strdup(value));
		return 0;
	case K_LINK:
		if (!link_ok(value))
			return fail(
				ld, line,
				"%s: \"%s\" must hold %%s exactly once (the Message-ID) and no other %% directive",
				kname, value);
		set_string(obj, k, pq_strdup(value));
		return 0;
	default:
		return 0;
	}
}

static struct pq_queue_conf *queue_get(struct loader *ld, const char *name, int line,
				       struct meta **m)
{
	struct pq_config *c = ld->c;
	struct pq_queue_conf *q;
	size_t i;

	for (i = 0; i < c->nqueues; i++) {
		if (!strcmp(c->queues[i].name, name)) {
			*m = &ld->qmeta[i];
			return &c->queues[i];
		}
	}
	c->queues = pq_reallocarray(c->queues, c->nqueues + 1, sizeof(*c->queues));
	ld->qmeta = pq_reallocarray(ld->qmeta, c->nqueues + 1, sizeof(*ld->qmeta));
	q = &c->queues[c->nqueues];
	memset(q, 0, sizeof(*q));
	q->name = pq_strdup(name);
	q->reply = 1;
	*m = &ld->qmeta[c->nqueues++];
	memset(*m, 0, sizeof(**m));
	(*m)->line = line;
	return q;
}

static struct pq_rule_conf *rule_get(struct loader *ld, const char *name, int line, struct meta **m)
{
	struct pq_config *c = ld->c;
	struct pq_rule_conf *r;
	size_t i;

	for (i = 0; i < c->nrules; i++) {
		if (!strcmp(c->rules[i].name, name)) {
			*m = &ld->rmeta[i];
			return &c->rules[i];
		}
	}
	c->rules = pq_reallocarray(c->rules, c->nrules + 1, sizeof(*c->rules));
	ld->rmeta = pq_reallocarray(ld->rmeta, c->nrules + 1, sizeof(*ld->rmeta));
	r = &c->rules[c->nrules];
	memset(r, 0, sizeof(*r));
	r->name = pq_strdup(name);
	r->fixes = PQ_COND_ANY;
	r->stable = PQ_COND_ANY;
	r->rfc = PQ_COND_ANY;
	r->automatic = PQ_COND_ANY;
	r->file = pq_strdup(ld->path);
	r->line = line;
	*m = &ld->rmeta[c->nrules++];
	memset(*m, 0, sizeof(**m));
	(*m)->line = line;
	return r;
}

static struct pq_source_conf *source_get(struct loader *ld, const char *name, int line,
					 struct meta **m)
{
	struct pq_config *c = ld->c;
	struct pq_source_conf *src;
	size_t i, n = c->nsources;

	for (i = 0; i < n; i++) {
		if (!strcmp(c->sources[i].name, name)) {
			*m = &ld->smeta[i];
			return &c->sources[i];
		}
	}
	c->sources = pq_reallocarray(c->sources, n + 1, sizeof(*c->sources));
	ld->smeta = pq_reallocarray(ld->smeta, n + 1, sizeof(*ld->smeta));
	ld->stype = pq_reallocarray(ld->stype, n + 1, sizeof(*ld->stype));
	ld->stls = pq_reallocarray(ld->stls, n + 1, sizeof(*ld->stls));
	src = &c->sources[n];
	memset(src, 0, sizeof(*src));
	src->name = pq_strdup(name);
	src->verify = 1;
	ld->stype[n] = NULL;
	ld->stls[n] = NULL;
	*m = &ld->smeta[n];
	memset(*m, 0, sizeof(**m));
	(*m)->line = line;
	c->nsources++;
	return src;
}

static struct pq_alias_conf *alias_get(struct loader *ld, const char *name, int line,
				       struct meta **m)
{
	struct pq_config *c = ld->c;
	struct pq_alias_conf *a;
	size_t i;

	for (i = 0; i < c->naliases; i++) {
		if (!strcmp(c->aliases[i].name, name)) {
			*m = &ld->ameta[i];
			return &c->aliases[i];
		}
	}
	c->aliases = pq_reallocarray(c->aliases, c->naliases + 1, sizeof(*c->aliases));
	ld->ameta = pq_reallocarray(ld->ameta, c->naliases + 1, sizeof(*ld->ameta));
	a = &c->aliases[c->naliases];
	memset(a, 0, sizeof(*a));
	a->name = pq_strdup(name);
	*m = &ld->ameta[c->naliases++];
	memset(*m, 0, sizeof(**m));
	(*m)->line = line;
	return a;
}

static struct pq_elsewhere_conf *elsewhere_get(struct loader *ld, const char *name, int line,
					       struct meta **m)
{
	struct pq_config *c = ld->c;
	struct pq_elsewhere_conf *e;
	size_t i;

	for (i = 0; i < c->nelsewhere; i++) {
		if (!strcmp(c->elsewhere[i].name, name)) {
			*m = &ld->emeta[i];
			return &c->elsewhere[i];
		}
	}
	c->elsewhere = pq_reallocarray(c->elsewhere, c->nelsewhere + 1, sizeof(*c->elsewhere));
	ld->emeta = pq_reallocarray(ld->emeta, c->nelsewhere + 1, sizeof(*ld->emeta));
	e = &c->elsewhere[c->nelsewhere];
	memset(e, 0, sizeof(*e));
	e->name = pq_strdup(name);
	*m = &ld->emeta[c->nelsewhere++];
	memset(*m, 0, sizeof(**m));
	(*m)->line = line;
	return e;
}

static struct pq_check_conf *check_get(struct loader *ld, const char *name, int line,
				       struct meta **m)
{
	struct pq_config *c = ld->c;
	struct pq_check_conf *k;
	size_t i;

	for (i = 0; i < c->nchecks; i++) {
		if (!strcmp(c->checks[i].name, name)) {
			*m = &ld->cmeta[i];
			return &c->checks[i];
		}
	}
	c->checks = pq_reallocarray(c->checks, c->nchecks + 1, sizeof(*c->checks));
	ld->cmeta = pq_reallocarray(ld->cmeta, c->nchecks + 1, sizeof(*ld->cmeta));
	k = &c->checks[c->nchecks];
	memset(k, 0, sizeof(*k));
	k->name = pq_strdup(name);
	k->per = PQ_CHECK_PER_SERIES;
	k->timeout = 600;
	k->enabled = 1;
	*m = &ld->cmeta[c->nchecks++];
	memset(*m, 0, sizeof(**m));
	(*m)->line = line;
	return k;
}

static int section_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sections); i++)
		if (strlen(sections[i].name) == len && !strncmp(sections[i].name, name, len))
			return (int)i;
	return -1;
}

static int is_include(const char *section, size_t len)
{
	return (len == 7 && !strncmp(section, "include", 7)) ||
	       (len == 9 && !strncmp(section, "includeif", 9));
}

/* The message for a section patchq does not know, or knows but refuses. */
static int fail_section(struct loader *ld, int line, const char *what, const char *section,
			size_t len, const char *sub)
{
	int si = section_find(section, len);

	if (is_include(section, len))
		return fail(ld, line,
			    "%s: include files are not supported: put the settings in this file",
			    what);
	if (si < 0)
		return fail(
			ld, line,
			"%s: unknown section [%.*s]: patchq knows [patchq], [queue \"NAME\"], [rule \"NAME\"], [source \"NAME\"], [reply], [smtp], [http], [alias \"NAME\"], [elsewhere \"NAME\"] and [check \"NAME\"]",
			what, (int)len, section);
	if (sections[si].named && (!sub || !*sub))
		return fail(ld, line, "%s: %s %s needs a name: [%s \"NAME\"]", what,
			    strchr("aeiou", sections[si].name[0]) ? "an" : "a", sections[si].name,
			    sections[si].name);
	return fail(ld, line, "%s: [%s] takes no name", what, sections[si].name);
}

static int fail_key(struct loader *ld, int line, const char *name, const struct section *s)
{
	struct pq_buf keys = PQ_BUF_INIT;
	size_t i;
	int err;

	for (i = 0; i < s->nkeys; i++)
		pq_buf_addf(&keys, "%s%s", i ? ", " : "", s->keys[i].name);
	err = fail(ld, line, "%s: unknown key: [%s] takes %s", name, s->name, pq_buf_str(&keys));
	pq_buf_free(&keys);
	return err;
}

static int load_entry(struct loader *ld, const git_config_entry *e)
{
	const char *name = e->name, *dot1 = strchr(name, '.'), *dotn = strrchr(name, '.');
	const char *var;
	struct pq_buf kname = PQ_BUF_INIT;
	const struct section *s;
	struct meta *m = &ld->top;
	char *sub = NULL;
	void *obj = ld->c;
	int header_line, line, si, err;
	size_t ki;

	line = scan_find(&ld->scan, name, &header_line);
	/* libgit2 hands "section.key"; anything else (found by fuzzing) is refused */
	if (!dot1)
		return fail(ld, line, "\"%s\": a key outside any section", name);
	var = dotn + 1;
	if (dot1 != dotn)
		sub = pq_strndup(dot1 + 1, (size_t)(dotn - dot1 - 1));
	si = section_find(name, (size_t)(dot1 - name));
	if (si < 0 || sections[si].named != (sub && *sub)) {
		err = fail_section(ld, line, name, name, (size_t)(dot1 - name), sub);
		goto out;
	}
	s = &sections[si];
	for (ki = 0; ki < s->nkeys; ki++)
		if (!strcasecmp(var, s->keys[ki].name))
			break;
	if (ki == s->nkeys) {
		err = fail_key(ld, line, name, s);
		goto out;
	}
	if (si == SEC_QUEUE)
		obj = queue_get(ld, sub, header_line, &m);
	else if (si == SEC_RULE)
		obj = rule_get(ld, sub, header_line, &m);
	else if (si == SEC_SOURCE)
		obj = source_get(ld, sub, header_line, &m);
	else if (si == SEC_ALIAS)
		obj = alias_get(ld, sub, header_line, &m);
	else if (si == SEC_ELSEWHERE)
		obj = elsewhere_get(ld, sub, header_line, &m);
	else if (si == SEC_CHECK)
		obj = check_get(ld, sub, header_line, &m);
	else if (si == SEC_REPLY)
		m = &ld->reply;
	else if (si == SEC_SMTP)
		m = &ld->smtp;
	else if (si == SEC_HTTP)
		m = &ld->http;
	pq_buf_adds(&kname, s->name);
	if (sub)
		pq_buf_addf(&kname, ".%s", sub);
	pq_buf_addf(&kname, ".%s", s->keys[ki].name);
	err = set_value(ld, obj, m, ki, &s->keys[ki], pq_buf_str(&kname), e->value, line);
	if (!err && si == SEC_SMTP && ki == SMTP_TLS) {
		free(ld->smtp_tls);
		ld->smtp_tls = pq_strdup(e->value ? e->value : "");
	}
	if (!err && si == SEC_SOURCE && (ki == SOURCE_TYPE || ki == SOURCE_TLS)) {
		size_t n = (size_t)((struct pq_source_conf *)obj - ld->c->sources);
		char **as = ki == SOURCE_TYPE ? &ld->stype[n] : &ld->stls[n];

		free(*as);
		*as = pq_strdup(e->value ? e->value : "");
	}
out:
	pq_buf_free(&kname);
	free(sub);
	return err;
}

/*
 * A section header without any key gives libgit2 nothing to report: an
 * empty [queue] or [rule] still makes one (that fails the checks below), an
 * empty section patchq does not know is still an error.
 */
static int load_headers(struct loader *ld)
{
	size_t i;

	for (i = 0; i < ld->scan.nheaders; i++) {
		const struct scan_header *h = &ld->scan.headers[i];
		int si = section_find(h->section, strlen(h->section));
		struct pq_buf what = PQ_BUF_INIT;
		struct meta *m;
		int err;

		if (si >= 0 && sections[si].named == (h->sub && *h->sub)) {
			if (si == SEC_QUEUE)
				queue_get(ld, h->sub, h->line, &m);
			else if (si == SEC_RULE)
				rule_get(ld, h->sub, h->line, &m);
			else if (si == SEC_SOURCE)
				source_get(ld, h->sub, h->line, &m);
			else if (si == SEC_ALIAS)
				alias_get(ld, h->sub, h->line, &m);
			else if (si == SEC_ELSEWHERE)
				elsewhere_get(ld, h->sub, h->line, &m);
			else if (si == SEC_CHECK)
				check_get(ld, h->sub, h->line, &m);
			else if (si == SEC_SMTP && !ld->smtp.line)
				ld->smtp.line = h->line;
			if (si == SEC_SMTP)
				ld->c->has_smtp = 1;
			if (si == SEC_HTTP && !ld->http.line)
				ld->http.line = h->line;
			if (si == SEC_HTTP)
				ld->c->has_http = 1;
			continue;
		}
		pq_buf_addf(&what, "[%s", h->section);
		if (h->sub)
			pq_buf_addf(&what, " \"%s\"", h->sub);
		pq_buf_addc(&what, ']');
		err = fail_section(ld, h->line, pq_buf_str(&what), h->section, strlen(h->section),
				   h->sub);
		pq_buf_free(&what);
		return err;
	}
	return 0;
}

/* A port: a number from 1 to 65535, or a service name the system knows ("imaps"). */
static int check_port(struct loader *ld, int line, const char *section, const char *port)
{
	char *end;
	long n;

	if (!port)
		return 0;
	if (port[0] >= '0' && port[0] <= '9') {
		errno = 0;
		n = strtol(port, &end, 10);
		if (*end || errno || n < 1 || n > 65535)
			return fail(ld, line, "%s.port: \"%s\" is not a port (1 to 65535)", section,
				    port);
		return 0;
	}
	if (!getservbyname(port, "tcp"))
		return fail(ld, line,
			    "%s.port: \"%s\" is neither a port number nor a known service", section,
			    port);
	return 0;
}

/*
 * A password file others can read is refused, as ssh refuses such a key:
 * anyone on the machine would have the list's or the mailbox's password.
 * (A systemd credential is the service's own and is not checked.) A file
 * that does not exist yet is left to the first use.
 */
static int check_secret_file(struct loader *ld, int line, const char *section, const char *path)
{
	struct stat st;

	if (!path || stat(path, &st) < 0)
		return 0;
	if (st.st_mode & (S_IRWXO | S_IWGRP))
		return fail(ld, line,
			    "%s.passwordFile: %s is readable or writable by others (mode %04o): "
			    "chmod 600 it, or use a systemd credential",
			    section, path, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* A source's type, and the keys that type needs or refuses. */
static int check_source(struct loader *ld, size_t i)
{
	static const char *const types[] = { "imap", "maildir", "public-inbox" };
	static const char *const tls[] = { "imaps", "starttls", "none" };
	struct pq_source_conf *src = &ld->c->sources[i];
	struct meta *m = &ld->smeta[i];
	struct pq_buf section = PQ_BUF_INIT;
	const char *type = ld->stype[i];
	size_t k;

	if (!type)
		return fail(ld, m->line,
			    "source.%s.type is missing (imap, maildir or public-inbox)", src->name);
	for (k = 0; k < ARRAY_SIZE(types); k++)
		if (!strcmp(type, types[k]))
			src->type = (enum pq_source_type)(PQ_SRC_IMAP + (int)k);
	if (!src->type)
		return fail(ld, m->key_line[SOURCE_TYPE],
			    "source.%s.type: \"%s\" is not imap, maildir or public-inbox",
			    src->name, type);
	if (ld->stls[i]) {
		for (k = 0; k < ARRAY_SIZE(tls); k++)
			if (!strcmp(ld->stls[i], tls[k]))
				break;
		if (k == ARRAY_SIZE(tls))
			return fail(ld, m->key_line[SOURCE_TLS],
				    "source.%s.tls: \"%s\" is not imaps, starttls or none",
				    src->name, ld->stls[i]);
		src->tls = (enum pq_source_tls)k;
	}
	if (!(m->seen & (1u << SOURCE_POLL)))
		src->poll_interval = 60;
	else if (src->poll_interval < 1)
		return fail(ld, m->key_line[SOURCE_POLL],
			    "source.%s.pollInterval: at least 1 (second)", src->name);
	if (!(m->seen & (1u << SOURCE_TIMEOUT)))
		src->timeout = 60;
	else if (src->timeout < 1)
		return fail(ld, m->key_line[SOURCE_TIMEOUT],
			    "source.%s.timeout: at least 1 (second)", src->name);

	if (src->type != PQ_SRC_IMAP) {
		static const size_t imap_only[] = { SOURCE_HOST,	  SOURCE_PORT,
						    SOURCE_TLS,		  SOURCE_USER,
						    SOURCE_PASSWORD_FILE, SOURCE_CREDENTIAL,
						    SOURCE_TIMEOUT };

		if (!src->path)
			return fail(ld, m->line, "source.%s.path is missing (the %s directory)",
				    src->name, type);
		for (k = 0; k < ARRAY_SIZE(imap_only); k++)
			if (m->seen & (1u << imap_only[k]))
				return fail(ld, m->key_line[imap_only[k]],
					    "source.%s.%s: only an imap source takes it", src->name,
					    source_keys[imap_only[k]].name);
		if (src->nmailboxes)
			return fail(ld, m->line, "source.%s.mailbox: only an imap source takes it",
				    src->name);
		return 0;
	}
	if (src->path)
		return fail(ld, m->key_line[SOURCE_PATH],
			    "source.%s.path: an imap source takes host and mailbox instead",
			    src->name);
	if (!src->host)
		return fail(ld, m->line, "source.%s.host is missing", src->name);
	if (!src->user)
		return fail(ld, m->line, "source.%s.user is missing", src->name);
	if (!src->password_file == !src->credential)
		return fail(ld, m->line,
			    "source.%s needs exactly one of passwordFile and credential",
			    src->name);
	pq_buf_addf(&section, "source.%s", src->name);
	if (check_port(ld, m->key_line[SOURCE_PORT], section.ptr, src->port) < 0 ||
	    check_secret_file(ld, m->key_line[SOURCE_PASSWORD_FILE], section.ptr,
			      src->password_file) < 0) {
		pq_buf_free(&section);
		return PQ_EINVAL;
	}
	pq_buf_free(&section);
	if (!src->nmailboxes) {
		src->mailboxes = pq_calloc(1, sizeof(*src->mailboxes));
		src->mailboxes[src->nmailboxes++] = pq_strdup("INBOX");
	}
	return 0;
}

/* [smtp]: one way out, and only the keys that way takes. */
static int check_smtp(struct loader *ld)
{
	static const char *const tls[] = { "smtps", "starttls", "none" };
	static const size_t host_only[] = { SMTP_PORT, SMTP_TLS, SMTP_USER, SMTP_PASSWORD_FILE,
					    SMTP_CREDENTIAL };
	struct pq_smtp_conf *m = &ld->c->smtp;
	struct meta *meta = &ld->smtp;
	size_t k;

	if (!ld->c->has_smtp)
		return 0;
	if (!!m->host + !!m->sendmail + !!m->maildir != 1)
		return fail(ld, meta->line,
			    "smtp needs exactly one of host, sendmail and maildir (a dry run)");
	if (!m->host) {
		for (k = 0; k < ARRAY_SIZE(host_only); k++)
			if (meta->seen & (1u << host_only[k]))
				return fail(ld, meta->key_line[host_only[k]],
					    "smtp.%s: only with smtp.host",
					    smtp_keys[host_only[k]].name);
		return 0;
	}
	if (ld->smtp_tls) {
		for (k = 0; k < ARRAY_SIZE(tls); k++)
			if (!strcmp(ld->smtp_tls, tls[k]))
				break;
		if (k == ARRAY_SIZE(tls))
			return fail(ld, meta->key_line[SMTP_TLS],
				    "smtp.tls: \"%s\" is not smtps, starttls or none",
				    ld->smtp_tls);
		m->tls = (enum pq_source_tls)k;
	} else {
		m->tls = PQ_TLS_STARTTLS;
	}
	if (m->user && !m->password_file == !m->credential)
		return fail(ld, meta->key_line[SMTP_USER],
			    "smtp.user needs exactly one of passwordFile and credential");
	if (check_port(ld, meta->key_line[SMTP_PORT], "smtp", m->port) < 0 ||
	    check_secret_file(ld, meta->key_line[SMTP_PASSWORD_FILE], "smtp", m->password_file) < 0)
		return PQ_EINVAL;
	if (!m->user && (m->password_file || m->credential))
		return fail(ld, meta->line, "smtp: a password without smtp.user");
	return 0;
}

/* Digits only, 0 to 65535 (0: any free port). */
static int parse_listen_port(const char *s, int *port)
{
	long n = 0;

	if (!*s || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	if (n > 65535)
		return -1;
	*port = (int)n;
	return 0;
}

/* [http]: listen is HOST:PORT (numeric IPv4), [IPv6]:PORT or unix:/PATH. */
static int check_http(struct loader *ld)
{
	struct pq_http_conf *h = &ld->c->http;
	struct meta *m = &ld->http;
	int line = m->key_line[HTTP_LISTEN];
	const char *v = h->listen, *colon;
	unsigned char addr[sizeof(struct in6_addr)];
	char *host = NULL;

	if (!ld->c->has_http)
		return 0;
	if (!(m->seen & (1u << HTTP_TIMEOUT)))
		h->timeout = 30;
	else if (h->timeout < 1)
		return fail(ld, m->key_line[HTTP_TIMEOUT], "http.timeout: at least 1 (second)");
	if (!v)
		return fail(ld, m->line,
			    "http.listen is missing (127.0.0.1:8080, [::1]:8080 or unix:/PATH)");
	if (!strncmp(v, "unix:", 5)) {
		if (v[5] != '/')
			return fail(ld, line, "http.listen: \"%s\": unix: takes an absolute path",
				    v);
		if (strlen(v + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return fail(ld, line, "http.listen: \"%s\": the socket path is too long",
				    v);
		h->family = PQ_HTTP_UNIX;
		h->host = pq_strdup(v + 5);
		return 0;
	}
	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (!close || close[1] != ':')
			goto bad;
		host = pq_strndup(v + 1, (size_t)(close - v - 1));
		if (inet_pton(AF_INET6, host, addr) != 1)
			goto bad;
		h->family = PQ_HTTP_INET6;
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon)
			goto bad;
		host = pq_strndup(v, (size_t)(colon - v));
		if (inet_pton(AF_INET, host, addr) != 1)
			goto bad;
		h->family = PQ_HTTP_INET;
	}
	if (parse_listen_port(colon + 1, &h->port) < 0) {
		free(host);
		return fail(ld, line,
			    "http.listen: \"%s\": the port is not 0 to 65535 (0: any free port)",
			    v);
	}
	h->host = host;
	return 0;
bad:
	free(host);
	return fail(ld, line,
		    "http.listen: \"%s\" is not ADDRESS:PORT (a numeric IPv4 address, or an IPv6 "
		    "address in brackets: [::1]:8080) or unix:/PATH",
		    v);
}

/* A tree's name as shown: printable, one line, short. */
static int tree_ok(const char *v)
{
	const unsigned char *p;

	if (!*v || strlen(v) > 200)
		return 0;
	for (p = (const unsigned char *)v; *p; p++)
		if (*p < ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/*
 * [elsewhere]: at least one address each, none in two sections, none of
 * ours (our committer's or reply sender's: our "Applied to rust-next" is
 * not another tree's), a tree name (the section's by default).
 */
static int check_elsewhere(struct loader *ld)
{
	struct pq_config *c = ld->c;
	const struct pq_elsewhere_conf *other;
	size_t i, j;

	for (i = 0; i < c->nelsewhere; i++) {
		struct pq_elsewhere_conf *e = &c->elsewhere[i];
		struct meta *m = &ld->emeta[i];
		int line = m->key_line[ELSEWHERE_FROM] ? m->key_line[ELSEWHERE_FROM] : m->line;

		if (!e->nfrom)
			return fail(ld, m->line,
				    "elsewhere.%s.from is missing: the addresses of that tree's "
				    "maintainers",
				    e->name);
		if (e->tree && !tree_ok(e->tree))
			return fail(ld, m->key_line[ELSEWHERE_TREE],
				    "elsewhere.%s.tree: \"%s\" is not a tree name (one line, "
				    "printable, 200 characters at most)",
				    e->name, e->tree);
		if (!e->tree)
			e->tree = pq_strdup(e->name);
		for (j = 0; j < e->nfrom; j++) {
			if (pq_config_same_person(c, e->from[j], c->committer_email) ||
			    pq_config_same_person(c, e->from[j], c->reply.from_email))
				return fail(ld, line,
					    "elsewhere.%s.from: %s is our own address (the "
					    "committer or the reply sender), not another tree's",
					    e->name, e->from[j]);
			other = pq_config_elsewhere(c, e->from[j]);
			if (other && other != e)
				return fail(ld, line,
					    "elsewhere.%s.from: %s is already a maintainer of "
					    "elsewhere \"%s\"",
					    e->name, e->from[j], other->name);
		}
	}
	return 0;
}

/*
 * [check]: a command, known queues (or all), a timeout in range; checkDir
 * defaults to checks/ next to the database.
 */
static int check_checks(struct loader *ld)
{
	struct pq_config *c = ld->c;
	size_t i, j;

	for (i = 0; i < c->nchecks; i++) {
		struct pq_check_conf *k = &c->checks[i];
		struct meta *m = &ld->cmeta[i];
		int qline = m->key_line[CHECK_QUEUES] ? m->key_line[CHECK_QUEUES] : m->line;

		if (!k->argv)
			return fail(ld, m->line,
				    "check.%s.command is missing (the program and its "
				    "arguments)",
				    k->name);
		if (k->timeout < 1 || k->timeout > 86400)
			return fail(ld, m->key_line[CHECK_TIMEOUT],
				    "check.%s.timeout: %d is not 1 to 86400 (seconds)", k->name,
				    k->timeout);
		if (m->seen & (1u << CHECK_QUEUES) && !k->nqueues)
			return fail(ld, qline, "check.%s.queues: give queue names, or all",
				    k->name);
		for (j = 0; j < k->nqueues; j++) {
			if (!strcmp(k->queues[j], "all")) {
				if (k->nqueues > 1)
					return fail(
						ld, qline,
						"check.%s.queues: all, or queue names; not both",
						k->name);
				free(k->queues[0]);
				free(k->queues);
				k->queues = NULL;
				k->nqueues = 0;
				break;
			}
			if (!pq_config_queue(c, k->queues[j]))
				return fail(ld, qline,
					    "check.%s.queues: no queue \"%s\" is defined", k->name,
					    k->queues[j]);
		}
	}
	if (c->check_jobs > PQ_CHECK_JOBS_MAX)
		return fail(ld, ld->top.key_line[PATCHQ_CHECK_JOBS],
			    "patchq.checkJobs: %d is more than %d", c->check_jobs,
			    PQ_CHECK_JOBS_MAX);
	if (!c->check_jobs)
		c->check_jobs = 1;
	if (!c->check_dir && c->database) {
		const char *slash = strrchr(c->database, '/');
		struct pq_buf dir = PQ_BUF_INIT;

		/* the database is absolute (K_PATH), so a slash is there */
		if (slash)
			pq_buf_add(&dir, c->database, (size_t)(slash - c->database) + 1);
		pq_buf_adds(&dir, "checks");
		c->check_dir = pq_buf_detach(&dir);
	}
	return 0;
}

/* What no single entry shows: required keys, and how sections refer to each other. */
static int check_config(struct loader *ld)
{
	static const size_t required[] = { PATCHQ_DATABASE, PATCHQ_REPOSITORY, PATCHQ_COMMITTER };
	struct pq_config *c = ld->c;
	size_t i, j;
	int err;

	for (i = 0; i < ARRAY_SIZE(required); i++)
		if (!(ld->top.seen & (1u << required[i])))
			return fail(ld, 0, "patchq.%s is missing", patchq_keys[required[i]].name);

	for (i = 0; i < c->nqueues; i++) {
		struct pq_queue_conf *q = &c->queues[i];
		struct meta *m = &ld->qmeta[i];

		if (!q->branch)
			return fail(ld, m->line, "queue.%s.branch is missing", q->name);
		for (j = 0; j < i; j++)
			if (!strcmp(c->queues[j].branch, q->branch))
				return fail(
					ld, m->key_line[QUEUE_BRANCH],
					"queue.%s.branch: \"%s\" is already the branch of queue \"%s\"",
					q->name, q->branch, c->queues[j].name);
		if (!(m->seen & (1u << QUEUE_FAST_FORWARD)))
			q->fast_forward = !q->rebuild;
		else if (q->fast_forward && q->rebuild)
			return fail(
				ld, m->key_line[QUEUE_FAST_FORWARD],
				"queue.%s.fastForward: a queue that is rebuilt cannot be fast-forward only",
				q->name);
	}

	for (i = 0; i < c->nrules; i++) {
		struct pq_rule_conf *r = &c->rules[i];
		struct meta *m = &ld->rmeta[i];

		if (!r->queue)
			return fail(ld, m->line, "rule.%s.queue is missing", r->name);
		if (!pq_config_queue(c, r->queue))
			return fail(ld, m->key_line[RULE_QUEUE],
				    "rule.%s.queue: no queue \"%s\" is defined", r->name, r->queue);
		if (r->fixes_in && !pq_config_queue(c, r->fixes_in))
			return fail(ld, m->key_line[RULE_FIXES_IN],
				    "rule.%s.fixesIn: no queue \"%s\" is defined", r->name,
				    r->fixes_in);
		if (m->seen & (1u << RULE_MIN_SHARE) && (r->min_share < 1 || r->min_share > 100))
			return fail(ld, m->key_line[RULE_MIN_SHARE],
				    "rule.%s.minShare: %d is not a percentage from 1 to 100",
				    r->name, r->min_share);
		if (r->min_share && !r->nshare_files)
			return fail(
				ld, m->key_line[RULE_MIN_SHARE],
				"rule.%s.minShare needs shareFiles (the files whose share of the "
				"changed lines counts)",
				r->name);
		if (r->checks && strcmp(r->checks, "pass"))
			return fail(ld, m->key_line[RULE_CHECKS],
				    "rule.%s.checks: \"%s\": the one condition is \"pass\"",
				    r->name, r->checks);
		if (r->nshare_files && !r->min_share)
			return fail(
				ld, m->line,
				"rule.%s.shareFiles needs minShare (the percentage of the changed "
				"lines, 1 to 100)",
				r->name);
	}
	for (i = 0; i < c->nsources; i++) {
		if ((err = check_source(ld, i)) < 0)
			return err;
	}
	for (i = 0; i < c->naliases; i++)
		if (c->aliases[i].naddresses < 2)
			return fail(ld, ld->ameta[i].line,
				    "alias.%s needs two addresses or more (address = ...), the "
				    "addresses one person sends from",
				    c->aliases[i].name);
	if (!c->reply.from_name) {
		c->reply.from_name = pq_strdup(c->committer_name);
		c->reply.from_email = pq_strdup(c->committer_email);
	}
	if ((err = check_elsewhere(ld)) < 0 || (err = check_checks(ld)) < 0)
		return err;
	err = check_smtp(ld);
	return err < 0 ? err : check_http(ld);
}

static int load_entries(struct loader *ld, git_config *cfg)
{
	git_config_iterator *it;
	git_config_entry *e;
	int r, err = 0;

	if (git_config_iterator_new(&it, cfg) < 0)
		return pq_error_set(PQ_EIO, "%s: %s", ld->path, git_error_last()->message);
	while ((r = git_config_next(&e, it)) == 0) {
		if ((err = load_entry(ld, e)) < 0)
			break;
	}
	if (!err && r != GIT_ITEROVER)
		err = pq_error_set(PQ_EIO, "%s: %s", ld->path, git_error_last()->message);
	git_config_iterator_free(it);
	return err;
}

int pq_config_load(struct pq_config **out, const char *path)
{
	struct loader ld = { .path = path };
	struct pq_buf text = PQ_BUF_INIT;
	git_config *cfg = NULL;
	struct pq_config *c;
	int err, include;
	size_t i;

	*out = NULL;
	c = pq_calloc(1, sizeof(*c));
	c->path = pq_strdup(path);
	c->signoff = 1;
	c->link = pq_strdup(DEFAULT_LINK);
	c->committer_date = PQ_DATE_AUTHOR;
	c->git_fallback = 1;
	c->reply.applied = pq_strdup(DEFAULT_APPLIED);
	c->reply.failures = 1;
	c->smtp.verify = 1;
	ld.c = c;

	pq_repo_init();
	if ((err = read_file(&ld, &text)) < 0)
		goto out;
	ld.dir = config_dir(path);
	if (!ld.dir) {
		err = pq_error_set(PQ_EIO, "%s: cannot tell the current directory: %s", path,
				   strerror(errno));
		goto out;
	}
	scan_text(&ld.scan, text.ptr ? text.ptr : "", text.len);
	include = scan_include(&ld.scan);

	/* libgit2 would read an included file before we see the include. */
	if (git_config_open_ondisk(&cfg, path) < 0) {
		err = include ? fail(&ld, include,
				     "include.path: include files are not supported: put the settings in this file")
			      : fail_parse(&ld);
		goto out;
	}
	if ((err = load_entries(&ld, cfg)) < 0 || (err = load_headers(&ld)) < 0 ||
	    (err = check_config(&ld)) < 0)
		goto out;
	*out = c;
	c = NULL;
out:
	for (i = 0; i < ld.c->nsources; i++) {
		free(ld.stype[i]);
		free(ld.stls[i]);
	}
	git_config_free(cfg);
	pq_config_free(c);
	scan_free(&ld.scan);
	free(ld.dir);
	free(ld.qmeta);
	free(ld.rmeta);
	free(ld.smeta);
	free(ld.ameta);
	free(ld.emeta);
	free(ld.cmeta);
	free(ld.stype);
	free(ld.stls);
	free(ld.smtp_tls);
	pq_buf_free(&text);
	return err;
}

static void free_list(char **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void pq_config_free(struct pq_config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nqueues; i++) {
		free(c->queues[i].name);
		free(c->queues[i].branch);
		free(c->queues[i].base);
	}
	for (i = 0; i < c->nrules; i++) {
		struct pq_rule_conf *r = &c->rules[i];

		free(r->name);
		free(r->queue);
		free(r->fixes_in);
		free(r->checks);
		free_list(r->tags, r->ntags);
		free_list(r->files, r->nfiles);
		free_list(r->from, r->nfrom);
		free_list(r->all_files, r->nall_files);
		free_list(r->not_files, r->nnot_files);
		free_list(r->share_files, r->nshare_files);
		free_list(r->prefixes, r->nprefixes);
		free(r->file);
	}
	for (i = 0; i < c->nsources; i++) {
		struct pq_source_conf *src = &c->sources[i];

		free(src->name);
		free(src->path);
		free(src->host);
		free(src->port);
		free(src->ca_file);
		free(src->user);
		free(src->password_file);
		free(src->credential);
		free_list(src->mailboxes, src->nmailboxes);
	}
	free(c->sources);
	for (i = 0; i < c->naliases; i++) {
		free(c->aliases[i].name);
		free_list(c->aliases[i].addresses, c->aliases[i].naddresses);
	}
	free(c->aliases);
	for (i = 0; i < c->nelsewhere; i++) {
		free(c->elsewhere[i].name);
		free(c->elsewhere[i].tree);
		free_list(c->elsewhere[i].from, c->elsewhere[i].nfrom);
	}
	free(c->elsewhere);
	for (i = 0; i < c->nchecks; i++) {
		free(c->checks[i].name);
		free(c->checks[i].command);
		free_list(c->checks[i].argv, c->checks[i].argc);
		free_list(c->checks[i].queues, c->checks[i].nqueues);
	}
	free(c->checks);
	free(c->check_dir);
	free(c->reply.from_name);
	free(c->reply.from_email);
	free(c->reply.applied);
	free(c->reply.commit_url);
	free(c->reply.signature);
	free(c->smtp.host);
	free(c->smtp.port);
	free(c->smtp.ca_file);
	free(c->smtp.user);
	free(c->smtp.password_file);
	free(c->smtp.credential);
	free(c->smtp.sendmail);
	free(c->smtp.maildir);
	free(c->http.listen);
	free(c->http.host);
	free(c->queues);
	free(c->rules);
	free(c->path);
	free(c->database);
	free(c->repository);
	free(c->push_remote);
	free(c->committer_name);
	free(c->committer_email);
	free(c->link);
	free(c);
}

int pq_config_secret(const char *file, const char *credential, struct pq_buf *out)
{
	struct pq_buf path = PQ_BUF_INIT;
	char chunk[1024];
	struct stat st;
	size_t n;
	FILE *f;
	int rc = 0;

	if (file) {
		pq_buf_adds(&path, file);
	} else {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (!dir || !*dir)
			return pq_error_set(PQ_EINVAL,
					    "credential %s: $CREDENTIALS_DIRECTORY is not set "
					    "(LoadCredential= in the unit gives it)",
					    credential ? credential : "");
		pq_buf_addf(&path, "%s/%s", dir, credential ? credential : "");
	}
	f = fopen(path.ptr, "r");
	if (!f) {
		rc = pq_error_set(PQ_EIO, "password: %s: %s", path.ptr, strerror(errno));
		goto out;
	}
	if (file && fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXO | S_IWGRP))) {
		rc = pq_error_set(PQ_EPERM,
				  "password: %s is readable or writable by others (mode %04o): "
				  "chmod 600 it, or use a systemd credential",
				  path.ptr, (unsigned)(st.st_mode & 07777));
		fclose(f);
		goto out;
	}
	while (out->len < 4096 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pq_buf_add(out, chunk, n);
	fclose(f);
	memset(chunk, 0, sizeof(chunk));
	while (out->len && (out->ptr[out->len - 1] == '\n' || out->ptr[out->len - 1] == '\r'))
		out->len--;
	pq_buf_adds(out, "");
	if (!out->len)
		rc = pq_error_set(PQ_EINVAL, "password: %s is empty", path.ptr);
out:
	pq_buf_free(&path);
	return rc;
}

const struct pq_elsewhere_conf *pq_config_elsewhere(const struct pq_config *c, const char *email)
{
	size_t i, j;

	if (!c || !email)
		return NULL;
	for (i = 0; i < c->nelsewhere; i++)
		for (j = 0; j < c->elsewhere[i].nfrom; j++)
			if (!strcasecmp(c->elsewhere[i].from[j], email))
				return &c->elsewhere[i];
	return NULL;
}

const struct pq_rule_conf *pq_config_rule(const struct pq_config *c, const char *name)
{
	size_t i;

	for (i = 0; c && name && i < c->nrules; i++)
		if (!strcmp(c->rules[i].name, name))
			return &c->rules[i];
	return NULL;
}

const struct pq_queue_conf *pq_config_queue(const struct pq_config *c, const char *name)
{
	size_t i;

	if (!c || !name)
		return NULL;
	for (i = 0; i < c->nqueues; i++)
		if (!strcmp(c->queues[i].name, name))
			return &c->queues[i];
	return NULL;
}

int pq_config_same_person(const struct pq_config *c, const char *a, const char *b)
{
	size_t i, j;
	int in_a, in_b;

	if (!a || !b || !*a || !*b)
		return 0;
	if (!strcasecmp(a, b))
		return 1;
	for (i = 0; c && i < c->naliases; i++) {
		in_a = in_b = 0;
		for (j = 0; j < c->aliases[i].naddresses; j++) {
			in_a |= !strcasecmp(c->aliases[i].addresses[j], a);
			in_b |= !strcasecmp(c->aliases[i].addresses[j], b);
		}
		if (in_a || in_b)
			return in_a && in_b;
	}
	return 0;
}

int pq_config_split_argv(const char *command, char ***argv, size_t *argc)
{
	struct pq_buf word = PQ_BUF_INIT;
	const char *p = command;
	char **v = NULL;
	size_t n = 0;
	int in_word = 0;

	*argv = NULL;
	*argc = 0;
	for (;;) {
		if (!*p || isspace((unsigned char)*p)) {
			if (in_word) {
				v = pq_reallocarray(v, n + 2, sizeof(*v));
				v[n++] = pq_buf_detach(&word);
				v[n] = NULL;
				in_word = 0;
			}
			if (!*p)
				break;
			p++;
			continue;
		}
		in_word = 1;
		if (*p == '\'' || *p == '"') {
			char q = *p++;

			pq_buf_adds(&word, "");
			while (*p && *p != q) {
				if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				pq_buf_addc(&word, *p++);
			}
			if (!*p) {
				pq_buf_free(&word);
				free_list(v, n);
				return pq_error_set(PQ_EINVAL, "%c without its closing %c", q, q);
			}
			p++;
		} else if (*p == '\\' && p[1]) {
			pq_buf_addc(&word, p[1]);
			p += 2;
		} else {
			pq_buf_addc(&word, *p++);
		}
	}
	pq_buf_free(&word);
	if (!n) {
		free(v);
		return pq_error_set(PQ_EINVAL, "no program given");
	}
	*argv = v;
	*argc = n;
	return 0;
}

int pq_config_check_on(const struct pq_check_conf *k, const char *queue)
{
	size_t i;

	if (!k->enabled)
		return 0;
	if (!k->nqueues)
		return 1;
	for (i = 0; i < k->nqueues; i++)
		if (!strcmp(k->queues[i], queue))
			return 1;
	return 0;
}
