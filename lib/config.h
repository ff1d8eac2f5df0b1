/*
 * config: patchq's configuration, a git-config file read with libgit2.
 *
 * Kernel maintainers keep their tool settings in git-config syntax, so
 * patchq does too. Every key is checked: an unknown key or a bad value is
 * an error that names the file and line. The result is a plain struct the
 * rest of the library reads; SIGHUP in the daemon loads a new one and
 * swaps it in only when it loaded cleanly.
 *
 * Section and key names are case-insensitive, queue and rule names (the
 * quoted part) are not. tag, files and from may be repeated; any other key
 * given twice for the same section is an error. Include files ([include],
 * [includeIf]) are refused. Relative paths are relative to the directory
 * of the file; "~/" is the home directory.
 *
 *   [patchq]
 *           database = /var/lib/patchq/patchq.db
 *           repository = /var/lib/patchq/linux.git
 *           committer = Miguel Ojeda <ojeda@kernel.org>
 *           signoff = true                 # add the committer's Signed-off-by
 *           link = https://lore.kernel.org/r/%s
 *           committerDate = author         # author | mail | fixed:<unix time>
 *           gitFallback = true             # git apply --cached where libgit2 refuses
 *           threeWay = false               # with gitFallback: merge as git am -3 does
 *           pushRemote = origin            # where `patchq push` sends the queues
 *           checkDir = /var/lib/patchq/checks   # work trees of checks (default:
 *                                          # checks/ next to the database)
 *   [queue "rust-next"]
 *           branch = rust-next
 *           base = rust-next               # what a rebuild starts from
 *           rebuild = false                # may the branch be rebuilt (rust-dev: true)
 *           auto = false                   # series go in without approval
 *           frozen = false                 # never a target (rust)
 *           fastForward = true             # default !rebuild; true with rebuild: an error
 *           useBaseCommit = false          # may apply on the series' base-commit
 *           reply = true                   # tell the list when a series lands here
 *           holdInMergeWindow = false      # automatic intake waits while the base
 *                                          # carries vX.Y and no vX.(Y+1)-rc1 yet
 *   [rule "fixes"]                         # evaluated in file order, first match wins
 *           queue = rust-fixes
 *           tag = rust-fixes               # subject tag, a whole token
 *           fixes = true                   # has a Fixes: trailer
 *           stable = true                  # Cc: stable@(vger.)kernel.org, trailer or header
 *           prefix = rust kbuild           # "rust: ..." in a subject (repeatable)
 *           files = *.rs                   # some touched file matches (repeatable)
 *           allFiles = *.rs                # every touched file matches one (repeatable)
 *           notFiles = *.c                 # no touched file matches any (repeatable)
 *           shareFiles = *.rs              # with minShare: this percentage of the
 *           minShare = 50                  # changed lines at least is in these files
 *           from = *@kernel.org            # glob on the sender (repeatable)
 *           minReviews = 1                 # Reviewed-by + Acked-by at least
 *           rfc = false                    # match RFC series or not
 *           minVersion = 1
 *           auto = false                   # overrides the queue's auto
 *           fixesIn = rust-next            # a commit a Fixes: names is on that queue
 *           continue = false               # true: on matching, the later rules may
 *                                          # add other queues (first match per queue)
 *   [reply]                                # the mail to the list (patchq outbox)
 *           from = Miguel Ojeda <ojeda@kernel.org>   # default: the committer
 *           applied = Applied to `%s` -- thanks everyone!   # %s: the queue
 *           commitUrl = https://git.kernel.org/.../c/%s     # %s: a commit id
 *           signature = Miguel             # default: the from line
 *           failures = true                # reply when a series does not apply
 *           hold = false                   # every reply waits for `outbox release`
 *   [smtp]                                 # how the replies leave
 *           host = smtp.example.org        # or sendmail = /usr/sbin/sendmail,
 *           port = 587                     # or maildir = DIR (a dry run: kept there)
 *           tls = starttls                 # imaps-like: smtps | starttls | none
 *           verify = true
 *           caFile = /etc/ssl/my-ca.pem
 *           user = patchq                  # AUTH when given, with one of:
 *           passwordFile = /etc/patchq/smtp.pass
 *           credential = smtp.pass
 *   [source "lkml"]                        # where patchqd reads mail (repeatable)
 *           type = imap                    # imap | maildir | public-inbox
 *           host = imap.example.org        # imap: the server
 *           port = 993                     # default 993 (imaps), 143 otherwise
 *           tls = imaps                    # imaps | starttls | none (loopback only)
 *           verify = true                  # check the server certificate
 *           caFile = /etc/ssl/my-ca.pem    # trusted besides the system's CAs
 *           user = patchq
 *           passwordFile = /etc/patchq/imap.pass
 *           credential = imap.pass         # or: a file in $CREDENTIALS_DIRECTORY
 *           mailbox = INBOX                # repeatable: one connection each
 *           path = /var/mail/rust          # maildir or public-inbox: the directory
 *           pollInterval = 60              # seconds: IMAP without IDLE, public-inbox,
 *                                          # the maildir rescan behind inotify
 *           timeout = 60                   # imap: seconds the server may stay silent
 *   [http]                                 # patchqd serves the desk (none: no server)
 *           listen = 127.0.0.1:8080        # HOST:PORT, [IPv6]:PORT or unix:/PATH;
 *                                          # port 0: any free port (logged)
 *           timeout = 30                   # seconds a client may take per request
 *   [elsewhere "kbuild"]                   # another tree's maintainers (repeatable): their
 *           from = masahiroy@kernel.org nathan@kernel.org   # "Applied to ..." reply
 *           tree = linux-kbuild            # marks a series taken there (default: the name)
 *   [check "rustfmt"]                      # a check run on a series applied (repeatable)
 *           command = "sh -c 'rustfmt --check $(git ...)'"   # argv split on blanks;
 *                                          # '...' and \"...\" quote; no shell unless
 *                                          # the command is one (write the value in
 *                                          # double quotes when it holds ; or #)
 *           queues = rust-next rust-fixes  # or all (the default)
 *           per = series                   # series | patch (PATCHQ_PATCH: the patch)
 *           timeout = 600                  # seconds, 1 to 86400
 *           blocking = false               # a failure holds automatic application
 *           enabled = true
 *   [alias "Miguel Ojeda"]                 # one person's addresses (repeatable):
 *           address = ojeda@kernel.org     # a review trailer naming one counts when
 *           address = miguel.ojeda.sandonis@gmail.com   # sent from another
 */
