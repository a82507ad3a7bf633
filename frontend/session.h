/*
 * session: one IMAP connection's protocol state and the command dispatcher.
 *
 * The connection layer (conn.c) owns the socket, TLS and PROXY header; it
 * hands every complete parsed command to session_run_command(). A command
 * handler (frontend/cmd-*.c) either finishes at once, or starts RPCs and
 * finishes later from their callbacks. While a command runs, no further
 * input is parsed (pipelined commands wait in the input buffer), so the
 * parsed command and its args stay valid until the handler calls
 * session_done(). Handlers write responses with the session_* writers below;
 * output is flushed when the current event ends.
 *
 * Lifetime: a handler that waits on a callback holds a reference
 * (session_ref before rpc_call, session_unref at the top of the callback's
 * exit path). When the client disconnects meanwhile, session_closed() is
 * true in the callback: drop the result, unref, return.
 */
#ifndef CPM_FRONTEND_SESSION_H
#define CPM_FRONTEND_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl-rights.h"
#include "buf.h"
#include "imap-parser.h"
#include "proto/cpm.pb-c.h"
#include "rpc-client.h"
#include "worker.h"

enum session_state {
	SESSION_NOT_AUTH,
	SESSION_AUTH,
	SESSION_SELECTED,
	SESSION_LOGOUT,
};

/* What the command table says about a command. */
#define CMD_NOT_AUTH 1u  /* allowed before login */
#define CMD_AUTH 2u      /* allowed once logged in */
#define CMD_SELECTED 4u  /* allowed with a folder selected */
#define CMD_ANY (CMD_NOT_AUTH | CMD_AUTH | CMD_SELECTED)

struct conn;
struct notify_state;
struct session;
typedef void session_line_cb(struct session *s, const char *line, size_t len);

/* Handler contract: return normally; the command is over only when the
 * handler (now or later) calls session_done(). */
typedef void cmd_handler(struct session *s, const struct imap_command *cmd);
/* A large literal of the command was announced (imap-parser.h
 * "Streaming"): partial is the command so far (valid until the handler
 * returns); the handler decides with session_literal_stream, or answers and
 * calls session_literal_skip + session_done, now or later. */
typedef void cmd_literal_handler(struct session *s, const struct imap_command *partial,
				 const struct imap_literal_info *li);
typedef void session_literal_data_cb(struct session *s, const struct imap_literal_chunk *ch);

struct cmd_def {
	const char *name;
	unsigned states;
	cmd_handler *handler;
	cmd_literal_handler *literal; /* NULL: large literals are buffered like others */
	unsigned literal_depth;       /* literals offered up to this list depth (0: top level only) */
};

/* The selected folder, as this session knows it. */
struct selected_folder {
	char *name;
	uint64_t folder_id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	bool readonly;
	uint32_t *uids;     /* sequence number n ↔ uids[n-1], ascending */
	uint32_t count;
	Cpm__UidRange *recent;     /* UIDs \Recent in this session: ascending, disjoint (recent.h) */
	size_t n_recent;
	uint32_t claimed_upto;     /* \Recent claimed, by us or another session, below this UID */
	uint32_t folder_recent_uid; /* the folder's watermark as the last sync read it */
	uint32_t recent_told;      /* the RECENT count the client was last given */
	uint64_t highestmodseq;    /* the folder's state this view reflects */
	char *owner;               /* the folder's owner: the session's user, or another (ACL) */
	size_t shard;              /* the owner's shard: every request on the folder goes there */
	uint32_t rights;           /* the session user's ACL rights on it (acl-rights.h) */
};

