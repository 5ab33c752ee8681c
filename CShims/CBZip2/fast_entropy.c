// fast_entropy.c: reads one bzip2 block up to its inverse-BWT vector: the header (magic, CRC, randomised bit,
// origPtr), the map of byte values in use, the MTF-coded selectors, the delta-coded code lengths, then the
// Huffman-coded RUNA/RUNB/MTF symbols up to end-of-block, which give the BWT's last column (L).
#include "fast_decoder.h"
#include <string.h>

/* ------------------------------------------------------------------ */
/* Bit reader (MSB-first, never reads outside the buffer)             */
/* ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *data;
    size_t size;     /* bytes in data */
    uint64_t pos;    /* next bit to read; may run past `end` (reads zeros) */
    uint64_t end;    /* size * 8 */
} BitReader;

/* Slow path of peekWord: big-endian 8 bytes at `byte`, zeros past the end. */
static uint64_t loadTail(const BitReader *br, uint64_t byte)
{
    uint64_t w = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t b = byte + (uint64_t)i < br->size ? br->data[byte + (uint64_t)i] : 0;
        w = (w << 8) | b;
    }
    return w;
}

/* Returns the next 57 (or more) bits at br->pos, MSB-aligned, without consuming. */
static inline uint64_t peekWord(const BitReader *br)
{
    uint64_t byte = br->pos >> 3, w;
    if (byte + 8 <= br->size) {
        memcpy(&w, br->data + byte, 8);
#if defined(__GNUC__) || defined(__clang__)
        w = __builtin_bswap64(w);
#else
        w = loadTail(br, byte);
#endif
    } else {
        w = loadTail(br, byte);
    }
    return w << (br->pos & 7);
}

/* Consumes and returns the next n bits (1..57). */
static inline uint64_t getBits(BitReader *br, int n)
{
    uint64_t v = peekWord(br) >> (64 - n);
    br->pos += (uint64_t)n;
    return v;
}

/* Returns 1 if the reader has consumed bits that do not exist. */
static inline int overran(const BitReader *br)
{
    return br->pos > br->end;
}

/* ------------------------------------------------------------------ */
/* Block header                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    uint32_t storedCRC;
    uint32_t origPtr;
    int numInUse;              /* distinct byte values in the block */
    uint8_t seqToUnseq[256];   /* MTF alphabet index -> byte value */
    int nGroups;
    int nSelectors;            /* selectors kept (<= maxSelectorsKept) */
    int alphaSize;             /* numInUse + 2 */
} BlockHeader;

/* Reads magic, stored CRC, randomised bit and origPtr. */
static int parseFixedHeader(BitReader *br, BlockHeader *h)
{
    if (getBits(br, 48) != 0x314159265359ull)
        return overran(br) ? CBZip2Fast_unexpectedEnd : CBZip2Fast_badBlockMagic;
    h->storedCRC = (uint32_t)getBits(br, 32);
    int randomised = (int)getBits(br, 1);
    h->origPtr = (uint32_t)getBits(br, 24);
    if (overran(br))
        return CBZip2Fast_unexpectedEnd;
    return randomised ? CBZip2Fast_unsupported : 0;
}

/* Reads the two-level 16x16 bitmap of byte values in use into seqToUnseq. */
static int parseSymbolMap(BitReader *br, BlockHeader *h)
{
    uint32_t used16 = (uint32_t)getBits(br, 16);
    h->numInUse = 0;
    for (int i = 0; i < 16; i++) {
        if (!(used16 & (0x8000u >> i)))
            continue;
        uint32_t bits = (uint32_t)getBits(br, 16);
        for (int j = 0; j < 16; j++)
            if (bits & (0x8000u >> j))
                h->seqToUnseq[h->numInUse++] = (uint8_t)(i * 16 + j);
    }
    if (overran(br))
        return CBZip2Fast_unexpectedEnd;
    if (h->numInUse == 0)
        return CBZip2Fast_noSymbolsInUse;
    h->alphaSize = h->numInUse + 2;
    return 0;
}

/* Reads nGroups, nSelectors and the unary/MTF coded selectors into d->selectors. */
static int parseSelectors(BitReader *br, BlockHeader *h, uint8_t *selectors)
{
    h->nGroups = (int)getBits(br, 3);
    if (h->nGroups < 2 || h->nGroups > maxGroups)
        return overran(br) ? CBZip2Fast_unexpectedEnd : CBZip2Fast_badGroupCount;
    int nSelectors = (int)getBits(br, 15);
    if (nSelectors == 0)
        return overran(br) ? CBZip2Fast_unexpectedEnd : CBZip2Fast_badSelectorCount;
    uint8_t mtf[maxGroups] = { 0, 1, 2, 3, 4, 5 };
    for (int i = 0; i < nSelectors; i++) {
        int j = 0;
        while (getBits(br, 1)) {
            if (++j >= h->nGroups)
                return overran(br) ? CBZip2Fast_unexpectedEnd : CBZip2Fast_badSelector;
        }
        uint8_t g = mtf[j];
        for (; j > 0; j--)
            mtf[j] = mtf[j - 1];
        mtf[0] = g;
        if (i < maxSelectorsKept)
            selectors[i] = g;
    }
    if (overran(br))
        return CBZip2Fast_unexpectedEnd;
    h->nSelectors = nSelectors < maxSelectorsKept ? nSelectors : maxSelectorsKept;
    return 0;
}

