/*
 * packbuf: new git objects held in memory, written as one pack (see packbuf.h).
 *
 * The objects sit in an open-addressing hash table keyed by their id. The
 * pack is version 2 with every object whole (no deltas): per object a
 * type-and-size header and the zlib-deflated data, then the SHA-1 of it
 * all; libgit2's indexer checks it and writes the .idx beside it.
 */
#include "packbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <git2/sys/odb_backend.h>
#include <openssl/sha.h>
#include <zlib.h>

#include "alloc.h"
#include "buf.h"
#include "error.h"

struct object {
	git_oid id;
	git_object_t type;
	size_t len;
	unsigned char data[];
};

struct pq_packbuf {
	git_odb_backend parent; /* first: libgit2 hands us this pointer */
	git_odb *odb;		/* not owned */
	struct object **slot;
	size_t cap; /* a power of two, 0 before the first write */
	size_t count;
	size_t bytes;
};

static const char *git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

static size_t slot_of(const struct pq_packbuf *pb, const git_oid *id)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h)); /* an object id is already a good hash */
	return h & (pb->cap - 1);
}

static struct object *find(const struct pq_packbuf *pb, const git_oid *id)
{
	size_t i;

	if (!pb->cap)
		return NULL;
	for (i = slot_of(pb, id); pb->slot[i]; i = (i + 1) & (pb->cap - 1))
		if (git_oid_equal(&pb->slot[i]->id, id))
			return pb->slot[i];
	return NULL;
}

static void put(struct pq_packbuf *pb, struct object *o)
{
	size_t i = slot_of(pb, &o->id);

	while (pb->slot[i])
		i = (i + 1) & (pb->cap - 1);
	pb->slot[i] = o;
}

static void grow(struct pq_packbuf *pb)
{
	struct object **old = pb->slot;
	size_t i, n = pb->cap;

	pb->cap = n ? 2 * n : 1024;
	pb->slot = pq_calloc(pb->cap, sizeof(*pb->slot));
	for (i = 0; i < n; i++)
		if (old[i])
			put(pb, old[i]);
	free(old);
}

static int on_write(git_odb_backend *b, const git_oid *id, const void *data, size_t len,
		    git_object_t type)
{
	struct pq_packbuf *pb = (struct pq_packbuf *)b;
	struct object *o;

	if (find(pb, id))
		return 0;
	if (2 * (pb->count + 1) > pb->cap)
		grow(pb);
	o = pq_malloc(sizeof(*o) + len);
	git_oid_cpy(&o->id, id);
	o->type = type;
	o->len = len;
	memcpy(o->data, data, len);
	put(pb, o);
	pb->count++;
	pb->bytes += len;
	return 0;
}

static int on_read(void **out, size_t *len, git_object_t *type, git_odb_backend *b,
		   const git_oid *id)
{
	struct object *o = find((struct pq_packbuf *)b, id);

	if (!o)
		return GIT_ENOTFOUND;
	*out = git_odb_backend_data_alloc(b, o->len);
	if (!*out)
		return -1;
	memcpy(*out, o->data, o->len);
	*len = o->len;
	*type = o->type;
	return 0;
}

static int on_read_header(size_t *len, git_object_t *type, git_odb_backend *b, const git_oid *id)
{
	struct object *o = find((struct pq_packbuf *)b, id);

	if (!o)
		return GIT_ENOTFOUND;
	*len = o->len;
	*type = o->type;
	return 0;
}

static int on_exists(git_odb_backend *b, const git_oid *id)
{
	return find((struct pq_packbuf *)b, id) != NULL;
}

void pq_packbuf_discard(struct pq_packbuf *pb)
{
	size_t i;

	for (i = 0; i < pb->cap; i++)
		free(pb->slot[i]);
	free(pb->slot);
	pb->slot = NULL;
	pb->cap = pb->count = pb->bytes = 0;
}

static void on_free(git_odb_backend *b)
{
	pq_packbuf_discard((struct pq_packbuf *)b);
	free(b);
}

