/*
 * notify-spec: RFC 5465 NOTIFY argument parsing and folder matching.
 */
#include "notify-spec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	unsigned bit;
} event_names[] = {
	{"MessageNew", NE_MESSAGE_NEW},
	{"MessageExpunge", NE_MESSAGE_EXPUNGE},
	{"FlagChange", NE_FLAG_CHANGE},
	{"AnnotationChange", NE_ANNOTATION_CHANGE},
	{"MailboxName", NE_MAILBOX_NAME},
	{"SubscriptionChange", NE_SUBSCRIPTION_CHANGE},
	{"MailboxMetadataChange", NE_MAILBOX_METADATA_CHANGE},
	{"ServerMetadataChange", NE_SERVER_METADATA_CHANGE},
};

static const struct {
	const char *name;
	enum notify_filter filter;
} filter_names[] = {
	{"SELECTED", NF_SELECTED},     {"SELECTED-DELAYED", NF_SELECTED_DELAYED},
	{"INBOXES", NF_INBOXES},       {"PERSONAL", NF_PERSONAL},
	{"SUBSCRIBED", NF_SUBSCRIBED}, {"SUBTREE", NF_SUBTREE},
	{"MAILBOXES", NF_MAILBOXES},
};

static bool is_atom(const struct imap_arg *a, const char *name)
{
	return a->type == IMAP_ARG_ATOM && a->str != NULL && strcasecmp(a->str, name) == 0;
}

static bool is_selected(enum notify_filter f)
{
	return f == NF_SELECTED || f == NF_SELECTED_DELAYED;
}

/* Adds one decoded mailbox name to g. */
static enum notify_parse_result add_name(struct notify_group *g, const struct imap_arg *a, notify_mailbox_fn *mailbox,
					 size_t *total, const char **err_r)
{
	if (++*total > NOTIFY_MAX_MAILBOXES) {
		*err_r = "Too many mailboxes in NOTIFY";
		return NOTIFY_BAD;
	}
	struct buf name = {0};
	if (mailbox(a, &name) < 0) {
		buf_free(&name);
		*err_r = "Invalid mailbox name in NOTIFY";
		return NOTIFY_BAD;
	}
	char **nn = realloc(g->names, (g->n_names + 1) * sizeof(*nn));
	char *copy = nn != NULL ? strndup((const char *)name.data, name.len) : NULL;
	buf_free(&name);
	if (nn != NULL)
		g->names = nn;
	if (copy == NULL)
		return NOTIFY_NOMEM;
	g->names[g->n_names++] = copy;
	return NOTIFY_OK;
}

