/* Unit tests for common/imap-date. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "imap-date.h"

static int dt_parse(const char *s, time_t *t, int *tz)
{
	return imap_datetime_parse(s, strlen(s), t, tz);
}

static void test_datetime_known(void **state)
{
	time_t t = 0;
	int tz = 12345;
	/* RFC 3501 example: 17-Jul-1996 02:44:25 -0700 == 09:44:25 UTC */
	assert_int_equal(dt_parse("17-Jul-1996 02:44:25 -0700", &t, &tz), 0);
	assert_int_equal((int64_t)t, 837596665);
	assert_int_equal(tz, -420);

	assert_int_equal(dt_parse(" 1-Jan-2020 00:00:00 +0000", &t, &tz), 0);
	assert_int_equal((int64_t)t, 1577836800);
	assert_int_equal(tz, 0);
	assert_int_equal(dt_parse("01-Jan-2020 00:00:00 +0000", &t, &tz), 0);
	assert_int_equal((int64_t)t, 1577836800);
	/* Lenient single-digit day. */
	assert_int_equal(dt_parse("1-Jan-2020 00:00:00 +0000", &t, &tz), 0);
	assert_int_equal((int64_t)t, 1577836800);

	/* Zone east of UTC moves the instant earlier; minutes are honoured. */
	assert_int_equal(dt_parse("01-Jan-2020 05:30:00 +0530", &t, &tz), 0);
	assert_int_equal((int64_t)t, 1577836800);
	assert_int_equal(tz, 330);
	assert_int_equal(dt_parse("31-Dec-2019 22:30:00 -0130", &t, &tz), 0);
	assert_int_equal((int64_t)t, 1577836800);
	assert_int_equal(tz, -90);

	/* Extreme zones. */
	assert_int_equal(dt_parse("01-Jan-2020 23:59:00 +2359", &t, &tz), 0);
	assert_int_equal((int64_t)t, 1577836800);
	assert_int_equal(tz, 1439);
	assert_int_equal(dt_parse("31-Dec-2019 00:01:00 -2359", &t, &tz), 0);
	assert_int_equal((int64_t)t, 1577836800);
	assert_int_equal(tz, -1439);

	/* Case-insensitive month, leap day, before the epoch. */
	assert_int_equal(dt_parse("29-FEB-2000 12:00:00 +0000", &t, NULL), 0);
	assert_int_equal((int64_t)t, 951825600);
	assert_int_equal(dt_parse("29-feb-2000 12:00:00 +0000", NULL, &tz), 0);
	assert_int_equal(dt_parse("31-Dec-1969 23:59:59 +0000", &t, NULL), 0);
	assert_int_equal((int64_t)t, -1);
	assert_int_equal(dt_parse("01-Jan-0001 00:00:00 +0000", &t, NULL), 0);
	assert_int_equal((int64_t)t, -62135596800LL);
	assert_int_equal(dt_parse("31-Dec-9999 23:59:59 +0000", &t, NULL), 0);
	assert_int_equal((int64_t)t, 253402300799LL);

	/* Leap second counts as the next second. */
	assert_int_equal(dt_parse("31-Dec-2019 23:59:60 +0000", &t, NULL), 0);
	assert_int_equal((int64_t)t, 1577836800);

	/* Length is honoured: trailing bytes outside len are ignored. */
	const char *s = "01-Jan-2020 00:00:00 +0000XYZ";
	assert_int_equal(imap_datetime_parse(s, 26, &t, &tz), 0);
	assert_int_equal((int64_t)t, 1577836800);
}

