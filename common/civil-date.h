/*
 * civil-date: days since 1970-01-01 of a proleptic Gregorian calendar date
 * (year any int64 within ±2^40, month 1..12, day 1..31; no range check:
 * callers validate). Shared by the IMAP, RFC 5322 and RFC 3339 date parsers.
 */
#ifndef CPM_CIVIL_DATE_H
#define CPM_CIVIL_DATE_H

#include <stdint.h>

static inline int64_t civil_days(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

#endif
