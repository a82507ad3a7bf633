/*
 * cmd-quota: QUOTA (RFC 9208, STORAGE resource). Each user has one quota
 * root, "", covering all of their folders; the limit is set by the operator
 * (cpm-admin user quota), so SETQUOTA is refused. APPEND and COPY beyond the
 * limit fail with [OVERQUOTA] in the back-end. Other users' folders
 * (mailbox-ref.h) count against their owners' quotas and show no root.
 */
#include "commands.h"

#include "mailbox-ref.h"
#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>

struct quota_ctx {
	struct session *s;
	struct buf mailbox; /* GETQUOTAROOT: the name asked about */
	bool root_query;
};

static void on_quota(const Cpm__Response *resp, void *ctx)
{
	struct quota_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (resp->status != CPM__STATUS__OK || resp->result_case != CPM__RESPONSE__RESULT_QUOTA_GET) {
			session_tagged_rpc_error(s, resp, "GETQUOTA");
		} else {
			const Cpm__QuotaGetResp *q = resp->quota_get;
			struct buf *b = session_outbuf(s);
			if (c->root_query) {
				buf_append_str(b, "* QUOTAROOT ");
				write_mailbox(b, (const char *)c->mailbox.data);
				buf_append_str(b, q->limit ? " \"\"\r\n" : "\r\n");
			}
			/* STORAGE is counted in units of 1024 octets, rounded up. */
			if (q->limit)
				buf_printf(b, "* QUOTA \"\" (STORAGE %llu %llu)\r\n", (unsigned long long)((q->used + 1023) / 1024),
					   (unsigned long long)(q->limit / 1024));
			session_tagged(s, "OK", "%s completed.", c->root_query ? "Getquotaroot" : "Getquota");
		}
		session_done(s);
	}
	buf_free(&c->mailbox);
	free(c);
	session_unref(s);
}

static void quota_call(struct session *s, struct quota_ctx *c)
{
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__QuotaGetReq q = CPM__QUOTA_GET_REQ__INIT;
	q.user = s->user;
	req.op_case = CPM__REQUEST__OP_QUOTA_GET;
	req.quota_get = &q;
	session_ref(s);
	session_rpc(s, s->shard, &req, 0, on_quota, c);
}

void cmd_getquotaroot(struct session *s, const struct imap_command *cmd)
{
	struct quota_ctx *c = calloc(1, sizeof(*c));
	if (cmd->nargs != 1 || c == NULL || arg_mailbox(&cmd->args[0], &c->mailbox) < 0 || c->mailbox.data == NULL) {
		session_tagged(s, c ? "BAD" : "NO", c ? "GETQUOTAROOT needs a mailbox name" : "[SERVERBUG] Out of memory");
		if (c)
			buf_free(&c->mailbox);
		free(c);
		session_done(s);
		return;
	}
	c->s = s;
	c->root_query = true;
	/* Another user's folder counts against that user's quota, which is
	 * not this user's to see: no quota root (RFC 9208 allows none). */
	struct mailbox_ref ref;
	mailbox_ref_resolve(s, (const char *)c->mailbox.data, &ref);
	if (ref.kind != MREF_FOLDER || ref.other) {
		struct buf *b = session_outbuf(s);
		buf_append_str(b, "* QUOTAROOT ");
		write_mailbox(b, (const char *)c->mailbox.data);
		buf_append_str(b, "\r\n");
		session_tagged(s, "OK", "Getquotaroot completed.");
		buf_free(&c->mailbox);
		free(c);
		session_done(s);
		return;
	}
	quota_call(s, c);
}

void cmd_getquota(struct session *s, const struct imap_command *cmd)
{
	const char *root = cmd->nargs == 1 ? arg_astring(&cmd->args[0]) : NULL;
	if (root == NULL) {
		session_tagged(s, "BAD", "GETQUOTA needs a quota root");
		session_done(s);
		return;
	}
	if (root[0] != '\0') {
		session_tagged(s, "NO", "[NONEXISTENT] No such quota root");
		session_done(s);
		return;
	}
	struct quota_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	quota_call(s, c);
}

void cmd_setquota(struct session *s, const struct imap_command *cmd)
{
	session_tagged(s, "NO", "[NOPERM] Quotas are set by the operator");
	session_done(s);
}
