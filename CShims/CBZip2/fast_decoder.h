// fast_decoder.h: the state shared by the files of Sluice's bzip2 block decoder (not part of the module's API,
// which is include/CBZip2Fast.h). fast_entropy.c reads a block up to its inverse-BWT vector, fast_inverse.c
// walks the vector, fast_output.c undoes the initial run-length encoding and checks the CRC, fast_decoder.c
// holds the API around them.
#ifndef CBZIP2_FAST_DECODER_H
#define CBZIP2_FAST_DECODER_H
#include "CBZip2Fast.h"

enum {
    maxBlock = 900000,        // largest block (level 9)
    maxGroups = 6,            // Huffman tables per block
    maxAlpha = 258,           // RUNA, RUNB, 255 MTF values, EOB
    maxSelectorsKept = 18002, // selectors beyond this are read and ignored, as libbz2 1.0.8 does
    maxCodeLen = 20,
    tableBits = 10,           // the fast lookup covers codes up to this length
    groupSize = 50,           // symbols per selector
    chains = 12,              // chains walked at once in the inverse BWT (8-16 measure alike; 4 is 25 % slower)
    maxSegments = 256,        // text segments per block (see fast_inverse.c)
    segmentBytes = 2048       // about one segment per this many bytes
};

// Inverse-BWT vector entry: bits 0...7 the byte, 8...27 the next row, 31 marks a segment end.
#define rowMask 0xFFFFFu
#define segmentEndFlag 0x80000000u

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HIDDEN __attribute__((visibility("hidden")))
#else
#define ALWAYS_INLINE inline
#define UNLIKELY(x) (x)
#define HIDDEN
#endif

/// A canonical Huffman decoding table.
typedef struct {
    uint16_t fast[1 << tableBits];  // (symbol << 5) | length for codes up to tableBits long, 0 = longer code
    uint32_t limit[maxCodeLen + 1]; // codes of length l are < limit[l]
    int32_t base[maxCodeLen + 1];   // perm index = base[l] + code
    uint16_t perm[maxAlpha];        // symbols sorted by (length, value)
    int maxLen;
    int valid;                      // 0 if the lengths over-subscribe the code
} HuffTable;

enum { blockNone = 0, blockWaiting = 1 };

/// The block being decoded, and where its output stands.
typedef struct {
    uint8_t *bytes;      // the L column while reading; the text before RLE1 is undone after inverting
    uint32_t *fwd;       // row -> (next row << 8) | byte of row, see rowMask
    uint32_t length;     // bytes in the block before undoing RLE1
    uint32_t origPtr;
    uint32_t lastRow;    // row whose entry points back to origPtr (the text's end)
    uint32_t storedCRC;
    int state;
    int error;           // set when the inverse BWT fails its consistency check
    // resumable output state
    uint32_t inPos;
    uint32_t pending;    // repeats of `prev` still to write
    int prev;            // last byte written, 256 = none
    int run;             // equal bytes seen in a row, 0...4
    uint32_t crc;
} Block;

/// One stretch of text produced by one chain, from a start row up to the next flagged entry, stored at
/// work[worker][offset..<offset + length].
typedef struct {
    uint32_t startRow;
    uint32_t endRow;     // the row after the flagged entry: the next segment's start
    uint32_t offset;
    uint32_t length;
    int worker;
} Segment;

struct CBZip2Fast_Decoder {
    Block block;
    uint8_t *work[chains];     // per-chain output buffers, maxBlock bytes each
    Segment segs[maxSegments];
    int nSegs, nextSeg;        // segments of the block being inverted
    int current[chains];       // the segment each chain is producing
    uint32_t crcTable[8][256];
    HuffTable tables[maxGroups];
    uint8_t selectors[maxSelectorsKept];
};

/// fast_entropy.c: reads the block at `bitStart` (see CBZip2Fast_decodeBlock) into d->block: its L column,
/// length, origPtr and CRC, and the forward vector built from them. Returns CBZip2Fast_ok or a negative code.
HIDDEN int CBZip2Fast_readBlock(CBZip2Fast_Decoder *d, const uint8_t *data, size_t byteCount, uint64_t bitStart,
                                int level, uint64_t *bitEnd);

/// fast_inverse.c: writes the text of d->block (before RLE1 is undone) into d->block.bytes by walking its forward
/// vector with `chains` chains. Returns 0 or CBZip2Fast_badBWT.
HIDDEN int CBZip2Fast_invertBlock(CBZip2Fast_Decoder *d);

/// fast_output.c: fills the slicing-by-8 tables of bzip2's CRC-32 (polynomial 0x04C11DB7, MSB first).
HIDDEN void CBZip2Fast_initCRC(uint32_t t[8][256]);
#endif
