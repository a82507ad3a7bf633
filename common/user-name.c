/* user-name: the user-name rule. See user-name.h. */
#include "user-name.h"

#include <string.h>

bool user_name_valid(const char *u)
{
	size_t n = u != NULL ? strnlen(u, USER_NAME_MAX + 1) : 0;
	if (n == 0 || n > USER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			return false;
	return true;
}
