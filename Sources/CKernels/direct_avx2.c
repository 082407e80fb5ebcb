// Direct convolution, AVX2 + FMA (see fervid_conv_direct_act in include/fervid_direct.h): blocks
// of 6 output channels × 16 output columns (12 ymm accumulators) stay in registers over every
// tap; each tap is two unaligned loads of the zero-padded input row and 12 multiply-adds with 6
// broadcasts. The portable body in direct.c (its naive-twin layout) re-reads and re-writes a row
// of accumulators in memory for every tap, which made MTCNN's and mini-Xception's first layers
// half of an analyze run's instructions on an AVX2 CPU (callgrind, docs/benchmarks.md).
#include "direct_rows.h"
#include "fervid_direct.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
void fervid_direct_avx2(const float *x, int n, int cin, int h, int w, const float *weight, const float *bias, int cout,
                        int kh, int kw, int pad_top, int pad_left, float *y, int oh, int ow, int relu,
                        const float *slopes, float *scratch) {
    const int pw = ow + kw - 1 + 32;
    float *rows = scratch;
    const int taps = cin * kh * kw;
    const __m256 zero = _mm256_setzero_ps();
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int img = 0; img < n; img++) {
        const float *xi = x + (long)img * cin * h * w;
        for (int o = 0; o < oh; o++) {
            gather_rows(xi, cin, h, w, kh, pad_top, pad_left, o, pw, rows);
            for (int co0 = 0; co0 < cout; co0 += 6) {
                const int cb = cout - co0 < 6 ? cout - co0 : 6;
                for (int j0 = 0; j0 < ow; j0 += 16) {
                    const int left = ow - j0;
                    __m256 a0[6], a1[6];
#pragma clang loop unroll(full)
                    for (int c = 0; c < 6; c++) {
                        a0[c] = c < cb && bias ? _mm256_set1_ps(bias[co0 + c]) : zero;
                        a1[c] = a0[c];
                    }
                    for (int t = 0; t < cin * kh; t++) {
                        const float *row = rows + (long)t * pw + j0;
                        const float *wt = weight + (long)co0 * taps + (long)t * kw;
                        for (int kj = 0; kj < kw; kj++) {
                            const __m256 v0 = _mm256_loadu_ps(row + kj), v1 = _mm256_loadu_ps(row + kj + 8);
#pragma clang loop unroll(full)
                            for (int c = 0; c < 6; c++) {
                                if (c < cb) {
                                    const __m256 wv = _mm256_broadcast_ss(wt + (long)c * taps + kj);
                                    a0[c] = _mm256_fmadd_ps(wv, v0, a0[c]);
                                    a1[c] = _mm256_fmadd_ps(wv, v1, a1[c]);
                                }
                            }
                        }
                    }
                    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
                    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(left - 8), lane);
#pragma clang loop unroll(full)
                    for (int c = 0; c < 6; c++) {
                        if (c < cb) {
                            float *out = y + (((long)img * cout + co0 + c) * oh + o) * ow + j0;
                            __m256 r0 = a0[c], r1 = a1[c];
                            if (slopes) {
                                // max(v, 0) + slope·min(v, 0) = v > 0 ? v : slope·v, exactly.
                                const __m256 s = _mm256_set1_ps(slopes[co0 + c]);
                                r0 = _mm256_fmadd_ps(s, _mm256_min_ps(r0, zero), _mm256_max_ps(r0, zero));
                                r1 = _mm256_fmadd_ps(s, _mm256_min_ps(r1, zero), _mm256_max_ps(r1, zero));
                            } else if (relu) {
                                r0 = _mm256_max_ps(r0, zero);
                                r1 = _mm256_max_ps(r1, zero);
                            }
                            if (left >= 16) {
                                _mm256_storeu_ps(out, r0);
                                _mm256_storeu_ps(out + 8, r1);
                            } else {
                                _mm256_maskstore_ps(out, m0, r0);
                                _mm256_maskstore_ps(out + 8, m1, r1);
                            }
                        }
                    }
                }
            }
        }
    }
}
#endif
