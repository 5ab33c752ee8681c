// Robustness check of Sluice's bzip2 block decoder (CShims/CBZip2/fast_*.c), built with AddressSanitizer and
// UndefinedBehaviorSanitizer by `make fuzz`. A log-like input is compressed with libbz2, then damaged thousands
// of ways (bit flips, overwritten bytes, truncation, random bytes after a valid header); every damaged copy is
// decoded block by block, chaining each block's end, with the output drained in random piece sizes. The decoder
// must never read or write out of bounds, and whenever it accepts a copy, libbz2 must accept it too and decode
// the same bytes. Exits 1 on the first disagreement; the sanitizers abort on any memory error.
#include <bzlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "CBZip2Fast.h"

static uint64_t state = 88172645463325252ull;

/// The next pseudo-random number (xorshift64), the same sequence on every run.
static uint64_t next_random(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

/// The 48 bits at bit offset `bit` of data, MSB first.
static uint64_t read48(const uint8_t *data, uint64_t bit) {
    uint64_t value = 0;
    for (int i = 0; i < 48; i++, bit++) value = value << 1 | ((data[bit >> 3] >> (7 - (bit & 7))) & 1);
    return value;
}

/// Decodes the one stream in data[0..<size] block by block into out; returns the byte count, or -1 when the
/// decoder reports an error or the stream's layout is wrong.
static long decode_stream(CBZip2Fast_Decoder *decoder, const uint8_t *data, size_t size, uint8_t *out, size_t capacity) {
    if (size < 4 || data[3] < '1' || data[3] > '9') return -1;
    int level = data[3] - '0';
    uint64_t bit = 32;
    size_t total = 0;
    for (int block = 0; block < 10000; block++) {
        if (bit + 48 > (uint64_t)size * 8) return -1;
        if (read48(data, bit) == 0x177245385090ull) return (long)total;
        uint64_t end;
        uint32_t crc;
        if (CBZip2Fast_decodeBlock(decoder, data, size, bit, level, &end, &crc) != CBZip2Fast_ok) return -1;
        size_t got = 0, written;
        int rc;
        do {
            size_t piece = 1 + next_random() % 70000;
            if (total + got + piece > capacity) return -1;
            rc = CBZip2Fast_output(decoder, out + total + got, piece, &written);
            if (written > piece) {
                fprintf(stderr, "block %d: output wrote %zu bytes into %zu\n", block, written, piece);
                exit(1);
            }
            got += written;
        } while (rc == CBZip2Fast_outputFull);
        if (rc != CBZip2Fast_ok) return -1;
        total += got;
        bit = end;
    }
    return -1;
}

int main(void) {
    const size_t length = 400000, capacity = 64u << 20;
    uint8_t *text = malloc(length), *out = malloc(capacity), *reference = malloc(capacity);
    const char *line = "1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] \"GET /index.html HTTP/1.1\" 200 4447\n";
    for (size_t i = 0; i < length; i++) text[i] = i % 97 < 70 ? (uint8_t)line[i % strlen(line)] : (uint8_t)next_random();
    unsigned compressedLength = (unsigned)(length * 2);
    uint8_t *compressed = malloc(compressedLength), *damaged = malloc(compressedLength);
    if (BZ2_bzBuffToBuffCompress((char *)compressed, &compressedLength, (char *)text, length, 1, 0, 0) != BZ_OK) return 1;
    CBZip2Fast_Decoder *decoder = CBZip2Fast_create();
    if (decode_stream(decoder, compressed, compressedLength, out, capacity) != (long)length || memcmp(out, text, length)) {
        fprintf(stderr, "the undamaged stream does not decode to its text\n");
        return 1;
    }
    int accepted = 0, rejected = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(damaged, compressed, compressedLength);
        size_t size = compressedLength;
        switch (next_random() % 4) {
        case 0:  // flip 1-4 bits after the header
            for (int k = 0, flips = 1 + (int)(next_random() % 4); k < flips; k++) {
                uint64_t bit = 32 + next_random() % ((uint64_t)compressedLength * 8 - 32);
                damaged[bit >> 3] ^= (uint8_t)(1 << (bit & 7));
            }
            break;
        case 1:  // truncate
            size = 4 + next_random() % (compressedLength - 4);
            break;
        case 2: {  // overwrite 1-64 bytes
            size_t at = 4 + next_random() % (compressedLength - 4), count = 1 + next_random() % 64;
            for (size_t i = at; i < at + count && i < compressedLength; i++) damaged[i] = (uint8_t)next_random();
            break;
        }
        default:  // random bytes after a valid header and block magic
            size = 10 + next_random() % 5000;
            for (size_t i = 10; i < size; i++) damaged[i] = (uint8_t)next_random();
            break;
        }
        long got = decode_stream(decoder, damaged, size, out, capacity);
        if (got < 0) {
            rejected++;
            continue;
        }
        accepted++;
        unsigned referenceLength = (unsigned)capacity;
        int result = BZ2_bzBuffToBuffDecompress((char *)reference, &referenceLength, (char *)damaged, (unsigned)size, 0, 0);
        if (result != BZ_OK || (long)referenceLength != got || memcmp(reference, out, (size_t)got)) {
            fprintf(stderr, "trial %d: the decoder accepted a copy that libbz2 decodes differently (%d)\n", trial, result);
            return 1;
        }
    }
    printf("bzip2 decoder fuzz: 3000 damaged copies, %d rejected, %d accepted and equal to libbz2\n", rejected, accepted);
    CBZip2Fast_destroy(decoder);
    free(text); free(out); free(reference); free(compressed); free(damaged);
    return 0;
}
