/*
 * html: the few pieces every page of the desk (desk.h) is made of.
 *
 * Every value that comes from mail or from a request goes through
 * pq_html_text(): it escapes what HTML gives a meaning (& < > " '), so a
 * subject of "<script>" or a name that closes an attribute is shown as
 * text, in an element or in a quoted attribute alike, and makes control
 * characters (but tab and line feed) U+FFFD. Pages are plain HTML with one
 * stylesheet (/desk.css) and no script; they read in w3m and lynx.
 */
#ifndef PQ_HTML_H
#define PQ_HTML_H

#include <stddef.h>

#include "buf.h"

/* Appends s[0..len) escaped for an element's text or a quoted attribute. */
void pq_html_text_len(struct pq_buf *out, const char *s, size_t len);

/* pq_html_text_len() of a C string; NULL appends nothing. */
void pq_html_text(struct pq_buf *out, const char *s);

/* Appends s percent-encoded for a URL's path segment or query value. */
void pq_html_url(struct pq_buf *out, const char *s);

/*
 * Starts a page: the doctype, the title (escaped), the stylesheet and the
 * navigation bar; who names the maintainer logged in, or NULL (a "log in"
 * link then).
 */
void pq_html_begin(struct pq_buf *out, const char *title, const char *who);

/* Ends the page begun by pq_html_begin(). */
void pq_html_end(struct pq_buf *out);

/* The stylesheet served as /desk.css. */
extern const char pq_html_css[];

#endif
