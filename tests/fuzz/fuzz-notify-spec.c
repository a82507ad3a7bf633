/*
 * libFuzzer harness for frontend/notify-spec (RFC 5465 NOTIFY arguments),
 * fed through the real command parser as a client would send them.
 *
 *   make fuzz
 *   build/fuzz/fuzz-notify-spec -max_len=4096 -max_total_time=300
 *
 * The input follows "a NOTIFY "; every command the parser yields is parsed
 * as a NOTIFY spec, its folder questions asked for a few names, and freed.
 * A parse that succeeds must keep its counts within the documented bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/notify-spec.h"
#include "imap-parser.h"

/* The modules notify-spec.c links with (the Makefile compiles only
 * frontend/notify-spec.c and common/buf.c with this file). */
#include "../../common/imap-parser.c"

static int plain_mailbox(const struct imap_arg *a, struct buf *out)
{
	if (a->type == IMAP_ARG_LIST || a->str == NULL)
		return -1;
	buf_reset(out);
	return buf_append(out, a->str, a->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser *p = imap_parser_new(NULL);
	if (p == NULL)
		return 0;
	static const char head[] = "a NOTIFY ";
	unsigned char *line = malloc(sizeof(head) - 1 + size + 2);
	if (line == NULL) {
		imap_parser_free(&p);
		return 0;
	}
	memcpy(line, head, sizeof(head) - 1);
	memcpy(line + sizeof(head) - 1, data, size);
	memcpy(line + sizeof(head) - 1 + size, "\r\n", 2);
	size_t len = sizeof(head) - 1 + size + 2, off = 0;
	while (off < len) {
		size_t used = 0;
		const struct imap_command *cmd = NULL;
		enum imap_parse_status st = imap_parser_feed(p, line + off, len - off, &used, &cmd);
		off += used;
		if (st == IMAP_PARSE_COMMAND && cmd->nargs > 0) {
			struct notify_spec spec;
			const char *err = NULL;
			if (notify_spec_parse(cmd->args, cmd->nargs, plain_mailbox, &spec, &err) == NOTIFY_OK) {
				size_t names = 0;
				if (spec.n_groups > NOTIFY_MAX_GROUPS)
					abort();
				for (size_t i = 0; i < spec.n_groups; i++)
					names += spec.groups[i].n_names;
				if (names > NOTIFY_MAX_MAILBOXES)
					abort();
				bool delayed;
				(void)notify_spec_selected(&spec, &delayed);
				(void)notify_spec_folder(&spec, "INBOX", true);
				(void)notify_spec_folder(&spec, "Default/tel:+1", false);
			}
			notify_spec_free(&spec);
		} else if (st == IMAP_PARSE_ERROR) {
			if (imap_parser_error(p)->fatal)
				break;
		} else if (used == 0) {
			break;
		}
	}
	free(line);
	imap_parser_free(&p);
	return 0;
}