#ifndef PQ_CONFIG_H
#define PQ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum pq_committer_date {
	PQ_DATE_AUTHOR, /* the committer date is the author date */
	PQ_DATE_MAIL,	/* the Date: of the mail that carried the patch */
	PQ_DATE_FIXED,	/* one configured time for every commit */
};

struct pq_queue_conf {
	char *name;
	char *branch;	  /* short name, without refs/heads/; unique among queues */
	char *base;	  /* ref a rebuild starts from; NULL: the branch itself */
	int rebuild;	  /* the branch may be rewritten by a rebuild */
	int automatic;	  /* series go in without approval */
	int frozen;	  /* never a target */
	int fast_forward; /* the branch only moves forward */
	int use_base_commit;
	int reply;		  /* a reply goes to the list when a series is applied here */
	int hold_in_merge_window; /* automatic intake waits while the merge window is open */
};

/* A tri-state for rule conditions: not given, must be false, must be true. */
enum pq_cond { PQ_COND_ANY = -1, PQ_COND_NO = 0, PQ_COND_YES = 1 };

struct pq_rule_conf {
	char *name;
	char *queue; /* target queue name */
	char **tags; /* subject tags, whole tokens, lower-case; any matches */
	size_t ntags;
	char **files; /* globs; any touched file matching any glob */
	size_t nfiles;
	char **all_files; /* globs; every touched file matching one of them */
	size_t nall_files;
	char **not_files; /* globs; no touched file matching any of them */
	size_t nnot_files;
	char **share_files; /* globs; with min_share */
	size_t nshare_files;
	int min_share;	 /* percent (1 to 100) of changed lines in share_files; 0: none */
	char **prefixes; /* subsystem prefixes of subjects ("rust"), lower-case; any */
	size_t nprefixes;
	char **from; /* globs on the sender address */
	size_t nfrom;
	enum pq_cond fixes;
	enum pq_cond stable; /* Cc: stable@ in a trailer or in the mail's To/Cc */
	enum pq_cond rfc;
	int min_reviews;	/* 0: no condition */
	int min_version;	/* 0: no condition */
	enum pq_cond automatic; /* ANY: the queue decides */
	char *fixes_in;		/* a queue: a commit named by Fixes: must be on it */
	int continues;		/* on a match the later rules may add other queues */
	char *checks;		/* "pass": automatic application waits for every check to pass */
	char *file;		/* where the rule was defined, for messages */
	int line;		/* of its [rule] header, 0 when it could not be found */
};

