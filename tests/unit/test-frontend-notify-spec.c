/* Unit tests for frontend/notify-spec.c (RFC 5465 NOTIFY arguments). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frontend/notify-spec.h"
#include "imap-parser.h"

static struct imap_parser *parser;

/* Mailbox decoding for the tests: the astring as is. */
static int plain_mailbox(const struct imap_arg *a, struct buf *out)
{
	if (a->type == IMAP_ARG_LIST || a->str == NULL)
		return -1;
	buf_reset(out);
	return buf_append(out, a->str, a->len);
}

static enum notify_parse_result parse(const char *line, struct notify_spec *spec, const char **err)
{
	imap_parser_reset(parser);
	const struct imap_command *cmd = NULL;
	size_t used = 0;
	enum imap_parse_status st = imap_parser_feed(parser, (const unsigned char *)line, strlen(line), &used, &cmd);
	assert_int_equal(st, IMAP_PARSE_COMMAND);
	return notify_spec_parse(cmd->args, cmd->nargs, plain_mailbox, spec, err);
}

static void test_none_and_set(void **state)
{
	struct notify_spec sp;
	const char *err;
	assert_int_equal(parse("a NOTIFY NONE\r\n", &sp, &err), NOTIFY_OK);
	assert_true(sp.none);
	notify_spec_free(&sp);

	assert_int_equal(parse("a NOTIFY SET STATUS (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange)) "
			       "(subtree (Default Work) (MessageNew MessageExpunge)) (personal (MailboxName "
			       "SubscriptionChange))\r\n",
			       &sp, &err),
			 NOTIFY_OK);
	assert_false(sp.none);
	assert_true(sp.status);
	assert_int_equal(sp.n_groups, 3);
	assert_int_equal(sp.n_fetch_atts, 2);
	assert_string_equal(sp.fetch_atts[0], "UID");
	assert_string_equal(sp.fetch_atts[1], "FLAGS");
	bool delayed = true;
	assert_int_equal(notify_spec_selected(&sp, &delayed), NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE | NE_FLAG_CHANGE);
	assert_false(delayed);
	/* First matching group decides. */
	assert_int_equal(notify_spec_folder(&sp, "Default/tel:+1", false), NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE);
	assert_int_equal(notify_spec_folder(&sp, "Work", false), NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE);
	assert_int_equal(notify_spec_folder(&sp, "Workshop", false), NE_MAILBOX_NAME | NE_SUBSCRIPTION_CHANGE);
	assert_int_equal(notify_spec_folder(&sp, "INBOX", false), NE_MAILBOX_NAME | NE_SUBSCRIPTION_CHANGE);
	notify_spec_free(&sp);
}

static void test_filters(void **state)
{
	struct notify_spec sp;
	const char *err;
	assert_int_equal(parse("a NOTIFY SET (selected-delayed (MessageNew MessageExpunge)) (inboxes (MessageNew "
			       "MessageExpunge FlagChange)) (subscribed NONE) (mailboxes Sent (MessageNew "
			       "MessageExpunge))\r\n",
			       &sp, &err),
			 NOTIFY_OK);
	bool delayed = false;
	assert_int_equal(notify_spec_selected(&sp, &delayed), NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE);
	assert_true(delayed);
	assert_int_equal(notify_spec_folder(&sp, "INBOX", true), NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE | NE_FLAG_CHANGE);
	assert_int_equal(notify_spec_folder(&sp, "Default", false), NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE | NE_FLAG_CHANGE);
	assert_int_equal(notify_spec_folder(&sp, "Sent", true), 0); /* subscribed NONE comes first */
	assert_int_equal(notify_spec_folder(&sp, "Sent", false), NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE);
	assert_int_equal(notify_spec_folder(&sp, "Other", false), 0);
	assert_null(sp.fetch_atts);
	notify_spec_free(&sp);
}

static void test_errors(void **state)
{
	static const char *const bad[] = {
		"a NOTIFY\r\n",
		"a NOTIFY SET\r\n",
		"a NOTIFY SET STATUS\r\n",
		"a NOTIFY SET (STATUS) (personal (MailboxName))\r\n",
		"a NOTIFY BOGUS (selected (MessageNew MessageExpunge))\r\n",
		"a NOTIFY SET (selected (MessageNew))\r\n",                         /* needs MessageExpunge */
		"a NOTIFY SET (personal (FlagChange))\r\n",                         /* needs both */
		"a NOTIFY SET (selected (MailboxName))\r\n",                        /* not for SELECTED */
		"a NOTIFY SET (nowhere (MessageNew MessageExpunge))\r\n",
		"a NOTIFY SET (personal (Bogus))\r\n",
		"a NOTIFY SET (personal (MailboxName MailboxName))\r\n",
		"a NOTIFY SET (personal (MailboxName)) (personal NONE)\r\n",        /* filter twice */
		"a NOTIFY SET (selected NONE) (selected-delayed NONE)\r\n",
		"a NOTIFY SET (subtree (MailboxName))\r\n",                         /* no mailbox */
		"a NOTIFY SET (subtree () (MailboxName))\r\n",
		"a NOTIFY SET (personal MailboxName)\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct notify_spec sp;
		const char *err = NULL;
		assert_int_equal(parse(bad[i], &sp, &err), NOTIFY_BAD);
		assert_non_null(err);
		notify_spec_free(&sp);
	}
	struct notify_spec sp;
	const char *err;
	assert_int_equal(parse("a NOTIFY SET (personal (MailboxMetadataChange))\r\n", &sp, &err), NOTIFY_BADEVENT);
	notify_spec_free(&sp);
	assert_int_equal(parse("a NOTIFY SET (selected (MessageNew MessageExpunge AnnotationChange))\r\n", &sp, &err),
			 NOTIFY_BADEVENT);
	notify_spec_free(&sp);
	struct buf b = {0};
	notify_spec_write_supported(&b);
	buf_append_byte(&b, '\0');
	assert_string_equal((const char *)b.data, "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)");
	buf_free(&b);
}

static int setup(void **state)
{
	parser = imap_parser_new(NULL);
	return parser == NULL;
}

static int teardown(void **state)
{
	imap_parser_free(&parser);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_and_set),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
