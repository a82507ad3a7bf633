/* mime-cte: resumable Content-Transfer-Encoding decoders. See mime-cte.h. */
#include "mime-cte.h"

#include "hex.h"

#include <string.h>
#include <strings.h>

/* Quoted-printable modes (what d->in holds). */
enum qp_mode {
	QP_NORMAL = 0, /* nothing pending */
	QP_EQ = 1,     /* "=" and 0 .. MIME_CTE_QP_BLANKS_MAX blanks */
	QP_EQ_HEX = 2, /* "=" and one hex digit */
	QP_EQ_CR = 3,  /* a soft break ended by CR: a following LF belongs to it */
};

#define STATE_VERSION 1

static bool named(const unsigned char *s, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp((const char *)s, name, len) == 0;
}

enum mime_cte mime_cte_parse(const unsigned char *name, size_t len)
{
	if (name == NULL || len == 0 || named(name, len, "7bit") || named(name, len, "8bit") ||
	    named(name, len, "binary"))
		return MIME_CTE_IDENTITY;
	if (named(name, len, "base64"))
		return MIME_CTE_BASE64;
	if (named(name, len, "quoted-printable"))
		return MIME_CTE_QP;
	return MIME_CTE_UNKNOWN;
}

void mime_cte_dec_init(struct mime_cte_dec *d, enum mime_cte cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = (uint8_t)cte;
}

bool mime_cte_dec_idle(const struct mime_cte_dec *d)
{
	return d->n_in == 0 && d->out_pos == d->n_out && d->mode == QP_NORMAL;
}

/* Where produced bytes go: the caller's window (out may be NULL: count). */
struct sink {
	unsigned char *out;
	size_t cap, len;
};

/* Delivers c, or keeps it owed when the window is full (or bytes are owed
 * already, to keep the order). */
static inline void put(struct mime_cte_dec *d, struct sink *s, unsigned char c)
{
	if (d->out_pos == d->n_out && s->len < s->cap) {
		if (c == 0)
			d->nul = true;
		if (s->out != NULL)
			s->out[s->len] = c;
		s->len++;
		return;
	}
	d->out[d->n_out++] = c; /* bounded: one step owes at most sizeof(out) bytes */
}

/* n bytes that decode to themselves, straight into the window (they fit). */
static void put_run(struct mime_cte_dec *d, struct sink *s, const unsigned char *p, size_t n)
{
	if (s->out != NULL)
		memcpy(s->out + s->len, p, n);
	if (!d->nul && memchr(p, 0, n) != NULL)
		d->nul = true;
	s->len += n;
}

static void drain(struct mime_cte_dec *d, struct sink *s)
{
	while (d->out_pos < d->n_out && s->len < s->cap) {
		if (d->out[d->out_pos] == 0)
			d->nul = true;
		if (s->out != NULL)
			s->out[s->len] = d->out[d->out_pos];
		s->len++;
		d->out_pos++;
	}
	if (d->out_pos == d->n_out)
		d->out_pos = d->n_out = 0;
}

