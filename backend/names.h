/*
 * names: what the back-end accepts as a user name, folder name, keyword or
 * SCRAM secret. Every name that reaches the store passes through here first.
 *
 *   user     1..NAME_USER_MAX bytes of valid UTF-8, no control characters,
 *            no space ("tel:+4912345", "alice@example.com").
 *   folder   1..NAME_FOLDER_MAX bytes of valid UTF-8, no control characters
 *            (C0, DEL, C1), "/" is the hierarchy delimiter: no leading or
 *            trailing "/", no empty component, at most NAME_FOLDER_DEPTH
 *            components, no "*" or "%" (LIST wildcards). A first component
 *            equal to "INBOX" in any case is written "INBOX".
 *   keyword  1..NAME_KEYWORD_MAX bytes of IMAP atom characters except the
 *            flag specials; never starts with "\" (system flags travel as bits).
 *   secret   1..NAME_SECRET_MAX printable ASCII bytes (RFC 5803 string).
 *
 * All functions are pure and thread-safe; NULL is never a valid name.
 */
#ifndef CPM_BACKEND_NAMES_H
#define CPM_BACKEND_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_USER_MAX 255
#define NAME_FOLDER_MAX 1000
#define NAME_FOLDER_DEPTH 64
#define NAME_KEYWORD_MAX 250
#define NAME_SECRET_MAX 1024

bool name_user_ok(const char *user);
/* Checks name and writes its canonical form (INBOX upper-cased) into out,
 * which has room for NAME_FOLDER_MAX + 1 bytes. false: not a valid name
 * (out is then unspecified). */
bool name_folder_canon(const char *name, char out[NAME_FOLDER_MAX + 1]);
bool name_keyword_ok(const char *kw);
bool name_secret_ok(const char *secret);
/* true when p[0..n) is well-formed UTF-8 (shortest form, no surrogates,
 * at most U+10FFFF). Control characters are not checked here. */
bool name_utf8_ok(const unsigned char *p, size_t n);

#endif
