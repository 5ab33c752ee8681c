// CByteScan: byte-class bitmasks for the record scanner. Swift's SIMD types have no movemask, which turns a
// vector comparison into one bit per byte, so this header provides it with SSE2 (baseline on x86-64) and a
// portable fallback elsewhere. The functions are static inline so Swift inlines them into its hot loops.
#ifndef CBYTESCAN_H
#define CBYTESCAN_H
#include <stdbool.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Bit i of the result is set when p[i] is a whitespace byte as PCRE2's \s sees it in byte mode: tab, LF, VT,
/// FF, CR or space. Reads exactly 64 bytes from p, which must all be readable.
static inline uint64_t CByteScan_whitespace64(const uint8_t *p) {
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(' ');
    const __m128i nine = _mm_set1_epi8(9);
    const __m128i four = _mm_set1_epi8(4);
    uint64_t mask = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        __m128i shifted = _mm_sub_epi8(v, nine);                       // 9..13 -> 0..4
        __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(shifted, four), shifted);
        __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(v, space), control);
        mask |= (uint64_t)(uint16_t)_mm_movemask_epi8(hits) << (16 * k);
    }
    return mask;
#else
    uint64_t mask = 0;
    for (int i = 0; i < 64; i++) {
        uint8_t b = p[i];
        if (b == ' ' || (uint8_t)(b - 9) < 5) mask |= (uint64_t)1 << i;
    }
    return mask;
#endif
}

/// Asks the CPU to start loading the cache line holding p, for a read soon; never faults.
static inline void CByteScan_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// Bit i is set when p[i] == byte. Reads exactly 64 bytes from p.
static inline uint64_t CByteScan_equal64(const uint8_t *p, uint8_t byte) {
#if defined(__SSE2__)
    const __m128i needle = _mm_set1_epi8((char)byte);
    uint64_t mask = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        mask |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, needle)) << (16 * k);
    }
    return mask;
#else
    uint64_t mask = 0;
    for (int i = 0; i < 64; i++) if (p[i] == byte) mask |= (uint64_t)1 << i;
    return mask;
#endif
}
/// Bit i is set when p[i] == first and p[i + distance] == last: a two-byte filter for a literal, selective
/// enough that only a few candidates per block need a full comparison. Reads p[0..<64 + distance].
static inline uint64_t CByteScan_pair64(const uint8_t *p, uint8_t first, uint8_t last, long distance) {
#if defined(__SSE2__)
    const __m128i a = _mm_set1_epi8((char)first);
    const __m128i b = _mm_set1_epi8((char)last);
    uint64_t mask = 0;
    for (int k = 0; k < 4; k++) {
        __m128i head = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        __m128i tail = _mm_loadu_si128((const __m128i *)(p + 16 * k + distance));
        __m128i both = _mm_and_si128(_mm_cmpeq_epi8(head, a), _mm_cmpeq_epi8(tail, b));
        mask |= (uint64_t)(uint16_t)_mm_movemask_epi8(both) << (16 * k);
    }
    return mask;
#else
    uint64_t mask = 0;
    for (int i = 0; i < 64; i++) if (p[i] == first && p[i + distance] == last) mask |= (uint64_t)1 << i;
    return mask;
#endif
}
/// `CByteScan_pair64`, also storing in *newlines the mask of `\n` bytes in p[0..<64], so a search can count
/// lines in the same pass.
static inline uint64_t CByteScan_pair_newlines64(const uint8_t *p, uint8_t first, uint8_t last, long distance,
                                                 uint64_t *newlines) {
#if defined(__SSE2__)
    const __m128i a = _mm_set1_epi8((char)first);
    const __m128i b = _mm_set1_epi8((char)last);
    const __m128i nl = _mm_set1_epi8('\n');
    uint64_t mask = 0, lines = 0;
    for (int k = 0; k < 4; k++) {
        __m128i head = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        __m128i tail = _mm_loadu_si128((const __m128i *)(p + 16 * k + distance));
        __m128i both = _mm_and_si128(_mm_cmpeq_epi8(head, a), _mm_cmpeq_epi8(tail, b));
        mask |= (uint64_t)(uint16_t)_mm_movemask_epi8(both) << (16 * k);
        lines |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(head, nl)) << (16 * k);
    }
    *newlines = lines;
    return mask;
#else
    uint64_t lines = 0;
    for (int i = 0; i < 64; i++) if (p[i] == '\n') lines |= (uint64_t)1 << i;
    *newlines = lines;
    return CByteScan_pair64(p, first, last, distance);
#endif
}

/// Scans base[from..<limit] 64 bytes at a time, while a whole block and `distance` bytes after it lie before
/// `limit`, for the first block holding a candidate (a byte `first` with `last` `distance` bytes after it). Returns
/// that block's start, with its candidates in *mask (bit i: base[start + i]) and its `\n` bytes in *lines, and adds
/// to *newlines the `\n` bytes of the blocks before it. Without a candidate, returns the start of the first block
/// it did not scan, sets *mask and *lines to 0 and adds the newlines of every block it scanned. AVX2 where the CPU
/// has it.
long CByteScan_pair_search(const uint8_t *base, long from, long limit, uint8_t first, uint8_t last, long distance,
                           uint64_t *mask, uint64_t *lines, long *newlines);

/// `CByteScan_pair_search` without AVX2, whatever the CPU: the same answers, for tests to compare against.
long CByteScan_pair_search_baseline(const uint8_t *base, long from, long limit, uint8_t first, uint8_t last,
                                    long distance, uint64_t *mask, uint64_t *lines, long *newlines);

/// The lines `CByteScan_access_run` took, and the sums of their status and bytes fields.
typedef struct {
    uint64_t lines;
    int64_t bytes;
    int64_t status;
} CByteScanRun;

/// Whether `CByteScan_access_run` can take lines on this CPU (x86-64 with AVX2 and POPCNT); without it, it takes
/// none.
bool CByteScan_access_run_available(void);

/// Takes the access-log lines of base[start..<end] one after another from `start` (a line start) while each has
/// the usual shape described in access_run.c, which makes it a record of the tutorial's pattern with a status of
/// 3 digits and bytes of at most 8 digits ('-' reads as 0). Stops at the first other line, or where fewer than
/// 128 bytes are left before `end`. Returns where it stopped (the start of the line it did not take; end + 1
/// when the last line taken has no newline before `end`) and stores in *run how many lines it took and the sums
/// of their bytes and, when `with_status` is true, of their status (else 0). Reads only base[start..<end].
long CByteScan_access_run(const uint8_t *base, long start, long end, bool with_status, CByteScanRun *run);
#endif
