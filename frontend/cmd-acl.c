/*
 * cmd-acl: RFC 4314 — SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS.
 *
 * Each is one AclReq to the shard of the folder's owner (mailbox-ref.h),
 * which checks the actor's rights (a for all but MYRIGHTS) and answers the
 * list or the actor's rights; the back-end also keeps the list. A grant to
 * a user (not "anyone", not negative) is then remembered on the grantee's
 * shard (SharerReq), so the grantee's LIST finds the owner's folders; that
 * hint failing does not fail the command (the folder stays reachable by
 * name).
 *
 * Rights on the wire (acl-rights.h): standard letters, and the obsolete
 * "c" (k x) and "d" (t e) both in and out. LISTRIGHTS offers every right
 * separately and requires none: the owner's l and a are implicit, never
 * granted.
 */
#include "commands.h"

#include "acl-rights.h"
#include "imap-quote.h"
#include "mailbox-ref.h"
#include "user-name.h"

#include <stdlib.h>
#include <string.h>

enum acl_cmd { ACL_CMD_SET, ACL_CMD_DELETE, ACL_CMD_GET, ACL_CMD_LISTRIGHTS, ACL_CMD_MYRIGHTS };

struct acl_ctx {
	struct session *s;
	enum acl_cmd cmd;
	const char *what;
	char *mailbox;                     /* as the client spelt it (modified UTF-7) */
	char identifier[USER_NAME_MAX + 2];
	bool grant;                        /* a positive grant to a user: tell its shard */
	struct mailbox_ref ref;
	struct buf name;                   /* UTF-8 name (ref points into it) */
};

static void acl_ctx_free(struct acl_ctx *c)
{
	buf_free(&c->name);
	free(c->mailbox);
	free(c);
}

static void write_rights(struct buf *b, uint32_t bits)
{
	char r[ACL_RIGHTS_BUFSZ];
	acl_rights_format(bits, r);
	imap_write_astring(b, r, strlen(r));
}

static void write_answer(struct session *s, struct acl_ctx *c, const Cpm__AclResp *r)
{
	struct buf *b = session_outbuf(s);
	switch (c->cmd) {
	case ACL_CMD_GET:
		buf_append_str(b, "* ACL ");
		imap_write_astring(b, c->mailbox, strlen(c->mailbox));
		for (size_t i = 0; i < r->n_entries; i++) {
			const char *id = r->entries[i]->identifier;
			buf_append_byte(b, ' ');
			imap_write_astring(b, id, strlen(id));
			buf_append_byte(b, ' ');
			write_rights(b, r->entries[i]->rights);
		}
		buf_append_str(b, "\r\n");
		break;
	case ACL_CMD_LISTRIGHTS:
		buf_append_str(b, "* LISTRIGHTS ");
		imap_write_astring(b, c->mailbox, strlen(c->mailbox));
		buf_append_byte(b, ' ');
		imap_write_astring(b, c->identifier, strlen(c->identifier));
		buf_append_str(b, " \"\"");
		for (const char *l = ACL_LETTERS; *l != '\0'; l++)
			buf_printf(b, " %c", *l);
		buf_append_str(b, " c d\r\n");
		break;
	case ACL_CMD_MYRIGHTS:
		buf_append_str(b, "* MYRIGHTS ");
		imap_write_astring(b, c->mailbox, strlen(c->mailbox));
		buf_append_byte(b, ' ');
		write_rights(b, r->myrights);
		buf_append_str(b, "\r\n");
		break;
	default:
		break;
	}
}

static void on_sharer(const Cpm__Response *resp, void *arg)
{
	(void)resp; /* a hint: LIST misses the folder until the next grant */
	struct acl_ctx *c = arg;
	struct session *s = c->s;
	if (!session_closed(s)) {
		session_tagged(s, "OK", "%s completed.", c->what);
		session_done(s);
	}
	acl_ctx_free(c);
	session_unref(s);
}

static void on_acl(const Cpm__Response *resp, void *arg)
{
	struct acl_ctx *c = arg;
	struct session *s = c->s;
	if (session_closed(s)) {
		acl_ctx_free(c);
		session_unref(s);
		return;
	}
	if (resp->status != CPM__STATUS__OK) {
		session_tagged_rpc_error(s, resp, c->what);
	} else if (resp->result_case != CPM__RESPONSE__RESULT_ACL) {
		session_tagged(s, "NO", "[SERVERBUG] %s: bad back-end response", c->what);
	} else {
		write_answer(s, c, resp->acl);
		if (c->grant) {
			Cpm__Request req = CPM__REQUEST__INIT;
			Cpm__SharerReq q = CPM__SHARER_REQ__INIT;
			q.user = c->identifier;
			q.owner = c->ref.owner;
			req.op_case = CPM__REQUEST__OP_SHARER;
			req.sharer = &q;
			session_rpc(s, rpc_shard_for_user(s->w->rpc, c->identifier), &req, 0, on_sharer, c);
			return;
		}
		session_tagged(s, "OK", "%s completed.", c->what);
	}
	session_done(s);
	acl_ctx_free(c);
	session_unref(s);
}

