/*
 * user-name: what a cpm-store user name may be, checked the same way by
 * the back-end (accounts, notification log) and the front-end (outband
 * subscriptions): 1 to USER_NAME_MAX bytes, no control characters, no
 * space, no DEL. Anything else (UTF-8 included) is allowed.
 */
#ifndef CPM_USER_NAME_H
#define CPM_USER_NAME_H

#include <stdbool.h>

#define USER_NAME_MAX 255

/* True when u (NUL-terminated) is a valid user name. */
bool user_name_valid(const char *u);

#endif
