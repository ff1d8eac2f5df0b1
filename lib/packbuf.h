/*
 * packbuf: new git objects held in memory, written as one pack.
 *
 * Applying a series writes a few blobs, a few trees per directory level
 * and a commit for every patch. As loose objects that is one file, one
 * rename and often one directory per object, which on a kernel tree cost
 * more than the patching itself. A packbuf is an object database backend
 * placed in front of the repository's: every object written goes to
 * memory and is readable at once; flushing writes them all as one pack
 * (without deltas, so it is quick to make) through libgit2's indexer, and
 * discarding drops them (a dry run leaves nothing on disk).
 */
#ifndef PQ_PACKBUF_H
#define PQ_PACKBUF_H

#include <stddef.h>

#include <git2.h>

struct pq_packbuf;

/*
 * Puts a new packbuf in front of repo's object database; the database owns
 * it and frees it with the repository. Returns 0 or PQ_EGIT.
 */
int pq_packbuf_attach(struct pq_packbuf **out, git_repository *repo);

/* The bytes of object data held. */
size_t pq_packbuf_size(const struct pq_packbuf *pb);

/*
 * Writes what is held as one pack into the repository (nothing when it
 * holds nothing) and forgets it. Returns 0 or PQ_EGIT (then it still
 * holds everything).
 */
int pq_packbuf_flush(struct pq_packbuf *pb);

/*
 * Writes the held objects of type (GIT_OBJECT_ANY: all) as one pack into
 * objects_dir/pack (an object directory of its own, which must exist
 * with its pack/; nothing when none is held), and keeps holding them: for
 * a git command that must read objects not in the repository yet.
 * Returns 0 or PQ_EGIT.
 */
int pq_packbuf_copy(const struct pq_packbuf *pb, const char *objects_dir, git_object_t type);

/* Forgets what is held without writing it. */
void pq_packbuf_discard(struct pq_packbuf *pb);

#endif
