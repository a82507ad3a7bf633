/*
 * imap-date: RFC 3501 date-time (INTERNALDATE, APPEND) and date (SEARCH
 * BEFORE/ON/SINCE...) parsing and formatting.
 *
 *   date-time  "dd-Mon-yyyy hh:mm:ss +zzzz"   e.g. " 1-Jan-2020 09:05:00 -0130"
 *   date       "d-Mon-yyyy" / "dd-Mon-yyyy"   e.g. "1-Feb-1994"
 *
 * Inputs are the contents of the IMAP string, without the double quotes
 * (the lexer removes them); they need not be NUL-terminated.
 *
 * Contract:
 *  - Parsers return 0 and fill the outputs, or -1 on any malformation and
 *    leave the outputs untouched. Validation is strict: month names are
 *    matched case-insensitively but must be the English three-letter
 *    abbreviations; the day must exist in that month (leap years included);
 *    hours 00-23, minutes 00-59, seconds 00-60 (60 = leap second, counted as
 *    the next second); the zone is +/-hhmm with hh <= 23 and mm <= 59; the year
 *    has exactly four digits. The date-time day may be two digits ("01"),
 *    space + digit (" 1") or, leniently, a single digit ("1").
 *  - All arithmetic is proleptic Gregorian in UTC, independent of the TZ
 *    environment and of mktime(); time_t values are seconds since the epoch.
 *  - Nothing allocates.
 */
#ifndef CPM_IMAP_DATE_H
#define CPM_IMAP_DATE_H

#include <stddef.h>
#include <time.h>

/* 26 characters + NUL. */
#define IMAP_DATETIME_SIZE 27
/* The largest zone offset, in minutes (23:59). */
#define IMAP_TZ_MAX_MINUTES (23 * 60 + 59)

/* *t_r = the UTC instant; *tz_minutes_r = the zone offset east of UTC in
 * minutes (e.g. -0130 gives -90). Either output may be NULL. */
int imap_datetime_parse(const char *s, size_t len, time_t *t_r, int *tz_minutes_r);

/* Writes the 26-character form, NUL-terminated, with a two-digit day
 * ("01-Jan-2020 00:00:00 +0000"), showing instant t in zone tz_minutes.
 * A tz_minutes beyond +/-IMAP_TZ_MAX_MINUTES is treated as 0; instants
 * outside years 0000..9999 are clamped to that range. */
void imap_datetime_format(time_t t, int tz_minutes, char out[IMAP_DATETIME_SIZE]);

/* *t_r = midnight UTC at the start of that day. The day is one or two
 * digits, no padding space. */
int imap_date_parse(const char *s, size_t len, time_t *t_r);

#endif