/* base64 alphabet value + 1 (0: not base64, 65: "="). */
static const unsigned char B64[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8, ['I'] = 9,
	['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45,
	['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
	['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
	['/'] = 64, ['='] = 65,
};

static int b64_value(unsigned char c)
{
	return B64[c] == 0 ? -1 : B64[c] - 1;
}

static void b64_group(struct mime_cte_dec *d, struct sink *s)
{
	unsigned v[4];
	for (int k = 0; k < 4; k++) {
		int x = b64_value(d->in[k]);
		v[k] = x == 64 ? 0 : (unsigned)x;
	}
	unsigned char b[3] = {(unsigned char)(v[0] << 2 | v[1] >> 4), (unsigned char)(v[1] << 4 | v[2] >> 2),
			      (unsigned char)(v[2] << 6 | v[3])};
	int n = d->in[3] == '=' ? (d->in[2] == '=' ? 1 : 2) : 3;
	for (int k = 0; k < n; k++)
		put(d, s, b[k]);
	d->n_in = 0;
}

/* Pending quoted-printable input becomes text (a "=" that escapes nothing). */
static void qp_keep(struct mime_cte_dec *d, struct sink *s)
{
	for (uint16_t k = 0; k < d->n_in; k++)
		put(d, s, d->in[k]);
	d->n_in = 0;
	d->mode = QP_NORMAL;
}

static bool blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* One quoted-printable input byte: 1 when taken, 0 when it must be looked
 * at again in the new mode. */
static int qp_step(struct mime_cte_dec *d, struct sink *s, unsigned char c)
{
	switch (d->mode) {
	case QP_NORMAL:
		if (c != '=') {
			put(d, s, c);
			return 1;
		}
		d->in[0] = '=';
		d->n_in = 1;
		d->mode = QP_EQ;
		return 1;
	case QP_EQ:
		if (blank(c)) {
			if (d->n_in < 1 + MIME_CTE_QP_BLANKS_MAX) {
				d->in[d->n_in++] = c;
				return 1;
			}
			qp_keep(d, s);
			return 0;
		}
		if (c == '\r' || c == '\n') { /* soft line break */
			d->n_in = 0;
			d->mode = c == '\r' ? QP_EQ_CR : QP_NORMAL;
			return 1;
		}
		if (d->n_in == 1 && hex_digit(c) >= 0) {
			d->in[d->n_in++] = c;
			d->mode = QP_EQ_HEX;
			return 1;
		}
		qp_keep(d, s);
		return 0;
	case QP_EQ_HEX:
		if (hex_digit(c) >= 0) {
			put(d, s, (unsigned char)(hex_digit(d->in[1]) << 4 | hex_digit(c)));
			d->n_in = 0;
			d->mode = QP_NORMAL;
			return 1;
		}
		qp_keep(d, s);
		return 0;
	case QP_EQ_CR:
	default:
		d->mode = QP_NORMAL;
		return c == '\n' ? 1 : 0;
	}
}

/* The end of the encoded data: what is pending is flushed. */
static void finish(struct mime_cte_dec *d, struct sink *s)
{
	if (d->cte == MIME_CTE_QP) {
		if (d->mode == QP_EQ || d->mode == QP_EQ_HEX)
			qp_keep(d, s);
		d->mode = QP_NORMAL;
	}
	d->n_in = 0; /* base64: an incomplete group is dropped */
}

size_t mime_cte_dec_run(struct mime_cte_dec *d, const unsigned char *in, size_t len, bool final, unsigned char *out,
			size_t cap, size_t *out_len_r)
{
	struct sink s = {out, cap, 0};
	size_t i = 0;
	for (;;) {
		drain(d, &s);
		if (d->out_pos < d->n_out || s.len >= s.cap)
			break;
		if (i == len) {
			if (final && (d->n_in > 0 || d->mode != QP_NORMAL)) {
				finish(d, &s);
				continue;
			}
			break;
		}
		switch (d->cte) {
		case MIME_CTE_BASE64: {
			/* Whole groups of 4 alphabet characters straight into the
			 * window while nothing is pending and 3 bytes fit. */
			if (d->n_in == 0 && d->n_out == 0) {
				while (len - i >= 4 && s.cap - s.len >= 3) {
					unsigned a = B64[in[i]] - 1u, b = B64[in[i + 1]] - 1u, c = B64[in[i + 2]] - 1u,
						 e = B64[in[i + 3]] - 1u;
					if ((a | b | c | e) >= 64)
						break; /* "=", a line break or garbage: the slow path */
					unsigned char o[3] = {(unsigned char)(a << 2 | b >> 4), (unsigned char)(b << 4 | c >> 2),
							      (unsigned char)(c << 6 | e)};
					if (o[0] == 0 || o[1] == 0 || o[2] == 0)
						d->nul = true;
					if (s.out != NULL)
						memcpy(s.out + s.len, o, 3);
					s.len += 3;
					i += 4;
				}
				if (i == len || s.len >= s.cap)
					break;
			}
			unsigned char c = in[i++];
			if (b64_value(c) < 0)
				break;
			d->in[d->n_in++] = c;
			if (d->n_in == 4)
				b64_group(d, &s);
			break;
		}
		case MIME_CTE_QP:
			if (d->mode == QP_NORMAL && d->n_out == 0 && in[i] != '=') {
				/* Text up to the next "=" straight into the window. */
				size_t n = len - i < s.cap - s.len ? len - i : s.cap - s.len;
				const unsigned char *eq = memchr(in + i, '=', n);
				if (eq != NULL)
					n = (size_t)(eq - (in + i));
				put_run(d, &s, in + i, n);
				i += n;
				break;
			}
			i += (size_t)qp_step(d, &s, in[i]);
			break;
		default: { /* identity: as much as fits, at once */
			size_t n = len - i < s.cap - s.len ? len - i : s.cap - s.len;
			put_run(d, &s, in + i, n);
			i += n;
			break;
		}
		}
	}
	*out_len_r = s.len;
	return i;
}

/* Saved state: version, cte, mode, n_in, in[n_in], n_owed, owed[n_owed]. */
size_t mime_cte_dec_save(const struct mime_cte_dec *d, unsigned char buf[MIME_CTE_STATE_MAX])
{
	_Static_assert(4 + sizeof(d->in) + 1 + sizeof(d->out) <= MIME_CTE_STATE_MAX, "state fits");
	size_t n = 0;
	uint16_t owed = (uint16_t)(d->n_out - d->out_pos);
	buf[n++] = STATE_VERSION;
	buf[n++] = d->cte;
	buf[n++] = d->mode;
	buf[n++] = (unsigned char)d->n_in;
	memcpy(buf + n, d->in, d->n_in);
	n += d->n_in;
	buf[n++] = (unsigned char)owed;
	memcpy(buf + n, d->out + d->out_pos, owed);
	return n + owed;
}

static bool in_valid(const struct mime_cte_dec *d)
{
	switch (d->cte) {
	case MIME_CTE_IDENTITY:
		return d->mode == QP_NORMAL && d->n_in == 0;
	case MIME_CTE_BASE64:
		if (d->mode != QP_NORMAL || d->n_in > 3)
			return false;
		for (uint16_t k = 0; k < d->n_in; k++)
			if (b64_value(d->in[k]) < 0)
				return false;
		return true;
	case MIME_CTE_QP:
		switch (d->mode) {
		case QP_NORMAL:
		case QP_EQ_CR:
			return d->n_in == 0;
		case QP_EQ:
			if (d->n_in < 1 || d->in[0] != '=')
				return false;
			for (uint16_t k = 1; k < d->n_in; k++)
				if (!blank(d->in[k]))
					return false;
			return true;
		case QP_EQ_HEX:
			return d->n_in == 2 && d->in[0] == '=' && hex_digit(d->in[1]) >= 0;
		default:
			return false;
		}
	default:
		return false;
	}
}

int mime_cte_dec_load(struct mime_cte_dec *d, enum mime_cte cte, const unsigned char *p, size_t len)
{
	if (cte != MIME_CTE_IDENTITY && cte != MIME_CTE_BASE64 && cte != MIME_CTE_QP)
		return -1;
	mime_cte_dec_init(d, cte);
	if (len == 0)
		return 0;
	size_t n = 0;
	if (len < 5 || p[0] != STATE_VERSION || p[1] != cte)
		return -1;
	d->mode = p[2];
	d->n_in = p[3];
	n = 4;
	if (d->n_in > sizeof(d->in) || len - n < (size_t)d->n_in + 1)
		return -1;
	memcpy(d->in, p + n, d->n_in);
	n += d->n_in;
	size_t owed = p[n++];
	if (owed > sizeof(d->out) || len - n != owed)
		return -1;
	memcpy(d->out, p + n, owed);
	d->n_out = (uint16_t)owed;
	if (!in_valid(d))
		return -1;
	return 0;
}
