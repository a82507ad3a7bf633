/*
 * cmd-any: the commands valid in every state — CAPABILITY, NOOP, LOGOUT
 * (RFC 3501 6.1), ID (RFC 2971) — and ENABLE (RFC 5161, authenticated).
 */
#include "commands.h"
#include "condstore.h"

#include "conn.h"
#include "imap-quote.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void cmd_capability(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "CAPABILITY takes no arguments");
		session_done(s);
		return;
	}
	struct buf *b = session_outbuf(s);
	buf_append_str(b, "* CAPABILITY ");
	session_write_capabilities(s, b);
	buf_append_str(b, "\r\n");
	session_tagged(s, "OK", "Capability completed.");
	session_done(s);
}

static void noop_done(struct session *s)
{
	session_tagged(s, "OK", "NOOP completed.");
	session_done(s);
}

/* NOOP is the client's poll: in the selected state it reports what other
 * sessions changed (RFC 3501 6.1.2). */
void cmd_noop(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "NOOP takes no arguments");
		session_done(s);
		return;
	}
	session_sync(s, noop_done);
}

void cmd_logout(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "LOGOUT takes no arguments");
		session_done(s);
		return;
	}
	session_untagged(s, "BYE Logging out");
	session_tagged(s, "OK", "Logout completed.");
	s->state = SESSION_LOGOUT;
	session_disconnect(s, "logout");
	session_done(s);
}

/* RFC 2971 limits: 30 pairs, field names <= 30 bytes, values <= 1024 bytes. */
static bool id_args_valid(const struct imap_command *cmd)
{
	if (cmd->nargs != 1)
		return false;
	const struct imap_arg *a = &cmd->args[0];
	if (a->type == IMAP_ARG_NIL)
		return true;
	if (a->type != IMAP_ARG_LIST || a->list_count % 2 != 0 || a->list_count > 60)
		return false;
	for (unsigned i = 0; i < a->list_count; i++) {
		const struct imap_arg *x = &a->list[i];
		bool is_value = i % 2 == 1;
		if (x->type == IMAP_ARG_NIL && is_value)
			continue;
		if (x->type != IMAP_ARG_QUOTED && x->type != IMAP_ARG_LITERAL)
			return false;
		if (x->len > (is_value ? 1024u : 30u))
			return false;
	}
	return true;
}

void cmd_id(struct session *s, const struct imap_command *cmd)
{
	if (!id_args_valid(cmd)) {
		session_tagged(s, "BAD", "ID expects NIL or a list of up to 30 field/value pairs");
		session_done(s);
		return;
	}
	const struct imap_arg *a = &cmd->args[0];
	if (a->type == IMAP_ARG_LIST) {
		char line[512];
		size_t o = 0;
		line[0] = '\0';
		for (unsigned i = 0; i + 1 < a->list_count && o < sizeof(line) - 64; i += 2) {
			const struct imap_arg *v = &a->list[i + 1];
			const char *val = v->type == IMAP_ARG_NIL ? "NIL" : v->str;
			size_t vl = v->type == IMAP_ARG_NIL ? 3 : v->len;
			int n = snprintf(line + o, sizeof(line) - o, " %.*s=", (int)(a->list[i].len > 30 ? 30 : a->list[i].len),
					 a->list[i].str);
			if (n < 0)
				break;
			o += (size_t)n;
			n = snprintf(line + o, sizeof(line) - o, "%s", log_quote(val, vl));
			if (n < 0)
				break;
			o += (size_t)n;
			if (o >= sizeof(line))
				o = sizeof(line) - 1;
		}
		log_info("event=client_id conn=%s%s", s->conn ? conn_peer(s->conn) : "-", line);
	}
	session_untagged(s, "ID (\"name\" \"cpm-store\" \"vendor\" \"cpm-store\")");
	session_tagged(s, "OK", "ID completed.");
	session_done(s);
}

void cmd_enable(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs == 0) {
		session_tagged(s, "BAD", "ENABLE needs at least one capability name");
		session_done(s);
		return;
	}
	for (unsigned i = 0; i < cmd->nargs; i++) {
		if (cmd->args[i].type != IMAP_ARG_ATOM) {
			session_tagged(s, "BAD", "ENABLE arguments are capability names");
			session_done(s);
			return;
		}
	}
	/* CONDSTORE and QRESYNC (RFC 7162; QRESYNC implies CONDSTORE) can be
	 * turned on; RFC 5161: unknown names are ignored. Like Dovecot, an
	 * extension already on is listed again. */
	bool condstore = false, qresync = false;
	for (unsigned i = 0; i < cmd->nargs; i++) {
		condstore |= strcasecmp(cmd->args[i].str, "CONDSTORE") == 0;
		qresync |= strcasecmp(cmd->args[i].str, "QRESYNC") == 0;
	}
	if (condstore || qresync)
		condstore_enable(s);
	s->qresync |= qresync;
	session_untagged(s, "ENABLED%s%s", condstore ? " CONDSTORE" : "", qresync ? " QRESYNC" : "");
	session_tagged(s, "OK", "Enabled.");
	session_done(s);
}
