/*
 * CBZip2Fast.h: Sluice's own bzip2 block decoder (CShims/CBZip2/fast_decoder.c).
 *
 * Decodes individual bzip2 blocks. Stream-level framing (the "BZhN" header,
 * the end-of-stream magic 0x177245385090 and the combined CRC) is left to the
 * caller; CBZip2Fast_readBits helps with that.
 *
 * Typical use (one thread, one decoder, N = 1..CBZip2Fast_maxSlots; N = 1 is
 * fastest, since each block's vector is then still cache-warm when inverted):
 *
 *     d = CBZip2Fast_create();
 *     for each group of up to N consecutive blocks:
 *         for slot in 0..N-1:               // serial: block k+1 starts at bitEnd of block k
 *             rc = CBZip2Fast_prepare(d, slot, data, size, bit, level, &bit, &crc);
 *         CBZip2Fast_invert(d, N);           // multi-chain inverse BWT of each slot
 *         for slot in 0..N-1:
 *             do rc = CBZip2Fast_output(d, slot, buf, cap, &got), consume(buf, got);
 *             while (rc == CBZip2Fast_outputFull);
 *     CBZip2Fast_destroy(d);
 *
 * A decoder is not thread-safe; use one decoder per thread. Decoders share no
 * global state, so several may run concurrently on different threads.
 */
#ifndef CBZIP2FAST_H
#define CBZIP2FAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of block slots a decoder has. */
#define CBZip2Fast_maxSlots 4

/* Result codes. 0 and positive values are success states, negative values errors. */
enum CBZip2Fast_Result {
    CBZip2Fast_ok = 0,                  /* success / block output complete and CRC verified */
    CBZip2Fast_outputFull = 1,          /* output buffer full; call CBZip2Fast_output again */
    CBZip2Fast_badBlockMagic = -1,      /* block does not start with 0x314159265359 */
    CBZip2Fast_unexpectedEnd = -2,      /* compressed data ends inside the block */
    CBZip2Fast_unsupported = -3,        /* randomised block (obsolete); fall back to libbz2 */
    CBZip2Fast_badArgument = -4,        /* NULL pointer, slot or level out of range */
    CBZip2Fast_noSymbolsInUse = -5,     /* symbol map is empty */
    CBZip2Fast_badGroupCount = -6,      /* number of Huffman tables not in 2..6 */
    CBZip2Fast_badSelectorCount = -7,   /* number of selectors is zero */
    CBZip2Fast_badSelector = -8,        /* selector MTF value >= number of tables */
    CBZip2Fast_badCodeLengths = -9,     /* code length outside 1..20, or over-subscribed table used */
    CBZip2Fast_badHuffmanCode = -10,    /* bit pattern matches no code of the table */
    CBZip2Fast_tooManySelectors = -11,  /* block has more symbols than its selectors cover */
    CBZip2Fast_blockTooLong = -12,      /* more than level*100000 bytes in the block */
    CBZip2Fast_badOrigPtr = -13,        /* origPtr >= block length (includes empty block) */
    CBZip2Fast_crcMismatch = -14,       /* decoded block's CRC differs from the stored CRC */
    CBZip2Fast_notPrepared = -15,       /* slot holds no prepared/inverted block */
    CBZip2Fast_outOfMemory = -16,       /* allocation failed */
    CBZip2Fast_badBWT = -17             /* internal consistency check of the inverse BWT failed
                                           (defensive; not expected even for corrupt input) */
};

typedef struct CBZip2Fast_Decoder CBZip2Fast_Decoder;

/* Returns a static English description of a result code (never NULL). */
const char *CBZip2Fast_errorMessage(int code);

/* Creates a decoder (NULL if out of memory). Large arrays are allocated on
 * first use and reused for all later blocks:
 *   per used slot: 900 KB text buffer + 4 MB inverse-BWT vector (3.6 MB used,
 *                  2 MB-aligned for transparent huge pages on Linux);
 *   per chain (shared by all slots): 900 KB output buffer (12 chains by
 *                  default); its pages are touched only as far as used,
 *                  typically ~1/12 of a block each;
 *   fixed: about 40 KB.
 * Address space: one slot with 12 chains ~16 MB, four slots ~31 MB. Measured
 * resident size decoding a level-9 file with one slot: ~7 MB. */
CBZip2Fast_Decoder *CBZip2Fast_create(void);

/* Frees the decoder and all its arrays. NULL is allowed. */
void CBZip2Fast_destroy(CBZip2Fast_Decoder *decoder);