/* The events list of one group; MessageNew's fetch attributes into spec. */
static enum notify_parse_result parse_events(const struct imap_arg *a, struct notify_group *g,
					     struct notify_spec *spec, const char **err_r)
{
	if (is_atom(a, "NONE")) {
		g->events = 0;
		return NOTIFY_OK;
	}
	if (a->type != IMAP_ARG_LIST || a->list_count == 0) {
		*err_r = "NOTIFY events must be NONE or a list";
		return NOTIFY_BAD;
	}
	bool unsupported = false;
	for (unsigned i = 0; i < a->list_count; i++) {
		const struct imap_arg *e = &a->list[i];
		unsigned bit = 0;
		for (size_t j = 0; j < sizeof(event_names) / sizeof(event_names[0]); j++)
			if (is_atom(e, event_names[j].name))
				bit = event_names[j].bit;
		if (bit == 0) {
			*err_r = "Unknown NOTIFY event";
			return NOTIFY_BAD;
		}
		if (bit == NE_MESSAGE_NEW && i + 1 < a->list_count && a->list[i + 1].type == IMAP_ARG_LIST) {
			const struct imap_arg *atts = &a->list[++i];
			for (unsigned k = 0; k < atts->list_count; k++) {
				if (atts->list[k].type != IMAP_ARG_ATOM || atts->list[k].str == NULL) {
					*err_r = "Invalid MessageNew fetch attribute";
					return NOTIFY_BAD;
				}
			}
			/* Only the selected folder gets FETCH responses; others get STATUS. */
			if (is_selected(g->filter) && atts->list_count > 0) {
				char **v = calloc(atts->list_count, sizeof(char *));
				if (v == NULL)
					return NOTIFY_NOMEM;
				spec->fetch_atts = v;
				for (unsigned k = 0; k < atts->list_count; k++) {
					if ((v[k] = strndup(atts->list[k].str, atts->list[k].len)) == NULL)
						return NOTIFY_NOMEM;
					spec->n_fetch_atts++;
				}
			}
		}
		if (g->events & bit) {
			*err_r = "Duplicate NOTIFY event";
			return NOTIFY_BAD;
		}
		g->events |= bit;
		unsupported |= (bit & NE_SUPPORTED) == 0;
	}
	unsigned msg = g->events & (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE);
	if (msg != 0 && msg != (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE)) {
		*err_r = "MessageNew and MessageExpunge must be given together";
		return NOTIFY_BAD;
	}
	if ((g->events & (NE_FLAG_CHANGE | NE_ANNOTATION_CHANGE)) && msg == 0) {
		*err_r = "FlagChange and AnnotationChange need MessageNew and MessageExpunge";
		return NOTIFY_BAD;
	}
	if (is_selected(g->filter) && (g->events & (NE_MAILBOX_NAME | NE_SUBSCRIPTION_CHANGE |
						    NE_MAILBOX_METADATA_CHANGE | NE_SERVER_METADATA_CHANGE))) {
		*err_r = "SELECTED takes message events only";
		return NOTIFY_BAD;
	}
	return unsupported ? NOTIFY_BADEVENT : NOTIFY_OK;
}

enum notify_parse_result notify_spec_parse(const struct imap_arg *args, unsigned nargs, notify_mailbox_fn *mailbox,
					   struct notify_spec *spec, const char **err_r)
{
	memset(spec, 0, sizeof(*spec));
	*err_r = NULL;
	if (nargs == 1 && is_atom(&args[0], "NONE")) {
		spec->none = true;
		return NOTIFY_OK;
	}
	if (nargs < 2 || !is_atom(&args[0], "SET")) {
		*err_r = "NOTIFY needs SET or NONE";
		return NOTIFY_BAD;
	}
	unsigned i = 1;
	if (is_atom(&args[i], "STATUS")) { /* RFC 5465: status-indicator = SP "STATUS" */
		spec->status = true;
		i++;
	}
	if (i >= nargs) {
		*err_r = "NOTIFY SET needs at least one event group";
		return NOTIFY_BAD;
	}
	size_t total = 0;
	enum notify_parse_result badevent = NOTIFY_OK;
	for (; i < nargs; i++) {
		const struct imap_arg *grp = &args[i];
		if (grp->type != IMAP_ARG_LIST || grp->list_count < 2) {
			*err_r = "Invalid NOTIFY event group";
			return NOTIFY_BAD;
		}
		if (spec->n_groups == NOTIFY_MAX_GROUPS) {
			*err_r = "Too many NOTIFY event groups";
			return NOTIFY_BAD;
		}
		struct notify_group *g = &spec->groups[spec->n_groups++];
		bool known = false;
		for (size_t j = 0; j < sizeof(filter_names) / sizeof(filter_names[0]); j++) {
			if (is_atom(&grp->list[0], filter_names[j].name)) {
				g->filter = filter_names[j].filter;
				known = true;
			}
		}
		if (!known) {
			*err_r = "Unknown NOTIFY mailbox filter";
			return NOTIFY_BAD;
		}
		unsigned k = 1;
		if (g->filter == NF_SUBTREE || g->filter == NF_MAILBOXES) {
			const struct imap_arg *m = &grp->list[k++];
			enum notify_parse_result r = NOTIFY_OK;
			if (m->type == IMAP_ARG_LIST) {
				if (m->list_count == 0) {
					*err_r = "Empty NOTIFY mailbox list";
					return NOTIFY_BAD;
				}
				for (unsigned j = 0; r == NOTIFY_OK && j < m->list_count; j++)
					r = add_name(g, &m->list[j], mailbox, &total, err_r);
			} else {
				r = add_name(g, m, mailbox, &total, err_r);
			}
			if (r != NOTIFY_OK)
				return r;
		}
		if (k + 1 != grp->list_count) {
			*err_r = "Invalid NOTIFY event group";
			return NOTIFY_BAD;
		}
		for (size_t j = 0; j + 1 < spec->n_groups; j++) {
			bool sel_twice = is_selected(spec->groups[j].filter) && is_selected(g->filter);
			if (sel_twice || (spec->groups[j].filter == g->filter && g->filter != NF_SUBTREE &&
					  g->filter != NF_MAILBOXES)) {
				*err_r = "A NOTIFY filter appears twice";
				return NOTIFY_BAD;
			}
		}
		enum notify_parse_result r = parse_events(&grp->list[k], g, spec, err_r);
		if (r == NOTIFY_BADEVENT)
			badevent = r;
		else if (r != NOTIFY_OK)
			return r;
	}
	return badevent;
}