int pq_packbuf_attach(struct pq_packbuf **out, git_repository *repo)
{
	struct pq_packbuf *pb = pq_calloc(1, sizeof(*pb));

	*out = NULL;
	git_odb_init_backend(&pb->parent, GIT_ODB_BACKEND_VERSION);
	pb->parent.read = on_read;
	pb->parent.read_header = on_read_header;
	pb->parent.write = on_write;
	pb->parent.exists = on_exists;
	pb->parent.free = on_free;
	if (git_repository_odb(&pb->odb, repo) < 0) {
		free(pb);
		return pq_error_set(PQ_EGIT, "cannot open the object database: %s", git_msg());
	}
	/* above the loose and pack backends (priorities 1 and 2): writes come here */
	if (git_odb_add_backend(pb->odb, &pb->parent, 1000) < 0) {
		git_odb_free(pb->odb);
		free(pb);
		return pq_error_set(PQ_EGIT, "cannot add to the object database: %s", git_msg());
	}
	/* the repository holds the database, and the database holds us */
	git_odb_free(pb->odb);
	*out = pb;
	return 0;
}

size_t pq_packbuf_size(const struct pq_packbuf *pb)
{
	return pb->bytes;
}

static void put_be32(struct pq_buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };

	pq_buf_add(b, (const char *)x, 4);
}

/* An object's entry: type and size (4 bits, then 7 per byte), the deflated data. */
static int put_object(struct pq_buf *b, const struct object *o)
{
	unsigned char hdr[16];
	size_t n = 0, size = o->len;
	uLongf zlen = compressBound((uLong)o->len);
	unsigned char *z;
	int rc;

	hdr[n] = (unsigned char)(((unsigned)o->type << 4) | (size & 0x0f));
	size >>= 4;
	while (size) {
		hdr[n++] |= 0x80;
		hdr[n] = size & 0x7f;
		size >>= 7;
	}
	pq_buf_add(b, (const char *)hdr, n + 1);
	z = pq_malloc(zlen);
	rc = compress2(z, &zlen, o->data, (uLong)o->len, Z_BEST_SPEED);
	if (rc == Z_OK)
		pq_buf_add(b, (const char *)z, zlen);
	free(z);
	return rc == Z_OK ? 0 : -1;
}

/*
 * Writes the objects of pb of type (GIT_OBJECT_ANY: all) as one pack
 * through odb's pack backend; pb keeps them. Nothing is written when it
 * holds none.
 */
static int write_pack(const struct pq_packbuf *pb, git_odb *odb, git_object_t type)
{
	struct pq_buf pack = PQ_BUF_INIT;
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats = { 0 };
	unsigned char sum[SHA_DIGEST_LENGTH];
	size_t i, count = 0;
	int rc = 0;

	for (i = 0; i < pb->cap; i++)
		count += pb->slot[i] && (type == GIT_OBJECT_ANY || pb->slot[i]->type == type);
	if (!count)
		return 0;
	pq_buf_add(&pack, "PACK", 4);
	put_be32(&pack, 2);
	put_be32(&pack, (uint32_t)count);
	for (i = 0; i < pb->cap && rc == 0; i++)
		if (pb->slot[i] && (type == GIT_OBJECT_ANY || pb->slot[i]->type == type) &&
		    put_object(&pack, pb->slot[i]) < 0)
			rc = pq_error_set(PQ_EGIT, "cannot deflate an object for the pack");
	if (rc == 0) {
		SHA1((const unsigned char *)pack.ptr, pack.len, sum);
		pq_buf_add(&pack, (const char *)sum, sizeof(sum));
		if (git_odb_write_pack(&wp, odb, NULL, NULL) < 0 ||
		    wp->append(wp, pack.ptr, pack.len, &stats) < 0 || wp->commit(wp, &stats) < 0)
			rc = pq_error_set(PQ_EGIT, "cannot write the pack: %s", git_msg());
	}
	if (wp)
		wp->free(wp);
	pq_buf_free(&pack);
	return rc;
}

int pq_packbuf_flush(struct pq_packbuf *pb)
{
	int rc;

	if (!pb->count)
		return 0;
	if ((rc = write_pack(pb, pb->odb, GIT_OBJECT_ANY)) == 0)
		pq_packbuf_discard(pb);
	return rc;
}

int pq_packbuf_copy(const struct pq_packbuf *pb, const char *objects_dir, git_object_t type)
{
	git_odb_backend *be = NULL;
	git_odb *odb = NULL;
	int rc;

	if (!pb->count)
		return 0;
	if (git_odb_new(&odb) < 0 || git_odb_backend_pack(&be, objects_dir) < 0)
		rc = pq_error_set(PQ_EGIT, "cannot open %s: %s", objects_dir, git_msg());
	else if (git_odb_add_backend(odb, be, 1) < 0) {
		be->free(be);
		rc = pq_error_set(PQ_EGIT, "cannot open %s: %s", objects_dir, git_msg());
	} else {
		rc = write_pack(pb, odb, type); /* the database owns the backend now */
	}
	git_odb_free(odb);
	return rc;
}
