/*
 * commands: every IMAP command handler, one file per family.
 * The dispatch table in session.c maps names and allowed states to these.
 * Each handler follows the contract in session.h (finish with session_done).
 */
#ifndef CPM_FRONTEND_COMMANDS_H
#define CPM_FRONTEND_COMMANDS_H

#include "session.h"

#include <gsasl.h>

/* cmd-any.c: valid in every state */
void cmd_capability(struct session *s, const struct imap_command *cmd);
void cmd_noop(struct session *s, const struct imap_command *cmd);
void cmd_logout(struct session *s, const struct imap_command *cmd);
void cmd_id(struct session *s, const struct imap_command *cmd);
void cmd_enable(struct session *s, const struct imap_command *cmd);

/* cmd-auth.c: not-authenticated state */
void cmd_starttls(struct session *s, const struct imap_command *cmd);
void cmd_login(struct session *s, const struct imap_command *cmd);
void cmd_authenticate(struct session *s, const struct imap_command *cmd);
/* GNU SASL property callback (installed once per worker with gsasl_callback_set). */
int sasl_callback(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop);

/* cmd-mailbox.c: folders */
void cmd_create(struct session *s, const struct imap_command *cmd);
void cmd_list(struct session *s, const struct imap_command *cmd);   /* LIST and LSUB */
void cmd_delete(struct session *s, const struct imap_command *cmd);
void cmd_rename(struct session *s, const struct imap_command *cmd);
void cmd_subscribe(struct session *s, const struct imap_command *cmd); /* SUBSCRIBE and UNSUBSCRIBE */
void cmd_status(struct session *s, const struct imap_command *cmd);
void cmd_select(struct session *s, const struct imap_command *cmd);   /* SELECT and EXAMINE */
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" of the selected folder. */
void mailbox_write_flags(struct session *s, char *const *keywords, size_t n, bool readonly);

/* cmd-acl.c: RFC 4314 */
void cmd_setacl(struct session *s, const struct imap_command *cmd);
void cmd_deleteacl(struct session *s, const struct imap_command *cmd);
void cmd_getacl(struct session *s, const struct imap_command *cmd);
void cmd_listrights(struct session *s, const struct imap_command *cmd);
void cmd_myrights(struct session *s, const struct imap_command *cmd);

/* cmd-selected.c */
void cmd_check(struct session *s, const struct imap_command *cmd);
void cmd_unselect(struct session *s, const struct imap_command *cmd);
void cmd_namespace(struct session *s, const struct imap_command *cmd);

/* cmd-append.c */
void cmd_append(struct session *s, const struct imap_command *cmd);
/* A large message literal: staged on the back-end as it comes (AppendBegin/AppendChunk). */
void cmd_append_literal(struct session *s, const struct imap_command *partial, const struct imap_literal_info *li);
/* Drops staging file staging_id of user on shard (AppendAbort; fire and
 * forget: the shard's idle deadline covers a lost one). Nothing when s has
 * no user any more. */
void append_staging_abort(struct session *s, size_t shard, const char *user, uint64_t staging_id);
/* The deadline of an AppendReq / MultiAppendReq committing staged_bytes of
 * staged bodies (their sealing takes time with their size); 0 (the
 * configured one) when none are staged. */
unsigned append_commit_timeout(const struct session *s, uint64_t staged_bytes);

/* cmd-fetch.c: FETCH and UID FETCH (UID dispatches on its sub-command) */
void cmd_fetch(struct session *s, const struct imap_command *cmd);
void cmd_uid(struct session *s, const struct imap_command *cmd);
/* 0 when every atom is a FETCH item we serve (NOTIFY MessageNew checks its attributes). */
int fetch_items_valid(char *const *atoms, size_t n);
/* NOTIFY MessageNew: "* n FETCH (...)" of the given new UIDs (ascending, in
 * the view) with the fetch attributes atoms, outside any command: no tagged
 * answer, \Seen untouched. done(s) is called at the end (not when the
 * session closed). -1 when nothing was started (done is not called). */
int fetch_untagged(struct session *s, char *const *atoms, size_t n_atoms, const uint32_t *uids, size_t n_uids,
		   void (*done)(struct session *s));

