/*
 * test_trailers: the trailer block of a commit message and review tags in
 * replies, including the shapes broken mailers and hurried reviewers make.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "error.h"
#include "trailers.h"

/* Parses a C string literal; sizeof keeps any NUL bytes inside it. */
#define PARSE(out, lit, mode) pq_trailers_parse((out), (lit), sizeof(lit) - 1, (mode))

static void check_trailer(const struct pq_trailers *t, size_t i, const char *name,
			  const char *value, const char *email, const char *extinfo)
{
	CHECK(i < t->n);
	if (i >= t->n)
		return;
	CHECK_STR(t->v[i].name, name);
	CHECK_STR(t->v[i].value, value);
	CHECK_STR(t->v[i].email, email);
	CHECK_STR(t->v[i].extinfo, extinfo);
}

static void test_commit_block_keeps_order(void)
{
	struct pq_trailers t = { 0 };

	CHECK_INT(PARSE(&t,
			"widget: stop leaking the frobnicator\n"
			"\n"
			"The frobnicator was never freed.\n"
			"\n"
			"Signed-off-by: Ann Author <Ann.Author@Example.org>\n"
			"Reviewed-by: \"Smith, Bob\" <bob@example.net>\n"
			"Fixes: 0123456789ab (\"widget: add the frobnicator\")\n"
			"Link: https://lore.example.org/r/abc@host.example\n"
			"---\n"
			" drivers/widget.c | 1 +\n"
			"\n"
			"diff --git a/drivers/widget.c b/drivers/widget.c\n"
			"+Acked-by: Not Counted <no@example.org>\n",
			PQ_TRAILERS_COMMIT),
		  0);
	CHECK_INT(t.n, 4);
	check_trailer(&t, 0, "Signed-off-by", "Ann Author <Ann.Author@Example.org>",
		      "ann.author@example.org", NULL);
	check_trailer(&t, 1, "Reviewed-by", "\"Smith, Bob\" <bob@example.net>", "bob@example.net",
		      NULL);
	check_trailer(&t, 2, "Fixes", "0123456789ab (\"widget: add the frobnicator\")", NULL, NULL);
	check_trailer(&t, 3, "Link", "https://lore.example.org/r/abc@host.example", NULL, NULL);
	pq_trailers_free(&t);
	CHECK(t.v == NULL);
	CHECK_INT(t.n, 0);
}

static void test_commit_trailing_blank_lines_ignored(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t, "subject\n\nbody\n\nAcked-by: Cy Coder <cy@example.com>\n\n\n  \n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Acked-by", "Cy Coder <cy@example.com>", "cy@example.com", NULL);
	pq_trailers_free(&t);
}

static void test_commit_prose_paragraph_at_end_gives_none(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "subject\n"
	      "\n"
	      "Signed-off-by: Ann Author <ann@example.org>\n"
	      "\n"
	      "And then we also noticed that the widget\n"
	      "does not frob at all.\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);
}

