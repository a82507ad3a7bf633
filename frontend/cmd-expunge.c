/*
 * cmd-expunge: EXPUNGE (RFC 3501 6.4.3), UID EXPUNGE (RFC 4315) and CLOSE
 * (RFC 3501 6.4.2: expunge silently, then leave the selected state).
 */
#include "commands.h"

#include "rpc-client.h"

#include <stdlib.h>

struct expunge_ctx {
	struct session *s;
	bool close;   /* CLOSE: no untagged EXPUNGE, unselect afterwards */
};

static void on_expunge(const Cpm__Response *resp, void *ctx)
{
	struct expunge_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (resp->status != CPM__STATUS__OK && !c->close) {
			session_tagged_rpc_error(s, resp, "EXPUNGE");
		} else if (c->close) {
			/* RFC 3501: CLOSE leaves the selected state even when the
			 * expunge could not be done; no EXPUNGE responses are sent. */
			session_unselect(s);
			session_tagged(s, "OK", "Close completed.");
		} else {
			const Cpm__ExpungeResp *r = resp->result_case == CPM__RESPONSE__RESULT_EXPUNGE ? resp->expunge : NULL;
			if (r != NULL)
				session_report_expunged(s, r->uids, r->n_uids);
			if (s->qresync && r != NULL && r->n_uids > 0 && r->modseq > 0)
				/* As Dovecot: the folder's MODSEQ after the expunge (RFC 7162 3.2.10). */
				session_tagged(s, "OK", "[HIGHESTMODSEQ %llu] Expunge completed.",
					       (unsigned long long)r->modseq);
			else
				session_tagged(s, "OK", "Expunge completed.");
		}
		session_done(s);
	}
	free(c);
	session_unref(s);
}

/* ranges: NULL/0 for every \Deleted message. */
static void expunge_start(struct session *s, Cpm__UidRange *ranges, size_t n, bool close)
{
	struct expunge_ctx *c = calloc(1, sizeof(*c));
	Cpm__UidRange **ptrs = n ? session_range_ptrs(ranges, n) : NULL;
	if (c == NULL || (n > 0 && ptrs == NULL)) {
		free(c);
		free(ptrs);
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	c->close = close;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__ExpungeReq q = CPM__EXPUNGE_REQ__INIT;
	q.user = s->sel.owner;
	q.folder_id = s->sel.folder_id;
	q.uidvalidity = s->sel.uidvalidity;
	q.uids = ptrs;
	q.n_uids = n;
	req.op_case = CPM__REQUEST__OP_EXPUNGE;
	req.expunge = &q;
	session_ref(s);
	session_rpc(s, s->sel.shard, &req, 0, on_expunge, c);
	free(ptrs);
}

void cmd_expunge(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "EXPUNGE takes no arguments");
	} else if (s->sel.readonly) {
		session_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
	} else {
		expunge_start(s, NULL, 0, false);
		return;
	}
	session_done(s);
}

void uid_expunge_start(struct session *s, const struct imap_arg *args, unsigned nargs)
{
	if (nargs != 1) {
		session_tagged(s, "BAD", "UID EXPUNGE needs a UID set");
		session_done(s);
		return;
	}
	Cpm__UidRange *ranges = NULL;
	size_t n = 0;
	if (!session_write_set(s, &args[0], true, "Expunge completed.", &ranges, &n))
		return;
	expunge_start(s, ranges, n, false);
	free(ranges);
}

void cmd_close(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, "BAD", "CLOSE takes no arguments");
		session_done(s);
	} else if (s->sel.readonly) {
		session_unselect(s);
		session_tagged(s, "OK", "Close completed.");
		session_done(s);
	} else {
		expunge_start(s, NULL, 0, true);
	}
}
