/* Unit tests for frontend/binary-pieces: the walk over a BINARY answer
 * planned as pieces, driven against a model of the back-end's decoded
 * windows (backend/binary-window.c's loop over mime-cte.h, with tiny
 * reads and windows so every resume point is crossed), checked against
 * mime_binary_fetch with the partial applied, as the small-message path
 * answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frontend/binary-pieces.h"

/* The back-end model: at most OUT_MAX bytes per sent window, IN_MAX
 * encoded bytes per request, READ bytes per decoder run. */
#define OUT_MAX 4
#define IN_MAX 11
#define READ 5

struct model {
	const unsigned char *msg;
	size_t len;
	unsigned requests;
	bool corrupt; /* answer one more byte than asked */
};

static void model_window(struct model *md, const struct bp_req *r, struct bp_window *win, unsigned char *out,
			 unsigned char *state)
{
	struct mime_cte_dec dec;
	assert_int_equal(mime_cte_dec_load(&dec, r->cte, r->state, r->state_len), 0);
	assert_true(r->off + r->len <= md->len);
	uint64_t end = r->off + r->len, pos = r->off, got = 0;
	uint64_t cap = r->max > 0 ? r->max : UINT64_MAX;
	if (!r->discard && cap > OUT_MAX)
		cap = OUT_MAX;
	while (got < cap && pos - r->off < IN_MAX) {
		size_t n = end - pos < READ ? (size_t)(end - pos) : READ, produced = 0;
		bool final = pos + n == end;
		size_t took = mime_cte_dec_run(&dec, md->msg + pos, n, final, r->discard ? NULL : out + got,
					       (size_t)(cap - got), &produced);
		got += produced;
		pos += took;
		if (took < n || final)
			break;
	}
	memset(win, 0, sizeof(*win));
	win->taken = pos - r->off;
	win->count = got;
	win->state_len = mime_cte_dec_save(&dec, state);
	win->state = state;
	win->nul = dec.nul;
	win->done = pos == end && mime_cte_dec_idle(&dec);
	win->body = r->discard ? NULL : out;
	win->body_len = r->discard ? 0 : (size_t)got;
	if (md->corrupt && !r->discard) {
		win->count++;
		win->body_len++;
	}
	md->requests++;
}

/* Walks the plan of BINARY[path]<origin.count> (or BINARY.SIZE) of msg;
 * returns 0 and the answer (or -1 when the walk broke). */
static int walk(struct model *md, const struct mime_tree *tree, const uint32_t *path, size_t plen, bool size_only,
		bool partial, uint32_t origin, uint32_t count, struct buf *out, uint64_t *lit_r, bool *nul_r)
{
	struct mime_binary_piece *pc = NULL;
	size_t n = 0;
	assert_int_equal(mime_binary_plan(tree, path, plen, md->len, &pc, &n), MIME_BINARY_OK);
	struct bp_walk w;
	bp_init(&w, pc, n, size_only, partial, origin, count, 3);
	unsigned char wbuf[64], state[MIME_CTE_STATE_MAX];
	int rc = -1;
	for (unsigned guard = 0; guard < 100000; guard++) {
		struct bp_req r;
		const unsigned char *o = NULL;
		size_t ol = 0;
		enum bp_step st = bp_next(&w, &r);
		if (st == BP_COUNTED) {
			*lit_r = w.lit;
			*nul_r = w.nul;
			if (size_only)
				break;
			bp_output(&w);
			continue;
		}
		if (st == BP_DONE) {
			rc = 0;
			break;
		}
		if (st == BP_BROKEN)
			break;
		if (st == BP_READ) {
			assert_true(r.off + r.len <= md->len);
			md->requests++;
			if (bp_feed_read(&w, md->msg + r.off, (size_t)r.len, &o, &ol) < 0)
				continue;
		} else {
			struct bp_window win;
			model_window(md, &r, &win, wbuf, state);
			if (bp_feed_window(&w, &win, &o, &ol) < 0)
				continue;
		}
		assert_true(ol <= 3 || st == BP_READ);
		assert_int_equal(buf_append(out, o, ol), 0);
	}
	if (size_only && w.phase == BP_PH_COUNTED)
		rc = 0;
	bp_clear(&w);
	return rc;
}

static const char MSG[] =
	"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\npreamble\r\n--Q\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\npl\0in\r\n--Q\r\n"
	"Content-Type: multipart/alternative; boundary=R\r\n\r\n--R\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\nX-A: b\r\n\r\na=3Db=\r\nc=00=41long line of text\r\n--R\r\n"
	"content-transfer-encoding:base64\n\nAAEC\r\nA2hp\r\n--R--\r\nepi R\r\n--Q\r\n"
	"Content-Type: message/rfc822\r\n\r\nSubject: in\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=S\r\n\r\n--S\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	"aGVsbG8gd29ybGQ=\r\n--S\r\n\r\nx\r\n--S--\r\n--Q--\r\nepilogue\r\n";

/* Every section, every partial origin and several counts: the walk's
 * literal length, literal8 choice and bytes are what the whole-message
 * path answers. */