/* Builds the canonical decoding table `t` for code lengths len[0..alphaSize).
 * Codes are assigned in order of (length, symbol). Over-subscribed lengths
 * mark the table invalid (an error only if a selector uses it). */
static void buildTable(HuffTable *t, const uint8_t *len, int alphaSize)
{
    int count[maxCodeLen + 1] = { 0 }, next[maxCodeLen + 1];
    uint32_t first[maxCodeLen + 1];
    for (int s = 0; s < alphaSize; s++)
        count[len[s]]++;
    uint32_t code = 0;
    int offset = 0;
    t->valid = 1;
    t->maxLen = 0;
    for (int l = 1; l <= maxCodeLen; l++) {
        t->base[l] = offset - (int32_t)code;
        next[l] = offset;
        first[l] = code;
        code += (uint32_t)count[l];
        t->limit[l] = code;
        if (code > (1u << l))
            t->valid = 0;
        if (count[l])
            t->maxLen = l;
        offset += count[l];
        code <<= 1;
    }
    if (!t->valid)
        return;
    for (int s = 0; s < alphaSize; s++)
        t->perm[next[len[s]]++] = (uint16_t)s;
    memset(t->fast, 0, sizeof t->fast);
    for (int l = 1; l <= tableBits && l <= t->maxLen; l++) {
        for (int k = 0; k < count[l]; k++) {
            uint16_t sym = t->perm[next[l] - count[l] + k];
            uint32_t lo = (first[l] + (uint32_t)k) << (tableBits - l);
            uint32_t hi = lo + (1u << (tableBits - l));
            for (uint32_t v = lo; v < hi; v++)
                t->fast[v] = (uint16_t)((sym << 5) | l);
        }
    }
}

