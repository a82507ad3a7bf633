/* msggen: deterministic chat / mail / media messages. See msggen.h. */
#include "msggen.h"

#include <string.h>

static const char *const vocab[] = {
	"lunch", "meeting", "photo", "tonight", "weekend", "project", "report", "travel", "concert", "birthday",
	"invoice", "holiday", "train", "dinner", "coffee", "football", "garden", "music", "movie", "budget",
	"contract", "delivery", "flight", "hotel", "party", "school", "doctor", "market", "update", "review",
	"schedule", "ticket",
};
#define N_VOCAB (sizeof(vocab) / sizeof(vocab[0]))

uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n == 0 ? 0 : rng_next(s) % n;
}

const char *msggen_word(uint64_t i)
{
	return vocab[i % N_VOCAB];
}

static uint64_t seed_for(uint64_t seed, uint64_t i)
{
	uint64_t s = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (i + 1) * 0xBF58476D1CE4E5B9ull;
	return s != 0 ? s : 1;
}

enum msg_kind msggen_kind(uint64_t seed, uint64_t i)
{
	uint64_t s = seed_for(seed, i);
	uint64_t r = rng_below(&s, 100);
	return r < 80 ? MSG_CHAT : r < 98 ? MSG_MAIL : MSG_MEDIA;
}

/* Lines of vocabulary words (76 columns) until the body holds about n bytes. */
static int words(struct buf *out, uint64_t *s, size_t n)
{
	size_t start = out->len, col = 0;
	while (out->len - start < n) {
		const char *w = vocab[rng_below(s, N_VOCAB)];
		if (col + strlen(w) + 1 > 76) {
			if (buf_append(out, "\r\n", 2) < 0)
				return -1;
			col = 0;
		} else if (col > 0) {
			if (buf_append_byte(out, ' ') < 0)
				return -1;
			col++;
		}
		if (buf_append_str(out, w) < 0)
			return -1;
		col += strlen(w);
	}
	return buf_append(out, "\r\n", 2);
}

static int base64_lines(struct buf *out, uint64_t *s, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[78];
	for (size_t done = 0; done < n; done += 78) {
		for (int k = 0; k < 76; k++)
			line[k] = a[rng_next(s) >> 58];
		line[76] = '\r';
		line[77] = '\n';
		if (buf_append(out, line, sizeof(line)) < 0)
			return -1;
	}
	return 0;
}

int msggen_message(struct buf *out, uint64_t seed, uint64_t i, enum msg_kind kind)
{
	uint64_t s = seed_for(seed, i) ^ 0x5555;
	const char *w1 = vocab[rng_below(&s, N_VOCAB)], *w2 = vocab[rng_below(&s, N_VOCAB)],
		   *w3 = vocab[rng_below(&s, N_VOCAB)];
	unsigned day = 1 + (unsigned)(i % 28), hour = (unsigned)(i % 24), min = (unsigned)(i % 60);
	int r = buf_printf(out,
			   "Date: %u Mar 2024 %02u:%02u:00 +0000\r\n"
			   "From: <sip:+1555%07llu@ims.example.net>\r\n"
			   "To: <tel:+1555%07llu>\r\n"
			   "Subject: %s %s %s\r\n"
			   "Message-ID: <bench-%llu-%llu@example.net>\r\n"
			   "Conversation-ID: conv-%llu\r\n"
			   "Contribution-ID: contrib-%llu\r\n"
			   "IMDN-Message-ID: imdn-%llu-%llu\r\n"
			   "Message-Direction: %s\r\n",
			   day, hour, min, (unsigned long long)(i % 9999991), (unsigned long long)((i * 7) % 9999991), w1,
			   w2, w3, (unsigned long long)seed, (unsigned long long)i, (unsigned long long)(i % 50),
			   (unsigned long long)(i % 500), (unsigned long long)seed, (unsigned long long)i,
			   i % 2 ? "received" : "sent");
	if (r < 0)
		return -1;
	switch (kind) {
	case MSG_CHAT:
		r = buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: Message/CPIM\r\n\r\n"
				    "From: <sip:anonymous@anonymous.invalid>\r\nTo: <sip:anonymous@anonymous.invalid>\r\n"
				    "NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: imdn-%llu\r\n"
				    "DateTime: 2024-03-%02uT%02u:%02u:00Z\r\n\r\n"
				    "Content-Type: text/plain; charset=utf-8\r\n\r\nkw%llu ",
			       (unsigned long long)i, day, hour, min, (unsigned long long)(i % 100));
		return r < 0 ? -1 : words(out, &s, 560);
	case MSG_MAIL:
		r = buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nkw%llu\r\n",
			       (unsigned long long)(i % 100));
		return r < 0 ? -1 : words(out, &s, 20 * 1024 - 600);
	case MSG_MEDIA:
		r = buf_printf(out,
			       "MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"b-%llu\"\r\n\r\n"
			       "--b-%llu\r\nContent-Type: text/plain\r\n\r\nkw%llu shared a photo\r\n"
			       "--b-%llu\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n"
			       "Content-Disposition: attachment; filename=\"IMG_%llu.jpg\"\r\n\r\n",
			       (unsigned long long)i, (unsigned long long)i, (unsigned long long)(i % 100),
			       (unsigned long long)i, (unsigned long long)i);
		if (r < 0 || base64_lines(out, &s, 1024 * 1024 - 1200) < 0)
			return -1;
		return buf_printf(out, "--b-%llu--\r\n", (unsigned long long)i);
	}
	return -1;
}