static void test_walk_matches_fetch(void **state)
{
	size_t len = sizeof(MSG) - 1;
	const unsigned char *msg = (const unsigned char *)MSG;
	struct mime_tree *tree = NULL;
	assert_int_equal(mime_parse(msg, len, &tree), 0);
	uint32_t paths[][2] = {{0}, {2}, {3}, {3, 1}, {2, 2}, {1}};
	size_t lens[] = {0, 1, 1, 2, 2, 1};
	unsigned checked = 0;
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		struct buf whole = {0};
		assert_int_equal(mime_binary_fetch(&whole, msg, len, tree, paths[k], lens[k]), MIME_BINARY_OK);
		assert_true(whole.len > 0);
		struct model md = {.msg = msg, .len = len};
		struct buf out = {0};
		uint64_t lit = 0;
		bool nul = false;
		assert_int_equal(walk(&md, tree, paths[k], lens[k], true, false, 0, 0, &out, &lit, &nul), 0);
		assert_int_equal(lit, whole.len); /* BINARY.SIZE */
		assert_int_equal(out.len, 0);
		buf_free(&out);
		for (size_t origin = 0; origin <= whole.len + 2; origin++) {
			static const uint32_t counts[] = {0, 1, 2, 5, 17, 1000};
			for (size_t j = 0; j < sizeof(counts) / sizeof(counts[0]); j++) {
				bool partial = counts[j] > 0;
				if (!partial && origin > 0)
					continue;
				size_t start = origin < whole.len ? origin : whole.len;
				size_t n = whole.len - start;
				if (partial && n > counts[j])
					n = counts[j];
				md.requests = 0;
				buf_reset(&out);
				assert_int_equal(walk(&md, tree, paths[k], lens[k], false, partial, (uint32_t)origin,
						      counts[j], &out, &lit, &nul),
						 0);
				assert_int_equal(lit, n);
				assert_int_equal(out.len, n);
				if (n > 0)
					assert_memory_equal(out.data, whole.data + start, n);
				assert_int_equal(nul, n > 0 && memchr(whole.data + start, '\0', n) != NULL);
				checked++;
			}
		}
		buf_free(&out);
		buf_free(&whole);
	}
	assert_true(checked > 500);
	mime_tree_free(&tree);
}

/* A back-end that answers more bytes than asked breaks the walk (the
 * caller ends the connection), never a wrong answer or a loop. */
static void test_broken_backend(void **state)
{
	size_t len = sizeof(MSG) - 1;
	const unsigned char *msg = (const unsigned char *)MSG;
	struct mime_tree *tree = NULL;
	assert_int_equal(mime_parse(msg, len, &tree), 0);
	struct model md = {.msg = msg, .len = len, .corrupt = true};
	struct buf out = {0};
	uint64_t lit = 0;
	bool nul = false;
	assert_int_equal(walk(&md, tree, NULL, 0, false, false, 0, 0, &out, &lit, &nul), -1);
	buf_free(&out);

	/* a header read shorter than asked */
	struct mime_binary_piece *pc = NULL;
	size_t n = 0;
	assert_int_equal(mime_binary_plan(tree, NULL, 0, len, &pc, &n), MIME_BINARY_OK);
	struct bp_walk w;
	bp_init(&w, pc, n, false, false, 0, 0, 3);
	struct bp_req r;
	const unsigned char *o;
	size_t ol;
	enum bp_step st;
	for (;;) { /* to the first header read */
		st = bp_next(&w, &r);
		assert_int_not_equal(st, BP_BROKEN);
		if (st == BP_READ)
			break;
		struct bp_window win;
		unsigned char wbuf[64], sb[MIME_CTE_STATE_MAX];
		model_window(&md, &r, &win, wbuf, sb);
		assert_int_equal(bp_feed_window(&w, &win, &o, &ol), 0);
	}
	assert_int_equal(bp_feed_read(&w, msg + r.off, (size_t)r.len - 1, &o, &ol), -1);
	assert_int_equal(bp_next(&w, &r), BP_BROKEN);
	/* a reply nobody asked for */
	struct bp_window none = {0};
	assert_int_equal(bp_feed_window(&w, &none, &o, &ol), -1);
	bp_clear(&w);
	mime_tree_free(&tree);
}

/* BINARY.SIZE asks for no copied range (its length is known) and BINARY
 * with a partial stops counting at the partial's end. */
static void test_requests_saved(void **state)
{
	size_t len = sizeof(MSG) - 1;
	const unsigned char *msg = (const unsigned char *)MSG;
	struct mime_tree *tree = NULL;
	assert_int_equal(mime_parse(msg, len, &tree), 0);
	struct model full = {.msg = msg, .len = len}, size = full, part = full;
	struct buf out = {0};
	uint64_t lit;
	bool nul;
	assert_int_equal(walk(&full, tree, NULL, 0, false, false, 0, 0, &out, &lit, &nul), 0);
	assert_int_equal(walk(&size, tree, NULL, 0, true, false, 0, 0, &out, &lit, &nul), 0);
	assert_int_equal(walk(&part, tree, NULL, 0, false, true, 0, 2, &out, &lit, &nul), 0);
	assert_true(size.requests < full.requests);
	assert_true(part.requests < 4);
	buf_free(&out);
	mime_tree_free(&tree);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_matches_fetch),
		cmocka_unit_test(test_broken_backend),
		cmocka_unit_test(test_requests_saved),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
