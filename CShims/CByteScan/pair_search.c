// The search for a literal's first and last bytes at their distance, 64 bytes at a time, counting newlines on the
// way: the loop behind LiteralPrefix.next. AVX2 where the CPU has it; SSE2 (baseline on x86-64) or plain C
// otherwise.
#include "CByteScan.h"

long CByteScan_pair_search_baseline(const uint8_t *base, long from, long limit, uint8_t first, uint8_t last,
                                    long distance, uint64_t *mask, uint64_t *lines, long *newlines) {
    long index = from, count = 0;
    while (index + 64 + distance <= limit) {
        uint64_t blockLines;
        uint64_t found = CByteScan_pair_newlines64(base + index, first, last, distance, &blockLines);
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

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,popcnt")))

/// Bit i is set when p[i] == first and p[i + distance] == last, for the 64 bytes at p; *lines gets the `\n`
/// bytes among them.
TARGET static inline uint64_t pair_block_avx2(const uint8_t *p, __m256i first, __m256i last, long distance,
                                              uint64_t *lines) {
    const __m256i newline = _mm256_set1_epi8('\n');
    __m256i head0 = _mm256_loadu_si256((const __m256i *)p);
    __m256i head1 = _mm256_loadu_si256((const __m256i *)(p + 32));
    __m256i tail0 = _mm256_loadu_si256((const __m256i *)(p + distance));
    __m256i tail1 = _mm256_loadu_si256((const __m256i *)(p + distance + 32));
    uint32_t found0 = (uint32_t)_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(head0, first), _mm256_cmpeq_epi8(tail0, last)));
    uint32_t found1 = (uint32_t)_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(head1, first), _mm256_cmpeq_epi8(tail1, last)));
    *lines = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(head0, newline)) |
             (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(head1, newline)) << 32;
    return found0 | (uint64_t)found1 << 32;
}

TARGET static long pair_search_avx2(const uint8_t *base, long from, long limit, uint8_t first, uint8_t last,
                                    long distance, uint64_t *mask, uint64_t *lines, long *newlines) {
    const __m256i a = _mm256_set1_epi8((char)first);
    const __m256i b = _mm256_set1_epi8((char)last);
    long index = from, count = 0;
    while (index + 64 + distance <= limit) {
        uint64_t blockLines;
        uint64_t found = pair_block_avx2(base + index, a, b, distance, &blockLines);
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