/* Reads the delta-coded code lengths of every table and builds the tables. */
static int parseCodeLengths(BitReader *br, const BlockHeader *h, HuffTable *tables)
{
    uint8_t len[maxAlpha];
    for (int g = 0; g < h->nGroups; g++) {
        int cur = (int)getBits(br, 5);
        for (int s = 0; s < h->alphaSize; s++) {
            for (;;) {
                if (cur < 1 || cur > maxCodeLen)
                    return overran(br) ? CBZip2Fast_unexpectedEnd : CBZip2Fast_badCodeLengths;
                if (!getBits(br, 1))
                    break;
                cur += getBits(br, 1) ? -1 : 1;
            }
            len[s] = (uint8_t)cur;
        }
        if (overran(br))
            return CBZip2Fast_unexpectedEnd;
        buildTable(&tables[g], len, h->alphaSize);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Huffman + RUNA/RUNB + MTF symbol decoding                          */
/* ------------------------------------------------------------------ */

/* Decodes a code longer than tableBits (or invalid) from the peeked word w.
 * Returns (symbol << 5) | length, or 0 if no code matches. */
static uint32_t decodeLong(const HuffTable *t, uint64_t w)
{
    for (int l = tableBits + 1; l <= t->maxLen; l++) {
        uint32_t c = (uint32_t)(w >> (64 - l));
        if (c < t->limit[l])
            return ((uint32_t)t->perm[t->base[l] + (int32_t)c] << 5) | (uint32_t)l;
    }
    return 0;
}

/* Decodes the Huffman code at the front of the peeked word w with table t.
 * Returns (symbol << 5) | code length, or 0 if the bits are no code. */
static inline uint32_t decodeSymbol(const HuffTable *t, uint64_t w)
{
    uint32_t e = t->fast[w >> (64 - tableBits)];
    return e ? e : decodeLong(t, w);
}

/* Moves mtf[idx] to the front and returns it. */
static inline uint8_t mtfMoveToFront(uint8_t *mtf, int idx)
{
    uint8_t c = mtf[idx];
    if (idx < 16) {
        for (int j = idx; j > 0; j--)
            mtf[j] = mtf[j - 1];
    } else {
        memmove(mtf + 1, mtf, (size_t)idx);
    }
    mtf[0] = c;
    return c;
}

typedef struct {
    uint8_t *out;        /* L column being written */
    uint32_t n;          /* bytes written */
    uint32_t maxLen;     /* level * 100000 */
    uint32_t counts[256];
} SymbolSink;

/* Decodes symbols up to end-of-block into the sink (L column + byte counts).
 * Hot loop: the reader position, output length and MTF list are locals. */
static int decodeSymbols(BitReader *br, const BlockHeader *h, const HuffTable *tables,
                         const uint8_t *selectors, SymbolSink *k)
{
    uint8_t mtf[256];
    memcpy(mtf, h->seqToUnseq, (size_t)h->numInUse);
    BitReader r = *br;
    uint8_t *out = k->out;
    uint32_t *counts = k->counts;
    const uint32_t eob = (uint32_t)h->numInUse + 1, maxLen = k->maxLen;
    uint32_t n = 0, run = 0, weight = 1;
    int rc = 0;
    for (int sel = 0;; sel++) {
        if (sel >= h->nSelectors || !tables[selectors[sel]].valid || overran(&r)) {
            rc = sel >= h->nSelectors ? CBZip2Fast_tooFewSelectors : CBZip2Fast_badCodeLengths;
            goto finish;
        }
        const HuffTable *t = &tables[selectors[sel]];
        for (int i = 0; i < groupSize; i++) {
            uint32_t e = decodeSymbol(t, peekWord(&r));
            if (!e) {
                rc = CBZip2Fast_badHuffmanCode;
                goto finish;
            }
            r.pos += e & 31;
            uint32_t sym = e >> 5;
            if (sym <= 1) {                      /* RUNA = 1*weight, RUNB = 2*weight */
                run += weight << sym;
                weight <<= 1;
                if (run > maxLen) {
                    rc = CBZip2Fast_blockTooLong;
                    goto finish;
                }
                continue;
            }
            if (run) {                           /* flush the run of mtf[0] */
                if (run > maxLen - n) {
                    rc = CBZip2Fast_blockTooLong;
                    goto finish;
                }
                memset(out + n, mtf[0], run);
                counts[mtf[0]] += run;
                n += run;
                run = 0;
                weight = 1;
            }
            if (sym == eob) {
                rc = overran(&r) ? CBZip2Fast_unexpectedEnd : 0;
                goto finish;
            }
            if (n >= maxLen) {
                rc = CBZip2Fast_blockTooLong;
                goto finish;
            }
            uint8_t c = mtfMoveToFront(mtf, (int)sym - 1);
            out[n++] = c;
            counts[c]++;
        }
    }
finish:
    /* Past the end of the data every bit reads as zero, so whatever went wrong after that is the data's end. */
    if (rc && overran(&r))
        rc = CBZip2Fast_unexpectedEnd;
    br->pos = r.pos;
    k->n = n;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Inverse BWT vectors                                                 */
/* ------------------------------------------------------------------ */

/* Stores fwd[LF(i)] = (i << 8) | L[i] for i in [from, to), advancing the
 * per-byte next-slot table cf. */
static void buildRange(const uint8_t *L, uint32_t *fwd, uint32_t cf[256], uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++) {
        uint32_t c = L[i];
        fwd[cf[c]++] = (i << 8) | c;
    }
}

/* From the L column in s->bytes builds the forward vector: walking
 * row -> fwd[row] >> 8 from origPtr yields the text in order (the entry's low
 * byte is the text byte of that row). Also records s->lastRow = LF(origPtr),
 * the row whose entry points back to origPtr. */
static void buildVector(Block *s, const uint32_t counts[256])
{
    uint32_t cf[256], sum = 0;
    for (int c = 0; c < 256; c++) {
        cf[c] = sum;
        sum += counts[c];
    }
    buildRange(s->bytes, s->fwd, cf, 0, s->origPtr);
    s->lastRow = cf[s->bytes[s->origPtr]];
    buildRange(s->bytes, s->fwd, cf, s->origPtr, s->length);
}

/* Reads the block at bitStart into d->block; see fast_decoder.h. */
int CBZip2Fast_readBlock(CBZip2Fast_Decoder *d, const uint8_t *data, size_t byteCount, uint64_t bitStart,
                         int level, uint64_t *bitEnd)
{
    Block *s = &d->block;
    BitReader br = { data, byteCount, bitStart, (uint64_t)byteCount * 8 };
    if (bitStart > br.end)
        return CBZip2Fast_unexpectedEnd;
    BlockHeader h;
    int rc = parseFixedHeader(&br, &h);
    if (!rc)
        rc = parseSymbolMap(&br, &h);
    if (!rc)
        rc = parseSelectors(&br, &h, d->selectors);
    if (!rc)
        rc = parseCodeLengths(&br, &h, d->tables);
    if (rc)
        return rc;
    SymbolSink k;
    k.out = s->bytes;
    k.n = 0;
    k.maxLen = (uint32_t)level * 100000u;
    memset(k.counts, 0, sizeof k.counts);
    rc = decodeSymbols(&br, &h, d->tables, d->selectors, &k);
    if (rc)
        return rc;
    if (h.origPtr >= k.n)
        return CBZip2Fast_badOrigPtr;
    s->length = k.n;
    s->origPtr = h.origPtr;
    s->storedCRC = h.storedCRC;
    buildVector(s, k.counts);
    *bitEnd = br.pos;
    return CBZip2Fast_ok;
}
