/*
 * log: one line per event, key=value, to stderr.
 *
 *   log_info("event=login user=%s shard=%s", user, shard);
 *
 * Each line is prefixed with "ts=<ISO8601> level=<lvl> proc=<name> pid=<pid> ".
 * Values that may contain spaces or come from clients must be passed through
 * log_quote() (returns a pointer to a thread-local static buffer, valid until
 * the next call on the same thread; at most 200 bytes of input are shown).
 */
#ifndef CPM_LOG_H
#define CPM_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_init(const char *procname, enum log_level min_level);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *log_quote(const char *s, unsigned long len);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