struct session {
	struct fe_worker *w;
	struct conn *conn;
	uint64_t id;
	enum session_state state;
	char *user;              /* authenticated user name */
	size_t shard;            /* shard index of user */
	struct selected_folder sel;
	bool tls_active;
	bool secure_channel;     /* TLS, or a loopback peer: plaintext auth allowed */
	bool loopback;
	unsigned refs;
	const struct imap_command *cmd; /* the running command, or NULL */
	char *tag;               /* copy of the running command's tag */
	unsigned auth_failures;
	void *cmd_state;         /* handler-private state of the running command */
	session_literal_data_cb *literal_cb; /* a literal of the command streams to it */
	bool literal_cmd;        /* a handler took a command before its end (cmd_literal_handler) */
	void (*cmd_state_free)(void *);
	session_line_cb *line_cb;
	bool sel_changed;        /* the change feed said the selected folder changed */
	bool idling;             /* IDLE is running: report changes as they come */
	bool syncing;            /* a sync (sync.c) is in flight */
	bool idle_done_pending;  /* DONE came during a sync: finish IDLE after it */
	bool idle_bad;           /* IDLE ended with something other than DONE */
	bool condstore;          /* CONDSTORE enabled (RFC 7162 3.1): FETCH carries MODSEQ */
	bool qresync;            /* QRESYNC enabled: VANISHED instead of EXPUNGE, UID in FETCH */
	struct notify_state *notify; /* NOTIFY SET in force (cmd-notify.c), or NULL */
	unsigned notify_gen;     /* counts NOTIFY commands that replaced it */
	bool defer_expunge;      /* a SELECTED-DELAYED push runs: keep expunges for later */
	uint32_t *deferred;      /* UIDs expunged but not yet reported (ascending) */
	size_t n_deferred;
	bool collect_new;        /* a NOTIFY push wants the new UIDs a sync adds (MessageNew FETCH) */
	uint32_t *pushed_new;    /* those UIDs, ascending */
	size_t n_pushed_new;
	void (*notify_fetch_then)(struct session *s); /* after their FETCH (notify_fetch_new) */
};

struct session *session_new(struct fe_worker *w, struct conn *c, bool tls_active, bool loopback);
/* Called by conn when the connection is gone; frees when the last ref drops. */
void session_close(struct session *s);
void session_ref(struct session *s);
void session_unref(struct session *s);
bool session_closed(const struct session *s);

/* The greeting, written when the connection is ready (after PROXY/TLS). */
void session_greet(struct session *s);
/* Dispatch one parsed command (conn calls this). */
void session_run_command(struct session *s, const struct imap_command *cmd);
/* A parse error reported by the parser: tagged BAD (or BYE when fatal). */
void session_parse_error(struct session *s, const struct imap_parse_error *err);
/* conn → session: a large literal was announced / a piece of a streamed
 * one (copy it: it points into the input buffer). */
void session_literal(struct session *s, const struct imap_command *partial, const struct imap_literal_info *li);
void session_literal_data(struct session *s, const struct imap_literal_chunk *ch);
/* handler → session: stream the offered literal to cb ("+ Ready" first if
 * it is synchronising), and read on. cb gets each piece and calls
 * session_literal_resume when it wants the next. */
void session_literal_stream(struct session *s, session_literal_data_cb *cb);
void session_literal_resume(struct session *s);
/* The command being read is dropped at the parser (an offered literal
 * refused, a streamed one abandoned): answer it, then session_done. */
void session_literal_skip(struct session *s);
/* The running command is finished: frees cmd_state, resumes input. */
void session_done(struct session *s);