static void test_commit_prose_with_colon_is_not_a_block(void)
{
	struct pq_trailers t = { 0 };

	/* "Note: ..." looks like a trailer but nothing in it is a known one */
	PARSE(&t,
	      "subject\n\n"
	      "Note: this only matters on big-endian machines\n"
	      "where the frobnicator is mapped twice.\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);
}

static void test_commit_mixed_block_needs_three_trailers_in_four(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "subject\n\n"
	      "Reported-by: Dee Tester <dee@example.com>\n"
	      "Closes: https://bugs.example.org/42\n"
	      "this line is no trailer\n"
	      "Signed-off-by: Ann Author <ann@example.org>\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 3);
	check_trailer(&t, 0, "Reported-by", "Dee Tester <dee@example.com>", "dee@example.com",
		      NULL);
	check_trailer(&t, 2, "Signed-off-by", "Ann Author <ann@example.org>", "ann@example.org",
		      NULL);
	pq_trailers_free(&t);

	/* without a known trailer, prose is prose */
	PARSE(&t,
	      "subject\n\n"
	      "Reviewed-by: Ann Author <ann@example.org>\n"
	      "first line of prose\n"
	      "second line of prose\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);

	/* but git takes a paragraph with a Signed-off-by and one trailer line
	 * in four as the trailer block (git interpret-trailers --parse shows
	 * the sign-off), so it is one */
	PARSE(&t,
	      "subject\n\n"
	      "Signed-off-by: Ann Author <ann@example.org>\n"
	      "first line of prose\n"
	      "second line of prose\n"
	      "third line of prose\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 1);
	pq_trailers_free(&t);
	PARSE(&t,
	      "subject\n\n"
	      "Signed-off-by: Ann Author <ann@example.org>\n"
	      "first line of prose\n"
	      "second line of prose\n"
	      "third line of prose\n"
	      "fourth line of prose\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);
}

static void test_commit_maintainer_note_keeps_the_chain(void)
{
	struct pq_trailers t = { 0 };

	/* a note over two lines between two sign-offs: git's block, whole */
	PARSE(&t,
	      "subject\n\n"
	      "Signed-off-by: Ann Author <ann@example.org>\n"
	      "[ Reworded the commit message and moved the\n"
	      "  helper to the other file. - Miguel ]\n"
	      "Signed-off-by: Miguel Ojeda <ojeda@kernel.org>\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 1, "Signed-off-by", "Miguel Ojeda <ojeda@kernel.org>", "ojeda@kernel.org",
		      NULL);
	pq_trailers_free(&t);
	/* on one line it is the extra information of the trailer above */
	PARSE(&t,
	      "subject\n\n"
	      "Signed-off-by: Ann Author <ann@example.org>\n"
	      "[ Reworded. - Miguel ]\n"
	      "Signed-off-by: Miguel Ojeda <ojeda@kernel.org>\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Signed-off-by", "Ann Author <ann@example.org>", "ann@example.org",
		      "[ Reworded. - Miguel ]");
	pq_trailers_free(&t);
}

static void test_commit_unknown_names_count_in_pure_block(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t, "subject\n\nX-Custom-Tag: something\nSigned-off-by: Ann <ann@example.org>\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "X-Custom-Tag", "something", NULL, NULL);
	pq_trailers_free(&t);
}

static void test_commit_url_line_is_not_a_trailer(void)
{
	struct pq_trailers t = { 0 };

	/* no blank after the colon: "https" names no trailer */
	PARSE(&t, "subject\n\nhttps://example.org/bug/1\n", PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);
}

static void test_commit_person_without_address_kept(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t, "subject\n\nReported-by: the build robot\n", PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Reported-by", "the build robot", NULL, NULL);
	pq_trailers_free(&t);
}

static void test_commit_indented_trailer_is_not_a_trailer(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t, "subject\n\n  Signed-off-by: Ann <ann@example.org>\n", PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);
}

static void test_commit_continuation_line_folded(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "subject\n\n"
	      "Fixes: 0123456789ab (\"widget: a title long enough\n"
	      "  to wrap\")\n"
	      "Signed-off-by: Ann <ann@example.org>\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Fixes", "0123456789ab (\"widget: a title long enough to wrap\")",
		      NULL, NULL);
	pq_trailers_free(&t);
}

static void test_commit_signature_ends_message(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "subject\n\n"
	      "Signed-off-by: Ann <ann@example.org>\n"
	      "-- \n"
	      "Acked-by: Sig Nature <sig@example.org>\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Signed-off-by", "Ann <ann@example.org>", "ann@example.org", NULL);
	pq_trailers_free(&t);

	PARSE(&t,
	      "subject\n\n"
	      "Signed-off-by: Ann <ann@example.org>\n"
	      "--\n"
	      "2.99.0\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 1);
	pq_trailers_free(&t);
}

static void test_commit_wrapped_address_rejoined(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "subject\n\n"
	      "Tested-by: Folded Mailer\n"
	      "<Folded@Example.com>\n"
	      "Signed-off-by: Another Fold\n"
	      " <fold2@example.com>\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Tested-by", "Folded Mailer <Folded@Example.com>",
		      "folded@example.com", NULL);
	check_trailer(&t, 1, "Signed-off-by", "Another Fold <fold2@example.com>",
		      "fold2@example.com", NULL);
	pq_trailers_free(&t);
}

static void test_person_email_forms(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "subject\n\n"
	      "Reported-by: bot+1a2b@robot.Example.com\n"
	      "Cc: <Stable@Example.org> # 5.15.x\n"
	      "Suggested-by: Odd <not an address> <odd@example.com>\n"
	      "Acked-by: Nobody <nobody>\n"
	      "Tested-by: Two <a@b@example.com>\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 5);
	check_trailer(&t, 0, "Reported-by", "bot+1a2b@robot.Example.com",
		      "bot+1a2b@robot.example.com", NULL);
	check_trailer(&t, 1, "Cc", "<Stable@Example.org>", "stable@example.org", " # 5.15.x");
	check_trailer(&t, 2, "Suggested-by", "Odd <not an address> <odd@example.com>",
		      "odd@example.com", NULL);
	check_trailer(&t, 3, "Acked-by", "Nobody <nobody>", NULL, NULL);
	check_trailer(&t, 4, "Tested-by", "Two <a@b@example.com>", NULL, NULL);
	pq_trailers_free(&t);
}

static void test_extinfo_bracket_line(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "subject\n\n"
	      "Reviewed-by: Rev Iewer <rev@example.com>\n"
	      "[for the frob part only]\n"
	      "Tested-by: Tess Ter <tess@example.com>\n"
	      "        [indented by hand]\n"
	      "Signed-off-by: Ann <ann@example.org>\n"
	      "[ann: fixed a typo]\n"
	      "[ann: rebased]\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 3);
	check_trailer(&t, 0, "Reviewed-by", "Rev Iewer <rev@example.com>", "rev@example.com",
		      "[for the frob part only]");
	check_trailer(&t, 1, "Tested-by", "Tess Ter <tess@example.com>", "tess@example.com",
		      "        [indented by hand]");
	check_trailer(&t, 2, "Signed-off-by", "Ann <ann@example.org>", "ann@example.org",
		      "[ann: fixed a typo]\n[ann: rebased]");
	pq_trailers_free(&t);
}

static void test_extinfo_hash_comment(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "subject\n\n"
	      "Link: https://lore.example.org/r/first@msg.example  # earlier discussion\n"
	      "Cc: stable@vger.example.org # 6.1+\n"
	      "Link: https://example.org/page#anchor\n"
	      "Fixes: 0123456789ab (\"widget: fix bug #12\")\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 4);
	check_trailer(&t, 0, "Link", "https://lore.example.org/r/first@msg.example", NULL,
		      "  # earlier discussion");
	check_trailer(&t, 1, "Cc", "stable@vger.example.org", "stable@vger.example.org", " # 6.1+");
	check_trailer(&t, 2, "Link", "https://example.org/page#anchor", NULL, NULL);
	check_trailer(&t, 3, "Fixes", "0123456789ab (\"widget: fix bug #12\")", NULL, NULL);
	pq_trailers_free(&t);
}

static void test_reply_quoted_trailer_ignored(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "On Mon, Someone wrote:\n"
	      ">> the widget does not frob\n"
	      "> \n"
	      "> Reviewed-by: Quoted Person <quoted@example.com>\n"
	      "   > Acked-by: Also Quoted <also@example.com>\n"
	      "\n"
	      "Tested-by: Real Tester <real@example.com>\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Tested-by", "Real Tester <real@example.com>", "real@example.com",
		      NULL);
	pq_trailers_free(&t);
}

