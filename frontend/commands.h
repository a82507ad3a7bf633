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

/* cmd-selected.c */
void cmd_check(struct session *s, const struct imap_command *cmd);
void cmd_unselect(struct session *s, const struct imap_command *cmd);
void cmd_namespace(struct session *s, const struct imap_command *cmd);

/* cmd-append.c */
void cmd_append(struct session *s, const struct imap_command *cmd);

/* cmd-fetch.c: FETCH and UID FETCH (UID dispatches on its sub-command) */
void cmd_fetch(struct session *s, const struct imap_command *cmd);
void cmd_uid(struct session *s, const struct imap_command *cmd);

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
/* SELECTED-DELAYED: remember expunged UIDs to report at the next command
 * that allows EXPUNGE responses. */
void notify_defer_expunged(struct session *s, const uint32_t *uids, size_t n);

/* cmd-search.c */
void cmd_search(struct session *s, const struct imap_command *cmd);
void search_start(struct session *s, const struct imap_arg *args, unsigned nargs, bool uid_mode);

#endif
