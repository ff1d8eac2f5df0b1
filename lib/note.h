/*
 * note: a maintainer's notes on a series, given when applying it.
 *
 * As maintainers write them in the kernel ("[ Reworded the title. -
 * Miguel ]"): a patch's note goes into that patch's commit message just
 * before the maintainer's Signed-off-by (am.c) and into the reply; the
 * series' note into the reply only (reply.c). They are kept with the
 * series (schema/0012), so that recovery and rebuilds make the same
 * commits.
 */
#ifndef PQ_NOTE_H
#define PQ_NOTE_H

#include <stddef.h>

#include "store.h"

/* One note: idx is the patch's number, 0 for the whole series. */
struct pq_note {
	int idx;
	char *text;
};

/*
 * Parses a --note argument: "N:TEXT" is patch N's note, anything else
 * (not starting with digits and a colon) the series' note. The text is
 * trimmed; it may span lines but holds no empty line (it stays inside the
 * commit's trailer block) and no control character but newlines and tabs.
 * Returns 0 (out->text allocated: free it), or PQ_EINVAL with the reason.
 */
int pq_note_parse(const char *arg, struct pq_note *out);

/*
 * Replaces the notes of series id by v[0..n), in a transaction of its own:
 * the notes given with one `apply` are the series' notes. A patch number
 * beyond the series' patches is refused. Returns 0, PQ_EINVAL (a number
 * the series has no patch for, two notes for one patch), PQ_ENOTFOUND (no
 * such series), PQ_EDB.
 */
int pq_note_set(struct pq_store *s, long long id, const struct pq_note *v, size_t n);

/*
 * The notes of series id, by number (the series' first), into *v and *n
 * (NULL and 0 when none). Returns 0 or PQ_EDB. Free with pq_note_free().
 */
int pq_note_load(struct pq_store *s, long long id, struct pq_note **v, size_t *n);

/* The note numbered idx in v[0..n), or NULL; borrowed. */
const char *pq_note_find(const struct pq_note *v, size_t n, int idx);

void pq_note_free(struct pq_note *v, size_t n);

#endif
