/*
 * cmd-copy: COPY (RFC 3501 6.4.7) and MOVE (RFC 6851), and their UID forms,
 * with UIDPLUS's COPYUID (RFC 4315). The back-end copies within a shard,
 * also to another user's folder there (ACL): new UIDs in the destination,
 * the bodies shared (reference counted), flags kept (those the user may
 * set there). To another shard, copy-relay.h carries the messages. MOVE
 * also expunges the sources: the client gets "* OK [COPYUID ...]", the
 * EXPUNGE responses, then the tagged OK.
 */
#include "commands.h"

#include "copy-relay.h"

#include "imap-seqset.h"
#include "rpc-client.h"

#include <stdlib.h>
#include <string.h>

struct copy_ctx {
	struct session *s;
	bool move;
	struct buf dest;
};

/* "COPYUID <uidvalidity> <src-set> <dst-set>" into b. */
static void write_copyuid(struct buf *b, const Cpm__CopyResp *r)
{
	struct imap_seqset src, dst;
	imap_seqset_init(&src);
	imap_seqset_init(&dst);
	for (size_t i = 0; i < r->n_src_uids; i++)
		imap_seqset_add(&src, r->src_uids[i]);
	for (size_t i = 0; i < r->n_dest_uids; i++)
		imap_seqset_add(&dst, r->dest_uids[i]);
	buf_printf(b, "COPYUID %u ", r->dest_uidvalidity);
	imap_seqset_write(b, &src);
	buf_append_byte(b, ' ');
	imap_seqset_write(b, &dst);
	imap_seqset_free(&src);
	imap_seqset_free(&dst);
}

/* After the sync of a copy into the selected folder: the saved tagged line. */
static void copy_tagged(struct session *s)
{
	const char *tagline = s->cmd_state;
	if (tagline != NULL)
		session_write(s, tagline, strlen(tagline));
	session_done(s);
}

void copy_answer(struct session *s, const char *dest_name, bool move, const Cpm__Response *resp)
{
	const char *what = move ? "MOVE" : "COPY";
	const Cpm__CopyResp *r = resp->result_case == CPM__RESPONSE__RESULT_COPY ? resp->copy : NULL;
	if (resp->status == CPM__STATUS__NONEXISTENT) {
		session_tagged(s, "NO", "[TRYCREATE] Mailbox doesn't exist");
	} else if (resp->status != CPM__STATUS__OK) {
		session_tagged_rpc_error(s, resp, what);
	} else if (r == NULL || r->n_src_uids == 0) {
		session_tagged(s, "OK", "No messages found.");
	} else {
		struct buf *b = session_outbuf(s);
		struct buf line = {0};
		if (move) {
			buf_append_str(b, "* OK [");
			write_copyuid(b, r);
			buf_append_str(b, "] Moved UIDs.\r\n");
			session_report_expunged(s, r->src_uids, r->n_src_uids);
			buf_printf(&line, "%s OK Move completed.\r\n", s->tag);
		} else {
			buf_printf(&line, "%s OK [", s->tag);
			write_copyuid(&line, r);
			buf_append_str(&line, "] Copy completed.\r\n");
		}
		/* Copies into the selected folder are announced (EXISTS) before
		 * the tagged OK, as after APPEND (RFC 3501 7.3.1; Dovecot does). */
		const struct selected_folder *f = &s->sel;
		bool into_selected = s->state == SESSION_SELECTED && f->name != NULL && strcmp(f->name, dest_name) == 0 &&
				     f->uidvalidity == r->dest_uidvalidity;
		char *tagline = (char *)buf_steal(&line, NULL);
		if (tagline == NULL) {
			session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		} else if (into_selected) {
			s->cmd_state = tagline;
			s->cmd_state_free = free;
			session_sync(s, copy_tagged);
			return;
		} else {
			session_write(s, tagline, strlen(tagline));
			free(tagline);
		}
	}
	session_done(s);
}

static void on_copy(const Cpm__Response *resp, void *ctx)
{
	struct copy_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s))
		copy_answer(s, (const char *)c->dest.data, c->move, resp);
	buf_free(&c->dest);
	free(c);
	session_unref(s);
}

void copy_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode, bool move)
{
	if (nargs != 2) {
		session_tagged(s, "BAD", "%s needs a message set and a mailbox name", move ? "MOVE" : "COPY");
		session_done(s);
		return;
	}
	if (move && s->sel.readonly) {
		session_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		session_done(s);
		return;
	}
	struct copy_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	c->move = move;
	if (arg_mailbox(&args[1], &c->dest) < 0 || c->dest.data == NULL) {
		session_tagged(s, arg_astring(&args[1]) ? "NO" : "BAD", "Invalid mailbox name");
		buf_free(&c->dest);
		free(c);
		session_done(s);
		return;
	}
	Cpm__UidRange *ranges = NULL;
	size_t n = 0;
	if (session_uid_ranges(s, &args[0], uid_mode, &ranges, &n) < 0) {
		buf_free(&c->dest);
		free(c);
		session_done(s);
		return;
	}
	Cpm__UidRange **ptrs = session_range_ptrs(ranges, n);
	if (n > 0 && ptrs == NULL) {
		free(ranges);
		buf_free(&c->dest);
		free(c);
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	/* Another user's folder on another shard: the front-end carries the
	 * messages (copy-relay.h); on this shard the back-end copies. */
	struct mailbox_ref ref;
	mailbox_ref_resolve(s, (const char *)c->dest.data, &ref);
	bool relay = ref.kind == MREF_FOLDER && ref.shard != s->sel.shard;
	if (ref.kind != MREF_FOLDER || relay) {
		if (relay) {
			copy_relay_start(s, ranges, n, &ref, (const char *)c->dest.data, move);
		} else {
			session_tagged(s, "NO", "[CANNOT] A namespace, not a mailbox");
			session_done(s);
		}
		free(ptrs);
		free(ranges);
		buf_free(&c->dest);
		free(c);
		return;
	}
	/* Even with no message matched, the destination must exist (TRYCREATE),
	 * so the back-end is asked either way; an empty set copies nothing. */
	Cpm__UidRange none = CPM__UID_RANGE__INIT, *none_p = &none;
	none.first = 1;
	none.last = 0;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__CopyReq q = CPM__COPY_REQ__INIT;
	q.user = s->sel.owner;
	q.folder_id = s->sel.folder_id;
	q.uidvalidity = s->sel.uidvalidity;
	q.uids = n ? ptrs : &none_p;
	q.n_uids = n ? n : 1;
	q.dest = (char *)ref.name;
	q.dest_user = strcmp(ref.owner, s->sel.owner) != 0 ? ref.owner : "";
	q.move = move;
	req.op_case = CPM__REQUEST__OP_COPY;
	req.copy = &q;
	session_ref(s);
	session_rpc(s, s->sel.shard, &req, 0, on_copy, c);
	free(ptrs);
	free(ranges);
}

void cmd_copy(struct session *s, const struct imap_command *cmd)
{
	copy_start(s, cmd->args, cmd->nargs, false, strcmp(cmd->name, "MOVE") == 0);
}
