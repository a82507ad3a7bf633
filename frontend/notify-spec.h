/*
 * notify-spec: the parsed form of a NOTIFY command (RFC 5465) and the
 * question it answers: "which events does this session want for folder X?".
 *
 *   NOTIFY NONE
 *   NOTIFY SET [STATUS] (filter events) [(filter events) ...]
 *     filter: SELECTED | SELECTED-DELAYED | INBOXES | PERSONAL | SUBSCRIBED
 *             | SUBTREE mailboxes | MAILBOXES mailboxes
 *     events: NONE | (event ...) with MessageNew [(fetch-att ...)],
 *             MessageExpunge, FlagChange, AnnotationChange, MailboxName,
 *             SubscriptionChange, MailboxMetadataChange, ServerMetadataChange
 *
 * Rules checked (RFC 5465 section 5): MessageNew and MessageExpunge come
 * together; FlagChange and AnnotationChange need both; a filter appears in
 * at most one group; at most NOTIFY_MAX_GROUPS groups and
 * NOTIFY_MAX_MAILBOXES names. Events this server cannot deliver
 * (AnnotationChange and the metadata events: no METADATA/ANNOTATE yet) give
 * NOTIFY_BADEVENT. For the selected folder, MessageNew's fetch attributes
 * are kept as the client wrote them, one atom each (fetch_atts).
 *
 * Mailbox names are UTF-8 (decoded from modified UTF-7 by the caller's
 * arg_mailbox callback). The spec owns all its memory: notify_spec_free.
 */
#ifndef CPM_FRONTEND_NOTIFY_SPEC_H
#define CPM_FRONTEND_NOTIFY_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "imap-parser.h"

#define NOTIFY_MAX_GROUPS 16
#define NOTIFY_MAX_MAILBOXES 1000

enum notify_event {
	NE_MESSAGE_NEW = 1u << 0,
	NE_MESSAGE_EXPUNGE = 1u << 1,
	NE_FLAG_CHANGE = 1u << 2,
	NE_ANNOTATION_CHANGE = 1u << 3,
	NE_MAILBOX_NAME = 1u << 4,
	NE_SUBSCRIPTION_CHANGE = 1u << 5,
	NE_MAILBOX_METADATA_CHANGE = 1u << 6,
	NE_SERVER_METADATA_CHANGE = 1u << 7,
};
#define NE_SUPPORTED (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE | NE_FLAG_CHANGE | NE_MAILBOX_NAME | NE_SUBSCRIPTION_CHANGE)

enum notify_filter {
	NF_SELECTED,
	NF_SELECTED_DELAYED,
	NF_INBOXES,
	NF_PERSONAL,
	NF_SUBSCRIBED,
	NF_SUBTREE,
	NF_MAILBOXES,
};

struct notify_group {
	enum notify_filter filter;
	unsigned events;  /* enum notify_event bits; 0 for NONE */
	char **names;     /* SUBTREE / MAILBOXES: UTF-8 folder names */
	size_t n_names;
};

struct notify_spec {
	bool none;        /* NOTIFY NONE */
	bool status;      /* SET STATUS: send STATUS for the watched folders now */
	struct notify_group groups[NOTIFY_MAX_GROUPS];
	size_t n_groups;
	char **fetch_atts; /* MessageNew's fetch attributes for the selected folder (atoms) */
	size_t n_fetch_atts;
};

enum notify_parse_result {
	NOTIFY_OK = 0,
	NOTIFY_BAD = -1,      /* syntax or rule violation: tagged BAD with *err_r */
	NOTIFY_BADEVENT = -2, /* an event this server cannot deliver: NO [BADEVENT (...)] */
	NOTIFY_NOMEM = -3,
};

/* Decodes one mailbox argument into UTF-8 (0), or -1 when invalid. */
typedef int notify_mailbox_fn(const struct imap_arg *a, struct buf *out);

/* Parses the arguments after "NOTIFY". spec is zeroed first; free it with
 * notify_spec_free whatever the result. */
enum notify_parse_result notify_spec_parse(const struct imap_arg *args, unsigned nargs, notify_mailbox_fn *mailbox,
					   struct notify_spec *spec, const char **err_r);
void notify_spec_free(struct notify_spec *spec);

/* Events wanted for the selected folder (SELECTED or SELECTED-DELAYED
 * group; 0 when none); *delayed_r says SELECTED-DELAYED. */
unsigned notify_spec_selected(const struct notify_spec *spec, bool *delayed_r);
/* Events wanted for a folder that is not selected: the first group whose
 * filter takes the folder decides. INBOXES are the folders the network
 * delivers to: INBOX, and Default with its conversation sub-folders (CPM);
 * subscribed says whether the folder is subscribed (SUBSCRIBED filter). */
unsigned notify_spec_folder(const struct notify_spec *spec, const char *name, bool subscribed);
/* Writes "(MessageNew MessageExpunge ...)" of the supported events, for BADEVENT. */
void notify_spec_write_supported(struct buf *b);

#endif