static void test_datetime_rejects(void **state)
{
	const char *bad[] = {
		"",
		"01-Jan-2020 00:00:00 +0000 ",
		"01-Jan-2020 00:00:00 +000",
		"01-Jan-2020 00:00:00 0000",
		"01-Jan-2020 00:00:00 +2400",
		"01-Jan-2020 00:00:00 +0060",
		"01-Jan-2020 00:00:00 -9999",
		"01-Jan-2020 24:00:00 +0000",
		"01-Jan-2020 23:60:00 +0000",
		"01-Jan-2020 23:59:61 +0000",
		"00-Jan-2020 00:00:00 +0000",
		"32-Jan-2020 00:00:00 +0000",
		"31-Apr-2020 00:00:00 +0000",
		"29-Feb-1900 00:00:00 +0000",
		"29-Feb-2023 00:00:00 +0000",
		"30-Feb-2024 00:00:00 +0000",
		"01-Jun-20 00:00:00 +0000",
		"01-Jun-20200 00:00:00 +0000",
		"01-Jux-2020 00:00:00 +0000",
		"01-June-2020 00:00:00 +0000",
		"01 Jan 2020 00:00:00 +0000",
		"01-Jan-2020T00:00:00 +0000",
		"01-Jan-2020 0:00:00 +0000",
		"01-Jan-2020 00:00 +0000",
		"01-Jan-2020 00:00:00  +0000",
		" 12-Jan-2020 00:00:00 +0000",
		"  1-Jan-2020 00:00:00 +0000",
		"101-Jan-2020 00:00:00 +0000",
		"\"01-Jan-2020 00:00:00 +0000\"",
		"01-Jan-2020 00:00:00 +00a0",
		"01-Jan-2020 00:00:00 +-100",
		"1-Jan-2020",
		" ",
		"1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		time_t t = 77;
		int tz = 88;
		if (dt_parse(bad[i], &t, &tz) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal((int64_t)t, 77);
		assert_int_equal(tz, 88);
	}
	/* An embedded NUL within len. */
	time_t t;
	assert_int_equal(imap_datetime_parse("01-Jan-2020 00:00:00 +00\0000", 26, &t, NULL), -1);
	/* A truncated length. */
	assert_int_equal(imap_datetime_parse("01-Jan-2020 00:00:00 +0000", 25, &t, NULL), -1);
}

static void test_datetime_format(void **state)
{
	char out[IMAP_DATETIME_SIZE];
	imap_datetime_format(0, 0, out);
	assert_string_equal(out, "01-Jan-1970 00:00:00 +0000");
	imap_datetime_format(837596665, -420, out);
	assert_string_equal(out, "17-Jul-1996 02:44:25 -0700");
	imap_datetime_format(1577836800, 330, out);
	assert_string_equal(out, "01-Jan-2020 05:30:00 +0530");
	imap_datetime_format(1577836800, -90, out);
	assert_string_equal(out, "31-Dec-2019 22:30:00 -0130");
	imap_datetime_format(951825600, 0, out);
	assert_string_equal(out, "29-Feb-2000 12:00:00 +0000");
	imap_datetime_format(-1, 0, out);
	assert_string_equal(out, "31-Dec-1969 23:59:59 +0000");
	imap_datetime_format(253402300799LL, 0, out);
	assert_string_equal(out, "31-Dec-9999 23:59:59 +0000");
	/* Out-of-range zone is ignored, out-of-range times are clamped. */
	imap_datetime_format(0, 2400, out);
	assert_string_equal(out, "01-Jan-1970 00:00:00 +0000");
	imap_datetime_format(0, -100000, out);
	assert_string_equal(out, "01-Jan-1970 00:00:00 +0000");
	imap_datetime_format((time_t)INT64_MAX, 1439, out);
	assert_string_equal(out, "31-Dec-9999 23:59:59 +2359");
	imap_datetime_format((time_t)INT64_MIN, -1439, out);
	assert_string_equal(out, "01-Jan-0000 00:00:00 -2359");
	assert_int_equal(strlen(out), 26);
}

/* format -> parse is the identity, and days agree with timegm(). */
static void test_datetime_roundtrip(void **state)
{
	srand(4242);
	for (int i = 0; i < 20000; i++) {
		int64_t t = ((int64_t)rand() << 20 ^ rand()) % 253402000000LL;
		if (i % 3 == 0)
			t = -t % 62135596800LL; /* back to year 1 */
		int tz = rand() % (2 * IMAP_TZ_MAX_MINUTES + 1) - IMAP_TZ_MAX_MINUTES;
		char out[IMAP_DATETIME_SIZE];
		imap_datetime_format((time_t)t, tz, out);
		assert_int_equal(strlen(out), 26);
		time_t back;
		int tz_back;
		if (imap_datetime_parse(out, 26, &back, &tz_back) != 0)
			fail_msg("cannot parse own output \"%s\"", out);
		assert_int_equal((int64_t)back, t);
		assert_int_equal(tz_back, tz);

		/* Cross-check the UTC rendering with glibc's gmtime_r. */
		time_t tt = (time_t)t;
		struct tm tm;
		assert_non_null(gmtime_r(&tt, &tm));
		char ref[64];
		strftime(ref, sizeof(ref), "%d-%b-%Y %H:%M:%S +0000", &tm);
		imap_datetime_format(tt, 0, out);
		if (tm.tm_year + 1900 >= 1000) /* %Y does not zero-pad */
			assert_string_equal(out, ref);
	}
}

static void test_date(void **state)
{
	time_t t = 0;
	assert_int_equal(imap_date_parse("1-Feb-1994", 10, &t), 0);
	assert_int_equal((int64_t)t, 760060800);
	assert_int_equal(imap_date_parse("01-Feb-1994", 11, &t), 0);
	assert_int_equal((int64_t)t, 760060800);
	assert_int_equal(imap_date_parse("01-jan-1970", 11, &t), 0);
	assert_int_equal((int64_t)t, 0);
	assert_int_equal(imap_date_parse("29-Feb-2024", 11, &t), 0);
	assert_int_equal((int64_t)t, 1709164800);
	assert_int_equal(imap_date_parse("31-Dec-1969", 11, &t), 0);
	assert_int_equal((int64_t)t, -86400);

	const char *bad[] = {
		"", "1", " 1-Feb-1994", "1-Feb-1994 ", "001-Feb-1994", "1-Feb-94", "1-Feb-19940", "0-Feb-1994",
		"30-Feb-1994", "29-Feb-1994", "31-Nov-1994", "1-Fe-1994", "1/Feb/1994", "1-Feb-1994 00:00:00 +0000",
		"1--Feb-1994", "1-Febr-1994", "-1-Feb-1994",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 5;
		if (imap_date_parse(bad[i], strlen(bad[i]), &t) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal((int64_t)t, 5);
	}
	/* Every day of 1900..2100 is accepted exactly when it exists. */
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t expect = -2208988800LL; /* 1900-01-01 */
	for (int y = 1900; y <= 2100; y++) {
		for (int m = 0; m < 12; m++) {
			for (int d = 1; d <= 31; d++) {
				char s[32];
				snprintf(s, sizeof(s), "%d-%s-%d", d, mon[m], y);
				struct tm tm = {.tm_year = y - 1900, .tm_mon = m, .tm_mday = d};
				time_t ref = timegm(&tm);
				bool exists = tm.tm_mday == d && tm.tm_mon == m;
				int rc = imap_date_parse(s, strlen(s), &t);
				assert_int_equal(rc, exists ? 0 : -1);
				if (exists) {
					assert_int_equal((int64_t)t, (int64_t)ref);
					assert_int_equal((int64_t)t, expect);
					expect += 86400;
				}
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_datetime_known),	 cmocka_unit_test(test_datetime_rejects),
		cmocka_unit_test(test_datetime_format),	 cmocka_unit_test(test_datetime_roundtrip),
		cmocka_unit_test(test_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
