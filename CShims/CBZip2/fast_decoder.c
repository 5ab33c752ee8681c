/*
 * fast_decoder.c: Sluice's own bzip2 block decoder; the API is in CBZip2Fast.h.
 *
 * Written from the bzip2 format description:
 *   block  = magic 0x314159265359, CRC32, randomised bit, origPtr (24 bits),
 *            16-bit used map + 16-bit maps, nGroups (3 bits), nSelectors (15
 *            bits), MTF/unary coded selectors, delta coded code lengths,
 *            Huffman coded RUNA/RUNB/MTF symbols up to end-of-block.
 * The inverse BWT is the hot spot: one dependent random load per byte. The
 * block's text is cut into up to 256 segments at flagged entries of the
 * vector, and several chains walk different segments round-robin, so their
 * cache misses overlap inside the one 3.6 MB vector (see invertSlot).
 */
#define _DEFAULT_SOURCE 1
#include "CBZip2Fast.h"

#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

enum {
    maxBlock = 900000,       /* largest block (level 9) */
    maxGroups = 6,           /* Huffman tables per block */
    maxAlpha = 258,          /* RUNA, RUNB, 255 MTF values, EOB */
    maxSelectorsKept = 18002,/* selectors beyond this are read and ignored */
    maxCodeLen = 20,
    tableBits = 10,          /* fast lookup covers codes up to this length */
    groupSize = 50,          /* symbols per selector */
    hugePage = 2 * 1024 * 1024,
    maxChains = 16,          /* chains walked at once in the inverse BWT */
    defaultChains = 12,
    maxSegments = 256,       /* text segments per block (see invertSlot) */
    segmentBytes = 2048      /* about one segment per this many bytes */
};

/* Inverse-BWT vector entry: bits 0..7 byte, 8..27 next row, 31 segment end. */
#define rowMask 0xFFFFFu
#define segmentEndFlag 0x80000000u

typedef struct {
    uint16_t fast[1 << tableBits]; /* (symbol << 5) | length, 0 = longer code */
    uint32_t limit[maxCodeLen + 1];/* codes of length l are < limit[l] */
    int32_t base[maxCodeLen + 1];  /* perm index = base[l] + code */
    uint16_t perm[maxAlpha];       /* symbols sorted by (length, value) */
    int maxLen;
    int valid;                     /* 0 if the lengths over-subscribe the code */
} HuffTable;

enum { slotEmpty = 0, slotPrepared = 1, slotInverted = 2 };

typedef struct {
    uint8_t *bytes;      /* L column while preparing; pre-RLE text after invert */
    uint32_t *fwd;       /* row -> (next row << 8) | byte of row, see rowMask */
    uint32_t length;     /* bytes in the block before undoing RLE1 */
    uint32_t origPtr;
    uint32_t lastRow;    /* row whose entry points back to origPtr (text end) */
    uint32_t storedCRC;
    int state;
    int error;           /* set by invert if the vector is not one cycle */
    /* resumable output state */
    uint32_t inPos;
    uint32_t pending;    /* repeats of `prev` still to write */
    int prev;            /* last byte written, 256 = none */
    int run;             /* equal bytes seen in a row, 0..4 */
    uint32_t crc;
} Slot;

/* One stretch of text produced by one chain, from a start row up to the
 * next flagged entry. Stored at work[worker][offset .. offset+length). */
typedef struct {
    uint32_t startRow;
    uint32_t endRow;     /* row after the flagged entry = next segment's start */
    uint32_t offset;
    uint32_t length;
    int worker;
} Segment;

