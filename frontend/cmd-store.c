/*
 * cmd-store: STORE and UID STORE (RFC 3501 6.4.6): set, add or remove flags
 * and keywords of the messages in a set, answering with the new FLAGS of
 * the messages that changed unless .SILENT (as Dovecot), after the
 * folder's FLAGS/PERMANENTFLAGS when the STORE defined new keywords. The
 * back-end gives every message whose flags really changed a new MODSEQ. CONDSTORE (RFC 7162): (UNCHANGEDSINCE n) leaves
 * the messages changed after n alone and names them in [MODIFIED set];
 * once CONDSTORE is on, the FETCH responses carry MODSEQ.
 */
#include "commands.h"

#include "condstore.h"
#include "fetch-flags.h"
#include "imap-seqset.h"
#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct store_ctx {
	struct session *s;
	bool silent;
	bool uid_mode;
};

/* "[MODIFIED set]" of the messages whose UNCHANGEDSINCE test failed:
 * sequence numbers, or UIDs for UID STORE. */
static void write_modified(struct session *s, const struct store_ctx *c, const Cpm__StoreResp *r)
{
	struct imap_seqset set;
	imap_seqset_init(&set);
	for (size_t i = 0; i < r->n_modified; i++) {
		uint32_t seq = session_seq_of_uid(s, r->modified[i]);
		if (seq != 0)
			imap_seqset_add(&set, c->uid_mode ? r->modified[i] : seq);
	}
	struct buf text = {0};
	imap_seqset_write(&text, &set);
	imap_seqset_free(&set);
	if (text.len > 0)
		session_tagged(s, "OK", "[MODIFIED %.*s] Conditional STORE failed.", (int)text.len, (const char *)text.data);
	else
		session_tagged(s, "OK", "Store completed.");
	buf_free(&text);
}

static void on_store(const Cpm__Response *resp, void *ctx)
{
	struct store_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (resp->status != CPM__STATUS__OK) {
			session_tagged_rpc_error(s, resp, "STORE");
		} else {
			const Cpm__StoreResp *r = resp->result_case == CPM__RESPONSE__RESULT_STORE ? resp->store : NULL;
			if (r != NULL && r->n_folder_keywords > 0)
				mailbox_write_flags(s, r->folder_keywords, r->n_folder_keywords, false);
			for (size_t i = 0; r != NULL && i < r->n_messages; i++) {
				const Cpm__MessageData *m = r->messages[i];
				uint32_t seq = session_seq_of_uid(s, m->uid);
				if (seq == 0)
					continue;
				if (!c->silent)
					condstore_write_fetch(s, seq, m, c->uid_mode, true);
				else if (s->condstore)
					/* RFC 7162 3.1.3: the new MODSEQ is sent even for .SILENT. */
					condstore_write_fetch(s, seq, m, c->uid_mode, false);
			}
			if (r != NULL && r->n_modified > 0)
				write_modified(s, c, r);
			else
				session_tagged(s, "OK", "Store completed.");
		}
		session_done(s);
	}
	free(c);
	session_unref(s);
}

/* "(UNCHANGEDSINCE n)". 0, or -1 after a tagged BAD. */
static int parse_modifiers(struct session *s, const struct imap_arg *l, uint64_t *unchangedsince_r)
{
	if (l->list_count != 2 || l->list[0].type != IMAP_ARG_ATOM ||
	    strcasecmp(l->list[0].str, "UNCHANGEDSINCE") != 0 || l->list[1].type != IMAP_ARG_ATOM) {
		session_tagged(s, "BAD", "Unknown STORE modifier");
		return -1;
	}
	const struct imap_arg *v = &l->list[1];
	char *end = NULL;
	unsigned long long n = 0;
	if (v->str[0] >= '0' && v->str[0] <= '9' && v->len <= 19)
		n = strtoull(v->str, &end, 10);
	if (end == NULL || *end != '\0') {
		session_tagged(s, "BAD", "UNCHANGEDSINCE needs a mod-sequence value");
		return -1;
	}
	*unchangedsince_r = n;
	return 0;
}

void store_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode)
{
	/* STORE set [(UNCHANGEDSINCE n)] item flags */
	const struct imap_arg *set = &args[0];
	const struct imap_arg *mods = nargs >= 4 && args[1].type == IMAP_ARG_LIST ? &args[1] : NULL;
	uint64_t unchangedsince = 0;
	if (mods != NULL) {
		if (parse_modifiers(s, mods, &unchangedsince) < 0) {
			session_done(s);
			return;
		}
		args++; /* args[1..] are now item and flags, as without modifiers */
		nargs--;
	}
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
	if (!session_write_set(s, set, uid_mode, "Store completed.", &ranges, &n))
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
	if (mods != NULL)
		condstore_enable(s);
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__StoreReq q = CPM__STORE_REQ__INIT;
	q.user = s->sel.owner;
	q.folder_id = s->sel.folder_id;
	q.uidvalidity = s->sel.uidvalidity;
	q.uids = ptrs;
	q.n_uids = n;
	q.mode = mode;
	q.sys_flags = flags.sys;
	q.keywords = flags.keywords;
	q.n_keywords = flags.n_keywords;
	q.has_unchangedsince = mods != NULL;
	q.unchangedsince = unchangedsince;
	req.op_case = CPM__REQUEST__OP_STORE;
	req.store = &q;
	session_ref(s);
	session_rpc(s, s->sel.shard, &req, 0, on_store, c);
	free(ptrs);
	free(ranges);
}

void cmd_store(struct session *s, const struct imap_command *cmd)
{
	store_start(s, cmd->args, cmd->nargs, false);
}