/* cmd-store.c, cmd-expunge.c, cmd-copy.c; the *_start forms serve UID too. */
void cmd_store(struct session *s, const struct imap_command *cmd);
void store_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode);
void cmd_expunge(struct session *s, const struct imap_command *cmd);
void uid_expunge_start(struct session *s, const struct imap_arg *args, unsigned nargs);
void cmd_close(struct session *s, const struct imap_command *cmd);
void cmd_copy(struct session *s, const struct imap_command *cmd); /* COPY and MOVE */
void copy_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode, bool move);

/* cmd-quota.c */
void cmd_getquotaroot(struct session *s, const struct imap_command *cmd);
void cmd_getquota(struct session *s, const struct imap_command *cmd);
void cmd_setquota(struct session *s, const struct imap_command *cmd);

/* cmd-idle.c */
void cmd_idle(struct session *s, const struct imap_command *cmd);
/* Report the selected folder's changes now, if idling (feed events call it). */
void idle_sync(struct session *s);

/* cmd-notify.c: NOTIFY (RFC 5465) */
void cmd_notify(struct session *s, const struct imap_command *cmd);
void notify_state_free(struct notify_state **n);
/* The change feed says the selected folder changed while no IDLE runs:
 * with NOTIFY SELECTED, report it now if no command is running. */
void notify_push_selected(struct session *s, const Cpm__FeedEvent *ev);
/* session_done: with NOTIFY and a change seen meanwhile, report it before
 * reading the next command. True when that started (it releases the
 * connection itself when done). */
bool notify_push_after_command(struct session *s);
/* NOTIFY MessageNew with fetch attributes: before a sync, ask it to keep
 * the new UIDs (notify_collect_new); after it, notify_fetch_new writes
 * their FETCH and then calls then(s) — true when it started (then comes
 * later), false when there was nothing to fetch (then is not called). */
void notify_collect_new(struct session *s);
bool notify_fetch_new(struct session *s, void (*then)(struct session *s));
/* SELECTED-DELAYED: remember expunged UIDs to report at the next command
 * that allows EXPUNGE responses. */
void notify_defer_expunged(struct session *s, const uint32_t *uids, size_t n);

/* cmd-search.c */
void cmd_search(struct session *s, const struct imap_command *cmd);
void search_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode);
/* Shared with cmd-sort.c. On failure these answer the tagged BAD/NO (the
 * caller then only calls session_done) and return -1 / NULL. */
#define SEARCH_RET_MIN 1u /* ESEARCH RETURN options (RFC 4731), a bit set */
#define SEARCH_RET_MAX 2u
#define SEARCH_RET_ALL 4u
#define SEARCH_RET_COUNT 8u
/* "RETURN (...)" at args[0]: *ret_r the options (0 when absent), *used_r
 * the arguments it took (0 or 2). */
int search_parse_return(struct session *s, const struct imap_arg *args, unsigned nargs, unsigned *ret_r,
			unsigned *used_r);
/* A charset argument (a may be NULL): UTF-8 and US-ASCII pass, others get
 * NO [BADCHARSET (UTF-8 US-ASCII)]. */
int search_check_charset(struct session *s, const struct imap_arg *a);
/* The search program args[0 .. nargs) as a SearchKey tree (caller frees
 * with search_key_free); NULL after a tagged answer. *modseq_r says the
 * program uses MODSEQ (a CONDSTORE enabling key: enabled here); the answer
 * then carries the highest MODSEQ of the matches (RFC 7162 3.1.5). */
Cpm__SearchKey *search_parse_program(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode,
				     bool *modseq_r);
void search_key_free(Cpm__SearchKey *k);
/* "* ESEARCH (TAG ...) [UID] MIN MAX ALL COUNT [MODSEQ m]" for vals[0 .. n)
 * (ascending, or in sort order when sorted: MIN/MAX are then the
 * first/last); MODSEQ when modseq is not 0 and something matched. */
void search_write_esearch(struct session *s, bool uid_mode, unsigned ret, const uint32_t *vals, size_t n, bool sorted,
			  uint64_t modseq);
/* " (MODSEQ m)" after a SEARCH/SORT answer's numbers (nothing when modseq is 0 or n is 0). */
void search_write_modseq(struct buf *b, size_t n, uint64_t modseq);

/* cmd-sort.c: SORT, THREAD (and their UID forms) */
void cmd_sort(struct session *s, const struct imap_command *cmd);
void sort_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode);
void cmd_thread(struct session *s, const struct imap_command *cmd);
void thread_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode);

#endif