void notify_spec_free(struct notify_spec *spec)
{
	for (size_t i = 0; i < spec->n_groups; i++) {
		for (size_t j = 0; j < spec->groups[i].n_names; j++)
			free(spec->groups[i].names[j]);
		free(spec->groups[i].names);
	}
	for (size_t i = 0; i < spec->n_fetch_atts; i++)
		free(spec->fetch_atts[i]);
	free(spec->fetch_atts);
	memset(spec, 0, sizeof(*spec));
}

unsigned notify_spec_selected(const struct notify_spec *spec, bool *delayed_r)
{
	*delayed_r = false;
	for (size_t i = 0; i < spec->n_groups; i++) {
		if (is_selected(spec->groups[i].filter)) {
			*delayed_r = spec->groups[i].filter == NF_SELECTED_DELAYED;
			return spec->groups[i].events;
		}
	}
	return 0;
}

static bool in_subtree(const char *root, const char *name)
{
	size_t n = strlen(root);
	return strncmp(root, name, n) == 0 && (name[n] == '\0' || name[n] == '/');
}

unsigned notify_spec_folder(const struct notify_spec *spec, const char *name, bool subscribed)
{
	for (size_t i = 0; i < spec->n_groups; i++) {
		const struct notify_group *g = &spec->groups[i];
		bool hit = false;
		switch (g->filter) {
		case NF_SELECTED:
		case NF_SELECTED_DELAYED:
			break;
		case NF_INBOXES:
			hit = strcmp(name, "INBOX") == 0 || in_subtree("Default", name);
			break;
		case NF_PERSONAL:
			hit = true;
			break;
		case NF_SUBSCRIBED:
			hit = subscribed;
			break;
		case NF_SUBTREE:
			for (size_t j = 0; !hit && j < g->n_names; j++)
				hit = in_subtree(g->names[j], name);
			break;
		case NF_MAILBOXES:
			for (size_t j = 0; !hit && j < g->n_names; j++)
				hit = strcmp(g->names[j], name) == 0;
			break;
		}
		if (hit)
			return g->events;
	}
	return 0;
}

void notify_spec_write_supported(struct buf *b)
{
	buf_append_str(b, "(");
	const char *sep = "";
	for (size_t j = 0; j < sizeof(event_names) / sizeof(event_names[0]); j++) {
		if (event_names[j].bit & NE_SUPPORTED) {
			buf_printf(b, "%s%s", sep, event_names[j].name);
			sep = " ";
		}
	}
	buf_append_str(b, ")");
}
