/*
 * msggen: the deterministic test messages of cpm-bench. Message i of a run
 * seeded s is the same bytes on every machine and every server, so both
 * sides of a comparison hold the same data.
 *
 * The size mix is what a carrier's store sees: 80% chat messages (~1 KB
 * Message/CPIM with Conversation-ID, Contribution-ID, IMDN-Message-ID), 18%
 * mail (~20 KB text/plain), 2% media (~1 MB multipart/related with a base64
 * image part). Every message carries "Conversation-ID: conv-<i % 50>", a
 * subject of three vocabulary words and the body token "kw<i % 100>", which
 * the search scenario looks for (each matches 1..2% of the folder).
 *
 * msggen_message appends the message to out (0, or -1 when out of memory).
 */
#ifndef CPM_BENCH_MSGGEN_H
#define CPM_BENCH_MSGGEN_H

#include <stdint.h>

#include "buf.h"

enum msg_kind { MSG_CHAT, MSG_MAIL, MSG_MEDIA };

/* xorshift64*: the bench's one random generator (state must not be 0). */
uint64_t rng_next(uint64_t *state);
/* Uniform in [0, n). */
uint64_t rng_below(uint64_t *state, uint64_t n);

enum msg_kind msggen_kind(uint64_t seed, uint64_t i);
int msggen_message(struct buf *out, uint64_t seed, uint64_t i, enum msg_kind kind);
/* A vocabulary word for searches (index taken modulo the vocabulary). */
const char *msggen_word(uint64_t i);

#endif
