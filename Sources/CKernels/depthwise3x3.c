// Depthwise 3×3, stride 1, undilated convolution (mini-Xception's separable convolutions), compiled
// per instruction set and called by fervid_conv_depthwise (direct.c) for those shapes. Each plane
// is first copied into a zero-padded scratch plane (its zero border written once per call, the
// interior copied with vector loads per plane), so every output row is a run of unconditional
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

/// Zeroes the padded plane (once per call: the border stays zero from plane to plane).
static inline void clear_padded(int oh, int ow, float *dst) {
    memset(dst, 0, sizeof(float) * (size_t)(oh + 2) * (size_t)PADDED_STRIDE(ow));
}

/// Copies the input plane into the padded one's interior: row r of dst holds input row r − pad_top,
/// column c input column c − pad_left (the rest stays as clear_padded left it, zero). Vector
/// copies rather than a memcpy call per row: rows are 4–60 floats.
__attribute__((target("avx2,fma")))
static void fill_padded(const float *src, int h, int w, int pad_top, int pad_left, int oh, int ow, float *dst) {
    const int ps = PADDED_STRIDE(ow);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    // Input rows and columns that land inside the padded plane ((oh + 2) × (ow + 2)).
    int r0 = pad_top < 0 ? -pad_top : 0, r1 = h < oh + 2 - pad_top ? h : oh + 2 - pad_top;
    int c0 = pad_left < 0 ? -pad_left : 0, c1 = w < ow + 2 - pad_left ? w : ow + 2 - pad_left;
    if (c1 <= c0) return;
    const int n = c1 - c0;
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(n % 8), lane);
    for (int ih = r0; ih < r1; ih++) {
        const float *s = src + (long)ih * w + c0;
        float *d = dst + (long)(ih + pad_top) * ps + c0 + pad_left;
        int j = 0;
        for (; j + 8 <= n; j += 8) _mm256_storeu_ps(d + j, _mm256_loadu_ps(s + j));
        if (j < n) _mm256_maskstore_ps(d + j, tail, _mm256_maskload_ps(s + j, tail));
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
    clear_padded(oh, ow, padded);
    for (long p = 0; p < planes; p++) {
        const int ch = (int)((first_plane + p) % channels);
        fill_padded(x + p * h * w, h, w, pad_top, pad_left, oh, ow, padded);
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
    clear_padded(oh, ow, padded);
    for (long p = 0; p < planes; p++) {
        const int ch = (int)((first_plane + p) % channels);
        fill_padded(x + p * h * w, h, w, pad_top, pad_left, oh, ow, padded);
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
