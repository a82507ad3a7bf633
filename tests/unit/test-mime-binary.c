/* Unit tests for common/mime-binary: FETCH BINARY section decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <cmocka.h>

#include "mime-binary.h"

static const char MULTI[] = "From: a@b\r\n"
			    "Content-Type: multipart/mixed; boundary=XX\r\n"
			    "\r\n"
			    "--XX\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n"
			    "\r\n"
			    "Hello=20w=C3=B6rld=\r\n soft\r\n"
			    "--XX\r\n"
			    "Content-Type: application/octet-stream\r\n"
			    "Content-Transfer-Encoding:\r\n BASE64\r\n"
			    "\r\n"
			    "AAECA2hlbGxv\r\n"
			    "--XX\r\n"
			    "Content-Type: message/rfc822\r\n"
			    "\r\n"
			    "Subject: inner\r\n"
			    "MIME-Version: 1.0\r\n"
			    "Content-Transfer-Encoding: base64\r\n"
			    "\r\n"
			    "aGk=\r\n"
			    "--XX--\r\n";

/* Fetches path from msg; returns the mime_binary_fetch result, output in out. */
static int fetch(const char *msg, size_t len, const uint32_t *path, size_t n, struct buf *out)
{
	struct mime_tree *tree = NULL;
	assert_int_equal(mime_parse((const unsigned char *)msg, len, &tree), 0);
	int rc = mime_binary_fetch(out, (const unsigned char *)msg, len, tree, path, n);
	mime_tree_free(&tree);
	return rc;
}

static void expect(const char *msg, const uint32_t *path, size_t n, const char *want, size_t want_len)
{
	struct buf out = {0};
	assert_int_equal(fetch(msg, strlen(msg), path, n, &out), MIME_BINARY_OK);
	assert_int_equal(out.len, want_len);
	if (want_len > 0)
		assert_memory_equal(out.data, want, want_len);
	buf_free(&out);
}

static void test_leaf_parts(void **state)
{
	uint32_t p1[] = {1}, p2[] = {2}, p3[] = {3}, p31[] = {3, 1}, p9[] = {9};
	expect(MULTI, p1, 1, "Hello w\xc3\xb6rld soft", 17);
	/* folded CTE value, base64 with NULs */
	expect(MULTI, p2, 1, "\x00\x01\x02\x03hello", 9);
	/* the embedded message's own body part */
	expect(MULTI, p31, 2, "hi", 2);
	/* no such part: empty */
	expect(MULTI, p9, 1, "", 0);
	/* a message/rfc822 part: the embedded message, its leaf converted */
	const char *inner = "Subject: inner\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\nhi";
	expect(MULTI, p3, 1, inner, strlen(inner));
}

static void test_whole_message(void **state)
{
	static const char want[] = "From: a@b\r\n"
			   "Content-Type: multipart/mixed; boundary=XX\r\n"
			   "\r\n"
			   "--XX\r\n"
			   "Content-Type: text/plain; charset=utf-8\r\n"
			   "Content-Transfer-Encoding: binary\r\n"
			   "\r\n"
			   "Hello w\xc3\xb6rld soft\r\n"
			   "--XX\r\n"
			   "Content-Type: application/octet-stream\r\n"
			   "Content-Transfer-Encoding: binary\r\n"
			   "\r\n"
			   "\x00\x01\x02\x03hello\r\n"
			   "--XX\r\n"
			   "Content-Type: message/rfc822\r\n"
			   "\r\n"
			   "Subject: inner\r\n"
			   "MIME-Version: 1.0\r\n"
			   "Content-Transfer-Encoding: binary\r\n"
			   "\r\n"
			   "hi\r\n"
			   "--XX--\r\n";
	size_t want_len = sizeof(want) - 1;
	expect(MULTI, NULL, 0, want, want_len);

	/* a single-part message: header rewritten, body decoded; bare LF kept */
	const char *single = "Subject: s\nContent-Transfer-Encoding: base64\nContent-Type: text/plain\n\naGVsbG8=\n";
	const char *sw = "Subject: s\nContent-Transfer-Encoding: binary\nContent-Type: text/plain\n\nhello";
	expect(single, NULL, 0, sw, strlen(sw));
	uint32_t p1[] = {1};
	expect(single, p1, 1, "hello", 5);

	/* nothing encoded: the message as stored */
	const char *plain = "Subject: p\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\nb\xc3\xa9\r\n";

	/* without MIME-Version or Content-Type, Content-* fields mean nothing */
	const char *nomime = "Subject: n\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n";
	expect(nomime, NULL, 0, nomime, strlen(nomime));
	expect(plain, NULL, 0, plain, strlen(plain));
	expect(plain, p1, 1, "b\xc3\xa9\r\n", 5);
}

