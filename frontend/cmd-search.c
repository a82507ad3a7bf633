/*
 * cmd-search: SEARCH and UID SEARCH (RFC 3501 6.4.4).
 *
 * The search program is parsed here into a cpm.SearchKey tree; what only
 * the session knows (sequence numbers, \Recent) becomes UID ranges, so the
 * back-end evaluates it over stored data alone (backend/op-search.c). The
 * answer lists sequence numbers (or UIDs) of matching messages in the
 * session's view.
 */
#include "commands.h"
#include "recent.h"
#include "condstore.h"

#include "imap-date.h"
#include "imap-seqset.h"
#include "rpc-client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SEARCH_MAX_DEPTH 64

struct sparse {
	struct session *s;
	bool uid_mode;
	bool answered;   /* a helper already wrote the tagged answer */
	const char *err; /* BAD text */
	unsigned depth;
	bool modseq;     /* the program uses MODSEQ: answer with the highest MODSEQ found */
};

static Cpm__SearchKey *key_new(Cpm__SearchOp op)
{
	Cpm__SearchKey *k = malloc(sizeof(*k));
	if (k != NULL) {
		cpm__search_key__init(k);
		k->op = op;
	}
	return k;
}

static void key_free(Cpm__SearchKey *k)
{
	if (k != NULL)
		cpm__search_key__free_unpacked(k, NULL);
}

static int key_add_sub(Cpm__SearchKey *k, Cpm__SearchKey *sub)
{
	Cpm__SearchKey **ns = realloc(k->sub, (k->n_sub + 1) * sizeof(*ns));
	if (ns == NULL) {
		key_free(sub);
		return -1;
	}
	k->sub = ns;
	k->sub[k->n_sub++] = sub;
	return 0;
}

/* UIDS over the given ranges (moved into the key). */
static Cpm__SearchKey *key_uids(Cpm__UidRange *ranges, size_t n)
{
	Cpm__SearchKey *k = key_new(CPM__SEARCH_OP__S_UIDS);
	if (k == NULL)
		return NULL;
	if (n > 0 && (k->uids = calloc(n, sizeof(*k->uids))) == NULL) {
		key_free(k);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		k->uids[i] = malloc(sizeof(Cpm__UidRange));
		if (k->uids[i] == NULL) {
			k->n_uids = i;
			key_free(k);
			return NULL;
		}
		*k->uids[i] = ranges[i];
		k->n_uids = i + 1;
	}
	return k;
}

static Cpm__SearchKey *key_recent(struct session *s)
{
	return key_uids(s->sel.recent, s->sel.n_recent);
}

static Cpm__SearchKey *key_not(Cpm__SearchKey *sub)
{
	Cpm__SearchKey *k = sub ? key_new(CPM__SEARCH_OP__S_NOT) : NULL;
	if (k == NULL || key_add_sub(k, sub) < 0) {
		if (k == NULL)
			key_free(sub);
		key_free(k);
		return NULL;
	}
	return k;
}


static const struct {
	const char *name;
	uint32_t flag;
	bool set;
} flag_keys[] = {
	{"ANSWERED", CPM__SYS_FLAG__ANSWERED, true}, {"DELETED", CPM__SYS_FLAG__DELETED, true},
	{"DRAFT", CPM__SYS_FLAG__DRAFT, true},	     {"FLAGGED", CPM__SYS_FLAG__FLAGGED, true},
	{"SEEN", CPM__SYS_FLAG__SEEN, true},	     {"UNANSWERED", CPM__SYS_FLAG__ANSWERED, false},
	{"UNDELETED", CPM__SYS_FLAG__DELETED, false}, {"UNDRAFT", CPM__SYS_FLAG__DRAFT, false},
	{"UNFLAGGED", CPM__SYS_FLAG__FLAGGED, false}, {"UNSEEN", CPM__SYS_FLAG__SEEN, false},
};

