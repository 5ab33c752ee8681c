// fast_inverse.c: the inverse Burrows-Wheeler transform of one block, walked as several chains at once.
#include "fast_decoder.h"
#include <stdlib.h>
#include <string.h>

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


/* Flags the entry pointing to origPtr and up to maxSegments-1 evenly spaced
 * entries of s->fwd, and records the segments they start (segment 0 starts
 * at origPtr). */
static void planSegments(CBZip2Fast_Decoder *d, Block *s)
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
    uint8_t *out[chains];
    uint32_t pos[chains];
    int finished = -1;
#pragma GCC unroll 12
    for (int j = 0; j < K; j++) {
        out[j] = c[j].out;
        pos[j] = c[j].pos;
    }
    for (uint32_t i = 0; i < rounds; i++) {
#pragma GCC unroll 12
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
#pragma GCC unroll 12
    for (int j = 0; j < K; j++) {
        c[j].out = out[j];
        c[j].pos = pos[j];
    }
    return finished;
}

/* Dispatches walkFixed for a run-time chain count k (1..chains). */
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
    default: return walkFixed(d, fwd, c, chains, rounds);
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
static int gatherSegments(CBZip2Fast_Decoder *d, Block *s)
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


/* Inverts d->block with up to `chains` chains (see above) into its bytes; see fast_decoder.h. */
int CBZip2Fast_invertBlock(CBZip2Fast_Decoder *d)
{
    Block *s = &d->block;
    planSegments(d, s);
    Chain c[chains];
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
