/*
 * cmd-store: STORE and UID STORE (RFC 3501 6.4.6): set, add or remove flags
 * and keywords of the messages in a set, answering with their new FLAGS
 * unless .SILENT. The back-end gives every message whose flags really
 * changed a new MODSEQ.
 */
#include "commands.h"

#include "fetch-flags.h"
#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct store_ctx {
	struct session *s;
	bool silent;
	bool uid_mode;
};

static void on_store(const Cpm__Response *resp, void *ctx)
{
	struct store_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (resp->status != CPM__STATUS__OK) {
			session_tagged_rpc_error(s, resp, "STORE");
		} else {
			const Cpm__StoreResp *r = resp->result_case == CPM__RESPONSE__RESULT_STORE ? resp->store : NULL;
			for (size_t i = 0; r != NULL && !c->silent && i < r->n_messages; i++) {
				const Cpm__MessageData *m = r->messages[i];
				uint32_t seq = session_seq_of_uid(s, m->uid);
				if (seq == 0)
					continue;
				struct buf *b = session_outbuf(s);
				buf_printf(b, "* %u FETCH (", seq);
				if (c->uid_mode)
					buf_printf(b, "UID %u ", m->uid);
				buf_append_str(b, "FLAGS ");
				bool recent = s->sel.first_recent_uid != 0 && m->uid >= s->sel.first_recent_uid;
				fetch_flags_write(b, m->sys_flags, recent, m->keywords, m->n_keywords);
				buf_append_str(b, ")\r\n");
			}
			session_tagged(s, "OK", "Store completed.");
		}
		session_done(s);
	}
	free(c);
	session_unref(s);
}

void store_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode)
{
	if (nargs < 3 || args[1].type != IMAP_ARG_ATOM) {
		session_tagged(s, "BAD", "STORE needs a message set, a data item and flags");
		session_done(s);
		return;
	}
	const char *item = args[1].str;
	Cpm__StoreMode mode = CPM__STORE_MODE__STORE_REPLACE;
	if (*item == '+' || *item == '-') {
		mode = *item == '+' ? CPM__STORE_MODE__STORE_ADD : CPM__STORE_MODE__STORE_REMOVE;
		item++;
	}
	bool silent = strcasecmp(item, "FLAGS.SILENT") == 0;
	if (!silent && strcasecmp(item, "FLAGS") != 0) {
		session_tagged(s, "BAD", "Unknown STORE data item");
		session_done(s);
		return;
	}
	/* Flags: one parenthesised list, or the flags as separate atoms. */
	struct flag_set flags;
	const char *err = args[2].type == IMAP_ARG_LIST && nargs == 3
				  ? fetch_flags_parse_list(args[2].list, args[2].list_count, &flags)
				  : fetch_flags_parse_list(&args[2], nargs - 2, &flags);
	if (err != NULL) {
		session_tagged(s, "BAD", "%s", err);
		session_done(s);
		return;
	}
	Cpm__UidRange *ranges = NULL;
	size_t n = 0;
	if (!session_write_set(s, &args[0], uid_mode, "Store completed.", &ranges, &n))
		return;
	struct store_ctx *c = calloc(1, sizeof(*c));
	Cpm__UidRange **ptrs = session_range_ptrs(ranges, n);
	if (c == NULL || ptrs == NULL) {
		free(c);
		free(ptrs);
		free(ranges);
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	c->silent = silent;
	c->uid_mode = uid_mode;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__StoreReq q = CPM__STORE_REQ__INIT;
	q.user = s->user;
	q.folder_id = s->sel.folder_id;
	q.uidvalidity = s->sel.uidvalidity;
	q.uids = ptrs;
	q.n_uids = n;
	q.mode = mode;
	q.sys_flags = flags.sys;
	q.keywords = flags.keywords;
	q.n_keywords = flags.n_keywords;
	req.op_case = CPM__REQUEST__OP_STORE;
	req.store = &q;
	session_ref(s);
	rpc_call(s->w->rpc, s->shard, &req, 0, on_store, c);
	free(ptrs);
	free(ranges);
}

void cmd_store(struct session *s, const struct imap_command *cmd)
{
	store_start(s, cmd->args, cmd->nargs, false);
}
