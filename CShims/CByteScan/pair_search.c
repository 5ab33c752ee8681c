// The search for a literal's first and last bytes at their distance, 64 bytes at a time, counting newlines on the
// way: the loop behind LiteralPrefix.next. AVX2 where the CPU has it; SSE2 (baseline on x86-64) or plain C
// otherwise.
#include "CByteScan.h"

/// One 64-byte block's candidates, with its `\n` bytes in *lines (the shape of `CByteScan_pair_newlines64`).
typedef uint64_t (*PairBlock)(const uint8_t *p, uint8_t first, uint8_t last, long distance, uint64_t *lines);

/// The search itself, over blocks that `block` reads; inlined into each caller with its own `block`.
__attribute__((always_inline)) static inline long pair_search(PairBlock block, const uint8_t *base, long from,
                                                              long limit, uint8_t first, uint8_t last, long distance,
                                                              uint64_t *mask, uint64_t *lines, long *newlines) {
    long index = from, count = 0;
    while (index + 64 + distance <= limit) {
        uint64_t blockLines;
        uint64_t found = block(base + index, first, last, distance, &blockLines);
        if (found != 0) {
            *mask = found;
            *lines = blockLines;
            *newlines += count;
            return index;
        }
        count += __builtin_popcountll(blockLines);
        index += 64;
    }
    *mask = 0;
    *lines = 0;
    *newlines += count;
    return index;
}

long CByteScan_pair_search_baseline(const uint8_t *base, long from, long limit, uint8_t first, uint8_t last,
                                    long distance, uint64_t *mask, uint64_t *lines, long *newlines) {
    return pair_search(CByteScan_pair_newlines64, base, from, limit, first, last, distance, mask, lines, newlines);
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,popcnt")))

/// `CByteScan_pair_newlines64` in two 32-byte vectors.
TARGET static inline uint64_t pair_block_avx2(const uint8_t *p, uint8_t first, uint8_t last, long distance,
                                              uint64_t *lines) {
    const __m256i a = _mm256_set1_epi8((char)first), b = _mm256_set1_epi8((char)last);
    const __m256i newline = _mm256_set1_epi8('\n');
    __m256i head0 = _mm256_loadu_si256((const __m256i *)p);
    __m256i head1 = _mm256_loadu_si256((const __m256i *)(p + 32));
    __m256i tail0 = _mm256_loadu_si256((const __m256i *)(p + distance));
    __m256i tail1 = _mm256_loadu_si256((const __m256i *)(p + distance + 32));
    uint32_t found0 = (uint32_t)_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(head0, a), _mm256_cmpeq_epi8(tail0, b)));
    uint32_t found1 = (uint32_t)_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(head1, a), _mm256_cmpeq_epi8(tail1, b)));
    *lines = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(head0, newline)) |
             (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(head1, newline)) << 32;
    return found0 | (uint64_t)found1 << 32;
}

TARGET static long pair_search_avx2(const uint8_t *base, long from, long limit, uint8_t first, uint8_t last,
                                    long distance, uint64_t *mask, uint64_t *lines, long *newlines) {
    return pair_search(pair_block_avx2, base, from, limit, first, last, distance, mask, lines, newlines);
}

long CByteScan_pair_search(const uint8_t *base, long from, long limit, uint8_t first, uint8_t last, long distance,
                           uint64_t *mask, uint64_t *lines, long *newlines) {
    static int available = -1;  // -1 until asked
    int known = __atomic_load_n(&available, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
        __atomic_store_n(&available, known, __ATOMIC_RELAXED);
    }
    if (known) return pair_search_avx2(base, from, limit, first, last, distance, mask, lines, newlines);
    return CByteScan_pair_search_baseline(base, from, limit, first, last, distance, mask, lines, newlines);
}
#else
long CByteScan_pair_search(const uint8_t *base, long from, long limit, uint8_t first, uint8_t last, long distance,
                           uint64_t *mask, uint64_t *lines, long *newlines) {
    return CByteScan_pair_search_baseline(base, from, limit, first, last, distance, mask, lines, newlines);
}
#endif
