// The usual access-log line, checked and summed many lines at a time with AVX2 where the CPU has it.
//
// It accepts a line only when its shape is the plain one; everything else is left to the Swift scanner, which
// decides it exactly (AccessLogScanner.swift). A line is taken here when, in the 128 bytes from its start:
// - the first ten bytes at or below 0x20 or at or above 0x80 (a byte that is not ASCII ends the fast path, not a
//   field) are p0 < ... < p9: the first nine of them spaces and p9 whitespace (tab, LF, VT, FF, CR or space:
//   PCRE2's \s in byte mode), so they are also the first ten whitespace bytes; no two of them adjacent, and the
//   line not starting with one;
// - p2 is followed by '[', p4 is `] "` with no separator after the quote, p7 closes proto with a quote that is
//   not the byte right after p6, and p3 (the space inside the datetime) is not a `] "` itself;
// - status (p7, p8) is exactly 3 digits and bytes (p8, p9) is '-' or 1 to 8 digits.
// Such a line matches the tutorial's pattern with exactly these fields, as quickFields in the Swift scanner
// finds them; the bounds on the digits keep every sum of one call far inside 64 bits.
#include "CByteScan.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <string.h>

typedef unsigned __int128 u128;

#define TARGET __attribute__((target("avx2,bmi,popcnt")))
// Every step is inlined into the run: a step called out of line keeps its results in memory, which costs the
// loop about a third of its speed.
#define STEP TARGET __attribute__((always_inline)) static inline

/// Bit i of *spaces is set when p[i] is a space, and of *low when p[i] <= 0x20 or p[i] >= 0x80 (every whitespace
/// byte, the other control bytes and the bytes that are not ASCII, which the checks below then refuse wherever
/// they matter), for the 128 bytes at p. One signed comparison finds both kinds of byte below a space.
STEP void classify128(const uint8_t *p, uint64_t spaces[2], uint64_t low[2]) {
    uint32_t s[4], l[4];
    for (int k = 0; k < 4; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * k));
        __m256i space = _mm256_set1_epi8(' ');
        s[k] = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, space));
        l[k] = (uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(space, v));
    }
    spaces[0] = s[0] | (uint64_t)s[1] << 32;
    spaces[1] = s[2] | (uint64_t)s[3] << 32;
    low[0] = l[0] | (uint64_t)l[1] << 32 | spaces[0];
    low[1] = l[2] | (uint64_t)l[3] << 32 | spaces[1];
}

/// The separator positions a line's checks need: p2, p3, p4, p6, p7, p8 and p9 (the first ten bits of `low` are
/// p0...p9).
typedef struct {
    long p2, p3, p4, p6, p7, p8, p9;
} Separators;

/// The usual case, in 64-bit words: p0...p4 within the first 64 bytes and p5...p9 within the 64 bytes after p4.
/// Checks that p0...p8 are spaces, that the line does not start with one, that no two of p0...p9 are adjacent
/// and that the byte two after p4 is no separator. Returns 1 with the positions, 0 when the line is not
/// usual, and -1 when the separators lie further apart than these words reach.
STEP int separators_near(uint64_t spaces[2], uint64_t low[2], Separators *at) {
    uint64_t w = low[0];
    w = _blsr_u64(w);
    w = _blsr_u64(w);
    at->p2 = (long)_tzcnt_u64(w);
    w = _blsr_u64(w);
    at->p3 = (long)_tzcnt_u64(w);
    w = _blsr_u64(w);
    long p4 = (long)_tzcnt_u64(w);
    if (p4 > 62) return -1;
    uint64_t first5 = low[0] & ~_blsr_u64(w);
    // The separators from p4 + 1 on, in one word.
    unsigned shift = (unsigned)p4 + 1;
    uint64_t h = low[0] >> shift | low[1] << (64 - shift);
    uint64_t hs = spaces[0] >> shift | spaces[1] << (64 - shift);
    uint64_t g = h;
    long q6 = (long)_tzcnt_u64(g = _blsr_u64(g));
    long q7 = (long)_tzcnt_u64(g = _blsr_u64(g));
    long q8 = (long)_tzcnt_u64(g = _blsr_u64(g));
    g = _blsr_u64(g);
    if (g == 0) return -1;
    long q9 = (long)_tzcnt_u64(g);
    uint64_t next4 = h & ~g;
    uint64_t wrong = (first5 & ~spaces[0]) | (low[0] & (low[0] >> 1) & first5) | (low[0] & 1) |
                     (next4 & ~hs) | (h & (h >> 1) & next4) | (h & 3);
    at->p4 = p4;
    at->p6 = p4 + 1 + q6;
    at->p7 = p4 + 1 + q7;
    at->p8 = p4 + 1 + q8;
    at->p9 = p4 + 1 + q9;
    return wrong == 0;
}

/// The index of the one set bit of `bit`, without a branch on which half holds it.
STEP long bit_index(u128 bit) {
    u128 below = bit - 1;
    return __builtin_popcountll((uint64_t)below) + __builtin_popcountll((uint64_t)(below >> 64));
}

/// `separators_near` for separators anywhere in the 128 bytes, on 128-bit masks. Returns 1 or 0.
STEP int separators_far(uint64_t spaces[2], uint64_t low[2], Separators *at) {
    u128 all = (u128)low[0] | (u128)low[1] << 64;
    u128 space = (u128)spaces[0] | (u128)spaces[1] << 64;
    // bit[k] is the bit of pK; `rest` ends up holding the separators after p9.
    u128 bit[10], rest = all;
    for (int k = 0; k < 10; k++) {
        bit[k] = rest & -rest;
        rest &= rest - 1;
    }
    u128 first9 = all & ~(rest | bit[9]);
    u128 wrong = (first9 & ~space) | (all & (all >> 1) & first9) | (all & 1) | ((bit[4] << 2) & all);
    if (wrong != 0 || bit[9] == 0) return 0;
    at->p2 = bit_index(bit[2]);
    at->p3 = bit_index(bit[3]);
    at->p4 = bit_index(bit[4]);
    at->p6 = bit_index(bit[6]);
    at->p7 = bit_index(bit[7]);
    at->p8 = bit_index(bit[8]);
    at->p9 = bit_index(bit[9]);
    return 1;
}

