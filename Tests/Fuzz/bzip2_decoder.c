// Robustness check of Sluice's bzip2 block decoder (CShims/CBZip2/fast_*.c), built with AddressSanitizer and
// UndefinedBehaviorSanitizer by `make fuzz`. A log-like input is compressed with libbz2, then damaged thousands
// of ways (bit flips, overwritten bytes, truncation, random bytes after a valid header); every damaged copy is
// decoded block by block, chaining each block's end, with the output drained in random piece sizes. The decoder
// must never read or write out of bounds; it must accept exactly the copies libbz2 accepts, with the same bytes;
// and where it decodes a damaged block to its end and then fails the CRC, it must have written the bytes libbz2
// writes before reporting the error. Exits 1 on the first disagreement; the sanitizers abort on any memory error.
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

/// The outcome of decoding one stream: CBZip2Fast_ok, the decoder's error code, or one of these.
enum { layoutError = 100, streamCRCMismatch = 101 };

/// Decodes the one stream in data[0..<size] block by block into out, checking the combined CRC after the
/// end-of-stream magic. Returns an outcome; *written gets the bytes written, those of a block that fails its
/// CRC included (libbz2 hands them out too before it reports the error).
static int decode_stream(CBZip2Fast_Decoder *decoder, const uint8_t *data, size_t size, uint8_t *out, size_t capacity,
                         size_t *written) {
    *written = 0;
    if (size < 4 || data[3] < '1' || data[3] > '9') return layoutError;
    int level = data[3] - '0';
    uint64_t bit = 32;
    uint32_t combined = 0;
    for (int block = 0; block < 10000; block++) {
        if (bit + 80 > (uint64_t)size * 8) return layoutError;
        if (read48(data, bit) == 0x177245385090ull) {
            uint32_t stored = (uint32_t)(read48(data, bit + 48) >> 16);
            return stored == combined ? CBZip2Fast_ok : streamCRCMismatch;
        }
        uint64_t end;
        uint32_t crc;
        int rc = CBZip2Fast_decodeBlock(decoder, data, size, bit, level, &end, &crc);
        if (rc != CBZip2Fast_ok) return rc;
        size_t got = 0, piece_written;
        do {
            size_t piece = 1 + next_random() % 70000;
            if (*written + got + piece > capacity) return layoutError;
            rc = CBZip2Fast_output(decoder, out + *written + got, piece, &piece_written);
            if (piece_written > piece) {
                fprintf(stderr, "block %d: output wrote %zu bytes into %zu\n", block, piece_written, piece);
                exit(1);
            }
            got += piece_written;
        } while (rc == CBZip2Fast_outputFull);
        *written += got;
        if (rc != CBZip2Fast_ok) return rc;
        combined = (combined << 1 | combined >> 31) ^ crc;
        bit = end;
    }
    return layoutError;
}

/// libbz2's streaming decoder over data[0..<size]: its last result and, in *written, the bytes it wrote.
static int reference_decode(const uint8_t *data, size_t size, uint8_t *out, size_t capacity, size_t *written) {
    bz_stream stream;
    memset(&stream, 0, sizeof stream);
    if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) return BZ_MEM_ERROR;
    stream.next_in = (char *)data;
    stream.avail_in = (unsigned)size;
    stream.next_out = (char *)out;
    stream.avail_out = (unsigned)capacity;
    int rc;
    do {
        rc = BZ2_bzDecompress(&stream);
    } while (rc == BZ_OK && stream.avail_in > 0 && stream.avail_out > 0);
    *written = capacity - stream.avail_out;
    BZ2_bzDecompressEnd(&stream);
    return rc;
}

/// Log lines with some random bytes (level 1), with runs of every length around the run-length thresholds
/// (level 9), and both mixed (level 5): the three streams the trials damage.
static size_t make_text(int kind, uint8_t *text, size_t length) {
    const char *line = "1.2.3.4 - - [24/Feb/2008:00:08:59 -0600] \"GET /index.html HTTP/1.1\" 200 4447\n";
    size_t n = 0;
    while (n < length) {
        if (kind != 0 && next_random() % 3 == 0) {
            size_t run = 1 + next_random() % 300;
            uint8_t byte = (uint8_t)next_random();
            for (size_t i = 0; i < run && n < length; i++) text[n++] = byte;
        } else if (kind != 1) {
            for (size_t i = 0; line[i] && n < length; i++) text[n++] = next_random() % 30 ? (uint8_t)line[i] : (uint8_t)next_random();
        } else {
            text[n++] = (uint8_t)next_random();
        }
    }
    return n;
}