static const struct {
	const char *name;
	Cpm__SearchOp op;
} date_keys[] = {
	{"BEFORE", CPM__SEARCH_OP__S_BEFORE},	      {"ON", CPM__SEARCH_OP__S_ON},
	{"SINCE", CPM__SEARCH_OP__S_SINCE},	      {"SENTBEFORE", CPM__SEARCH_OP__S_SENTBEFORE},
	{"SENTON", CPM__SEARCH_OP__S_SENTON},	      {"SENTSINCE", CPM__SEARCH_OP__S_SENTSINCE},
};

static const char *const header_keys[] = {"BCC", "CC", "FROM", "SUBJECT", "TO"};

static Cpm__SearchKey *parse_key(struct sparse *p, const struct imap_arg *args, unsigned n, unsigned *i);

/* Every key of args[0..n) (the top level or a parenthesised list): AND. */
static Cpm__SearchKey *parse_all(struct sparse *p, const struct imap_arg *args, unsigned n)
{
	if (n == 0) {
		p->err = "Missing search key";
		return NULL;
	}
	Cpm__SearchKey *and = key_new(CPM__SEARCH_OP__S_AND);
	unsigned i = 0;
	while (and != NULL && i < n) {
		Cpm__SearchKey *k = parse_key(p, args, n, &i);
		if (k == NULL || key_add_sub(and, k) < 0) {
			key_free(and);
			return NULL;
		}
	}
	return and;
}

