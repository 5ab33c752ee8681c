// fast_output.c: a decoded block's bytes: the initial run-length encoding undone (4 equal bytes, then a count
// of further repeats) and the block's CRC-32 checked.
#include "fast_decoder.h"
#include <string.h>

/* ------------------------------------------------------------------ */
/* CRC-32 (MSB-first, polynomial 0x04C11DB7), slicing-by-8            */
/* ------------------------------------------------------------------ */

/* Fills t[k][b] = CRC register after shifting byte b then k zero bytes; see fast_decoder.h. */
void CBZip2Fast_initCRC(uint32_t t[8][256])
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t r = b << 24;
        for (int i = 0; i < 8; i++)
            r = (r & 0x80000000u) ? (r << 1) ^ 0x04C11DB7u : r << 1;
        t[0][b] = r;
    }
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++)
            t[k][b] = (t[k - 1][b] << 8) ^ t[0][t[k - 1][b] >> 24];
}

/* Loads 4 bytes big-endian. */
static inline uint32_t loadBE32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Advances CRC state `crc` over p[0..n) using the slicing-by-8 tables. */
static uint32_t crcUpdate(const uint32_t t[8][256], uint32_t crc, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint32_t hi = crc ^ loadBE32(p), lo = loadBE32(p + 4);
        crc = t[7][hi >> 24] ^ t[6][(hi >> 16) & 0xff] ^ t[5][(hi >> 8) & 0xff] ^ t[4][hi & 0xff]
            ^ t[3][lo >> 24] ^ t[2][(lo >> 16) & 0xff] ^ t[1][(lo >> 8) & 0xff] ^ t[0][lo & 0xff];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc << 8) ^ t[0][(crc >> 24) ^ *p++];
    return crc;
}

/* ------------------------------------------------------------------ */
/* Output: undo RLE1, CRC                                              */
/* ------------------------------------------------------------------ */

/* Checks the decoder argument and that a decoded block is waiting. */
static int checkWaiting(const CBZip2Fast_Decoder *d)
{
    if (!d)
        return CBZip2Fast_badArgument;
    return d->block.state == blockWaiting ? 0 : CBZip2Fast_notDecoded;
}

/* Returns a mask with bit k (k = 0..6) set iff p[k] == p[k+1]. */
static inline unsigned equalNeighbourMask(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);                   /* lane k = p[k] */
#endif
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7Full;
    uint64_t x = w ^ (w >> 8);                  /* lane k = p[k] ^ p[k+1] */
    uint64_t zero = ~(((x & low7) + low7) | x | low7) & 0x0080808080808080ull;
    return (unsigned)(((zero >> 7) * 0x0102040810204080ull) >> 56);  /* gather lanes */
}

/* Tries to copy the 8 bytes at *in to *o in one step. Possible when no run of
 * four completes inside them, given the current run state (prev, run). Then
 * advances *in and *o, updates the state and returns 1; else returns 0. */
static inline int copyEightNoRun(const uint8_t **in, uint8_t **o, int *prev, int *run)
{
    const uint8_t *p = *in;
    unsigned e0 = *run != 0 && p[0] == *prev;     /* p[0] continues the run */
    /* bit i+2 = "byte i equals byte i-1" for i = -2..7 (i < 0: history) */
    unsigned eq = (unsigned)(*run >= 3) | (unsigned)(*run >= 2) << 1 | e0 << 2
                | equalNeighbourMask(p) << 3;
    if (eq & (eq >> 1) & (eq >> 2))               /* three equal pairs = run of four */
        return 0;
    memcpy(*o, p, 8);
    *in += 8;
    *o += 8;
    *prev = p[7];
    *run = 1 + (int)((eq >> 9) & 1) + (int)((eq >> 9) & (eq >> 8) & 1);
    return 1;
}

/* Undoes RLE1 from the block's pre-RLE text into out[0..cap), resuming from
 * and saving the block's output state. Returns the number of bytes written. */
static size_t unRLE(Block *s, uint8_t *out, size_t cap)
{
    const uint8_t *in = s->bytes + s->inPos, *inEnd = s->bytes + s->length;
    uint8_t *o = out, *oEnd = out + cap;
    int prev = s->prev, run = s->run;
    uint32_t pending = s->pending;
    for (;;) {
        if (pending) {
            size_t room = (size_t)(oEnd - o), k = pending < room ? pending : room;
            memset(o, prev, k);
            o += k;
            pending -= (uint32_t)k;
            if (pending)
                break;
        }
        if (in >= inEnd || o >= oEnd)
            break;
        while (in < inEnd && o < oEnd) {
            if (run != 4 && inEnd - in >= 8 && oEnd - o >= 8
                && copyEightNoRun(&in, &o, &prev, &run))
                continue;
            int c = *in++;
            if (run == 4) {          /* count byte after four equal bytes */
                pending = (uint32_t)c;
                run = 0;
                break;
            }
            *o++ = (uint8_t)c;
            run = c == prev ? run + 1 : 1;
            prev = c;
        }
    }
    s->inPos = (uint32_t)(in - s->bytes);
    s->prev = prev;
    s->run = run;
    s->pending = pending;
    return (size_t)(o - out);
}

/* Writes the waiting block's next bytes; see header. */
int CBZip2Fast_output(CBZip2Fast_Decoder *d, uint8_t *out, size_t capacity, size_t *written)
{
    int rc = checkWaiting(d);
    if (!rc && (!written || !out || capacity == 0))
        rc = CBZip2Fast_badArgument;
    if (rc) {
        if (written)
            *written = 0;
        return rc;
    }
    Block *s = &d->block;
    if (s->error) {
        *written = 0;
        s->state = blockNone;
        return s->error;
    }
    size_t got = unRLE(s, out, capacity);
    s->crc = crcUpdate(d->crcTable, s->crc, out, got);
    *written = got;
    if (s->pending || s->inPos < s->length)
        return CBZip2Fast_outputFull;
    s->state = blockNone;
    if (s->run == 4)                 /* four equal bytes ended the block: their count byte is missing */
        return CBZip2Fast_runWithoutCount;
    return ~s->crc == s->storedCRC ? CBZip2Fast_ok : CBZip2Fast_crcMismatch;
}