int main(void) {
    const size_t length = 400000, capacity = 64u << 20;
    const int levels[3] = {1, 9, 5};
    uint8_t *text = malloc(length), *out = malloc(capacity), *reference = malloc(capacity);
    uint8_t *compressed[3], *damaged = malloc(length * 2);
    unsigned compressedLength[3];
    CBZip2Fast_Decoder *decoder = CBZip2Fast_create();
    for (int kind = 0; kind < 3; kind++) {
        make_text(kind, text, length);
        compressedLength[kind] = (unsigned)(length * 2);
        compressed[kind] = malloc(length * 2);
        if (BZ2_bzBuffToBuffCompress((char *)compressed[kind], &compressedLength[kind], (char *)text, length, levels[kind], 0, 0)
            != BZ_OK) return 1;
        size_t written;
        if (decode_stream(decoder, compressed[kind], compressedLength[kind], out, capacity, &written) != CBZip2Fast_ok
            || written != length || memcmp(out, text, length)) {
            fprintf(stderr, "the undamaged stream %d does not decode to its text\n", kind);
            return 1;
        }
    }
    int accepted = 0, rejected = 0, compared = 0;
    for (int trial = 0; trial < 3000; trial++) {
        int kind = (int)(next_random() % 3);
        size_t size = compressedLength[kind];
        memcpy(damaged, compressed[kind], size);
        switch (next_random() % 4) {
        case 0:  // flip 1-4 bits after the header
            for (int k = 0, flips = 1 + (int)(next_random() % 4); k < flips; k++) {
                uint64_t bit = 32 + next_random() % ((uint64_t)size * 8 - 32);
                damaged[bit >> 3] ^= (uint8_t)(1 << (bit & 7));
            }
            break;
        case 1:  // truncate
            size = 4 + next_random() % (size - 4);
            break;
        case 2: {  // overwrite 1-64 bytes
            size_t at = 4 + next_random() % (size - 4), count = 1 + next_random() % 64;
            for (size_t i = at; i < at + count && i < size; i++) damaged[i] = (uint8_t)next_random();
            break;
        }
        default:  // random bytes after a valid header and block magic
            size = 10 + next_random() % 5000;
            for (size_t i = 10; i < size; i++) damaged[i] = (uint8_t)next_random();
            break;
        }
        size_t got, expected;
        int outcome = decode_stream(decoder, damaged, size, out, capacity, &got);
        int result = reference_decode(damaged, size, reference, capacity, &expected);
        if (outcome == CBZip2Fast_ok) {
            accepted++;
            if (result != BZ_STREAM_END || expected != got || memcmp(reference, out, got)) {
                fprintf(stderr, "trial %d: the decoder accepted a copy that libbz2 decodes differently (%d)\n", trial, result);
                return 1;
            }
        } else {
            rejected++;
            if (result == BZ_STREAM_END) {
                fprintf(stderr, "trial %d: the decoder rejected (%d) a copy that libbz2 accepts\n", trial, outcome);
                return 1;
            }
        }
        // Where the decoder got through a damaged block to its end (its CRC or the stream's then fails), libbz2
        // wrote the same bytes before it reported the error. (For a run without its count libbz2 has written them
        // but returns without counting them, so only the bytes are compared.)
        if (outcome == CBZip2Fast_crcMismatch || outcome == streamCRCMismatch || outcome == CBZip2Fast_runWithoutCount) {
            compared++;
            if (outcome == CBZip2Fast_runWithoutCount && result == BZ_DATA_ERROR) expected = got;
            if (result != BZ_DATA_ERROR || expected != got || memcmp(reference, out, got)) {
                fprintf(stderr, "trial %d: %zu bytes before the error (%d), libbz2 wrote %zu (%d)\n", trial, got, outcome,
                        expected, result);
                return 1;
            }
        }
    }
    printf("bzip2 decoder fuzz: 3000 damaged copies at levels 1, 5 and 9: %d rejected (libbz2 rejects them too), %d accepted "
           "and equal to libbz2, %d decoded to a failing CRC with the same bytes as libbz2\n", rejected, accepted, compared);
    CBZip2Fast_destroy(decoder);
    for (int kind = 0; kind < 3; kind++) free(compressed[kind]);
    free(text); free(out); free(reference); free(damaged);
    return 0;
}