static void test_unknown_cte(void **state)
{
	const char *msg = "From: a@b\r\n"
			  "Content-Type: multipart/mixed; boundary=Q\r\n"
			  "\r\n"
			  "--Q\r\n"
			  "\r\n"
			  "plain\r\n"
			  "--Q\r\n"
			  "Content-Type: text/plain\r\n"
			  "Content-Transfer-Encoding: x-uuencode\r\n"
			  "\r\n"
			  "begin 644 a\r\n"
			  "--Q--\r\n";
	uint32_t p1[] = {1}, p2[] = {2};
	struct buf out = {0};
	expect(msg, p1, 1, "plain", 5);
	assert_int_equal(fetch(msg, strlen(msg), p2, 1, &out), MIME_BINARY_UNKNOWN_CTE);
	buf_reset(&out);
	assert_int_equal(fetch(msg, strlen(msg), NULL, 0, &out), MIME_BINARY_UNKNOWN_CTE);
	buf_free(&out);
}

static void test_truncated_message(void **state)
{
	/* The tree says more than the bytes given: everything is clamped. */
	struct mime_tree *tree = NULL;
	const char *msg = MULTI;
	size_t len = strlen(msg);
	assert_int_equal(mime_parse((const unsigned char *)msg, len, &tree), 0);
	for (size_t cut = 0; cut < len; cut += 7) {
		struct buf out = {0};
		uint32_t p2[] = {2};
		assert_true(mime_binary_fetch(&out, (const unsigned char *)msg, cut, tree, NULL, 0) == 0);
		assert_true(out.len <= len);
		buf_reset(&out);
		assert_true(mime_binary_fetch(&out, (const unsigned char *)msg, cut, tree, p2, 1) == 0);
		buf_free(&out);
	}
	mime_tree_free(&tree);
}

/* mime_binary_locate agrees with mime_binary_fetch: a LEAF's range decoded
 * with its encoding (mime-cte.h, as the windowed path does) is the same
 * answer; a multipart or the whole message is CONVERT; an unknown encoding
 * is reported for the same sections. */
