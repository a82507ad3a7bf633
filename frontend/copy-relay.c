/* PLACEHOLDER until the relay lands (helper task): answers NO. */
#include "copy-relay.h"

void copy_relay_start(struct session *s, const Cpm__UidRange *ranges, size_t n, const struct mailbox_ref *dest,
		      const char *dest_name, bool move)
{
	(void)ranges;
	(void)n;
	(void)dest;
	(void)dest_name;
	(void)move;
	session_tagged(s, "NO", "[CANNOT] not yet");
	session_done(s);
}