static Cpm__SearchKey *parse_key(struct sparse *p, const struct imap_arg *args, unsigned n, unsigned *i)
{
	if (++p->depth > SEARCH_MAX_DEPTH) {
		p->err = "Search program nested too deeply";
		return NULL;
	}
	const struct imap_arg *a = &args[(*i)++];
	Cpm__SearchKey *k = NULL;
	if (a->type == IMAP_ARG_LIST) {
		k = parse_all(p, a->list, a->list_count);
		p->depth--;
		return k;
	}
	if (a->type != IMAP_ARG_ATOM) {
		p->err = "Invalid search key";
		return NULL;
	}
	const char *name = a->str;
	const struct imap_arg *next = *i < n ? &args[*i] : NULL;
	if (strcasecmp(name, "ALL") == 0) {
		k = key_new(CPM__SEARCH_OP__S_ALL);
	} else if (strcasecmp(name, "RECENT") == 0) {
		k = key_recent(p->s);
	} else if (strcasecmp(name, "OLD") == 0) {
		k = key_not(key_recent(p->s));
	} else if (strcasecmp(name, "NEW") == 0) {
		k = key_new(CPM__SEARCH_OP__S_AND);
		Cpm__SearchKey *unseen = key_new(CPM__SEARCH_OP__S_FLAG_UNSET);
		if (unseen != NULL)
			unseen->flag = CPM__SYS_FLAG__SEEN;
		if (k == NULL || unseen == NULL || key_add_sub(k, unseen) < 0 || key_add_sub(k, key_recent(p->s)) < 0 ||
		    k->sub[1] == NULL) {
			if (k == NULL)
				key_free(unseen);
			key_free(k);
			k = NULL;
		}
	} else if (strcasecmp(name, "NOT") == 0) {
		if (next == NULL) {
			p->err = "NOT needs a search key";
			return NULL;
		}
		k = key_not(parse_key(p, args, n, i));
	} else if (strcasecmp(name, "OR") == 0) {
		if (*i + 1 >= n) {
			p->err = "OR needs two search keys";
			return NULL;
		}
		Cpm__SearchKey *x = parse_key(p, args, n, i);
		Cpm__SearchKey *y = x && *i < n ? parse_key(p, args, n, i) : NULL;
		k = x && y ? key_new(CPM__SEARCH_OP__S_OR) : NULL;
		if (k == NULL || key_add_sub(k, x) < 0 || key_add_sub(k, y) < 0) {
			if (k == NULL) {
				key_free(x);
				key_free(y);
			}
			key_free(k);
			k = NULL;
			if (p->err == NULL && x != NULL && y == NULL && *i >= n)
				p->err = "OR needs two search keys";
		}
	} else if (strcasecmp(name, "UID") == 0) {
		Cpm__UidRange *r = NULL;
		size_t nr = 0;
		if (next == NULL) {
			p->err = "UID needs a UID set";
			return NULL;
		}
		(*i)++;
		if (session_uid_ranges(p->s, next, true, &r, &nr) < 0) {
			p->answered = true;
			return NULL;
		}
		k = key_uids(r, nr);
		free(r);
	} else if (strcasecmp(name, "KEYWORD") == 0 || strcasecmp(name, "UNKEYWORD") == 0) {
		if (next == NULL || next->type != IMAP_ARG_ATOM) {
			p->err = "KEYWORD needs a keyword";
			return NULL;
		}
		(*i)++;
		k = key_new(strcasecmp(name, "KEYWORD") == 0 ? CPM__SEARCH_OP__S_KEYWORD : CPM__SEARCH_OP__S_UNKEYWORD);
		if (k != NULL && (k->text = strdup(next->str)) == NULL) {
			key_free(k);
			k = NULL;
		}
	} else if (strcasecmp(name, "OLDER") == 0 || strcasecmp(name, "YOUNGER") == 0) {
		/* WITHIN (RFC 5032): interval in seconds, against the internal date. */
		char *end;
		errno = 0;
		unsigned long v = next && next->type == IMAP_ARG_ATOM ? strtoul(next->str, &end, 10) : 0;
		if (next == NULL || next->type != IMAP_ARG_ATOM || errno != 0 || *end != '\0' || v == 0 ||
		    v > 100ul * 365 * 86400) {
			p->err = "OLDER/YOUNGER need a positive number of seconds";
			return NULL;
		}
		(*i)++;
		k = key_new(strcasecmp(name, "OLDER") == 0 ? CPM__SEARCH_OP__S_INTERNAL_BEFORE
							    : CPM__SEARCH_OP__S_INTERNAL_SINCE);
		if (k != NULL)
			k->date = (int64_t)time(NULL) - (int64_t)v;
	} else if (strcasecmp(name, "MODSEQ") == 0) {
		/* RFC 7162 3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer.
		 * Flags share the message's MODSEQ here, so the entry only needs to be valid. */
		if (next != NULL && next->type != IMAP_ARG_ATOM && *i + 2 < n) {
			const char *type = args[*i + 1].type == IMAP_ARG_ATOM ? args[*i + 1].str : "";
			const char *entry = arg_astring(next);
			if (entry == NULL || strncmp(entry, "/flags/", 7) != 0 ||
			    (strcasecmp(type, "all") != 0 && strcasecmp(type, "shared") != 0 &&
			     strcasecmp(type, "priv") != 0)) {
				p->err = "Invalid MODSEQ entry";
				return NULL;
			}
			*i += 2;
			next = &args[*i];
		}
		char *end = NULL;
		unsigned long long v = 0;
		if (next != NULL && next->type == IMAP_ARG_ATOM && next->str[0] >= '0' && next->str[0] <= '9' &&
		    next->len <= 19)
			v = strtoull(next->str, &end, 10);
		if (end == NULL || *end != '\0') {
			p->err = "MODSEQ needs a mod-sequence value";
			return NULL;
		}
		(*i)++;
		k = key_new(CPM__SEARCH_OP__S_MODSEQ);
		if (k != NULL)
			k->modseq = v;
		p->modseq = true;
	} else if (strcasecmp(name, "LARGER") == 0 || strcasecmp(name, "SMALLER") == 0) {
		char *end;
		errno = 0;
		unsigned long long v = next && next->type == IMAP_ARG_ATOM ? strtoull(next->str, &end, 10) : 0;
		if (next == NULL || next->type != IMAP_ARG_ATOM || errno != 0 || *end != '\0' || next->str[0] == '-' ||
		    next->str[0] == '\0') {
			p->err = "LARGER/SMALLER need a number";
			return NULL;
		}
		(*i)++;
		k = key_new(strcasecmp(name, "LARGER") == 0 ? CPM__SEARCH_OP__S_LARGER : CPM__SEARCH_OP__S_SMALLER);
		if (k != NULL)
			k->size = v;
	} else if (strcasecmp(name, "HEADER") == 0 || strcasecmp(name, "BODY") == 0 || strcasecmp(name, "TEXT") == 0) {
		bool header = strcasecmp(name, "HEADER") == 0;
		const char *field = header && next ? arg_astring(next) : NULL;
		const struct imap_arg *val = header ? (*i + 1 < n ? &args[*i + 1] : NULL) : next;
		const char *text = val ? arg_astring(val) : NULL;
		if (text == NULL || (header && (field == NULL || *field == '\0'))) {
			p->err = "Missing or invalid search string";
			return NULL;
		}
		*i += header ? 2 : 1;
		k = key_new(header ? CPM__SEARCH_OP__S_HEADER
				   : strcasecmp(name, "BODY") == 0 ? CPM__SEARCH_OP__S_BODY : CPM__SEARCH_OP__S_TEXT);
		if (k != NULL && ((k->text = strdup(text)) == NULL || (header && (k->header = strdup(field)) == NULL))) {
			key_free(k);
			k = NULL;
		}
	} else {
		for (size_t j = 0; j < sizeof(flag_keys) / sizeof(flag_keys[0]); j++) {
			if (strcasecmp(name, flag_keys[j].name) == 0) {
				k = key_new(flag_keys[j].set ? CPM__SEARCH_OP__S_FLAG_SET : CPM__SEARCH_OP__S_FLAG_UNSET);
				if (k != NULL)
					k->flag = flag_keys[j].flag;
				goto done;
			}
		}
		for (size_t j = 0; j < sizeof(date_keys) / sizeof(date_keys[0]); j++) {
			if (strcasecmp(name, date_keys[j].name) == 0) {
				time_t t;
				const char *d = next ? arg_astring(next) : NULL;
				if (d == NULL || imap_date_parse(d, strlen(d), &t) < 0) {
					p->err = "Invalid search date";
					return NULL;
				}
				(*i)++;
				k = key_new(date_keys[j].op);
				if (k != NULL)
					k->date = (int64_t)t;
				goto done;
			}
		}
		for (size_t j = 0; j < sizeof(header_keys) / sizeof(header_keys[0]); j++) {
			if (strcasecmp(name, header_keys[j]) == 0) {
				const char *text = next ? arg_astring(next) : NULL;
				if (text == NULL) {
					p->err = "Missing search string";
					return NULL;
				}
				(*i)++;
				/* FROM/TO/CC/BCC match the parsed addresses; SUBJECT the field. */
				k = key_new(strcasecmp(name, "SUBJECT") == 0 ? CPM__SEARCH_OP__S_HEADER : CPM__SEARCH_OP__S_ADDRESS);
				if (k != NULL && ((k->text = strdup(text)) == NULL || (k->header = strdup(header_keys[j])) == NULL)) {
					key_free(k);
					k = NULL;
				}
				goto done;
			}
		}
		/* A sequence set. */
		if (strchr("0123456789*", name[0]) != NULL) {
			Cpm__UidRange *r = NULL;
			size_t nr = 0;
			if (session_search_ranges(p->s, a, false, &r, &nr) < 0) {
				p->answered = true;
				return NULL;
			}
			k = key_uids(r, nr);
			free(r);
			goto done;
		}
		p->err = "Unknown search key";
		return NULL;
	}
done:
	p->depth--;
	if (k == NULL && p->err == NULL && !p->answered)
		p->err = "Out of memory";
	return k;
}