static void test_locate_matches_fetch(void **state)
{
	static const char *msgs[] = {MULTI,
				     "Content-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\n"
				     "Content-Transfer-Encoding: x-uue\r\n\r\nbegin\r\n--Q\r\n\r\nplain\r\n--Q--\r\n",
				     "Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n"};
	uint32_t paths[][2] = {{1, 0}, {2, 0}, {3, 0}, {3, 1}, {9, 0}, {1, 1}};
	size_t lens[] = {1, 1, 1, 2, 1, 2};
	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		size_t mlen = strlen(msgs[m]);
		struct mime_tree *tree = NULL;
		assert_int_equal(mime_parse((const unsigned char *)msgs[m], mlen, &tree), 0);
		for (size_t k = 0; k <= sizeof(lens) / sizeof(lens[0]); k++) {
			const uint32_t *path = k == 0 ? NULL : paths[k - 1];
			size_t plen = k == 0 ? 0 : lens[k - 1];
			struct buf want = {0};
			int frc = mime_binary_fetch(&want, (const unsigned char *)msgs[m], mlen, tree, path, plen);
			enum mime_binary_kind kind;
			uint64_t off, len;
			enum mime_cte cte;
			int lrc = mime_binary_locate(tree, path, plen, mlen, &kind, &off, &len, &cte);
			assert_int_equal(lrc, frc);
			if (lrc == MIME_BINARY_OK && kind == MIME_BINARY_LEAF) {
				assert_true(off + len <= mlen);
				unsigned char out[256];
				size_t got;
				struct mime_cte_dec d;
				mime_cte_dec_init(&d, cte);
				mime_cte_dec_run(&d, (const unsigned char *)msgs[m] + off, (size_t)len, true, out, sizeof(out),
						 &got);
				assert_int_equal(got, want.len);
				if (got > 0)
					assert_memory_equal(out, want.data, got);
			} else if (lrc == MIME_BINARY_OK) {
				assert_true(plen == 0 || (paths[k - 1][0] == 3 && plen == 1 && m == 0));
			}
			buf_free(&want);
		}
		mime_tree_free(&tree);
	}
}


/* Runs a plan over msg[0 .. len) the way the large-message path does:
 * copies, rewritten headers, bodies decoded by mime-cte.h in small
 * windows (7-byte input pieces, 5-byte outputs) so every resume point is
 * crossed. */
static void run_plan(struct buf *out, const unsigned char *msg, size_t len, const struct mime_binary_piece *pc,
		     size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(pc[i].len > 0);
		assert_true(pc[i].off + pc[i].len <= len);
		const unsigned char *p = msg + pc[i].off;
		if (pc[i].kind == MIME_PIECE_COPY) {
			assert_int_equal(pc[i].cte, MIME_CTE_IDENTITY);
			assert_int_equal(buf_append(out, p, (size_t)pc[i].len), 0);
		} else if (pc[i].kind == MIME_PIECE_HEADER) {
			assert_int_equal(mime_binary_rewrite_header(out, p, (size_t)pc[i].len), 0);
		} else {
			assert_int_equal(pc[i].kind, MIME_PIECE_DECODE);
			struct mime_cte_dec d;
			mime_cte_dec_init(&d, (enum mime_cte)pc[i].cte);
			size_t at = 0;
			for (;;) {
				size_t take = pc[i].len - at < 7 ? (size_t)pc[i].len - at : 7, got = 0;
				bool final = at + take == pc[i].len;
				unsigned char o[5];
				size_t used = mime_cte_dec_run(&d, p + at, take, final, o, sizeof(o), &got);
				assert_int_equal(buf_append(out, o, got), 0);
				at += used;
				if (final && used == take && mime_cte_dec_idle(&d))
					break;
			}
		}
	}
}

static const char *const PLAN_MSGS[] = {
	MULTI,
	"Subject: s\nContent-Transfer-Encoding: base64\nContent-Type: text/plain\n\naGVsbG8=\n",
	"Subject: n\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n",
	"Content-Type: multipart/mixed; boundary=Q\r\n\r\npreamble\r\n--Q\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\nplain\r\n--Q\r\n"
	"Content-Type: multipart/alternative; boundary=R\r\n\r\n--R\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\nX-A: b\r\n\r\na=3Db=\r\nc=0\r\n--R\r\n"
	"content-transfer-encoding:base64\n\nAA\r\nA=\r\n--R--\r\nepi R\r\n--Q\r\n"
	"Content-Type: message/rfc822\r\n\r\nSubject: in\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=S\r\n\r\n--S\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	"AP8A\r\n--S\r\n\r\nx\r\n--S--\r\n--Q--\r\nepilogue\r\n",
	"Content-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\n"
	"Content-Transfer-Encoding: x-uue\r\n\r\nbegin\r\n--Q\r\n\r\nplain\r\n--Q--\r\n",
};
#define N_PLAN_MSGS (sizeof(PLAN_MSGS) / sizeof(PLAN_MSGS[0]))

