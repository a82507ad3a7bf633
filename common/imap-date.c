/*
 * imap-date: IMAP date and date-time. See imap-date.h for the contract.
 *
 * Why not strptime/mktime/timegm: strptime's %b depends on the locale and
 * accepts sloppy input, mktime depends on TZ, and neither validates that the
 * day exists. The civil-date arithmetic is small, so it is done here:
 * days are counted from 0000-01-01 of the proleptic Gregorian calendar, where
 * year Y starts after 365*Y days plus one day per leap year in 0 .. Y-1.
 */
#include "imap-date.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
/* Days before the first of each month, in a common year. */
static const int month_start[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

/* Days from 0000-01-01 to 1970-01-01. */
#define EPOCH_DAYS 719528
#define SECS_PER_DAY 86400

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m /* 0..11 */)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 1 && is_leap(y) ? 29 : len[m];
}

/* Days from 0000-01-01 to Y-01-01, for Y >= 0. */
static int64_t days_before_year(int64_t y)
{
	return 365 * y + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
}

/* Days since the epoch of y-(m+1)-d. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t days = days_before_year(y) + month_start[m] + (d - 1);
	if (m > 1 && is_leap(y))
		days++;
	return days - EPOCH_DAYS;
}

/* Inverse of days_from_civil for days within years 0..9999. */
static void civil_from_days(int64_t days, int64_t *y_r, int *m_r, int *d_r)
{
	int64_t z = days + EPOCH_DAYS; /* days since 0000-01-01 */
	int64_t y = z * 400 / 146097;  /* 146097 days per 400 years */
	while (y > 0 && days_before_year(y) > z)
		y--;
	while (days_before_year(y + 1) <= z)
		y++;
	int doy = (int)(z - days_before_year(y));
	int m = 0;
	while (m < 11 && doy >= days_in_month(y, m)) {
		doy -= days_in_month(y, m);
		m++;
	}
	*y_r = y;
	*m_r = m;
	*d_r = doy + 1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads exactly n digits at s[*pos]. */
static int read_digits(const char *s, size_t len, size_t *pos, int n, int *v_r)
{
	int v = 0;
	if (*pos > len || len - *pos < (size_t)n)
		return -1;
	for (int i = 0; i < n; i++) {
		char c = s[*pos + (size_t)i];
		if (!is_digit(c))
			return -1;
		v = v * 10 + (c - '0');
	}
	*pos += (size_t)n;
	*v_r = v;
	return 0;
}

static int expect_char(const char *s, size_t len, size_t *pos, char c)
{
	if (*pos >= len || s[*pos] != c)
		return -1;
	(*pos)++;
	return 0;
}

static int read_month(const char *s, size_t len, size_t *pos, int *m_r)
{
	if (*pos > len || len - *pos < 3)
		return -1;
	for (int m = 0; m < 12; m++) {
		bool same = true;
		for (int i = 0; i < 3; i++) {
			char c = s[*pos + (size_t)i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			char want = month_names[m][i];
			if (want >= 'A' && want <= 'Z')
				want = (char)(want - 'A' + 'a');
			if (c != want) {
				same = false;
				break;
			}
		}
		if (same) {
			*pos += 3;
			*m_r = m;
			return 0;
		}
	}
	return -1;
}

/* "-Mon-yyyy" after the day, and checks the day exists. */
static int read_month_year(const char *s, size_t len, size_t *pos, int day, int *m_r, int *y_r)
{
	int m, y;
	if (expect_char(s, len, pos, '-') < 0 || read_month(s, len, pos, &m) < 0 ||
	    expect_char(s, len, pos, '-') < 0 || read_digits(s, len, pos, 4, &y) < 0)
		return -1;
	if (day < 1 || day > days_in_month(y, m))
		return -1;
	*m_r = m;
	*y_r = y;
	return 0;
}

int imap_date_parse(const char *s, size_t len, time_t *t_r)
{
	size_t pos = 0;
	int day, m, y;
	if (len >= 2 && is_digit(s[0]) && is_digit(s[1])) {
		if (read_digits(s, len, &pos, 2, &day) < 0)
			return -1;
	} else if (read_digits(s, len, &pos, 1, &day) < 0) {
		return -1;
	}
	if (read_month_year(s, len, &pos, day, &m, &y) < 0 || pos != len)
		return -1;
	*t_r = (time_t)(days_from_civil(y, m, day) * SECS_PER_DAY);
	return 0;
}

int imap_datetime_parse(const char *s, size_t len, time_t *t_r, int *tz_minutes_r)
{
	size_t pos = 0;
	int day, m, y, hh, mi, ss, zh, zm;
	if (len >= 2 && s[0] == ' ') {
		pos = 1;
		if (read_digits(s, len, &pos, 1, &day) < 0)
			return -1;
	} else if (len >= 2 && is_digit(s[0]) && is_digit(s[1])) {
		if (read_digits(s, len, &pos, 2, &day) < 0)
			return -1;
	} else if (read_digits(s, len, &pos, 1, &day) < 0) {
		return -1;
	}
	if (read_month_year(s, len, &pos, day, &m, &y) < 0)
		return -1;
	if (expect_char(s, len, &pos, ' ') < 0 || read_digits(s, len, &pos, 2, &hh) < 0 ||
	    expect_char(s, len, &pos, ':') < 0 || read_digits(s, len, &pos, 2, &mi) < 0 ||
	    expect_char(s, len, &pos, ':') < 0 || read_digits(s, len, &pos, 2, &ss) < 0 ||
	    expect_char(s, len, &pos, ' ') < 0)
		return -1;
	if (hh > 23 || mi > 59 || ss > 60)
		return -1;
	if (pos >= len || (s[pos] != '+' && s[pos] != '-'))
		return -1;
	int sign = s[pos] == '-' ? -1 : 1;
	pos++;
	if (read_digits(s, len, &pos, 2, &zh) < 0 || read_digits(s, len, &pos, 2, &zm) < 0 || pos != len)
		return -1;
	if (zh > 23 || zm > 59)
		return -1;
	int tz = sign * (zh * 60 + zm);
	int64_t t = days_from_civil(y, m, day) * SECS_PER_DAY + (int64_t)hh * 3600 + (int64_t)mi * 60 + ss;
	t -= (int64_t)tz * 60;
	if (t_r != NULL)
		*t_r = (time_t)t;
	if (tz_minutes_r != NULL)
		*tz_minutes_r = tz;
	return 0;
}

/* Writes v (>= 0) as exactly n decimal digits. */
static void put_digits(char *out, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void imap_datetime_format(time_t t, int tz_minutes, char out[IMAP_DATETIME_SIZE])
{
	if (tz_minutes > IMAP_TZ_MAX_MINUTES || tz_minutes < -IMAP_TZ_MAX_MINUTES)
		tz_minutes = 0;
	const int64_t min_local = (days_before_year(0) - EPOCH_DAYS) * SECS_PER_DAY;
	const int64_t max_local = (days_before_year(10000) - EPOCH_DAYS) * SECS_PER_DAY - 1;
	int64_t local = (int64_t)t;
	/* Clamp before adding the offset so that the sum cannot overflow. */
	if (local < min_local)
		local = min_local;
	if (local > max_local)
		local = max_local;
	local += (int64_t)tz_minutes * 60;
	if (local < min_local)
		local = min_local;
	if (local > max_local)
		local = max_local;

	int64_t days = local / SECS_PER_DAY, secs = local % SECS_PER_DAY;
	if (secs < 0) {
		secs += SECS_PER_DAY;
		days--;
	}
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	int atz = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	/* Fixed layout, written digit by digit: every field is in range here. */
	put_digits(out, d, 2);
	out[2] = '-';
	memcpy(out + 3, month_names[m], 3);
	out[6] = '-';
	put_digits(out + 7, (int)y, 4);
	out[11] = ' ';
	put_digits(out + 12, (int)(secs / 3600), 2);
	out[14] = ':';
	put_digits(out + 15, (int)(secs / 60 % 60), 2);
	out[17] = ':';
	put_digits(out + 18, (int)(secs % 60), 2);
	out[20] = ' ';
	out[21] = tz_minutes < 0 ? '-' : '+';
	put_digits(out + 22, atz / 60, 2);
	put_digits(out + 24, atz % 60, 2);
	out[26] = '\0';
}
