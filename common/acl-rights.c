/*
 * acl-rights: RFC 4314 rights letters ↔ bits (see acl-rights.h).
 */
#include "acl-rights.h"

#include <string.h>

int acl_rights_parse(const char *s, size_t len, uint32_t *bits_r, char *bad_r)
{
	uint32_t bits = 0;
	for (size_t i = 0; i < len; i++) {
		const char *at = s[i] != '\0' ? strchr(ACL_LETTERS, s[i]) : NULL;
		if (at != NULL)
			bits |= 1u << (at - ACL_LETTERS);
		else if (s[i] == 'c')
			bits |= ACL_K | ACL_X;
		else if (s[i] == 'd')
			bits |= ACL_T | ACL_E;
		else {
			*bad_r = s[i];
			return -1;
		}
	}
	*bits_r = bits;
	return 0;
}

void acl_rights_format(uint32_t bits, char out[ACL_RIGHTS_BUFSZ])
{
	size_t n = 0;
	for (size_t i = 0; ACL_LETTERS[i] != '\0'; i++)
		if (bits & (1u << i))
			out[n++] = ACL_LETTERS[i];
	if (bits & (ACL_K | ACL_X))
		out[n++] = 'c';
	if (bits & (ACL_T | ACL_E))
		out[n++] = 'd';
	out[n] = '\0';
}