/* mime_binary_plan's pieces, run, equal mime_binary_fetch for every
 * section of several messages, whole and cut short (the tree then says
 * more than the bytes). */
static void test_plan_matches_fetch(void **state)
{
	const char *const *msgs = PLAN_MSGS;
	uint32_t paths[][3] = {{1}, {2}, {3}, {3, 1}, {2, 1}, {2, 2}, {3, 1, 1}, {3, 1, 2}, {9}, {1, 1}};
	size_t lens[] = {1, 1, 1, 2, 2, 2, 3, 3, 1, 2};
	size_t n_paths = sizeof(lens) / sizeof(lens[0]);
	size_t checked = 0;
	for (size_t m = 0; m < N_PLAN_MSGS; m++) {
		size_t mlen = strlen(msgs[m]);
		const unsigned char *msg = (const unsigned char *)msgs[m];
		struct mime_tree *tree = NULL;
		assert_int_equal(mime_parse(msg, mlen, &tree), 0);
		for (size_t cut = mlen;; cut = cut > 5 ? cut - 5 : 0) {
			for (size_t k = 0; k <= n_paths; k++) {
				const uint32_t *path = k == 0 ? NULL : paths[k - 1];
				size_t plen = k == 0 ? 0 : lens[k - 1];
				struct buf want = {0}, got = {0};
				int frc = mime_binary_fetch(&want, msg, cut, tree, path, plen);
				struct mime_binary_piece *pc = NULL;
				size_t n = 99;
				int prc = mime_binary_plan(tree, path, plen, cut, &pc, &n);
				assert_int_equal(prc, frc);
				if (prc == MIME_BINARY_OK) {
					assert_true(n <= (size_t)tree->n_parts * 3 + 1);
					run_plan(&got, msg, cut, pc, n);
					assert_int_equal(got.len, want.len);
					if (got.len > 0)
						assert_memory_equal(got.data, want.data, got.len);
					checked++;
				} else {
					assert_null(pc);
					assert_int_equal(n, 0);
				}
				free(pc);
				buf_free(&want);
				buf_free(&got);
			}
			if (cut == 0)
				break;
		}
		mime_tree_free(&tree);
	}
	assert_true(checked > 100);
}

/* A part's header as BINARY[] shows it: rewritten when it is a leaf whose
 * body BINARY decodes, else as stored (clamped to msg_len). */
static void shown_header(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
			 uint32_t idx)
{
	const struct mime_part *p = &tree->parts[idx];
	uint64_t off = p->hdr_off < msg_len ? p->hdr_off : msg_len;
	uint64_t len = p->hdr_len < msg_len - off ? p->hdr_len : msg_len - off;
	size_t el = 0;
	const unsigned char *e = mime_tree_str(tree, p->encoding, &el);
	enum mime_cte cte = mime_cte_parse(e, e != NULL ? el : 0);
	bool leaf = (p->flags & (MIME_PART_MULTIPART | MIME_PART_RFC822)) == 0;
	if (leaf && (cte == MIME_CTE_BASE64 || cte == MIME_CTE_QP))
		assert_int_equal(mime_binary_rewrite_header(out, msg + off, (size_t)len), 0);
	else
		assert_int_equal(buf_append(out, msg + off, (size_t)len), 0);
}

/* mime_binary_section_plan: TEXT is BINARY[] (n.TEXT: BINARY[n]) without
 * the message's header as BINARY[] shows it, MIME and HEADER that header,
 * the filters BODY's bytes; the plan run by mime-cte.h windows equals
 * mime_binary_section_fetch; for every section of the messages, whole and
 * cut short. */
