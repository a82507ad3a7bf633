/*
 * cmd-selected: CHECK (RFC 3501 6.4.1: every change is already durable when
 * it is acknowledged, so the checkpoint only reports other sessions'
 * changes, like NOOP) and UNSELECT (RFC 3958: leave the selected state
 * without the implicit expunge of CLOSE); also NAMESPACE.
 */
#include "commands.h"

static void check_done(struct session *s)
{
	session_tagged(s, "OK", "Check completed.");
	session_done(s);
}

void cmd_check(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "CHECK takes no arguments");
		session_done(s);
		return;
	}
	session_sync(s, check_done);
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
		session_untagged(s, "NAMESPACE ((\"\" \"/\")) ((\"" ACL_OTHER_PREFIX "\" \"/\")) NIL");
		session_tagged(s, "OK", "Namespace completed.");
	}
	session_done(s);
}