static void test_reply_indented_trailer_counts(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "Looks good to me.\n"
	      "\n"
	      "    Reviewed-by: Ind Ented <ind@example.com>\n"
	      "\tAcked-by: Tab Bed <tab@example.com>\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Reviewed-by", "Ind Ented <ind@example.com>", "ind@example.com", NULL);
	check_trailer(&t, 1, "Acked-by", "Tab Bed <tab@example.com>", "tab@example.com", NULL);
	pq_trailers_free(&t);
}

static void test_reply_signature_stops_scan(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "Acked-by: Before Sig <before@example.com>\n"
	      "\n"
	      "--\n"
	      "Acked-by: In Sig <insig@example.com>\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Acked-by", "Before Sig <before@example.com>", "before@example.com",
		      NULL);
	pq_trailers_free(&t);

	PARSE(&t, "-- \nReviewed-by: In Sig <insig@example.com>\n", PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);
}

static void test_reply_own_diff_stops_scan(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "How about this instead?\n"
	      "\n"
	      "diff --git a/x.c b/x.c\n"
	      "+Reviewed-by: In Diff <indiff@example.com>\n"
	      " Reviewed-by: Context <ctx@example.com>\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);
}

static void test_reply_person_without_address_ignored(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "Reviewed-by: me, once the locking is fixed\n"
	      "Acked-by: Someone\n"
	      "that is all\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);
}