/// Whether status (between p7 and p8) is exactly 3 digits and bytes (between p8 and p9) is '-' or 1 to 8 digits;
/// if so, *size is the bytes value ('-' reads as 0). Both fields lie in the 16 bytes before p9, which are
/// within the line (p9 is 23 or more bytes in), and are checked and converted in one SSE register.
STEP int numbers(const uint8_t *p, const Separators *at, int64_t *size) {
    long digits = at->p9 - at->p8 - 1;  // 1 or more: separators are never adjacent here
    if (at->p8 - at->p7 != 4 || digits > 8) return 0;
    __m128i v = _mm_loadu_si128((const __m128i *)(p + at->p9 - 16));
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    unsigned isDigit = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d));
    int dash = digits == 1 && p[at->p9 - 1] == '-';
    // Bits 16 - digits to 15 hold bytes, and the three below the space before them hold status.
    unsigned want = 7u << (12 - digits) | (dash ? 0u : (0xFFFFu << (16 - digits) & 0xFFFFu));
    if ((isDigit & want) != want) return 0;
    // The digits of bytes alone, right-aligned in the upper eight lanes, summed pairwise into one number.
    __m128i lane = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m128i kept = _mm_and_si128(d, _mm_cmpgt_epi8(lane, _mm_set1_epi8((char)(15 - digits))));
    __m128i twos = _mm_maddubs_epi16(kept, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
    __m128i fours = _mm_madd_epi16(twos, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    __m128i eights = _mm_madd_epi16(_mm_packus_epi32(fours, fours),
                                    _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
    *size = dash ? 0 : (int64_t)(uint32_t)_mm_extract_epi32(eights, 1);
    return 1;
}

/// The three status digits after p7, as a number (numbers() has checked them).
STEP int64_t status_value(const uint8_t *p, long p7) {
    return (p[p7 + 1] - '0') * 100 + (p[p7 + 2] - '0') * 10 + (p[p7 + 3] - '0');
}

/// The run itself; `with_status` is a constant in each caller, so that a run without it skips the conversion.
STEP long access_run_avx2(const uint8_t *base, long start, long end, const bool with_status, CByteScanRun *run) {
    long position = start;
    // 2^36 bytes hold at most 2^36 / 23 lines of values below 10^8: the sums stay below 2^63.
    long stop = end - start > (1L << 36) ? start + (1L << 36) : end;
    uint64_t lines = 0;
    int64_t bytes = 0, status = 0;
    while (position + 128 <= stop) {
        const uint8_t *p = base + position;
        uint64_t spaces[2], low[2];
        classify128(p, spaces, low);
        Separators at;
        int usual = separators_near(spaces, low, &at);
        if (usual < 0) usual = separators_far(spaces, low, &at);
        if (!usual) break;
        // `[` opens the datetime, `] "` ends it (and p3, the space inside it, is not one), `" ` ends proto
        // with at least one byte before its quote, and bytes ends at whitespace.
        uint32_t around;
        memcpy(&around, p + at.p4 - 1, 4);
        unsigned shape = (p[at.p2 + 1] ^ '[') | ((around & 0xFFFFFF) ^ 0x22205D) | (p[at.p7 - 1] ^ '"');
        uint8_t last = p[at.p9];
        if (shape != 0 || at.p7 - at.p6 < 3 || (p[at.p3 - 1] == ']' && p[at.p3 + 1] == '"') ||
            !(last == ' ' || (uint8_t)(last - 9) < 5))
            break;
        int64_t size;
        if (!numbers(p, &at, &size)) break;
        lines += 1;
        bytes += size;
        if (with_status) status += status_value(p, at.p7);
        if (last == '\n') {
            position += at.p9 + 1;
        } else {
            const uint8_t *newline = memchr(p + at.p9, '\n', (size_t)(end - position - at.p9));
            position = newline ? newline - base + 1 : end + 1;
        }
    }
    run->lines = lines;
    run->bytes = bytes;
    run->status = status;
    return position;
}

TARGET static long access_run_with_status(const uint8_t *base, long start, long end, CByteScanRun *run) {
    return access_run_avx2(base, start, end, true, run);
}

TARGET static long access_run_without_status(const uint8_t *base, long start, long end, CByteScanRun *run) {
    return access_run_avx2(base, start, end, false, run);
}

bool CByteScan_access_run_available(void) {
    static int available = -1;  // -1 until asked
    int known = __atomic_load_n(&available, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("popcnt");
        __atomic_store_n(&available, known, __ATOMIC_RELAXED);
    }
    return known;
}

long CByteScan_access_run(const uint8_t *base, long start, long end, bool with_status, CByteScanRun *run) {
    if (CByteScan_access_run_available())
        return with_status ? access_run_with_status(base, start, end, run)
                           : access_run_without_status(base, start, end, run);
    run->lines = 0;
    run->bytes = 0;
    run->status = 0;
    return start;
}
#else
bool CByteScan_access_run_available(void) { return false; }

long CByteScan_access_run(const uint8_t *base, long start, long end, bool with_status, CByteScanRun *run) {
    (void)base;
    (void)with_status;
    (void)end;
    run->lines = 0;
    run->bytes = 0;
    run->status = 0;
    return start;
}
#endif
