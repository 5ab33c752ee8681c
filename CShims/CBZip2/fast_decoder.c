// fast_decoder.c: the API of Sluice's bzip2 block decoder (include/CBZip2Fast.h): messages, memory, and
// CBZip2Fast_decodeBlock, which reads a block (fast_entropy.c) and inverts its BWT (fast_inverse.c).
#define _DEFAULT_SOURCE 1
#include "fast_decoder.h"
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

enum { hugePage = 2 * 1024 * 1024 };

/* Returns the English message for a result code. */
const char *CBZip2Fast_errorMessage(int code)
{
    switch (code) {
    case CBZip2Fast_ok: return "success";
    case CBZip2Fast_outputFull: return "output buffer full, more output follows";
    case CBZip2Fast_badBlockMagic: return "bzip2 block header is not a block magic";
    case CBZip2Fast_unexpectedEnd: return "unexpected end of bzip2 data";
    case CBZip2Fast_unsupported: return "randomised bzip2 block is not supported by the fast decoder";
    case CBZip2Fast_badArgument: return "invalid argument (NULL pointer or level out of range)";
    case CBZip2Fast_noSymbolsInUse: return "bzip2 block uses no byte values";
    case CBZip2Fast_badGroupCount: return "invalid number of Huffman tables (must be 2..6)";
    case CBZip2Fast_badSelectorCount: return "invalid number of selectors (zero)";
    case CBZip2Fast_badSelector: return "selector refers to a missing Huffman table";
    case CBZip2Fast_badCodeLengths: return "invalid Huffman code lengths";
    case CBZip2Fast_badHuffmanCode: return "invalid Huffman code in bzip2 data";
    case CBZip2Fast_tooFewSelectors: return "more symbols than the selectors cover";
    case CBZip2Fast_blockTooLong: return "block longer than its level allows";
    case CBZip2Fast_badOrigPtr: return "origPtr out of range";
    case CBZip2Fast_crcMismatch: return "bzip2 block CRC mismatch";
    case CBZip2Fast_notDecoded: return "no decoded bzip2 block is waiting for output";
    case CBZip2Fast_badBWT: return "internal error: inverse BWT segments do not link up";
    case CBZip2Fast_runWithoutCount: return "run of four equal bytes without its count at the end of a block";
    default: return "unknown bzip2 decoder error";
    }
}

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

/* Allocates the block's arrays and the chain buffers. Returns 0, or -1 when one cannot be allocated (the
 * others stay for CBZip2Fast_destroy to free). */
static int allocateArrays(CBZip2Fast_Decoder *d)
{
    Block *s = &d->block;
    s->bytes = malloc(maxBlock);
    s->fwd = allocHuge(maxBlock * sizeof(uint32_t));
    if (!s->bytes || !s->fwd)
        return -1;
    for (int i = 0; i < chains; i++)
        if (!(d->work[i] = malloc(maxBlock)))
            return -1;
    return 0;
}

/* Allocates a decoder with no block, its CRC tables and its arrays; see header. */
CBZip2Fast_Decoder *CBZip2Fast_create(void)
{
    CBZip2Fast_Decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (allocateArrays(d)) {
        CBZip2Fast_destroy(d);
        return NULL;
    }
    CBZip2Fast_initCRC(d->crcTable);
    return d;
}

/* Frees the arrays, then the decoder; see header. */
void CBZip2Fast_destroy(CBZip2Fast_Decoder *d)
{
    if (!d)
        return;
    free(d->block.bytes);
    free(d->block.fwd);
    for (int i = 0; i < chains; i++)
        free(d->work[i]);
    free(d);
}

/* Reads and inverts one block, leaving it waiting for output; see header. */
int CBZip2Fast_decodeBlock(CBZip2Fast_Decoder *d, const uint8_t *data, size_t byteCount, uint64_t bitStart,
                           int level, uint64_t *bitEnd, uint32_t *storedCRC)
{
    if (!d || level < 1 || level > 9 || (!data && byteCount) || !bitEnd || !storedCRC)
        return CBZip2Fast_badArgument;
    Block *s = &d->block;
    s->state = blockNone;
    s->error = 0;
    int rc = CBZip2Fast_readBlock(d, data, byteCount, bitStart, level, bitEnd);
    if (rc)
        return rc;
    *storedCRC = s->storedCRC;
    s->error = CBZip2Fast_invertBlock(d);
    s->state = blockWaiting;
    s->inPos = 0;
    s->pending = 0;
    s->prev = 256;
    s->run = 0;
    s->crc = 0xFFFFFFFFu;
    return CBZip2Fast_ok;
}
