/*
 * cmd-selected: commands about the selected state that need no storage
 * work — CHECK (RFC 3501 6.4.1: every change is already durable when it is
 * acknowledged, so a checkpoint has nothing to do) and UNSELECT (RFC 3958:
 * leave the selected state without the implicit expunge of CLOSE).
 */
#include "commands.h"

void cmd_check(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0)
		session_tagged(s, "BAD", "CHECK takes no arguments");
	else
		session_tagged(s, "OK", "Check completed.");
	session_done(s);
}

void cmd_unselect(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "UNSELECT takes no arguments");
	} else {
		session_unselect(s);
		session_tagged(s, "OK", "Unselect completed.");
	}
	session_done(s);
}

/* RFC 2342. One personal namespace with "/" as delimiter; other users' and
 * shared folders come with the ACL work. */
void cmd_namespace(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "NAMESPACE takes no arguments");
	} else {
		session_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
		session_tagged(s, "OK", "Namespace completed.");
	}
	session_done(s);
}
