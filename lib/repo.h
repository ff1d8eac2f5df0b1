/*
 * repo: the queue repository, opened once and handed to every git operation.
 *
 * libgit2 is initialised once per process, on the first pq_repo_open() (or
 * pq_repo_init()), and never shut down: its per-thread state goes with each
 * thread, and starting it again costs about 10 ms (it re-reads the system's
 * certificate bundle). A struct pq_repo is one open repository; it is not
 * shared between threads (each worker opens its own).
 */
#ifndef PQ_REPO_H
#define PQ_REPO_H

struct pq_repo;
struct pq_packbuf;
struct git_repository;

/* Initialises libgit2 for the whole process; safe to call from any thread, any number of times. */
void pq_repo_init(void);

/*
 * Opens the repository at path itself (no search upwards, so a wrong path
 * is an error). Returns 0 or PQ_EIO ("cannot open repository PATH: why").
 * Free with pq_repo_free().
 */
int pq_repo_open(struct pq_repo **out, const char *path);
void pq_repo_free(struct pq_repo *r);

/* The path it was opened with, and libgit2's handle; both borrowed. */
const char *pq_repo_path(const struct pq_repo *r);
struct git_repository *pq_repo_git(struct pq_repo *r);

/*
 * The in-memory object backend (packbuf.h) in front of the repository's
 * object database, attached once at open: new objects go there until the
 * applier flushes or discards them. Borrowed.
 */
struct pq_packbuf *pq_repo_packbuf(struct pq_repo *r);

/* libgit2's message for its last failure in this thread ("unknown error" if none); borrowed. */
const char *pq_repo_git_error(void);

/*
 * The commit branch points at, in hex, into tip ("" on failure); branch is
 * a short name (refs/heads/ is added) or a full "refs/..." name (a tag is
 * peeled to its commit). Returns 0, PQ_ENOTFOUND when it does not exist,
 * PQ_EGIT when it cannot be read.
 */
int pq_repo_tip(struct pq_repo *r, const char *branch, char tip[41]);

/*
 * Whether rev (a commit id, possibly abbreviated) is reachable from the tip
 * of branch: 1 yes, 0 no (also when the repository does not know rev, or
 * branch does not exist), or a negative code when the repository could not
 * be read, so that a caller never mistakes a failure for "no".
 */
int pq_repo_contains(struct pq_repo *r, const char *branch, const char *rev);

struct pq_buf;

/*
 * Whether the merge window is open for branch (short or full name): the
 * newest release tag vX.Y (by version; vX.Y.Z and vX.Y-rcN are no
 * releases) reachable from its tip, and no tag vX.(Y+1)-rc1 (nor
 * v(X+1).0-rc1) anywhere in the repository yet. Returns 1 with "vX.Y
 * tagged, no vX.(Y+1)-rc1 yet" appended to why (may be NULL), 0 when it is
 * closed or no release is on the branch, PQ_ENOTFOUND when the branch does
 * not exist, PQ_EGIT when the repository cannot be read.
 */
int pq_repo_merge_window(struct pq_repo *r, const char *branch, struct pq_buf *why);

#endif
