// CBZip2Fast: Sluice's own bzip2 block decoder (CShims/CBZip2/fast_*.c), written from the format description.
// It exists because libbz2 walks a block's inverse Burrows-Wheeler transform as one chain of dependent cache
// misses; this decoder cuts the chain into segments and walks twelve at once. Stream framing (the "BZhN" header,
// the end-of-stream magic and the combined CRC) is the caller's (BZip2Blocks.locate finds the blocks).
//
//     decoder = CBZip2Fast_create();
//     for each block:
//         rc = CBZip2Fast_decodeBlock(decoder, data, size, bitStart, level, &bitEnd, &crc);
//         rc = CBZip2Fast_output(decoder, out, capacity, &written); // repeat while CBZip2Fast_outputFull
//     CBZip2Fast_destroy(decoder);
//
// A decoder is not thread-safe; decoders share no state, so one per thread run concurrently.
#ifndef CBZIP2FAST_H
#define CBZIP2FAST_H
#include <stddef.h>
#include <stdint.h>

/// Result codes: 0 and 1 are success states, negative values errors.
enum CBZip2Fast_Result {
    CBZip2Fast_ok = 0,                  // success; for output: block complete and its CRC verified
    CBZip2Fast_outputFull = 1,          // output buffer full; call CBZip2Fast_output again
    CBZip2Fast_badBlockMagic = -1,      // block does not start with 0x314159265359
    CBZip2Fast_unexpectedEnd = -2,      // compressed data ends inside the block
    CBZip2Fast_unsupported = -3,        // randomised block (obsolete); decode it with libbz2
    CBZip2Fast_badArgument = -4,        // NULL pointer or level out of range
    CBZip2Fast_noSymbolsInUse = -5,     // symbol map is empty
    CBZip2Fast_badGroupCount = -6,      // number of Huffman tables not in 2..6
    CBZip2Fast_badSelectorCount = -7,   // number of selectors is zero
    CBZip2Fast_badSelector = -8,        // selector MTF value >= number of tables
    CBZip2Fast_badCodeLengths = -9,     // code length outside 1..20, or an over-subscribed table used
    CBZip2Fast_badHuffmanCode = -10,    // bit pattern matches no code of the table
    CBZip2Fast_tooFewSelectors = -11,   // block has more symbols than its selectors cover
    CBZip2Fast_blockTooLong = -12,      // more than level*100000 bytes in the block
    CBZip2Fast_badOrigPtr = -13,        // origPtr >= block length (includes an empty block)
    CBZip2Fast_crcMismatch = -14,       // decoded block's CRC differs from the stored CRC
    CBZip2Fast_notDecoded = -15,        // no decoded block is waiting for output
    CBZip2Fast_badBWT = -17,            // inverse BWT segments do not link up (defensive; not expected)
    CBZip2Fast_runWithoutCount = -18    // the block ends with four equal bytes and no repeat count
};

typedef struct CBZip2Fast_Decoder CBZip2Fast_Decoder;

/// A static English description of a result code, never NULL.
const char *CBZip2Fast_errorMessage(int code);

/// A decoder with its arrays, reused from block to block, or NULL when they cannot be allocated: a 900 KB text
/// buffer, a 3.6 MB inverse-BWT vector (2 MB-aligned, for transparent huge pages) and twelve 900 KB chain
/// buffers, touched only as far as used: about 16 MB of address space and up to 7 MB resident.
CBZip2Fast_Decoder *CBZip2Fast_create(void);

/// Frees the decoder and its arrays. NULL is allowed.
void CBZip2Fast_destroy(CBZip2Fast_Decoder *decoder);

/// Decodes the block whose 48-bit magic starts at MSB-first bit offset `bitStart` of data[0..<byteCount] (only
/// those bytes are read) and that belongs to a stream of `level` 1...9 (at most level*100000 bytes before the
/// initial run-length decoding is undone): parses the header, tables and Huffman-coded symbols, then inverts the
/// BWT, leaving the block waiting for CBZip2Fast_output. Sets *bitEnd to the bit just after the end-of-block
/// symbol (where the next magic starts) and *storedCRC to the header's CRC. Returns CBZip2Fast_ok or a negative
/// code; on error no block is waiting. `data` is not referenced after return.
int CBZip2Fast_decodeBlock(CBZip2Fast_Decoder *decoder, const uint8_t *data, size_t byteCount, uint64_t bitStart,
                           int level, uint64_t *bitEnd, uint32_t *storedCRC);

/// Writes the next bytes of the waiting block to out[0..<capacity] and their count to *written; each call
/// continues where the last stopped, for any capacity >= 1. Undoes the initial run-length encoding (4 equal bytes,
/// then a repeat count 0...255, as libbz2 accepts) and updates the block's CRC. Returns CBZip2Fast_outputFull
/// when more bytes follow; CBZip2Fast_ok when the block is complete and its CRC matches; CBZip2Fast_crcMismatch
/// when it is complete and does not; CBZip2Fast_runWithoutCount when its last four bytes are equal and no count
/// follows (libbz2 rejects such a block too); CBZip2Fast_badBWT (nothing written), CBZip2Fast_notDecoded or
/// CBZip2Fast_badArgument. Once the block is complete, none is waiting.
int CBZip2Fast_output(CBZip2Fast_Decoder *decoder, uint8_t *out, size_t capacity, size_t *written);
#endif