static void test_reply_wrapped_address_rejoined(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t, "Reviewed-by: Long Name Person\n  <long@example.com>\n", PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Reviewed-by", "Long Name Person <long@example.com>",
		      "long@example.com", NULL);
	pq_trailers_free(&t);
}

static void test_reply_prose_with_colon_ignored(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "Note: this is wrong, see below.\n"
	      "Change-Id: I0123456789\n"
	      "Fixes: 0123456789ab (\"widget: add the frobnicator\")\n"
	      "Closes: https://bugs.example.org/7\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Fixes", "0123456789ab (\"widget: add the frobnicator\")", NULL, NULL);
	check_trailer(&t, 1, "Closes", "https://bugs.example.org/7", NULL, NULL);
	pq_trailers_free(&t);
}

static void test_reply_folded_fixes_is_one_trailer(void)
{
	struct pq_trailers t = { 0 };

	/* a mail client wrapped the line; the title goes on indented */
	PARSE(&t,
	      "Please add:\n"
	      "\n"
	      "Fixes: 0123456789ab (\"widget: add the frobnicator to every\n"
	      "  board that has one\")\n"
	      "Reviewed-by: Rev Iewer <rev@example.com>\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Fixes",
		      "0123456789ab (\"widget: add the frobnicator to every board that has one\")",
		      NULL, NULL);
	check_trailer(&t, 1, "Reviewed-by", "Rev Iewer <rev@example.com>", "rev@example.com", NULL);
	pq_trailers_free(&t);

	/* the title alone on the next, indented line */
	PARSE(&t, "Fixes: 0123456789ab\n\t(\"widget: add the frobnicator\")\n", PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Fixes", "0123456789ab (\"widget: add the frobnicator\")", NULL, NULL);
	pq_trailers_free(&t);

	/* b4's rule: a line that closes the open "(title" continues it */
	PARSE(&t, "Fixes: 0123456789ab (\"widget: add\nthe frobnicator\")\n", PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Fixes", "0123456789ab (\"widget: add the frobnicator\")", NULL, NULL);
	pq_trailers_free(&t);

	/* a finished value takes no indented prose after it */
	PARSE(&t,
	      "Fixes: 0123456789ab (\"widget: add the frobnicator\")\n"
	      "  and this is what I think about it\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Fixes", "0123456789ab (\"widget: add the frobnicator\")", NULL, NULL);
	pq_trailers_free(&t);
}

static void test_reply_link_footnote_is_not_a_trailer(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "This was discussed before [1], and the conclusion was to keep\n"
	      "the old name [2].\n"
	      "\n"
	      "Link: https://lore.example.org/r/old@msg.example [1]\n"
	      "Link: [2] https://lore.example.org/r/older@msg.example\n"
	      "\n"
	      "Acked-by: Ack Er <acker@example.com>\n"
	      "Link: https://lore.example.org/r/real@msg.example\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Acked-by", "Ack Er <acker@example.com>", "acker@example.com", NULL);
	check_trailer(&t, 1, "Link", "https://lore.example.org/r/real@msg.example", NULL, NULL);
	pq_trailers_free(&t);
}

static void test_mailto_links_cleaned(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "Reviewed-by: Html Mailer <html@example.com<mailto:html@example.com>>\n"
	      "Tested-by: bare@example.com<mailto:bare@example.com>\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Reviewed-by", "Html Mailer <html@example.com>", "html@example.com",
		      NULL);
	check_trailer(&t, 1, "Tested-by", "bare@example.com", "bare@example.com", NULL);
	pq_trailers_free(&t);
}

