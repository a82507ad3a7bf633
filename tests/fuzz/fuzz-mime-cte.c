/*
 * libFuzzer harness for common/mime-cte (resumable transfer decoders).
 *
 *   make fuzz; build/fuzz/fuzz-mime-cte -max_len=4096 -max_total_time=300
 *
 * Byte 0 chooses the encoding (base64, quoted-printable, identity), byte 1
 * the output window, byte 2 the input step; the rest is the encoded data.
 * Decoding it whole must equal decoding it window by window with the state
 * saved and loaded between calls, at every split, decoding or counting;
 * the output is never longer than the input. Traps when a promise breaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime-cte.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

static size_t windowed(enum mime_cte cte, const uint8_t *in, size_t len, size_t split, size_t step, size_t win,
		       unsigned char *out, bool *nul_r)
{
	unsigned char st[MIME_CTE_STATE_MAX];
	size_t st_len = 0, pos = 0, total = 0;
	*nul_r = false;
	for (size_t guard = 0;; guard++) {
		CHECK(guard <= 4 * len + 16);
		struct mime_cte_dec d;
		CHECK(mime_cte_dec_load(&d, cte, st, st_len) == 0);
		size_t end = pos < split ? split : pos + step;
		if (end > len)
			end = len;
		size_t got = 0;
		size_t took = mime_cte_dec_run(&d, in + pos, end - pos, end == len, out ? out + total : NULL, win, &got);
		CHECK(took <= end - pos && got <= win);
		*nul_r = *nul_r || d.nul;
		pos += took;
		total += got;
		CHECK(total <= len);
		st_len = mime_cte_dec_save(&d, st);
		if (pos == len && mime_cte_dec_idle(&d))
			return total;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	enum mime_cte cte = (enum mime_cte)(1 + data[0] % 3);
	size_t win = 1 + data[1] % 64, step = 1 + data[2] % 128;
	const uint8_t *in = data + 3;
	size_t len = size - 3;
	unsigned char *ref = malloc(len + 1), *out = malloc(len + 1);
	CHECK(ref != NULL && out != NULL);
	struct mime_cte_dec d;
	size_t n = 0;
	mime_cte_dec_init(&d, cte);
	CHECK(mime_cte_dec_run(&d, in, len, true, ref, len + 1, &n) == len && mime_cte_dec_idle(&d) && n <= len);
	bool ref_nul = d.nul, nul;
	CHECK(ref_nul == (n > 0 && memchr(ref, 0, n) != NULL));
	for (size_t split = 0; split <= len; split += 1 + len / 64) {
		CHECK(windowed(cte, in, len, split, step, win, out, &nul) == n && memcmp(out, ref, n) == 0 && nul == ref_nul);
		CHECK(windowed(cte, in, len, split, step, SIZE_MAX, NULL, &nul) == n && nul == ref_nul);
	}
	/* The input as a saved state: refused, or a state that decodes safely. */
	if (mime_cte_dec_load(&d, cte, in, len) == 0) {
		unsigned char big[512];
		mime_cte_dec_run(&d, (const unsigned char *)"=4", 2, true, big, sizeof(big), &n);
		CHECK(mime_cte_dec_idle(&d));
	}
	free(ref);
	free(out);
	return 0;
}