enum pq_source_type { PQ_SRC_IMAP = 1, PQ_SRC_MAILDIR, PQ_SRC_PUBLIC_INBOX };

enum pq_source_tls { PQ_TLS_IMPLICIT, PQ_TLS_STARTTLS, PQ_TLS_NONE };

struct pq_source_conf {
	char *name;
	enum pq_source_type type;
	char *path; /* maildir, public-inbox */
	char *host; /* imap */
	char *port; /* NULL: the default for tls */
	enum pq_source_tls tls;
	int verify;
	char *ca_file;
	char *user;
	char *password_file;
	char *credential; /* a name in $CREDENTIALS_DIRECTORY */
	char **mailboxes; /* at least one for imap ("INBOX" when none given) */
	size_t nmailboxes;
	int poll_interval; /* seconds */
	int timeout;	   /* imap: seconds one wait on the server may last (default 60) */
};

/* [smtp]: exactly one of host, sendmail and maildir. */
struct pq_smtp_conf {
	char *host;
	char *port;		/* NULL: 465 for smtps, 587 otherwise */
	enum pq_source_tls tls; /* PQ_TLS_IMPLICIT is smtps */
	int verify;
	char *ca_file;
	char *user; /* AUTH when given */
	char *password_file;
	char *credential;
	char *sendmail; /* a sendmail-compatible program */
	char *maildir;	/* a dry run: replies are written there, nothing is sent */
};

/* [alias "NAME"]: the addresses one person sends from (a mailmap). */
struct pq_alias_conf {
	char *name;
	char **addresses; /* lower-case, two or more; none in two aliases */
	size_t naddresses;
};

/*
 * [elsewhere "NAME"]: the maintainers of another tree. A reply of theirs in
 * a series' thread saying it was applied marks the series taken there.
 */
struct pq_elsewhere_conf {
	char *name;
	char *tree;  /* the tree named when their reply names none; default: name */
	char **from; /* bare addresses, lower-case, one or more; none in two sections */
	size_t nfrom;
};

/* [check "NAME"]: a command run on the tree a series makes (checks.h). */
enum pq_check_per { PQ_CHECK_PER_SERIES, PQ_CHECK_PER_PATCH };

/* The most checks patchqd runs at once (patchq.checkJobs). */
#define PQ_CHECK_JOBS_MAX 16

struct pq_check_conf {
	char *name;
	char *command; /* as written */
	char **argv;   /* command split, NULL-terminated, argc >= 1 */
	size_t argc;
	char **queues; /* queue names, each defined; none: every queue */
	size_t nqueues;
	enum pq_check_per per;
	int timeout;  /* seconds, 1 to 86400 (default 600) */
	int blocking; /* a failure holds automatic application (checks.h) */
	int enabled;  /* default true */
};

struct pq_reply_conf {
	char *from_name; /* default: the committer */
	char *from_email;
	char *applied;	  /* template, one %s: the queue */
	char *commit_url; /* template, one %s: the commit id; NULL: ids only */
	char *signature;  /* NULL: the from line */
	int failures;	  /* reply when a series does not apply on its queue */
	int hold;	  /* replies wait for a maintainer's release */
	int drop_notice;  /* a short mail to the submitter when a rebuild drops a series */
	int checks;	  /* a reply with what the checks said, once per series version */
};

/* [http]: where patchqd serves the desk (daemon/httpd.c). */
enum pq_http_family { PQ_HTTP_INET = 1, PQ_HTTP_INET6, PQ_HTTP_UNIX };