static void test_control_characters_become_spaces(void)
{
	struct pq_trailers t = { 0 };

	/* a lone CR (from a quoted-printable =0D) and an escape sequence */
	PARSE(&t, "Reviewed-by: Bob\rBcc: evil@example.org \x1b[2J<bob@example.com>\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Reviewed-by", "Bob Bcc: evil@example.org  [2J<bob@example.com>",
		      "bob@example.com", NULL);
	CHECK(t.n && !strpbrk(t.v[0].value, "\r\n\x1b"));
	pq_trailers_free(&t);
}

static void test_reply_extinfo(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t, "Acked-by: Dee Tee <dee@example.com> # for the DT part\n", PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Acked-by", "Dee Tee <dee@example.com>", "dee@example.com",
		      " # for the DT part");
	pq_trailers_free(&t);
}

static void test_crlf_line_ends(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t,
	      "subject\r\n\r\nbody\r\n\r\n"
	      "Signed-off-by: Crlf Person <crlf@example.com>\r\n"
	      "[crlf: note]\r\n"
	      "Link: https://example.org/x  # why\r\n"
	      "---\r\n"
	      "diff --git a/a b/a\r\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Signed-off-by", "Crlf Person <crlf@example.com>", "crlf@example.com",
		      "[crlf: note]");
	check_trailer(&t, 1, "Link", "https://example.org/x", NULL, "  # why");
	pq_trailers_free(&t);

	PARSE(&t, "> Acked-by: Q <q@example.com>\r\nAcked-by: R <r@example.com>\r\n-- \r\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Acked-by", "R <r@example.com>", "r@example.com", NULL);
	pq_trailers_free(&t);
}

static void test_nul_byte_inside_text(void)
{
	struct pq_trailers t = { 0 };

	/* a NUL in the body must not end the text */
	PARSE(&t, "subject\n\nbody \0 with a NUL\n\nAcked-by: After Nul <after@example.com>\n",
	      PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Acked-by", "After Nul <after@example.com>", "after@example.com",
		      NULL);
	pq_trailers_free(&t);

	/* nor hide bytes behind it in a value */
	PARSE(&t, "Acked-by: Hid\0den <hidden@example.com>\nAcked-by: Ok <ok@example.com>\n",
	      PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Acked-by", "Ok <ok@example.com>", "ok@example.com", NULL);
	pq_trailers_free(&t);
}

static void test_empty_text(void)
{
	struct pq_trailers t = { 0 };

	CHECK_INT(pq_trailers_parse(&t, "", 0, PQ_TRAILERS_COMMIT), 0);
	CHECK_INT(t.n, 0);
	CHECK_INT(pq_trailers_parse(&t, NULL, 0, PQ_TRAILERS_REPLY), 0);
	CHECK_INT(t.n, 0);
	CHECK_INT(PARSE(&t, "\n\n\n", PQ_TRAILERS_COMMIT), 0);
	CHECK_INT(t.n, 0);
	CHECK_INT(PARSE(&t, "---\nSigned-off-by: A <a@example.com>\n", PQ_TRAILERS_COMMIT), 0);
	CHECK_INT(t.n, 0);
	pq_trailers_free(&t);
	pq_trailers_free(NULL);
}

static void test_no_newline_at_end(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t, "Signed-off-by: Last Line <last@example.com>", PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 1);
	check_trailer(&t, 0, "Signed-off-by", "Last Line <last@example.com>", "last@example.com",
		      NULL);
	pq_trailers_free(&t);
}

static void test_parse_appends_to_out(void)
{
	struct pq_trailers t = { 0 };

	PARSE(&t, "Acked-by: One <one@example.com>\n", PQ_TRAILERS_REPLY);
	PARSE(&t, "Acked-by: Two <two@example.com>\n", PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 2);
	check_trailer(&t, 0, "Acked-by", "One <one@example.com>", "one@example.com", NULL);
	check_trailer(&t, 1, "Acked-by", "Two <two@example.com>", "two@example.com", NULL);
	pq_trailers_free(&t);
}

