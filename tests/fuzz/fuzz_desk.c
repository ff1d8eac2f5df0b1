/*
 * fuzz_desk: arbitrary bytes as an HTTP request to the desk, through the
 * readers' page cache (pq_desk_cache_handle, as patchqd serves it) and
 * pq_desk_handle, on an in-memory database holding one series whose
 * subject and author are hostile. The input is split at newlines into the
 * method, the path, the query, the Cookie and Authorization values,
 * If-None-Match and Accept-Encoding; the rest is the body. The database
 * also holds a maintainer's token (TOKEN: the seeds carry it, so the
 * actions are reached) and a reply not sent, made pending again before
 * each input (so its edit stays reachable). What desk.h promises is
 * checked: always an answer with a status the protocol knows, never a
 * page with markup from mail or from the request in it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "config.h"
#include "desk.h"
#include "deskcache.h"
#include "digest.h"
#include "ingest.h"
#include "store.h"

#define TOKEN "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct pq_store *store;
static struct pq_config *config;
static struct pq_desk_cache *cache;
static long long seen = -1;

static const char conf[] = "[patchq]\n"
			   "\tdatabase = :memory:\n"
			   "\trepository = /nonexistent\n"
			   "\tcommitter = Fuzz <fuzz@example.org>\n"
			   "\tlink = https://lore.example.org/r/%s\n"
			   "[queue \"rust-next\"]\n"
			   "\tbranch = rust-next\n";

static const char mail[] = "From: \"<script>x</script>\" <a@example.org>\n"
			   "To: list@example.org\n"
			   "Subject: [PATCH] <script>alert(1)</script>\n"
			   "Date: Tue, 10 Nov 2026 12:00:00 +0000\n"
			   "Message-ID: <fuzz-1@example.org>\n"
			   "\n"
			   "A <b>body</b>.\n"
			   "\n"
			   "Signed-off-by: A <a@example.org>\n"
			   "---\n"
			   "diff --git a/f.txt b/f.txt\n"
			   "--- a/f.txt\n"
			   "+++ b/f.txt\n"
			   "@@ -1 +1 @@\n"
			   "-<script>\n"
			   "+</pre><script>\n";

static const char reply[] = "From: Fuzz <fuzz@example.org>\n"
			    "To: \"<script>x</script>\" <a@example.org>\n"
			    "Subject: Re: [PATCH] <script>alert(1)</script>\n"
			    "Message-ID: <patchq-1-rust-next-applied-1.00@example.org>\n"
			    "In-Reply-To: <fuzz-1@example.org>\n"
			    "\n"
			    "Applied, <b>thanks</b>.\n";

/* The maintainer "fuzz" with TOKEN, and reply 1 on the series, pending. */
static void add_token_and_reply(void)
{
	unsigned char d[PQ_DIGEST_LEN];
	char hash[2 * PQ_DIGEST_LEN + 1];

	pq_digest(d, TOKEN, strlen(TOKEN));
	pq_hex(d, sizeof(d), hash);
	fz_exec(store, "INSERT INTO token (name, hash, created) VALUES ('fuzz', ?, 0)", hash);
	fz_exec(store,
		"INSERT INTO outbox (id, series_id, queue, kind, msgid, sender, recipients,"
		" message, created) SELECT 1, min(id), 'rust-next', 'applied',"
		" 'patchq-1-rust-next-applied-1.00@example.org', 'fuzz@example.org',"
		" 'a@example.org', ?, 0 FROM series",
		reply);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pq_ingest *ig;
	char path[64];
	int fd = memfd_create("fuzz-desk-conf", 0);

	(void)argc;
	(void)argv;
	NEED(fd >= 0 && write(fd, conf, sizeof(conf) - 1) == (ssize_t)sizeof(conf) - 1);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	NEED(pq_config_load(&config, path) == 0);
	NEED(pq_store_open(&store, ":memory:") == 0);
	NEED(pq_ingest_new(&ig, store, "fuzz", 0, NULL) == 0);
	NEED(pq_ingest_message(ig, mail, sizeof(mail) - 1, NULL) == 0);
	NEED(pq_ingest_free(ig) == 0);
	add_token_and_reply();
	cache = pq_desk_cache_new(1 << 20);
	return 0;
}

/* The next field of the input, NUL-terminated in a copy; NULL when the input ended. */
static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl;
	char *f;

	if (*p >= end)
		return NULL;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl)
		nl = end;
	f = strndup((const char *)*p, (size_t)(nl - *p));
	*p = nl < end ? nl + 1 : end;
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int known[] = {
		200, 303, 304, 400, 401, 403, 404, 405, 409, 413, 422, 500, 503
	};
	const uint8_t *p = data, *end = data + size;
	char *f[7];
	struct pq_desk_env env = { store, config, NULL, 1795000000 };
	struct pq_desk_request rq;
	struct pq_desk_response rs;
	size_t i;
	int ok = 0;

	fz_exec(store, "UPDATE outbox SET state = 'pending', held = 0", NULL);
	fz_exec(store, "DELETE FROM action", NULL); /* the series page stays small */
	for (i = 0; i < 7; i++)
		f[i] = field(&p, end);
	memset(&rq, 0, sizeof(rq));
	rq.method = f[0] ? f[0] : "GET";
	rq.path = f[1] ? f[1] : "/";
	rq.query = f[2];
	rq.cookie = f[3];
	rq.authorization = f[4];
	rq.if_none_match = f[5];
	rq.accept_encoding = f[6];
	rq.body = (const char *)p;
	rq.body_len = (size_t)(end - p);
	NEED(pq_desk_cache_handle(cache, &seen, &env, &rq, &rs) == 0);
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok |= rs.status == known[i];
	NEED(ok && rs.content_type != NULL);
	/* nothing from mail or the request becomes markup (a gzipped page was
	 * made as the same request without Accept-Encoding) */
	NEED(!memmem(rs.body.ptr ? rs.body.ptr : "", rs.body.len, "<script", 7) ||
	     strncmp(rs.content_type, "text/html", 9) != 0);
	NEED(!memmem(rs.headers.ptr ? rs.headers.ptr : "", rs.headers.len, "Content-Encoding",
		     16) ||
	     pq_desk_accepts_gzip(rq.accept_encoding));
	NEED(!memmem(rs.headers.ptr ? rs.headers.ptr : "", rs.headers.len, "\r", 1));
	pq_desk_response_free(&rs);
	for (i = 0; i < 7; i++)
		free(f[i]);
	return 0;
}
