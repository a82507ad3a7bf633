/*
 * mail-date: the RFC 5322 date-time of a Date: header, as an instant, for
 * SORT DATE and the "sent date" of THREAD (RFC 5256 section 2.2).
 *
 *   [ day-of-week "," ] day month year hour ":" minute [ ":" second ] zone
 *
 * Lenient where mail is (RFC 5322 section 4.3, and what Dovecot accepts):
 * comments and folding white space anywhere between tokens, a missing
 * day-of-week, two-digit years (< 50 is 20xx, else 19xx) and three-digit
 * years (+1900), seconds optional, zones "+hhmm" / "-hhmm", "UT", "GMT",
 * the US zones (EST, EDT, CST, CDT, MST, MDT, PST, PDT) and military
 * letters (taken as +0000, as RFC 5322 says); a missing zone is +0000.
 * Month names are the English abbreviations, any case. Fields must be in
 * range (day 1..31 and valid in the month, hour < 24, minute < 60,
 * second <= 60, zone minutes < 60).
 *
 * Return conventions: 0 with *t_r (seconds since the epoch, UTC) and
 * *tz_r (the zone in minutes east of UTC; either may be NULL), or -1 when
 * the value is not a date (outputs untouched). Reads only s[0 .. len);
 * nothing allocates.
 */
#ifndef CPM_MAIL_DATE_H
#define CPM_MAIL_DATE_H

#include <stddef.h>
#include <stdint.h>

int mail_date_parse(const unsigned char *s, size_t len, int64_t *t_r, int *tz_r);

#endif