static void test_bad_arguments_are_einval(void)
{
	struct pq_trailers t = { 0 };

	CHECK_INT(pq_trailers_parse(NULL, "x", 1, PQ_TRAILERS_COMMIT), PQ_EINVAL);
	CHECK_INT(pq_trailers_parse(&t, NULL, 3, PQ_TRAILERS_COMMIT), PQ_EINVAL);
	CHECK(strlen(pq_error_last()) > 0);
	CHECK_INT(t.n, 0);
}

static void test_is_person(void)
{
	CHECK_INT(pq_trailer_is_person("Signed-off-by"), 1);
	CHECK_INT(pq_trailer_is_person("reviewed-BY"), 1);
	CHECK_INT(pq_trailer_is_person("Reported-and-tested-by"), 1);
	CHECK_INT(pq_trailer_is_person("Co-developed-by"), 1);
	CHECK_INT(pq_trailer_is_person("Cc"), 1);
	CHECK_INT(pq_trailer_is_person("CC"), 1);
	CHECK_INT(pq_trailer_is_person("Fixes"), 0);
	CHECK_INT(pq_trailer_is_person("Link"), 0);
	CHECK_INT(pq_trailer_is_person("Bcc"), 0);
	CHECK_INT(pq_trailer_is_person("by"), 0);
	CHECK_INT(pq_trailer_is_person("-by"), 0);
	CHECK_INT(pq_trailer_is_person(""), 0);
	CHECK_INT(pq_trailer_is_person(NULL), 0);
}

/* Many lines, one long paragraph, one trailer folding forever: all linear. */
static void test_long_input_stays_linear(void)
{
	struct pq_trailers t = { 0 };
	struct pq_buf b = PQ_BUF_INIT;
	size_t i;

	for (i = 0; i < 200000; i++)
		pq_buf_adds(&b, "Reviewed-by: Many <many@example.com>\n");
	pq_trailers_parse(&t, b.ptr, b.len, PQ_TRAILERS_REPLY);
	CHECK_INT(t.n, 200000);
	pq_trailers_free(&t);

	pq_buf_reset(&b);
	pq_buf_adds(&b, "Fixes: start\n");
	for (i = 0; i < 200000; i++)
		pq_buf_adds(&b, " more\n");
	pq_trailers_parse(&t, b.ptr, b.len, PQ_TRAILERS_COMMIT);
	CHECK_INT(t.n, 1);
	CHECK(t.n == 1 && strlen(t.v[0].value) == strlen("start") + 200000 * strlen(" more"));
	pq_trailers_free(&t);
	pq_buf_free(&b);
}

int main(void)
{
	test_commit_block_keeps_order();
	test_commit_trailing_blank_lines_ignored();
	test_commit_prose_paragraph_at_end_gives_none();
	test_commit_prose_with_colon_is_not_a_block();
	test_commit_mixed_block_needs_three_trailers_in_four();
	test_commit_maintainer_note_keeps_the_chain();
	test_commit_unknown_names_count_in_pure_block();
	test_commit_url_line_is_not_a_trailer();
	test_commit_person_without_address_kept();
	test_commit_indented_trailer_is_not_a_trailer();
	test_commit_continuation_line_folded();
	test_commit_signature_ends_message();
	test_commit_wrapped_address_rejoined();
	test_person_email_forms();
	test_extinfo_bracket_line();
	test_extinfo_hash_comment();
	test_reply_quoted_trailer_ignored();
	test_reply_indented_trailer_counts();
	test_reply_signature_stops_scan();
	test_reply_own_diff_stops_scan();
	test_reply_person_without_address_ignored();
	test_reply_wrapped_address_rejoined();
	test_reply_prose_with_colon_ignored();
	test_reply_extinfo();
	test_reply_folded_fixes_is_one_trailer();
	test_reply_link_footnote_is_not_a_trailer();
	test_mailto_links_cleaned();
	test_control_characters_become_spaces();
	test_crlf_line_ends();
	test_nul_byte_inside_text();
	test_empty_text();
	test_no_newline_at_end();
	test_parse_appends_to_out();
	test_bad_arguments_are_einval();
	test_is_person();
	test_long_input_stays_linear();
	CHECK_DONE();
}
