/*
 * condstore: CONDSTORE/QRESYNC response writers shared by commands.
 */
#include "condstore.h"

#include "recent.h"

#include "fetch-flags.h"
#include "imap-seqset.h"

void condstore_enable(struct session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->state == SESSION_SELECTED)
		session_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)s->sel.highestmodseq);
}

void condstore_write_fetch(struct session *s, uint32_t seq, const Cpm__MessageData *m, bool with_uid,
			   bool with_flags)
{
	with_uid = with_uid || s->qresync;
	if (!with_uid && !with_flags && !s->condstore)
		return;
	struct buf *b = session_outbuf(s);
	const char *sep = "";
	buf_printf(b, "* %u FETCH (", seq);
	if (with_uid) {
		buf_printf(b, "UID %u", m->uid);
		sep = " ";
	}
	if (with_flags) {
		bool recent = recent_has(&s->sel, m->uid);
		buf_printf(b, "%sFLAGS ", sep);
		fetch_flags_write(b, m->sys_flags & FETCH_FLAG_ALL, recent, m->keywords, m->n_keywords);
		sep = " ";
	}
	if (s->condstore)
		buf_printf(b, "%sMODSEQ (%llu)", sep, (unsigned long long)m->modseq);
	buf_append_str(b, ")\r\n");
}

void condstore_write_vanished(struct session *s, bool earlier, const uint32_t *uids, size_t n)
{
	if (n == 0)
		return;
	struct imap_seqset set;
	imap_seqset_init(&set);
	for (size_t i = 0; i < n; i++) {
		if (imap_seqset_add(&set, uids[i]) < 0) {
			/* Out of memory: say it one UID per line rather than lose any. */
			imap_seqset_free(&set);
			for (size_t j = 0; j < n; j++)
				session_untagged(s, "VANISHED %s%u", earlier ? "(EARLIER) " : "", uids[j]);
			return;
		}
	}
	struct buf *b = session_outbuf(s);
	buf_printf(b, "* VANISHED %s", earlier ? "(EARLIER) " : "");
	imap_seqset_write(b, &set);
	buf_append_str(b, "\r\n");
	imap_seqset_free(&set);
}