static void bad(struct session *s, struct acl_ctx *c, const char *text)
{
	session_tagged(s, "BAD", "%s", text);
	acl_ctx_free(c);
	session_done(s);
}

/* A user name or "anyone", with "-" in front for negative rights. */
static bool identifier_valid(const char *id)
{
	const char *u = id[0] == '-' ? id + 1 : id;
	return strcmp(u, ACL_ANYONE) == 0 || user_name_valid(u);
}

static void acl_command(struct session *s, const struct imap_command *cmd, enum acl_cmd which, unsigned nargs,
			const char *usage)
{
	struct acl_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	c->cmd = which;
	c->what = cmd->name;
	const char *mbox = cmd->nargs >= 1 ? arg_astring(&cmd->args[0]) : NULL;
	if (cmd->nargs != nargs || mbox == NULL) {
		bad(s, c, usage);
		return;
	}
	for (unsigned i = 1; i < nargs; i++)
		if (arg_astring(&cmd->args[i]) == NULL) {
			bad(s, c, usage);
			return;
		}
	if ((c->mailbox = strdup(mbox)) == NULL || arg_mailbox(&cmd->args[0], &c->name) < 0 || c->name.data == NULL) {
		session_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		acl_ctx_free(c);
		session_done(s);
		return;
	}
	Cpm__AclReq q = CPM__ACL_REQ__INIT;
	q.action = which == ACL_CMD_MYRIGHTS ? CPM__ACL_ACTION__ACL_MYRIGHTS : CPM__ACL_ACTION__ACL_GET;
	if (which == ACL_CMD_SET || which == ACL_CMD_DELETE || which == ACL_CMD_LISTRIGHTS) {
		const char *id = arg_astring(&cmd->args[1]);
		if (strlen(id) >= sizeof(c->identifier) || !identifier_valid(id)) {
			bad(s, c, "Invalid identifier");
			return;
		}
		memcpy(c->identifier, id, strlen(id) + 1);
		q.identifier = c->identifier;
	}
	if (which == ACL_CMD_DELETE)
		q.action = CPM__ACL_ACTION__ACL_DELETE;
	if (which == ACL_CMD_SET) {
		const char *rights = arg_astring(&cmd->args[2]);
		q.action = CPM__ACL_ACTION__ACL_SET;
		if (rights[0] == '+' || rights[0] == '-') {
			q.action = rights[0] == '+' ? CPM__ACL_ACTION__ACL_ADD : CPM__ACL_ACTION__ACL_REMOVE;
			rights++;
		}
		char badch = 0;
		if (acl_rights_parse(rights, strlen(rights), &q.rights, &badch) < 0) {
			char text[64];
			snprintf(text, sizeof(text), "Invalid right: %c", badch >= 0x21 && badch < 0x7f ? badch : '?');
			bad(s, c, text);
			return;
		}
		c->grant = c->identifier[0] != '-' && strcmp(c->identifier, ACL_ANYONE) != 0 &&
			   q.action != CPM__ACL_ACTION__ACL_REMOVE && q.rights != 0;
	}
	mailbox_ref_resolve(s, (const char *)c->name.data, &c->ref);
	if (c->ref.kind != MREF_FOLDER) {
		session_tagged(s, "NO", "[NONEXISTENT] %s: a namespace, not a mailbox", c->what);
		acl_ctx_free(c);
		session_done(s);
		return;
	}
	/* No hint on the owner's own shard list for a grant to the owner. */
	if (c->grant && strcmp(c->identifier, c->ref.owner) == 0)
		c->grant = false;
	q.user = c->ref.owner;
	q.name = (char *)c->ref.name;
	Cpm__Request req = CPM__REQUEST__INIT;
	req.op_case = CPM__REQUEST__OP_ACL;
	req.acl = &q;
	session_ref(s);
	session_rpc(s, c->ref.shard, &req, 0, on_acl, c);
}

void cmd_setacl(struct session *s, const struct imap_command *cmd)
{
	acl_command(s, cmd, ACL_CMD_SET, 3, "SETACL needs a mailbox, an identifier and rights");
}

void cmd_deleteacl(struct session *s, const struct imap_command *cmd)
{
	acl_command(s, cmd, ACL_CMD_DELETE, 2, "DELETEACL needs a mailbox and an identifier");
}

void cmd_getacl(struct session *s, const struct imap_command *cmd)
{
	acl_command(s, cmd, ACL_CMD_GET, 1, "GETACL needs a mailbox");
}

void cmd_listrights(struct session *s, const struct imap_command *cmd)
{
	acl_command(s, cmd, ACL_CMD_LISTRIGHTS, 2, "LISTRIGHTS needs a mailbox and an identifier");
}

void cmd_myrights(struct session *s, const struct imap_command *cmd)
{
	acl_command(s, cmd, ACL_CMD_MYRIGHTS, 1, "MYRIGHTS needs a mailbox");
}