static void test_section_plans(void **state)
{
	(void)state;
	static const char *const texts[] = {"TEXT", "HEADER", "MIME", "HEADER.FIELDS (Subject)",
					    "HEADER.FIELDS.NOT (Subject)"};
	static const char *const paths[] = {"", "1", "2", "3", "3.1", "2.1", "2.2", "3.1.1", "3.1.2", "9", "1.1"};
	size_t checked = 0;
	for (size_t m = 0; m < N_PLAN_MSGS; m++) {
		size_t mlen = strlen(PLAN_MSGS[m]);
		const unsigned char *msg = (const unsigned char *)PLAN_MSGS[m];
		struct mime_tree *tree = NULL;
		assert_int_equal(mime_parse(msg, mlen, &tree), 0);
		for (size_t cut = mlen;; cut = cut > 7 ? cut - 7 : 0) {
			for (size_t pi = 0; pi < sizeof(paths) / sizeof(paths[0]); pi++) {
				for (size_t ti = 0; ti < sizeof(texts) / sizeof(texts[0]); ti++) {
					char spec[128];
					snprintf(spec, sizeof(spec), "%s%s%s", paths[pi], *paths[pi] != '\0' ? "." : "",
						 texts[ti]);
					struct mime_section sec = {0};
					if (mime_section_parse(spec, strlen(spec), &sec) < 0) {
						assert_true(*paths[pi] == '\0' && strcmp(texts[ti], "MIME") == 0);
						continue;
					}
					struct buf want = {0}, got = {0}, ran = {0};
					int wrc = MIME_BINARY_OK;
					uint32_t idx;
					bool found = mime_part_by_path(tree, sec.path, sec.path_len, &idx);
					if (sec.text == MIME_SECTION_TEXT) {
						bool msgpart = sec.path_len == 0 ||
							       ((tree->parts[idx].flags & MIME_PART_RFC822) != 0 &&
								tree->parts[idx].n_children > 0);
						if (found && msgpart) {
							struct buf whole = {0}, hdr = {0};
							wrc = mime_binary_fetch(&whole, msg, cut, tree, sec.path, sec.path_len);
							shown_header(&hdr, msg, cut, tree, sec.path_len == 0 ? 0 : idx + 1);
							if (wrc == MIME_BINARY_OK && whole.len > hdr.len) {
								assert_memory_equal(whole.data, hdr.data, hdr.len);
								buf_append(&want, whole.data + hdr.len, whole.len - hdr.len);
							}
							buf_free(&whole);
							buf_free(&hdr);
						}
					} else if (sec.text == MIME_SECTION_MIME) {
						if (found)
							shown_header(&want, msg, cut, tree, idx);
					} else if (sec.text == MIME_SECTION_HEADER && found &&
						   (sec.path_len == 0 || ((tree->parts[idx].flags & MIME_PART_RFC822) != 0 &&
									  tree->parts[idx].n_children > 0))) {
						/* A message's header as BINARY[] shows it. */
						shown_header(&want, msg, cut, tree, sec.path_len == 0 ? 0 : idx + 1);
					} else {
						assert_int_equal(mime_section_fetch(&want, msg, cut, tree, &sec), 0);
					}
					int grc = mime_binary_section_fetch(&got, msg, cut, tree, &sec);
					assert_int_equal(grc, wrc);
					if (grc == MIME_BINARY_OK) {
						assert_int_equal(got.len, want.len);
						if (got.len > 0)
							assert_memory_equal(got.data, want.data, got.len);
						if (sec.text != MIME_SECTION_HEADER_FIELDS &&
						    sec.text != MIME_SECTION_HEADER_FIELDS_NOT) {
							struct mime_binary_piece *pc = NULL;
							size_t n = 0;
							assert_int_equal(mime_binary_section_plan(tree, &sec, cut, &pc, &n),
									 MIME_BINARY_OK);
							run_plan(&ran, msg, cut, pc, n);
							assert_int_equal(ran.len, got.len);
							if (got.len > 0)
								assert_memory_equal(ran.data, got.data, got.len);
							free(pc);
						}
						checked++;
					}
					buf_free(&want);
					buf_free(&got);
					buf_free(&ran);
					mime_section_clear(&sec);
				}
			}
			if (cut == 0)
				break;
		}
		mime_tree_free(&tree);
	}
	assert_true(checked > 500);
}

