/* Unit tests for common/mail-date: RFC 5322 Date: values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mail-date.h"

static void ok(const char *s, int64_t want, int want_tz)
{
	int64_t t = -1;
	int tz = 99999;
	if (mail_date_parse((const unsigned char *)s, strlen(s), &t, &tz) != 0)
		fail_msg("\"%s\" not parsed", s);
	if (t != want || tz != want_tz)
		fail_msg("\"%s\": %lld %d, want %lld %d", s, (long long)t, tz, (long long)want, want_tz);
}

static void bad(const char *s)
{
	int64_t t = 7;
	if (mail_date_parse((const unsigned char *)s, strlen(s), &t, NULL) == 0)
		fail_msg("\"%s\" parsed as %lld", s, (long long)t);
	assert_int_equal(t, 7);
}

static void test_valid(void **state)
{
	ok("Mon, 7 Feb 1994 21:52:25 -0800", 760686745, -480);
	ok("7 Feb 1994 21:52:25 -0800", 760686745, -480);
	ok(" Tue, 08 Feb 1994 05:52:25 +0000", 760686745, 0);
	ok("Tue, 8 Feb 1994 05:52 +0000", 760686720, 0);
	ok("Thu, 1 Jan 1970 00:00:00 GMT", 0, 0);
	ok("1 jan 1970 00:00:00 UT", 0, 0);
	ok("Thu, 1 Jan 1970 00:00:00 EST", 5 * 3600, -300);
	ok("1 Jan 1970 00:00:00 PDT", 7 * 3600, -420);
	ok("1 Jan 1970 00:00:00 Z", 0, 0);
	ok("1 Jan 1970 00:00:00", 0, 0);
	ok("1 Jan 70 00:00:00 +0000", 0, 0);
	ok("1 Jan 00 00:00:00 +0000", 946684800, 0);
	ok("1 Jan 100 00:00:00 +0000", 946684800, 0);
	ok("Thu (day), 1 (the first) Jan\r\n 1970 00 : 00 : 01 +0130 (CET)", 1 - 90 * 60, 90);
	ok("29 Feb 2000 12:00:00 +0000", 951825600, 0);
	ok("31 Dec 2019 23:59:60 +0000", 1577836800, 0);
}

static void test_invalid(void **state)
{
	bad("");
	bad("yesterday");
	bad("Mon 7 Feb 1994 21:52:25 -0800");
	bad("32 Jan 2000 00:00:00 +0000");
	bad("29 Feb 1900 00:00:00 +0000");
	bad("1 Foo 2000 00:00:00 +0000");
	bad("1 Jan 2000 24:00:00 +0000");
	bad("1 Jan 2000 00:60:00 +0000");
	bad("1 Jan 2000 00:00:00 +0060");
	bad("1 Jan 2000 00:00:00 +00");
	bad("1 Jan 2000 00:00:00 XYZ");
	bad("1 Jan 2000");
	bad("1 Jan 2000 00:00:00 (unterminated");
	bad("1 Jan 20000 00:00:00 +0000");


	bad("1 Jan 2000 00:00 ((((((((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))))))))))");
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_valid), cmocka_unit_test(test_invalid)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