struct CBZip2Fast_Decoder {
    Slot slots[CBZip2Fast_maxSlots];
    int chains;                        /* chains walked at once */
    uint8_t *work[maxChains];          /* per-chain output buffers (maxBlock each) */
    Segment segs[maxSegments];
    int nSegs, nextSeg;                /* segments of the block being inverted */
    int current[maxChains];            /* segment each worker is producing */
    uint32_t crcTable[8][256];
    HuffTable tables[maxGroups];
    uint8_t selectors[maxSelectorsKept];
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* Returns the English message for a result code. */
const char *CBZip2Fast_errorMessage(int code)
{
    switch (code) {
    case CBZip2Fast_ok: return "success";
    case CBZip2Fast_outputFull: return "output buffer full, more output follows";
    case CBZip2Fast_badBlockMagic: return "bzip2 block header is not a block magic";
    case CBZip2Fast_unexpectedEnd: return "unexpected end of bzip2 data";
    case CBZip2Fast_unsupported: return "randomised bzip2 block is not supported by the fast decoder";
    case CBZip2Fast_badArgument: return "invalid argument (NULL pointer, slot or level out of range)";
    case CBZip2Fast_noSymbolsInUse: return "bzip2 block uses no byte values";
    case CBZip2Fast_badGroupCount: return "invalid number of Huffman tables (must be 2..6)";
    case CBZip2Fast_badSelectorCount: return "invalid number of selectors (zero)";
    case CBZip2Fast_badSelector: return "selector refers to a missing Huffman table";
    case CBZip2Fast_badCodeLengths: return "invalid Huffman code lengths";
    case CBZip2Fast_badHuffmanCode: return "invalid Huffman code in bzip2 data";
    case CBZip2Fast_tooManySelectors: return "too many symbols for the selectors (too many selectors needed)";
    case CBZip2Fast_blockTooLong: return "block longer than its level allows";
    case CBZip2Fast_badOrigPtr: return "origPtr out of range";
    case CBZip2Fast_crcMismatch: return "bzip2 block CRC mismatch";
    case CBZip2Fast_notPrepared: return "decoder slot holds no prepared block";
    case CBZip2Fast_outOfMemory: return "out of memory";
    case CBZip2Fast_badBWT: return "internal error: inverse BWT segments do not link up";
    default: return "unknown bzip2 decoder error";
    }
}

/* ------------------------------------------------------------------ */
/* CRC-32 (MSB-first, polynomial 0x04C11DB7), slicing-by-8            */
/* ------------------------------------------------------------------ */

/* Fills t[k][b] = CRC register after shifting byte b then k zero bytes. */
static void crcInitTables(uint32_t t[8][256])
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

/* Public wrapper of crcUpdate using the decoder's tables. */
uint32_t CBZip2Fast_crcUpdate(const CBZip2Fast_Decoder *decoder, uint32_t crc,
                              const uint8_t *p, size_t n)
{
    return crcUpdate(decoder->crcTable, crc, p, n);
}

/* ------------------------------------------------------------------ */
/* Memory                                                              */
/* ------------------------------------------------------------------ */

/* Allocates `size` bytes aligned to 2 MB and asks for transparent huge pages
 * (fewer TLB misses in the random-access inverse BWT). NULL on failure. */
static void *allocHuge(size_t size)
{
    void *p = NULL;
    size_t rounded = (size + hugePage - 1) / hugePage * hugePage;
    if (posix_memalign(&p, hugePage, rounded) != 0)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

/* Makes sure slot `s` and the chain buffers are allocated.
 * Returns 0 or CBZip2Fast_outOfMemory. */
static int ensureArrays(CBZip2Fast_Decoder *d, Slot *s)
{
    if (!s->bytes)
        s->bytes = malloc(maxBlock);
    if (!s->fwd)
        s->fwd = allocHuge(maxBlock * sizeof(uint32_t));
    if (!s->bytes || !s->fwd)
        return CBZip2Fast_outOfMemory;
    for (int i = 0; i < d->chains; i++)
        if (!d->work[i] && !(d->work[i] = malloc(maxBlock)))
            return CBZip2Fast_outOfMemory;
    return 0;
}

/* Allocates a decoder with empty slots and initialised CRC tables. */
CBZip2Fast_Decoder *CBZip2Fast_create(void)
{
    CBZip2Fast_Decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->chains = defaultChains;
    crcInitTables(d->crcTable);
    return d;
}

/* Frees every array of every slot, then the decoder. */
void CBZip2Fast_destroy(CBZip2Fast_Decoder *d)
{
    if (!d)
        return;
    for (int i = 0; i < CBZip2Fast_maxSlots; i++) {
        free(d->slots[i].bytes);
        free(d->slots[i].fwd);
    }
    for (int i = 0; i < maxChains; i++)
        free(d->work[i]);
    free(d);
}

/* Sets the number of chains walked at once (clamped to 1..maxChains). */
void CBZip2Fast_setChains(CBZip2Fast_Decoder *d, int chains)
{
    if (d)
        d->chains = chains < 1 ? 1 : chains > maxChains ? maxChains : chains;
}

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

/* Reads `count` bits at bitPos into *value; see header. */
int CBZip2Fast_readBits(const uint8_t *data, size_t byteCount, uint64_t bitPos,
                        int count, uint64_t *value)
{
    if (!value || count < 0 || count > 57 || (!data && byteCount))
        return CBZip2Fast_badArgument;
    *value = 0;
    if (bitPos > (uint64_t)byteCount * 8 || (uint64_t)count > (uint64_t)byteCount * 8 - bitPos)
        return CBZip2Fast_unexpectedEnd;
    if (count == 0)
        return CBZip2Fast_ok;
    BitReader br = { data, byteCount, bitPos, (uint64_t)byteCount * 8 };
    *value = getBits(&br, count);
    return CBZip2Fast_ok;
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
            rc = sel >= h->nSelectors ? CBZip2Fast_tooManySelectors
               : overran(&r) ? CBZip2Fast_unexpectedEnd : CBZip2Fast_badCodeLengths;
            goto finish;
        }
        const HuffTable *t = &tables[selectors[sel]];
        for (int i = 0; i < groupSize; i++) {
            uint32_t e = decodeSymbol(t, peekWord(&r));
            if (!e) {
                rc = overran(&r) ? CBZip2Fast_unexpectedEnd : CBZip2Fast_badHuffmanCode;
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
static void buildVector(Slot *s, const uint32_t counts[256])
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

/* Parses and decodes one block into a slot; see header. */
int CBZip2Fast_prepare(CBZip2Fast_Decoder *d, int slot,
                       const uint8_t *data, size_t byteCount, uint64_t bitStart,
                       int level, uint64_t *bitEnd, uint32_t *storedCRC)
{
    if (!d || slot < 0 || slot >= CBZip2Fast_maxSlots || level < 1 || level > 9
        || (!data && byteCount) || !bitEnd || !storedCRC)
        return CBZip2Fast_badArgument;
    Slot *s = &d->slots[slot];
    s->state = slotEmpty;
    s->error = 0;
    if (ensureArrays(d, s))
        return CBZip2Fast_outOfMemory;
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
    s->state = slotPrepared;
    *bitEnd = br.pos;
    *storedCRC = h.storedCRC;
    return CBZip2Fast_ok;
}

/* ------------------------------------------------------------------ */
/* Interleaved inverse BWT                                             */
/* ------------------------------------------------------------------ */

/*
 * The forward vector is a permutation of the rows; for a non-periodic block
 * it is one cycle, so a single walk from origPtr is one long chain of
 * dependent cache misses (periodic blocks: see gatherSegments). Instead we
 * cut the cycle into segments: we flag ~n/segmentBytes entries (spread over
 * the rows) plus the entry that points back to origPtr (the text end). The
 * rows those entries point to start segments; a segment runs until it passes
 * a flagged entry. Several chains (workers) each take segments from a queue
 * and are advanced round-robin, so their cache misses overlap, all within one
 * 3.6 MB vector (small cache footprint). Each worker writes its segments one
 * after another into its own buffer; afterwards the segments are linked by
 * their end rows and copied into text order.
 */

/* A chain being walked: where its worker writes next, and its current row. */
typedef struct {
    uint8_t *out;
    uint32_t pos;
    int worker;
} Chain;

#define noMoreSegments 0xFFFFFFFFu

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ALWAYS_INLINE inline
#define UNLIKELY(x) (x)
#endif

/* Flags the entry pointing to origPtr and up to maxSegments-1 evenly spaced
 * entries of s->fwd, and records the segments they start (segment 0 starts
 * at origPtr). */
static void planSegments(CBZip2Fast_Decoder *d, Slot *s, int chains)
{
    uint32_t n = s->length, want = n / segmentBytes + 1;
    if (want < (uint32_t)chains * 4)
        want = (uint32_t)chains * 4;
    if (want > maxSegments)
        want = maxSegments;
    if (want > n)
        want = n;
    d->segs[0] = (Segment){ s->origPtr, noMoreSegments, 0, 0, 0 };
    s->fwd[s->lastRow] |= segmentEndFlag;
    int m = 1;
    for (uint32_t i = 1; i < want; i++) {
        uint32_t row = (uint32_t)((uint64_t)i * n / want);
        if (s->fwd[row] & segmentEndFlag)
            continue;
        s->fwd[row] |= segmentEndFlag;
        d->segs[m++] = (Segment){ (s->fwd[row] >> 8) & rowMask, noMoreSegments, 0, 0, 0 };
    }
    d->nSegs = m;
    d->nextSeg = 0;
}

/* Gives worker w the next unclaimed segment, starting at output `out`.
 * Returns its start row, or noMoreSegments if none is left. */
static uint32_t claimSegment(CBZip2Fast_Decoder *d, int w, const uint8_t *out)
{
    if (d->nextSeg >= d->nSegs)
        return noMoreSegments;
    int g = d->nextSeg++;
    d->current[w] = g;
    d->segs[g].worker = w;
    d->segs[g].offset = (uint32_t)(out - d->work[w]);
    return d->segs[g].startRow;
}

/* Closes worker w's segment, which ended before row endRow with the worker's
 * output at `out`, then claims the next segment (see claimSegment). */
static uint32_t switchSegment(CBZip2Fast_Decoder *d, int w, uint32_t endRow, const uint8_t *out)
{
    Segment *g = &d->segs[d->current[w]];
    g->length = (uint32_t)(out - d->work[w]) - g->offset;
    g->endRow = endRow;
    return claimSegment(d, w, out);
}

/* Advances the first K chains over fwd round-robin for at most `rounds`
 * rounds, switching segments at flagged entries. Returns the index of a chain
 * that found no segment left (stopping at once), or -1 after `rounds` rounds.
 * Chain state is saved back to c. K is a compile-time constant at each call
 * site, so the inner loop unrolls and the state stays in registers. */
static ALWAYS_INLINE int walkFixed(CBZip2Fast_Decoder *d, const uint32_t *fwd, Chain *c,
                                   const int K, uint32_t rounds)
{
    uint8_t *out[maxChains];
    uint32_t pos[maxChains];
    int finished = -1;
#pragma GCC unroll 16
    for (int j = 0; j < K; j++) {
        out[j] = c[j].out;
        pos[j] = c[j].pos;
    }
    for (uint32_t i = 0; i < rounds; i++) {
#pragma GCC unroll 16
        for (int j = 0; j < K; j++) {
            uint32_t e = fwd[pos[j]];
            *out[j]++ = (uint8_t)e;
            pos[j] = (e >> 8) & rowMask;
            if (UNLIKELY(e & segmentEndFlag)) {
                pos[j] = switchSegment(d, c[j].worker, pos[j], out[j]);
                if (pos[j] == noMoreSegments) {
                    finished = j;
                    goto done;
                }
            }
        }
    }
done:
#pragma GCC unroll 16
    for (int j = 0; j < K; j++) {
        c[j].out = out[j];
        c[j].pos = pos[j];
    }
    return finished;
}

/* Dispatches walkFixed for a run-time chain count k (1..maxChains). */
static int walkChains(CBZip2Fast_Decoder *d, const uint32_t *fwd, Chain *c, int k, uint32_t rounds)
{
    switch (k) {
    case 1: return walkFixed(d, fwd, c, 1, rounds);
    case 2: return walkFixed(d, fwd, c, 2, rounds);
    case 3: return walkFixed(d, fwd, c, 3, rounds);
    case 4: return walkFixed(d, fwd, c, 4, rounds);
    case 5: return walkFixed(d, fwd, c, 5, rounds);
    case 6: return walkFixed(d, fwd, c, 6, rounds);
    case 7: return walkFixed(d, fwd, c, 7, rounds);
    case 8: return walkFixed(d, fwd, c, 8, rounds);
    case 9: return walkFixed(d, fwd, c, 9, rounds);
    case 10: return walkFixed(d, fwd, c, 10, rounds);
    case 11: return walkFixed(d, fwd, c, 11, rounds);
    case 12: return walkFixed(d, fwd, c, 12, rounds);
    case 13: return walkFixed(d, fwd, c, 13, rounds);
    case 14: return walkFixed(d, fwd, c, 14, rounds);
    case 15: return walkFixed(d, fwd, c, 15, rounds);
    default: return walkFixed(d, fwd, c, 16, rounds);
    }
}

typedef struct {
    uint32_t row;
    int index;
} RowIndex;

/* qsort comparator of RowIndex by row. */
static int compareRows(const void *a, const void *b)
{
    uint32_t x = ((const RowIndex *)a)->row, y = ((const RowIndex *)b)->row;
    return x < y ? -1 : x > y;
}

/* Returns the segment starting at `row` (binary search in byRow), or -1. */
static int findSegment(const RowIndex *byRow, int m, uint32_t row)
{
    int lo = 0, hi = m;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (byRow[mid].row < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m && byRow[lo].row == row ? byRow[lo].index : -1;
}

/* Copies the segments into s->bytes in text order: segment 0 first, each
 * followed by the segment starting at its end row, until the one that ends
 * at origPtr (the flagged entry pointing back to origPtr closes the cycle).
 * If that cycle is shorter than the block (a periodic block, e.g. one long
 * run, whose BWT permutation has several cycles; or a corrupt block), the
 * text is the cycle repeated, exactly what a plain n-step walk produces.
 * Returns 0, or CBZip2Fast_badBWT if the segments do not link up (cannot
 * happen since the vector is a permutation; defensive). */
static int gatherSegments(CBZip2Fast_Decoder *d, Slot *s)
{
    int m = d->nSegs;
    RowIndex byRow[maxSegments];
    for (int i = 0; i < m; i++)
        byRow[i] = (RowIndex){ d->segs[i].startRow, i };
    qsort(byRow, (size_t)m, sizeof byRow[0], compareRows);
    uint32_t done = 0;
    int g = 0;
    for (int visited = 1;; visited++) {
        const Segment *seg = &d->segs[g];
        if (visited > m || seg->length > s->length - done)
            return CBZip2Fast_badBWT;
        memcpy(s->bytes + done, d->work[seg->worker] + seg->offset, seg->length);
        done += seg->length;
        if (seg->endRow == s->origPtr)
            break;
        if ((g = findSegment(byRow, m, seg->endRow)) < 0)
            return CBZip2Fast_badBWT;
    }
    if (done == 0)
        return CBZip2Fast_badBWT;
    for (uint32_t i = done; i < s->length; i += done) {     /* repeat the cycle */
        uint32_t k = s->length - i < done ? s->length - i : done;
        memcpy(s->bytes + i, s->bytes, k);
    }
    return 0;
}

/* Inverts one prepared slot with up to d->chains chains (see above) into
 * s->bytes. Returns 0 or CBZip2Fast_badBWT (defensive check). */
static int invertSlot(CBZip2Fast_Decoder *d, Slot *s)
{
    int chains = 0;
    while (chains < d->chains && d->work[chains])
        chains++;
    planSegments(d, s, chains);
    Chain c[maxChains];
    int k = 0;
    for (; k < chains; k++) {
        uint32_t row = claimSegment(d, k, d->work[k]);
        if (row == noMoreSegments)
            break;
        c[k] = (Chain){ d->work[k], row, k };
    }
    uint32_t finishedBytes = 0;
    while (k > 0) {
        uint32_t emitted = finishedBytes;
        for (int j = 0; j < k; j++)
            emitted += (uint32_t)(c[j].out - d->work[c[j].worker]);
        uint32_t rounds = (s->length - emitted) / (uint32_t)k;
        if (rounds == 0)    /* cannot happen: each active chain has >= 1 row left */
            return CBZip2Fast_badBWT;
        int f = walkChains(d, s->fwd, c, k, rounds);
        if (f >= 0) {
            finishedBytes += (uint32_t)(c[f].out - d->work[c[f].worker]);
            c[f] = c[--k];
        }
    }
    return gatherSegments(d, s);
}

/* Inverts slots 0..slots-1 one after another; see header. */
void CBZip2Fast_invert(CBZip2Fast_Decoder *d, int slots)
{
    if (!d)
        return;
    if (slots > CBZip2Fast_maxSlots)
        slots = CBZip2Fast_maxSlots;
    for (int i = 0; i < slots; i++) {
        Slot *s = &d->slots[i];
        if (s->state != slotPrepared)
            continue;
        s->error = invertSlot(d, s);
        s->state = slotInverted;
        s->inPos = 0;
        s->pending = 0;
        s->prev = 256;
        s->run = 0;
        s->crc = 0xFFFFFFFFu;
    }
}

/* ------------------------------------------------------------------ */
/* Output: undo RLE1, CRC                                              */
/* ------------------------------------------------------------------ */

/* Checks decoder/slot arguments and that the slot has an inverted block. */
static int checkInverted(const CBZip2Fast_Decoder *d, int slot)
{
    if (!d || slot < 0 || slot >= CBZip2Fast_maxSlots)
        return CBZip2Fast_badArgument;
    return d->slots[slot].state == slotInverted ? 0 : CBZip2Fast_notPrepared;
}

/* Counts the bytes the inverted block decodes to after undoing RLE1. */
int CBZip2Fast_outputSize(const CBZip2Fast_Decoder *d, int slot, uint64_t *size)
{
    int rc = checkInverted(d, slot);
    if (rc || !size)
        return rc ? rc : CBZip2Fast_badArgument;
    const Slot *s = &d->slots[slot];
    if (s->error)
        return s->error;
    uint64_t total = 0;
    int prev = 256, run = 0;
    for (uint32_t i = 0; i < s->length; i++) {
        int c = s->bytes[i];
        if (run == 4) {
            total += (uint64_t)c;
            run = 0;
            continue;
        }
        total++;
        run = c == prev ? run + 1 : 1;
        prev = c;
    }
    *size = total;
    return CBZip2Fast_ok;
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

/* Undoes RLE1 from the slot's pre-RLE text into out[0..cap), resuming from
 * and saving the slot's state. Returns the number of bytes written. */
static size_t unRLE(Slot *s, uint8_t *out, size_t cap)
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

/* Writes decoded bytes of a slot; see header. */
int CBZip2Fast_output(CBZip2Fast_Decoder *d, int slot,
                      uint8_t *out, size_t capacity, size_t *written)
{
    int rc = checkInverted(d, slot);
    if (!rc && (!written || !out || capacity == 0))
        rc = CBZip2Fast_badArgument;
    if (rc) {
        if (written)
            *written = 0;
        return rc;
    }
    Slot *s = &d->slots[slot];
    if (s->error) {
        *written = 0;
        s->state = slotEmpty;
        return s->error;
    }
    size_t got = unRLE(s, out, capacity);
    s->crc = crcUpdate(d->crcTable, s->crc, out, got);
    *written = got;
    if (s->pending || s->inPos < s->length)
        return CBZip2Fast_outputFull;
    s->state = slotEmpty;
    return ~s->crc == s->storedCRC ? CBZip2Fast_ok : CBZip2Fast_crcMismatch;
}