/* The planned pieces of the whole MULTI message: copies around each
 * encoded leaf's rewritten header and decoded body. */
static void test_plan_pieces(void **state)
{
	size_t len = strlen(MULTI);
	struct mime_tree *tree = NULL;
	assert_int_equal(mime_parse((const unsigned char *)MULTI, len, &tree), 0);
	struct mime_binary_piece *pc = NULL;
	size_t n = 0;
	assert_int_equal(mime_binary_plan(tree, NULL, 0, len, &pc, &n), MIME_BINARY_OK);
	/* copy, header, decode (qp), copy, header, decode (base64), copy,
	 * header, decode (the inner message's base64 body), copy */
	uint8_t kinds[] = {MIME_PIECE_COPY, MIME_PIECE_HEADER, MIME_PIECE_DECODE, MIME_PIECE_COPY, MIME_PIECE_HEADER,
			   MIME_PIECE_DECODE, MIME_PIECE_COPY, MIME_PIECE_HEADER, MIME_PIECE_DECODE, MIME_PIECE_COPY};
	uint8_t ctes[] = {1, 1, MIME_CTE_QP, 1, 1, MIME_CTE_BASE64, 1, 1, MIME_CTE_BASE64, 1};
	assert_int_equal(n, sizeof(kinds));
	uint64_t end = 0;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(pc[i].kind, kinds[i]);
		assert_int_equal(pc[i].cte, ctes[i]);
		assert_int_equal(pc[i].off, end); /* contiguous: nothing of MULTI is left out */
		end = pc[i].off + pc[i].len;
	}
	assert_int_equal(end, len);
	const char *h = strstr(MULTI, "Content-Type: text/plain");
	assert_int_equal(pc[1].off, (uint64_t)(h - MULTI));
	free(pc);
	/* a leaf: one piece, its body; identity: a copy */
	uint32_t p1[] = {1}, p9[] = {9};
	assert_int_equal(mime_binary_plan(tree, p1, 1, len, &pc, &n), MIME_BINARY_OK);
	assert_int_equal(n, 1);
	assert_int_equal(pc[0].kind, MIME_PIECE_DECODE);
	free(pc);
	assert_int_equal(mime_binary_plan(tree, p9, 1, len, &pc, &n), MIME_BINARY_OK);
	assert_int_equal(n, 0);
	assert_null(pc);
	mime_tree_free(&tree);

	/* part numbers count from 1: a 0 names no part (a multipart without
	 * children once read past the tree's end here; found by
	 * tests/fuzz/fuzz-binary-pieces.c) */
	const char *empty = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n";
	uint32_t p0[] = {0};
	assert_int_equal(mime_parse((const unsigned char *)empty, strlen(empty), &tree), 0);
	struct buf out = {0};
	assert_int_equal(mime_binary_fetch(&out, (const unsigned char *)empty, strlen(empty), tree, p0, 1), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(mime_binary_plan(tree, p0, 1, strlen(empty), &pc, &n), MIME_BINARY_OK);
	assert_int_equal(n, 0);
	buf_free(&out);
	mime_tree_free(&tree);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf_parts),
		cmocka_unit_test(test_whole_message),
		cmocka_unit_test(test_unknown_cte),
		cmocka_unit_test(test_truncated_message),
		cmocka_unit_test(test_locate_matches_fetch),
		cmocka_unit_test(test_plan_matches_fetch),
		cmocka_unit_test(test_plan_pieces),
		cmocka_unit_test(test_section_plans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