/* ESEARCH (RFC 4731) result options. */
#define RET_MIN SEARCH_RET_MIN
#define RET_MAX SEARCH_RET_MAX
#define RET_ALL SEARCH_RET_ALL
#define RET_COUNT SEARCH_RET_COUNT

struct search_ctx {
	struct session *s;
	bool uid_mode;
	unsigned ret; /* 0: classic "* SEARCH" */
	bool modseq;  /* add the highest MODSEQ of the matches (RFC 7162 3.1.5) */
	uint64_t highestmodseq;
};

static void write_esearch(struct session *s, struct search_ctx *c, const uint32_t *vals, size_t n)
{
	search_write_esearch(s, c->uid_mode, c->ret, vals, n, false, c->modseq ? c->highestmodseq : 0);
}

void search_write_modseq(struct buf *b, size_t n, uint64_t modseq)
{
	if (n > 0 && modseq != 0)
		buf_printf(b, " (MODSEQ %llu)", (unsigned long long)modseq);
}

void search_write_esearch(struct session *s, bool uid_mode, unsigned ret, const uint32_t *vals, size_t n, bool sorted,
			  uint64_t modseq)
{
	struct buf *b = session_outbuf(s);
	buf_printf(b, "* ESEARCH (TAG \"%s\")%s", s->tag, uid_mode ? " UID" : "");
	if (n > 0 && (ret & RET_MIN))
		buf_printf(b, " MIN %u", vals[0]);
	if (n > 0 && (ret & RET_MAX))
		buf_printf(b, " MAX %u", vals[n - 1]);
	if (n > 0 && (ret & RET_ALL) && sorted) {
		/* ESORT: the sort order kept; ascending runs as ranges (as Dovecot). */
		buf_append_str(b, " ALL ");
		for (size_t i = 0; i < n;) {
			size_t j = i;
			while (j + 1 < n && vals[j + 1] == vals[j] + 1)
				j++;
			buf_printf(b, i > 0 ? ",%u" : "%u", vals[i]);
			if (j > i)
				buf_printf(b, ":%u", vals[j]);
			i = j + 1;
		}
	} else if (n > 0 && (ret & RET_ALL)) {
		struct imap_seqset set;
		imap_seqset_init(&set);
		for (size_t i = 0; i < n; i++)
			imap_seqset_add(&set, vals[i]);
		buf_append_str(b, " ALL ");
		imap_seqset_write(b, &set);
		imap_seqset_free(&set);
	}
	/* RFC 4731 fixes no order; this is Dovecot's (COUNT after ALL). */
	if (ret & RET_COUNT)
		buf_printf(b, " COUNT %zu", n);
	if (n > 0 && modseq != 0)
		buf_printf(b, " MODSEQ %llu", (unsigned long long)modseq);
	buf_append_str(b, "\r\n");
}