/* Output. Each call appends whole lines ("\r\n" is added by the *_line calls). */
void session_untagged(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void session_tagged(struct session *s, const char *result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Raw bytes (for literals inside an untagged response). */
void session_write(struct session *s, const void *data, size_t len);
/* The output buffer, to build a response in place; session_write_buf() commits nothing extra. */
struct buf *session_outbuf(struct session *s);
/* Whether the client has not yet taken a lot of output (more than the
 * connection's buffer bound); then wait with session_on_drain before writing
 * more (long FETCH responses). The callback also runs when the connection
 * closes (check session_closed). */
bool session_output_full(struct session *s);
void session_on_drain(struct session *s, void (*cb)(void *arg), void *arg);
/* "+ text" continuation request. */
void session_continue(struct session *s, const char *text);
/* rpc_call (rpc-client.h) on behalf of the session: the request carries
 * the session's user as its actor, whose ACL rights the back-end checks. */
uint64_t session_rpc(struct session *s, size_t shard, Cpm__Request *req, unsigned timeout_ms, rpc_done_cb *cb,
		     void *arg);
/* Tagged "NO [UNAVAILABLE] ..." / BAD etc. mapped from a back-end status. */
void session_tagged_rpc_error(struct session *s, const Cpm__Response *resp, const char *what);
/* Write the CAPABILITY list (without "* CAPABILITY ") for the current state. */
void session_write_capabilities(struct session *s, struct buf *b);
/* Ends the connection after flushing output (BYE must already be written). */
void session_disconnect(struct session *s, const char *reason);
/* A command reads the raw line that follows a "+" continuation
 * (AUTHENTICATE responses, IDLE's DONE): after writing the continuation,
 * the handler calls session_expect_line; conn delivers the next input line
 * (without CRLF, at most max_len bytes) to cb once. Ask again for more. */
void session_expect_line(struct session *s, session_line_cb *cb, size_t max_len);
/* conn → session: one raw line in line mode (line NULL: the line was too long). */
void session_raw_line(struct session *s, const char *line, size_t len);
/* conn → session: the PROXY header told the real peer. */
void session_set_peer_loopback(struct session *s, bool loopback);
/* Flush what the session wrote so far (e.g. between pages of a long FETCH). */
void session_flush(struct session *s);

/* Brings the selected folder's view up to date with changes made by other
 * sessions (any front-end): untagged EXPUNGE, FETCH (FLAGS) and EXISTS, from
 * the back-end's change log after the view's MODSEQ. Then calls done(s).
 * Only where RFC 3501 allows EXPUNGE responses (NOOP, CHECK, IDLE ...). */
void session_sync(struct session *s, void (*done)(struct session *s));

/* The change feed reports a change of the session's selected folder
 * (installed as the worker's feed callback). */
void session_feed_event(void *session, const Cpm__FeedEvent *ev);

/* Index of the first view entry >= uid (f->count when none). */
size_t view_lower_bound(const struct selected_folder *f, uint32_t uid);

/* Set the selected folder: name as the client gave it, owner's folder on
 * shard (mailbox-ref.h); clears on NULL name. */
void session_select(struct session *s, const char *name, const char *owner, size_t shard,
		    const Cpm__FolderSelectResp *r, bool readonly);
void session_unselect(struct session *s);
/* Maps a sequence-set argument (UID set when uid_mode) onto the session's
 * view as ascending UID ranges; "*" is the last message (or the highest
 * UID). Sequence numbers beyond the view are an error (tagged BAD); UIDs
 * that are not in the view are skipped. Returns 0 with *ranges_r malloc'd
 * (free(); NULL when none matched), or -1 after writing the tagged answer. */
int session_uid_ranges(struct session *s, const struct imap_arg *a, bool uid_mode, Cpm__UidRange **ranges_r,
		       size_t *n_r);
/* The same for a SEARCH key: sequence numbers past the last message match
 * nothing instead of being an error (as Dovecot). */
int session_search_ranges(struct session *s, const struct imap_arg *a, bool uid_mode, Cpm__UidRange **ranges_r,
			  size_t *n_r);
/* The message set of a command that changes messages (STORE, UID EXPUNGE):
 * refuses a read-only selection (NO [READ-ONLY]), maps the set like
 * session_uid_ranges, and when nothing matched answers "OK done_text"
 * itself. Returns 1 with ranges to act on (free() them), or 0 when the
 * command has been answered and finished. */
int session_write_set(struct session *s, const struct imap_arg *a, bool uid_mode, const char *done_text,
		      Cpm__UidRange **ranges_r, size_t *n_r);
/* A pointer array over ranges, as protobuf-c's repeated fields want it
 * (malloc'd; free() it after rpc_call). NULL when n is 0 or out of memory. */
Cpm__UidRange **session_range_ptrs(Cpm__UidRange *ranges, size_t n);
/* Whether uid is in ranges[0 .. n) (ascending, disjoint). */
bool uid_ranges_contain(const Cpm__UidRange *ranges, size_t n, uint32_t uid);
/* Removes each UID (ascending) that is in the view from it and tells the
 * client: "* n EXPUNGE" each, or one "* VANISHED uids" once QRESYNC is on. */
void session_report_expunged(struct session *s, const uint32_t *uids, size_t n);
/* Removes uid from the view (an expunge reported to the client); returns its
 * former sequence number, 0 when it was not there. */
uint32_t session_view_remove(struct session *s, uint32_t uid);
/* UID → sequence number (0 if not in the session's view). */
uint32_t session_seq_of_uid(const struct session *s, uint32_t uid);

/* Argument helpers for handlers: an astring (atom, quoted or literal) as a
 * NUL-terminated string; NULL when the arg is not a string or has NULs. */
const char *arg_astring(const struct imap_arg *a);
/* Mailbox name: astring decoded from modified UTF-7 into out (UTF-8, INBOX
 * normalised). -1 when invalid. */
int arg_mailbox(const struct imap_arg *a, struct buf *out);
/* Write a UTF-8 folder name as a modified-UTF-7 astring. */
void write_mailbox(struct buf *b, const char *utf8_name);

#endif
