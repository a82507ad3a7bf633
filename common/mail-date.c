/* mail-date: RFC 5322 Date: values. See mail-date.h. */
#include "mail-date.h"

#include "civil-date.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MAX_COMMENT_DEPTH 16

struct lex {
	const unsigned char *p, *end;
};

/* Skips white space and comments; false on an unbalanced or too deep comment. */
static bool skip_cfws(struct lex *lx)
{
	while (lx->p < lx->end) {
		unsigned char c = *lx->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->p++;
		} else if (c == '(') {
			unsigned depth = 0;
			do {
				if (*lx->p == '\\' && lx->p + 1 < lx->end)
					lx->p++;
				else if (*lx->p == '(' && ++depth > MAX_COMMENT_DEPTH)
					return false;
				else if (*lx->p == ')')
					depth--;
				lx->p++;
			} while (depth > 0 && lx->p < lx->end);
			if (depth > 0)
				return false;
		} else {
			break;
		}
	}
	return true;
}

/* A run of at least min and at most max digits. */
static bool number(struct lex *lx, unsigned min, unsigned max, int *v_r, unsigned *n_r)
{
	unsigned n = 0;
	int v = 0;
	while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9' && n < max + 1) {
		v = v * 10 + (*lx->p - '0');
		lx->p++;
		n++;
	}
	if (n < min || n > max)
		return false;
	*v_r = v;
	if (n_r != NULL)
		*n_r = n;
	return true;
}

/* A run of letters, copied (up to cap - 1) into w. */
static size_t word(struct lex *lx, char *w, size_t cap)
{
	size_t n = 0;
	while (lx->p < lx->end && ((*lx->p | 0x20) >= 'a' && (*lx->p | 0x20) <= 'z')) {
		if (n + 1 < cap)
			w[n] = (char)*lx->p;
		n++;
		lx->p++;
	}
	w[n < cap ? n : cap - 1] = '\0';
	return n;
}

static int month_days(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

static bool zone_name(const char *w, size_t n, int *tz_r)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {{"UT", 0},	  {"GMT", 0},  {"UTC", 0},  {"EST", -5}, {"EDT", -4}, {"CST", -6},
		     {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strcasecmp(w, zones[i].name) == 0) {
			*tz_r = zones[i].hours * 60;
			return true;
		}
	}
	if (n == 1 && (w[0] | 0x20) != 'j') { /* military: meaning unreliable, RFC 5322 says -0000 */
		*tz_r = 0;
		return true;
	}
	return false;
}

int mail_date_parse(const unsigned char *s, size_t len, int64_t *t_r, int *tz_r)
{
	static const char *const months[12] = {"jan", "feb", "mar", "apr", "may", "jun",
					       "jul", "aug", "sep", "oct", "nov", "dec"};
	struct lex lx = {s, s + len};
	char w[8];
	int day, mon = 0, year, hh, mm, ss = 0, tz = 0;
	unsigned ny;
	if (!skip_cfws(&lx))
		return -1;
	/* [ day-of-week "," ] */
	if (lx.p < lx.end && !(*lx.p >= '0' && *lx.p <= '9')) {
		if (word(&lx, w, sizeof(w)) == 0 || !skip_cfws(&lx) || lx.p >= lx.end || *lx.p != ',')
			return -1;
		lx.p++;
		if (!skip_cfws(&lx))
			return -1;
	}
	if (!number(&lx, 1, 2, &day, NULL) || !skip_cfws(&lx))
		return -1;
	if (word(&lx, w, sizeof(w)) != 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strcasecmp(w, months[i]) == 0)
			mon = i + 1;
	if (mon == 0 || !skip_cfws(&lx) || !number(&lx, 2, 4, &year, &ny) || !skip_cfws(&lx))
		return -1;
	if (ny == 2)
		year += year < 50 ? 2000 : 1900;
	else if (ny == 3)
		year += 1900;
	if (!number(&lx, 1, 2, &hh, NULL) || !skip_cfws(&lx) || lx.p >= lx.end || *lx.p++ != ':' ||
	    !skip_cfws(&lx) || !number(&lx, 1, 2, &mm, NULL) || !skip_cfws(&lx))
		return -1;
	if (lx.p < lx.end && *lx.p == ':') {
		lx.p++;
		if (!skip_cfws(&lx) || !number(&lx, 1, 2, &ss, NULL) || !skip_cfws(&lx))
			return -1;
	}
	if (lx.p < lx.end && (*lx.p == '+' || *lx.p == '-')) {
		int sign = *lx.p++ == '-' ? -1 : 1, z;
		if (!number(&lx, 4, 4, &z, NULL) || z % 100 >= 60)
			return -1;
		tz = sign * ((z / 100) * 60 + z % 100);
	} else if (lx.p < lx.end) {
		size_t n = word(&lx, w, sizeof(w));
		if (n == 0 || n >= sizeof(w) || !zone_name(w, n, &tz))
			return -1;
	}
	if (day < 1 || day > month_days(year, mon) || hh > 23 || mm > 59 || ss > 60)
		return -1;
	if (t_r != NULL)
		*t_r = civil_days(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)tz * 60;
	if (tz_r != NULL)
		*tz_r = tz;
	return 0;
}