static void on_search(const Cpm__Response *resp, void *ctx)
{
	struct search_ctx *c = ctx;
	struct session *s = c->s;
	if (!session_closed(s)) {
		if (resp->status != CPM__STATUS__OK || resp->result_case != CPM__RESPONSE__RESULT_SEARCH) {
			session_tagged_rpc_error(s, resp, "SEARCH");
		} else {
			/* Matches in the view, as UIDs or sequence numbers (both ascend). */
			uint32_t *vals = resp->search->n_uids ? malloc(resp->search->n_uids * sizeof(uint32_t)) : NULL;
			size_t n = 0;
			for (size_t i = 0; vals != NULL && i < resp->search->n_uids; i++) {
				uint32_t uid = resp->search->uids[i];
				uint32_t seq = session_seq_of_uid(s, uid);
				if (seq != 0)
					vals[n++] = c->uid_mode ? uid : seq;
			}
			if (resp->search->n_uids > 0 && vals == NULL) {
				session_tagged(s, "NO", "[SERVERBUG] Out of memory");
			} else {
				c->highestmodseq = resp->search->highestmodseq;
				if (c->ret != 0) {
					write_esearch(s, c, vals, n);
				} else {
					struct buf *b = session_outbuf(s);
					buf_append_str(b, "* SEARCH");
					for (size_t i = 0; i < n; i++)
						buf_printf(b, " %u", vals[i]);
					search_write_modseq(b, n, c->modseq ? c->highestmodseq : 0);
					buf_append_str(b, "\r\n");
				}
				session_tagged(s, "OK", "Search completed.");
			}
			free(vals);
		}
		session_done(s);
	}
	free(c);
	session_unref(s);
}