struct pq_http_conf {
	char *listen; /* as written */
	enum pq_http_family family;
	char *host;  /* the numeric address (IPv6 without brackets), or the socket's path */
	int port;    /* 0: any free port; unused for a unix socket */
	int timeout; /* seconds a client may take to send a request or read the answer */
};

struct pq_config {
	char *path;	/* as given to pq_config_load() */
	char *database; /* absolute when the file gave a relative path */
	char *repository;
	char *committer_name;
	char *committer_email;
	int signoff;
	char *link; /* printf-like template with one %s: the Message-ID */
	enum pq_committer_date committer_date;
	int64_t fixed_date; /* unix time, for PQ_DATE_FIXED */
	int git_fallback;
	int three_way;	   /* git am -3: merge what does not apply (needs git_fallback) */
	char *push_remote; /* remote name or URL for push, or NULL */
	char *check_dir;   /* where checks' work trees are made; absolute */
	int check_jobs;	   /* checks patchqd runs at once, 1 (default) to PQ_CHECK_JOBS_MAX */
	struct pq_queue_conf *queues;
	size_t nqueues;
	struct pq_rule_conf *rules; /* in file order */
	size_t nrules;
	struct pq_source_conf *sources;
	size_t nsources;
	struct pq_alias_conf *aliases;
	size_t naliases;
	struct pq_elsewhere_conf *elsewhere;
	size_t nelsewhere;
	struct pq_check_conf *checks; /* in file order */
	size_t nchecks;
	struct pq_reply_conf reply;
	struct pq_smtp_conf smtp;
	int has_smtp; /* an [smtp] section was given */
	struct pq_http_conf http;
	int has_http; /* an [http] section was given */
};

/*
 * Loads and checks the configuration at path into *out (NULL on failure).
 * Returns 0, or PQ_EINVAL with "FILE:LINE: what is wrong" in
 * pq_error_last() (the first problem found; "FILE: ..." for what has no
 * line, such as a missing required key), PQ_EIO when the file cannot be
 * read. Free with pq_config_free(), which accepts NULL.
 */
int pq_config_load(struct pq_config **out, const char *path);
void pq_config_free(struct pq_config *c);

/*
 * Reads a password when it is needed (so that a changed one is used): the
 * file, or else the file credential names in $CREDENTIALS_DIRECTORY
 * (systemd's LoadCredential=), without its trailing newline, into out.
 * Returns 0, PQ_EINVAL (no $CREDENTIALS_DIRECTORY, an empty password),
 * PQ_EIO (unreadable), PQ_EPERM (a file others may read or write: refused,
 * as ssh refuses such a key; a credential is not checked).
 */
int pq_config_secret(const char *file, const char *credential, struct pq_buf *out);

/*
 * 1 when addresses a and b are one person's: the same address (any case),
 * or two addresses of one [alias]. c may be NULL (no aliases). 0 otherwise,
 * and for a NULL or empty address.
 */
int pq_config_same_person(const struct pq_config *c, const char *a, const char *b);

/*
 * The [elsewhere] section one of whose maintainers sends from address
 * email (any case), or NULL (also for a NULL c or email); borrowed from c.
 */
const struct pq_elsewhere_conf *pq_config_elsewhere(const struct pq_config *c, const char *email);

/*
 * Splits command into words as [check] command does: blanks separate,
 * '...' keeps everything up to the next ' as it is, "..." too except that
 * \" and \\ stand for " and \; outside quotes a \ keeps the next character.
 * *argv (NULL-terminated, each word and the array malloc'd: free each and
 * it) and *argc on success. Returns 0, or PQ_EINVAL (an unterminated
 * quote, no word at all) with the reason set and *argv NULL.
 */
int pq_config_split_argv(const char *command, char ***argv, size_t *argc);

/* 1 when check k runs on queue (enabled, and all queues or one of its). */
int pq_config_check_on(const struct pq_check_conf *k, const char *queue);

/* The rule named name (case-sensitive), or NULL; borrowed from c. */
const struct pq_rule_conf *pq_config_rule(const struct pq_config *c, const char *name);

/* The queue named name (case-sensitive), or NULL; borrowed from c. */
const struct pq_queue_conf *pq_config_queue(const struct pq_config *c, const char *name);

#endif
