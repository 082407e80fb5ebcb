// Depthwise 3×3, stride 1, undilated convolution (mini-Xception's separable convolutions), compiled
// per instruction set and called by fervid_conv_depthwise (direct.c) for those shapes. Each plane
// is first copied into a zero-padded scratch plane, so every output row is a run of unconditional
// vector multiply-adds: 9 taps accumulated in registers, 16 (AVX-512) or 8 (AVX2) columns at a
// time, the row's tail masked. The portable body re-reads and re-writes the output row for every
// tap and leaves rows of 4–15 columns (mini-Xception's last modules: 15×15, 8×8, 4×4 planes) to
// scalar remainder loops.
#include "fervid_direct.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

/// Floats of the padded plane: (h + 2) rows of w + 2 + 16 (slack for the last vector's loads).
#define PADDED_STRIDE(w) ((w) + 2 + 16)

static inline void pad_plane(const float *src, int h, int w, int pad_top, int pad_left, int oh, int ow, float *dst) {
    // Row r of dst holds input row r − pad_top, column c input column c − pad_left; zero outside.
    const int rows = oh + 2, ps = PADDED_STRIDE(ow);
    for (int r = 0; r < rows; r++) {
        float *d = dst + (long)r * ps;
        const int ih = r - pad_top;
        if (ih < 0 || ih >= h) {
            memset(d, 0, sizeof(float) * (size_t)ps);
            continue;
        }
        int lo = pad_left < ps ? pad_left : ps, hi = pad_left + w < ps ? pad_left + w : ps;
        if (lo < 0) lo = 0;
        if (hi < lo) hi = lo;
        memset(d, 0, sizeof(float) * (size_t)lo);
        memcpy(d + lo, src + (long)ih * w + (lo - pad_left), sizeof(float) * (size_t)(hi - lo));
        memset(d + hi, 0, sizeof(float) * (size_t)(ps - hi));
    }
}

__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw")))
int fervid_depthwise3x3_avx512(const float *x, long first_plane, long planes, int channels, int h, int w,
                               const float *weight, const float *bias, int pad_top, int pad_left, float *y, int oh,
                               int ow, int relu) {
    const int ps = PADDED_STRIDE(ow);
    if ((long)(oh + 2) * ps > 16384) return 0;
    float padded[16384] __attribute__((aligned(64)));
    const __m512 zero = _mm512_setzero_ps();
    for (long p = 0; p < planes; p++) {
        const int ch = (int)((first_plane + p) % channels);
        pad_plane(x + p * h * w, h, w, pad_top, pad_left, oh, ow, padded);
        const float *f = weight + (long)ch * 9;
        __m512 k[9];
        for (int t = 0; t < 9; t++) k[t] = _mm512_set1_ps(f[t]);
        const __m512 b = _mm512_set1_ps(bias ? bias[ch] : 0);
        float *dst = y + p * oh * ow;
        for (int o = 0; o < oh; o++) {
            const float *r0 = padded + (long)o * ps, *r1 = r0 + ps, *r2 = r1 + ps;
            for (int j = 0; j < ow; j += 16) {
                const int left = ow - j;
                const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
                __m512 a = b;
                a = _mm512_fmadd_ps(k[0], _mm512_loadu_ps(r0 + j), a);
                a = _mm512_fmadd_ps(k[1], _mm512_loadu_ps(r0 + j + 1), a);
                a = _mm512_fmadd_ps(k[2], _mm512_loadu_ps(r0 + j + 2), a);
                a = _mm512_fmadd_ps(k[3], _mm512_loadu_ps(r1 + j), a);
                a = _mm512_fmadd_ps(k[4], _mm512_loadu_ps(r1 + j + 1), a);
                a = _mm512_fmadd_ps(k[5], _mm512_loadu_ps(r1 + j + 2), a);
                a = _mm512_fmadd_ps(k[6], _mm512_loadu_ps(r2 + j), a);
                a = _mm512_fmadd_ps(k[7], _mm512_loadu_ps(r2 + j + 1), a);
                a = _mm512_fmadd_ps(k[8], _mm512_loadu_ps(r2 + j + 2), a);
                if (relu) a = _mm512_max_ps(a, zero);
                _mm512_mask_storeu_ps(dst + (long)o * ow + j, m, a);
            }
        }
    }
    return 1;
}

__attribute__((target("avx2,fma")))
int fervid_depthwise3x3_avx2(const float *x, long first_plane, long planes, int channels, int h, int w,
                             const float *weight, const float *bias, int pad_top, int pad_left, float *y, int oh,
                             int ow, int relu) {
    const int ps = PADDED_STRIDE(ow);
    if ((long)(oh + 2) * ps > 16384) return 0;
    float padded[16384] __attribute__((aligned(32)));
    const __m256 zero = _mm256_setzero_ps();
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (long p = 0; p < planes; p++) {
        const int ch = (int)((first_plane + p) % channels);
        pad_plane(x + p * h * w, h, w, pad_top, pad_left, oh, ow, padded);
        const float *f = weight + (long)ch * 9;
        __m256 k[9];
        for (int t = 0; t < 9; t++) k[t] = _mm256_set1_ps(f[t]);
        const __m256 b = _mm256_set1_ps(bias ? bias[ch] : 0);
        float *dst = y + p * oh * ow;
        for (int o = 0; o < oh; o++) {
            const float *r0 = padded + (long)o * ps, *r1 = r0 + ps, *r2 = r1 + ps;
            for (int j = 0; j < ow; j += 8) {
                __m256 a = b;
                a = _mm256_fmadd_ps(k[0], _mm256_loadu_ps(r0 + j), a);
                a = _mm256_fmadd_ps(k[1], _mm256_loadu_ps(r0 + j + 1), a);
                a = _mm256_fmadd_ps(k[2], _mm256_loadu_ps(r0 + j + 2), a);
                a = _mm256_fmadd_ps(k[3], _mm256_loadu_ps(r1 + j), a);
                a = _mm256_fmadd_ps(k[4], _mm256_loadu_ps(r1 + j + 1), a);
                a = _mm256_fmadd_ps(k[5], _mm256_loadu_ps(r1 + j + 2), a);
                a = _mm256_fmadd_ps(k[6], _mm256_loadu_ps(r2 + j), a);
                a = _mm256_fmadd_ps(k[7], _mm256_loadu_ps(r2 + j + 1), a);
                a = _mm256_fmadd_ps(k[8], _mm256_loadu_ps(r2 + j + 2), a);
                if (relu) a = _mm256_max_ps(a, zero);
                float *out = dst + (long)o * ow + j;
                if (ow - j >= 8) {
                    _mm256_storeu_ps(out, a);
                } else {
                    _mm256_maskstore_ps(out, _mm256_cmpgt_epi32(_mm256_set1_epi32(ow - j), lane), a);
                }
            }
        }
    }
    return 1;
}
#endif
