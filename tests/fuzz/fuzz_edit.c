/*
 * fuzz_edit: arbitrary bytes as a maintainer's edit of a pending reply
 * (`patchq outbox edit`), through pq_outbox_edit, on an in-memory
 * database holding one reply. What outbox.h promises is checked: the
 * edit is taken (0) or refused (PQ_EINVAL); a refused one changes
 * nothing; a taken one leaves every field but the Subject as it was, one
 * Subject, no CR or other control character in the header, and no header
 * line over 998 bytes, so no edit can forge a field or break the mail.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "buf.h"
#include "error.h"
#include "outbox.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct pq_store *store;

static const char original[] = "From: Miguel Ojeda <ojeda@kernel.org>\n"
			       "To: Alice Rustacean <alice@example.org>\n"
			       "Cc: rust-for-linux@vger.kernel.org,\n"
			       " Bob Reviewer <bob@example.org>\n"
			       "Subject: Re: [PATCH v2 0/3] rust: time helpers\n"
			       "Date: Wed, 11 Nov 2026 09:00:00 +0000\n"
			       "Message-ID: <patchq-1-rust-next-applied-1.00@kernel.org>\n"
			       "In-Reply-To: <cover@example.org>\n"
			       "References: <cover@example.org>\n"
			       "MIME-Version: 1.0\n"
			       "Content-Type: text/plain; charset=utf-8\n"
			       "Content-Transfer-Encoding: 8bit\n"
			       "\n"
			       "Applied to `rust-next` -- thanks everyone!\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	NEED(pq_store_open(&store, ":memory:") == 0);
	fz_exec(store,
		"INSERT INTO series (id, name, version, total) VALUES (1, 'rust: time', 2, 3)",
		NULL);
	fz_exec(store,
		"INSERT INTO outbox (id, series_id, queue, kind, msgid, sender, recipients,"
		" message, created) VALUES (1, 1, 'rust-next', 'applied',"
		" 'patchq-1-rust-next-applied-1.00@kernel.org', 'ojeda@kernel.org',"
		" 'alice@example.org', ?, 0)",
		original);
	return 0;
}

/* The header of mail (up to the empty line) without its Subject field, into out. */
static void fields_but_subject(const char *mail, struct pq_buf *out, int *nsubject)
{
	const char *p = mail;
	int in_subject = 0;

	*nsubject = 0;
	while (*p && *p != '\n') {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		size_t i;

		NEED(len <= 998);
		for (i = 0; i < len; i++)
			NEED((unsigned char)p[i] >= 0x20 ? p[i] != 0x7f : p[i] == '\t');
		if (*p != ' ' && *p != '\t') {
			NEED(memchr(p, ':', len) != NULL);
			in_subject = !strncasecmp(p, "Subject:", 8);
			*nsubject += in_subject;
		}
		if (!in_subject)
			pq_buf_add(out, p, len + 1);
		p += len + (nl != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pq_buf before = PQ_BUF_INIT, after = PQ_BUF_INIT, f0 = PQ_BUF_INIT, f1 = PQ_BUF_INIT;
	char *text = malloc(size + 1);
	int rc, changed = 0, n0, n1;

	NEED(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	fz_exec(store, "UPDATE outbox SET message = ?, state = 'pending' WHERE id = 1", original);
	rc = pq_outbox_edit(store, 1, text, "fuzz", 0, &changed);
	NEED(rc == 0 || rc == PQ_EINVAL);
	NEED(pq_outbox_text(store, 1, &after) == 0);
	if (rc != 0 || !changed) {
		NEED(!strcmp(pq_buf_str(&after), original));
	} else {
		pq_buf_adds(&before, original);
		fields_but_subject(pq_buf_str(&before), &f0, &n0);
		fields_but_subject(pq_buf_str(&after), &f1, &n1);
		NEED(n1 == 1);
		NEED(f0.len == f1.len && !memcmp(f0.ptr, f1.ptr, f0.len));
		NEED(!strchr(pq_buf_str(&after), '\r'));
	}
	pq_buf_free(&before);
	pq_buf_free(&after);
	pq_buf_free(&f0);
	pq_buf_free(&f1);
	free(text);
	return 0;
}