int search_parse_return(struct session *s, const struct imap_arg *args, unsigned nargs, unsigned *ret_r,
			unsigned *used_r)
{
	unsigned ret = 0;
	*ret_r = 0;
	*used_r = 0;
	if (nargs >= 2 && args[0].type == IMAP_ARG_ATOM && strcasecmp(args[0].str, "RETURN") == 0) {
		const struct imap_arg *l = &args[1];
		if (l->type != IMAP_ARG_LIST) {
			session_tagged(s, "BAD", "RETURN needs a list of options");
			return -1;
		}
		for (unsigned i = 0; i < l->list_count; i++) {
			const char *o = l->list[i].type == IMAP_ARG_ATOM ? l->list[i].str : "";
			unsigned bit = strcasecmp(o, "MIN") == 0	 ? RET_MIN
				       : strcasecmp(o, "MAX") == 0   ? RET_MAX
				       : strcasecmp(o, "ALL") == 0   ? RET_ALL
				       : strcasecmp(o, "COUNT") == 0 ? RET_COUNT
								     : 0;
			if (bit == 0) {
				session_tagged(s, "BAD", "Unknown RETURN option");
				return -1;
			}
			ret |= bit;
		}
		*ret_r = ret != 0 ? ret : RET_ALL; /* RETURN () means ALL */
		*used_r = 2;
	}
	return 0;
}

int search_check_charset(struct session *s, const struct imap_arg *a)
{
	/* UTF-8 and US-ASCII (a subset) are what we match in. */
	const char *cs = a != NULL ? arg_astring(a) : NULL;
	if (cs == NULL) {
		session_tagged(s, "BAD", "Missing or invalid charset name");
		return -1;
	}
	if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
		session_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return -1;
	}
	return 0;
}

Cpm__SearchKey *search_parse_program(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode,
				     bool *modseq_r)
{
	struct sparse p = {.s = s, .uid_mode = uid_mode};
	Cpm__SearchKey *key = parse_all(&p, args, nargs);
	if (key == NULL && !p.answered)
		session_tagged(s, "BAD", "%s", p.err ? p.err : "Invalid search program");
	if (key != NULL && p.modseq)
		condstore_enable(s);
	*modseq_r = key != NULL && p.modseq;
	return key;
}

void search_key_free(Cpm__SearchKey *k)
{
	key_free(k);
}

void search_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode)
{
	unsigned ret = 0, used = 0;
	if (search_parse_return(s, args, nargs, &ret, &used) < 0) {
		session_done(s);
		return;
	}
	args += used;
	nargs -= used;
	if (nargs >= 1 && args[0].type == IMAP_ARG_ATOM && strcasecmp(args[0].str, "CHARSET") == 0) {
		if (search_check_charset(s, nargs >= 2 ? &args[1] : NULL) < 0) {
			session_done(s);
			return;
		}
		args += 2;
		nargs -= 2;
	}
	bool modseq = false;
	Cpm__SearchKey *key = search_parse_program(s, args, nargs, uid_mode, &modseq);
	if (key == NULL) {
		session_done(s);
		return;
	}
	struct search_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		key_free(key);
		session_tagged(s, "NO", "[SERVERBUG] Out of memory");
		session_done(s);
		return;
	}
	c->s = s;
	c->uid_mode = uid_mode;
	c->ret = ret;
	c->modseq = modseq;
	Cpm__Request req = CPM__REQUEST__INIT;
	Cpm__SearchReq q = CPM__SEARCH_REQ__INIT;
	q.user = s->sel.owner;
	q.folder_id = s->sel.folder_id;
	q.uidvalidity = s->sel.uidvalidity;
	q.key = key;
	q.max_uid = s->sel.count > 0 ? s->sel.uids[s->sel.count - 1] : 0;
	req.op_case = CPM__REQUEST__OP_SEARCH;
	req.search = &q;
	if (s->sel.count == 0) {
		/* Nothing to search: answer without asking. */
		if (ret != 0)
			write_esearch(s, c, NULL, 0);
		else
			session_untagged(s, "SEARCH");
		session_tagged(s, "OK", "Search completed.");
		key_free(key);
		free(c);
		session_done(s);
		return;
	}
	session_ref(s);
	session_rpc(s, s->sel.shard, &req, 0, on_search, c);
	key_free(key);
}

void cmd_search(struct session *s, const struct imap_command *cmd)
{
	search_start(s, cmd->args, cmd->nargs, false);
}