/* Sets how many independent chains the inverse BWT of one block advances
 * round-robin (1..16; default 12; 8..16 measured equally fast on Zen 3,
 * 4 is ~25% slower, 1 is ~3x slower). Each block's
 * BWT cycle is cut into up to 256 segments which the chains work through.
 * Call before CBZip2Fast_prepare: chain buffers are allocated there (if the
 * count is raised between prepare and invert, invert uses the buffers that
 * exist). */
void CBZip2Fast_setChains(CBZip2Fast_Decoder *decoder, int chains);

/* Parses and entropy-decodes one block into `slot` (0..CBZip2Fast_maxSlots-1).
 *   data, byteCount: the whole compressed buffer; only data[0..byteCount) is read.
 *   bitStart: MSB-first bit offset of the block's 48-bit magic 0x314159265359.
 *   level: 1..9 from the stream header "BZhN"; the block may hold at most
 *          level*100000 bytes (before the initial run-length decoding is undone).
 *   *bitEnd: set on success to the bit offset just after the block's
 *          end-of-block symbol (where the next block magic or the end-of-stream
 *          magic starts).
 *   *storedCRC: set on success to the block CRC stored in the block header
 *          (needed by the caller for the stream's combined CRC).
 * Returns CBZip2Fast_ok or a negative code; on error the slot is empty.
 * The data buffer is not referenced after return. */
int CBZip2Fast_prepare(CBZip2Fast_Decoder *decoder, int slot,
                       const uint8_t *data, size_t byteCount, uint64_t bitStart,
                       int level, uint64_t *bitEnd, uint32_t *storedCRC);

/* Inverts the Burrows-Wheeler transform of slots 0..slots-1 (each must have
 * been prepared successfully since its last inversion; slots that are not are
 * skipped). Blocks are inverted one after another, each with several chains
 * in flight (see CBZip2Fast_setChains); keeping one 3.6 MB vector hot beats
 * interleaving several blocks' vectors. Afterwards each slot can be drained
 * with CBZip2Fast_output. */
void CBZip2Fast_invert(CBZip2Fast_Decoder *decoder, int slots);

/* Cheap pass: stores in *size the exact number of bytes the inverted block in
 * `slot` decodes to (after undoing the initial run-length encoding). Call it
 * before the first CBZip2Fast_output of the block.
 * Returns CBZip2Fast_ok, CBZip2Fast_badBWT, or CBZip2Fast_notPrepared /
 * CBZip2Fast_badArgument. */
int CBZip2Fast_outputSize(const CBZip2Fast_Decoder *decoder, int slot, uint64_t *size);

/* Writes the next decoded bytes of the inverted block in `slot` into
 * out[0..capacity) and stores their count in *written (resumable: each call
 * continues where the previous one stopped; any capacity >= 1 works).
 * Undoes the initial run-length encoding (4 equal bytes then a repeat count;
 * counts 0..255 are accepted, like libbz2) and updates the block CRC.
 * Returns:
 *   CBZip2Fast_outputFull  - out is full and more bytes follow; call again.
 *   CBZip2Fast_ok          - block finished, CRC matches the stored CRC.
 *   CBZip2Fast_crcMismatch - block finished, CRC differs (the bytes written
 *                            are still the decoder's best output).
 *   CBZip2Fast_badBWT      - inverse BWT failed its consistency check
 *                            (defensive; not expected), nothing written.
 *   CBZip2Fast_notPrepared / CBZip2Fast_badArgument - misuse.
 * After the block is finished the slot is empty. */
int CBZip2Fast_output(CBZip2Fast_Decoder *decoder, int slot,
                      uint8_t *out, size_t capacity, size_t *written);

/* Reads `count` (0..57) bits MSB-first starting at bit offset bitPos of
 * data[0..byteCount) into *value. Returns CBZip2Fast_ok, or
 * CBZip2Fast_unexpectedEnd if the bits run past the end (then *value = 0). */
int CBZip2Fast_readBits(const uint8_t *data, size_t byteCount, uint64_t bitPos,
                        int count, uint64_t *value);

/* CRC-32 as used by bzip2 (polynomial 0x04C11DB7, MSB-first, no reflection):
 * returns the CRC state after feeding bytes p[0..n) into state `crc`.
 * Start with 0xFFFFFFFF and complement the final state. */
uint32_t CBZip2Fast_crcUpdate(const CBZip2Fast_Decoder *decoder, uint32_t crc,
                              const uint8_t *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif
