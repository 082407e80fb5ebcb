// Direct convolution, AVX2 + FMA (see fervid_conv_direct_act in include/fervid_direct.h): blocks
// of up to 6 output channels × 16 output columns (up to 12 ymm accumulators) stay in registers
// over every tap; each tap is two unaligned loads of the zero-padded input row and 2·CB
// multiply-adds with CB broadcasts. The block's channel count CB is a compile-time constant (one
// copy per count, no per-channel test in the inner loop), and a layer's output channels are
// split into blocks of near-equal size (8 = 4 + 4, 10 = 5 + 5, 16 = 6 + 5 + 5), so no block is a
// mostly empty tail. The portable body in direct.c (its naive-twin layout) re-reads and
// re-writes a row of accumulators in memory for every tap, which made MTCNN's and
// mini-Xception's first layers half of an analyze run's instructions on an AVX2 CPU (callgrind,
// docs/benchmarks.md).
#include "direct_rows.h"
#include "fervid_direct.h"

#if defined(__x86_64__)
#include <immintrin.h>

/// Every tap of one 16-column step: rows t (input channel × kernel row), kernel columns kj < KW
/// (KW a literal 3 for 3×3 kernels, so the column loop unrolls).
#define DIRECT256_TAPS(CB, KW)                                                                                        \
    do {                                                                                                             \
        for (int t = 0; t < nt; t++) {                                                                               \
            const float *row = rows + (long)t * pw + j0;                                                             \
            const float *w = wt + (long)t * kw;                                                                      \
            for (int kj = 0; kj < (KW); kj++) {                                                                      \
                const __m256 v0 = _mm256_loadu_ps(row + kj), v1 = _mm256_loadu_ps(row + kj + 8);                     \
                for (int c = 0; c < CB; c++) {                                                                       \
                    const __m256 wv = _mm256_broadcast_ss(w + (long)c * taps + kj);                                  \
                    a0[c] = _mm256_fmadd_ps(wv, v0, a0[c]);                                                          \
                    a1[c] = _mm256_fmadd_ps(wv, v1, a1[c]);                                                          \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    } while (0)

/// Output row `o` of CB channels: `wt` at the block's first channel (taps floats per channel),
/// `out` at its first channel's row (channels `plane` floats apart).
#define DIRECT256_BLOCK(CB)                                                                                           \
    __attribute__((target("avx2,fma"))) static void direct256_block##CB(                                             \
        const float *rows, int pw, int nt, int kw, const float *wt, long taps, const float *b, const float *sl,      \
        int relu, float *out, long plane, int ow) {                                                                  \
        const __m256 zero = _mm256_setzero_ps();                                                                     \
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);                                              \
        for (int j0 = 0; j0 < ow; j0 += 16) {                                                                        \
            const int left = ow - j0;                                                                                \
            __m256 a0[CB], a1[CB];                                                                                   \
            for (int c = 0; c < CB; c++) a0[c] = a1[c] = b ? _mm256_set1_ps(b[c]) : zero;                            \
            if (kw == 3) DIRECT256_TAPS(CB, 3);                                                                      \
            else DIRECT256_TAPS(CB, kw);                                                                             \
            const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);                                    \
            const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(left - 8), lane);                                \
            for (int c = 0; c < CB; c++) {                                                                           \
                float *dst = out + (long)c * plane + j0;                                                             \
                __m256 r0 = a0[c], r1 = a1[c];                                                                       \
                if (sl) {                                                                                            \
                    /* max(v, 0) + slope·min(v, 0) = v > 0 ? v : slope·v, exactly. */                                \
                    const __m256 s = _mm256_set1_ps(sl[c]);                                                          \
                    r0 = _mm256_fmadd_ps(s, _mm256_min_ps(r0, zero), _mm256_max_ps(r0, zero));                       \
                    r1 = _mm256_fmadd_ps(s, _mm256_min_ps(r1, zero), _mm256_max_ps(r1, zero));                       \
                } else if (relu) {                                                                                   \
                    r0 = _mm256_max_ps(r0, zero);                                                                    \
                    r1 = _mm256_max_ps(r1, zero);                                                                    \
                }                                                                                                    \
                if (left >= 16) {                                                                                    \
                    _mm256_storeu_ps(dst, r0);                                                                       \
                    _mm256_storeu_ps(dst + 8, r1);                                                                   \
                } else {                                                                                             \
                    _mm256_maskstore_ps(dst, m0, r0);                                                                \
                    _mm256_maskstore_ps(dst + 8, m1, r1);                                                            \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }
DIRECT256_BLOCK(1)
DIRECT256_BLOCK(2)
DIRECT256_BLOCK(3)
DIRECT256_BLOCK(4)
DIRECT256_BLOCK(5)
DIRECT256_BLOCK(6)

__attribute__((target("avx2,fma")))
void fervid_direct_avx2(const float *x, int n, int cin, int h, int w, const float *weight, const float *bias, int cout,
                        int kh, int kw, int pad_top, int pad_left, float *y, int oh, int ow, int relu,
                        const float *slopes, float *scratch, int o0, int o1) {
    const int pw = ow + kw - 1 + 32;
    float *rows = scratch;
    const long taps = (long)cin * kh * kw, plane = (long)oh * ow;
    // Near-equal blocks of at most 6 channels.
    const int blocks = (cout + 5) / 6;
    for (int img = 0; img < n; img++) {
        const float *xi = x + (long)img * cin * h * w;
        for (int o = o0; o < o1; o++) {
            gather_rows(xi, cin, h, w, kh, pad_top, pad_left, o, pw, rows);
            for (int bi = 0; bi < blocks; bi++) {
                const int co0 = (int)((long)cout * bi / blocks), cb = (int)((long)cout * (bi + 1) / blocks) - co0;
                const float *wt = weight + co0 * taps, *b = bias ? bias + co0 : NULL;
                const float *sl = slopes ? slopes + co0 : NULL;
                float *out = y + ((long)img * cout + co0) * plane + (long)o * ow;
                switch (cb) {
                case 6: direct256_block6(rows, pw, cin * kh, kw, wt, taps, b, sl, relu, out, plane, ow); break;
                case 5: direct256_block5(rows, pw, cin * kh, kw, wt, taps, b, sl, relu, out, plane, ow); break;
                case 4: direct256_block4(rows, pw, cin * kh, kw, wt, taps, b, sl, relu, out, plane, ow); break;
                case 3: direct256_block3(rows, pw, cin * kh, kw, wt, taps, b, sl, relu, out, plane, ow); break;
                case 2: direct256_block2(rows, pw, cin * kh, kw, wt, taps, b, sl, relu, out, plane, ow); break;
                default: direct256_block1(rows, pw, cin * kh, kw, wt, taps, b, sl, relu, out, plane, ow); break;
                }
            }
        }
    }
}
#endif
