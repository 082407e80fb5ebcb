// 1×1 convolutions read in place, and max pooling fused with a residual add (see
// include/fervid_pointwise.h): mini-Xception's pointwise halves of its separable convolutions, its
// strided shortcuts (subsampled by the caller) and its modules' pool + shortcut. The direct
// kernel (direct.c) ran 1×1 layers as one long row copied into a zero-padded scratch first, with
// a run-time channel count in its inner loop; here the channel block is a compile-time constant
// and the input is read where it lies. Naive twins: naiveConv2d and naiveMaxPool2d (+ add) in
// Sources/CNN/Naive.swift, compared in Tests/CNNTests.
#include "fervid_pointwise.h"

#include <math.h>

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

// MARK: pointwise, portable

ALWAYS_INLINE void pointwise_body(const float *x, long n, int cin, long p, const float *weight, const float *bias,
                                  int cout, float *y, int relu) {
    for (long img = 0; img < n; img++) {
        const float *xi = x + img * cin * p;
        for (int co = 0; co < cout; co++) {
            float *restrict out = y + (img * cout + co) * p;
            const float b = bias ? bias[co] : 0;
            for (long j = 0; j < p; j++) out[j] = b;
            for (int ci = 0; ci < cin; ci++) {
                const float wv = weight[(long)co * cin + ci];
                const float *restrict src = xi + (long)ci * p;
                for (long j = 0; j < p; j++) out[j] += wv * src[j];
            }
            if (relu) {
                for (long j = 0; j < p; j++) out[j] = out[j] > 0 ? out[j] : 0;
            }
        }
    }
}

#define POINTWISE_PARAMS \
    (const float *x, long n, int cin, long p, const float *weight, const float *bias, int cout, float *y, int relu)
#define POINTWISE_ARGS (x, n, cin, p, weight, bias, cout, y, relu)

#if defined(__x86_64__)
#include <immintrin.h>

// MARK: pointwise, AVX2

/// CB (≤ 6) output channels × all columns of one image: 16 columns per step in 2·CB registers.
#define PW256_BLOCK(CB)                                                                                               \
    FERVID_TARGET_AVX2 static void pw256_block##CB(const float *xi, int cin, long p, const float *w, const float *b, \
                                                   float *yo, int relu) {                                            \
        const __m256 zero = _mm256_setzero_ps();                                                                     \
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);                                              \
        for (long j0 = 0; j0 < p; j0 += 16) {                                                                        \
            const long left = p - j0;                                                                                \
            __m256 a0[CB], a1[CB];                                                                                   \
            for (int c = 0; c < CB; c++) a0[c] = a1[c] = b ? _mm256_set1_ps(b[c]) : zero;                            \
            if (left >= 16) {                                                                                        \
                for (int ci = 0; ci < cin; ci++) {                                                                   \
                    const float *src = xi + (long)ci * p + j0;                                                       \
                    const __m256 v0 = _mm256_loadu_ps(src), v1 = _mm256_loadu_ps(src + 8);                           \
                    for (int c = 0; c < CB; c++) {                                                                   \
                        const __m256 wv = _mm256_broadcast_ss(w + (long)c * cin + ci);                               \
                        a0[c] = _mm256_fmadd_ps(wv, v0, a0[c]);                                                      \
                        a1[c] = _mm256_fmadd_ps(wv, v1, a1[c]);                                                      \
                    }                                                                                                \
                }                                                                                                    \
                for (int c = 0; c < CB; c++) {                                                                       \
                    __m256 r0 = a0[c], r1 = a1[c];                                                                   \
                    if (relu) {                                                                                      \
                        r0 = _mm256_max_ps(r0, zero);                                                                \
                        r1 = _mm256_max_ps(r1, zero);                                                                \
                    }                                                                                                \
                    _mm256_storeu_ps(yo + (long)c * p + j0, r0);                                                     \
                    _mm256_storeu_ps(yo + (long)c * p + j0 + 8, r1);                                                 \
                }                                                                                                    \
            } else {                                                                                                 \
                const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)left), lane);                           \
                const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)left - 8), lane);                       \
                for (int ci = 0; ci < cin; ci++) {                                                                   \
                    const float *src = xi + (long)ci * p + j0;                                                       \
                    const __m256 v0 = _mm256_maskload_ps(src, m0), v1 = _mm256_maskload_ps(src + 8, m1);             \
                    for (int c = 0; c < CB; c++) {                                                                   \
                        const __m256 wv = _mm256_broadcast_ss(w + (long)c * cin + ci);                               \
                        a0[c] = _mm256_fmadd_ps(wv, v0, a0[c]);                                                      \
                        a1[c] = _mm256_fmadd_ps(wv, v1, a1[c]);                                                      \
                    }                                                                                                \
                }                                                                                                    \
                for (int c = 0; c < CB; c++) {                                                                       \
                    __m256 r0 = a0[c], r1 = a1[c];                                                                   \
                    if (relu) {                                                                                      \
                        r0 = _mm256_max_ps(r0, zero);                                                                \
                        r1 = _mm256_max_ps(r1, zero);                                                                \
                    }                                                                                                \
                    _mm256_maskstore_ps(yo + (long)c * p + j0, m0, r0);                                              \
                    _mm256_maskstore_ps(yo + (long)c * p + j0 + 8, m1, r1);                                          \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }
PW256_BLOCK(1)
PW256_BLOCK(2)
PW256_BLOCK(3)
PW256_BLOCK(4)
PW256_BLOCK(5)
PW256_BLOCK(6)

FERVID_TARGET_AVX2 static void pointwise_256 POINTWISE_PARAMS {
    for (long img = 0; img < n; img++) {
        const float *xi = x + img * cin * p;
        float *yi = y + img * cout * p;
        // Near-equal blocks of at most 6 channels (8 = 4 + 4, not 6 + 2: a thread's half of 16).
        const int blocks = (cout + 5) / 6;
        for (int bi = 0; bi < blocks; bi++) {
            const int co = (int)((long)cout * bi / blocks), cb = (int)((long)cout * (bi + 1) / blocks) - co;
            const float *w = weight + (long)co * cin, *b = bias ? bias + co : NULL;
            float *yo = yi + (long)co * p;
            switch (cb) {
            case 6: pw256_block6(xi, cin, p, w, b, yo, relu); break;
            case 5: pw256_block5(xi, cin, p, w, b, yo, relu); break;
            case 4: pw256_block4(xi, cin, p, w, b, yo, relu); break;
            case 3: pw256_block3(xi, cin, p, w, b, yo, relu); break;
            case 2: pw256_block2(xi, cin, p, w, b, yo, relu); break;
            default: pw256_block1(xi, cin, p, w, b, yo, relu); break;
            }
        }
    }
}

// MARK: pointwise, AVX-512

/// CB (≤ 8) output channels × all columns of one image: 32 columns per step in 2·CB registers,
/// a tail of at most 16 columns in CB.
#define PW512_BLOCK(CB)                                                                                               \
    FERVID_TARGET_AVX512 static void pw512_block##CB(const float *xi, int cin, long p, const float *w, const float *b, \
                                                     float *yo, int relu) {                                          \
        const __m512 zero = _mm512_setzero_ps();                                                                     \
        for (long j0 = 0; j0 < p; j0 += 32) {                                                                        \
            const long left = p - j0;                                                                                \
            const __mmask16 k0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);                     \
            __m512 a0[CB], a1[CB];                                                                                   \
            for (int c = 0; c < CB; c++) a0[c] = a1[c] = b ? _mm512_set1_ps(b[c]) : zero;                            \
            if (left > 16) {                                                                                         \
                const __mmask16 k1 = left >= 32 ? (__mmask16)0xFFFF : (__mmask16)((1u << (left - 16)) - 1);          \
                for (int ci = 0; ci < cin; ci++) {                                                                   \
                    const float *src = xi + (long)ci * p + j0;                                                       \
                    const __m512 v0 = _mm512_loadu_ps(src), v1 = _mm512_maskz_loadu_ps(k1, src + 16);                \
                    for (int c = 0; c < CB; c++) {                                                                   \
                        const __m512 wv = _mm512_set1_ps(w[(long)c * cin + ci]);                                     \
                        a0[c] = _mm512_fmadd_ps(wv, v0, a0[c]);                                                      \
                        a1[c] = _mm512_fmadd_ps(wv, v1, a1[c]);                                                      \
                    }                                                                                                \
                }                                                                                                    \
                for (int c = 0; c < CB; c++) {                                                                       \
                    __m512 r0 = a0[c], r1 = a1[c];                                                                   \
                    if (relu) {                                                                                      \
                        r0 = _mm512_max_ps(r0, zero);                                                                \
                        r1 = _mm512_max_ps(r1, zero);                                                                \
                    }                                                                                                \
                    _mm512_storeu_ps(yo + (long)c * p + j0, r0);                                                     \
                    _mm512_mask_storeu_ps(yo + (long)c * p + j0 + 16, k1, r1);                                       \
                }                                                                                                    \
            } else {                                                                                                 \
                for (int ci = 0; ci < cin; ci++) {                                                                   \
                    const __m512 v0 = _mm512_maskz_loadu_ps(k0, xi + (long)ci * p + j0);                             \
                    for (int c = 0; c < CB; c++) {                                                                   \
                        a0[c] = _mm512_fmadd_ps(_mm512_set1_ps(w[(long)c * cin + ci]), v0, a0[c]);                   \
                    }                                                                                                \
                }                                                                                                    \
                for (int c = 0; c < CB; c++) {                                                                       \
                    __m512 r0 = a0[c];                                                                               \
                    if (relu) r0 = _mm512_max_ps(r0, zero);                                                          \
                    _mm512_mask_storeu_ps(yo + (long)c * p + j0, k0, r0);                                            \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }
PW512_BLOCK(1)
PW512_BLOCK(2)
PW512_BLOCK(3)
PW512_BLOCK(4)
PW512_BLOCK(5)
PW512_BLOCK(6)
PW512_BLOCK(7)
PW512_BLOCK(8)

FERVID_TARGET_AVX512 static void pointwise_512 POINTWISE_PARAMS {
    for (long img = 0; img < n; img++) {
        const float *xi = x + img * cin * p;
        float *yi = y + img * cout * p;
        const int blocks = (cout + 7) / 8;
        for (int bi = 0; bi < blocks; bi++) {
            const int co = (int)((long)cout * bi / blocks), cb = (int)((long)cout * (bi + 1) / blocks) - co;
            const float *w = weight + (long)co * cin, *b = bias ? bias + co : NULL;
            float *yo = yi + (long)co * p;
            switch (cb) {
            case 8: pw512_block8(xi, cin, p, w, b, yo, relu); break;
            case 7: pw512_block7(xi, cin, p, w, b, yo, relu); break;
            case 6: pw512_block6(xi, cin, p, w, b, yo, relu); break;
            case 5: pw512_block5(xi, cin, p, w, b, yo, relu); break;
            case 4: pw512_block4(xi, cin, p, w, b, yo, relu); break;
            case 3: pw512_block3(xi, cin, p, w, b, yo, relu); break;
            case 2: pw512_block2(xi, cin, p, w, b, yo, relu); break;
            default: pw512_block1(xi, cin, p, w, b, yo, relu); break;
            }
        }
    }
}
#endif

static void pointwise_base POINTWISE_PARAMS { pointwise_body POINTWISE_ARGS; }

void fervid_pointwise(int isa, const float *x, long n, int cin, long p, const float *weight, const float *bias,
                      int cout, float *y, int relu) {
#if defined(__x86_64__)
    if (isa == FERVID_GEMM_AVX512) { pointwise_512 POINTWISE_ARGS; return; }
    if (isa == FERVID_GEMM_AVX2) { pointwise_256 POINTWISE_ARGS; return; }
#else
    (void)isa;
#endif
    pointwise_base POINTWISE_ARGS;
}

// MARK: max pooling + residual

/// The padded row of column maxima, plus slack for the vector loads of the 3×3/2 row pass (which
/// reads up to v[2·(ow rounded up to 8) + 9]).
long fervid_maxpool_add_scratch(int ow, int k, int s) { return (long)(ow - 1) * s + k + 32; }

/// Max of the window's row range [h0, h1) (clipped, non-empty) for input columns, into the
/// padded row v (v[i] = column i − left; −∞ outside the row).
ALWAYS_INLINE void column_max(const float *restrict plane, int w, int h0, int h1, int left, int len, float *restrict v) {
    int lo = left < len ? left : len, hi = left + w < len ? left + w : len;
    for (int i = 0; i < lo; i++) v[i] = -INFINITY;
    for (int i = hi; i < len; i++) v[i] = -INFINITY;
    if (hi <= lo) return;
    const float *first = plane + (long)h0 * w - left;
    for (int i = lo; i < hi; i++) v[i] = first[i];
    for (int r = h0 + 1; r < h1; r++) {
        const float *row = plane + (long)r * w - left;
        for (int i = lo; i < hi; i++) v[i] = row[i] > v[i] ? row[i] : v[i];
    }
}

ALWAYS_INLINE void maxpool_add_body(const float *x, const float *r, float *y, long planes, int h, int w, int oh, int ow,
                                    int k, int s, int top, int left, float *scratch) {
    const int len = (ow - 1) * s + k;
    for (long p = 0; p < planes; p++) {
        const float *plane = x + p * h * w;
        for (int o = 0; o < oh; o++) {
            float *out = y + (p * oh + o) * ow;
            const float *res = r ? r + (p * oh + o) * ow : NULL;
            int h0 = o * s - top, h1 = h0 + k;
            if (h0 < 0) h0 = 0;
            if (h1 > h) h1 = h;
            if (h1 <= h0) {
                for (int j = 0; j < ow; j++) out[j] = -INFINITY + (res ? res[j] : 0);
                continue;
            }
            column_max(plane, w, h0, h1, left, len, scratch);
            const float *v = scratch;
            if (k == 3 && s == 2) {
                for (int j = 0; j < ow; j++) {
                    float m = v[2 * j];
                    m = v[2 * j + 1] > m ? v[2 * j + 1] : m;
                    m = v[2 * j + 2] > m ? v[2 * j + 2] : m;
                    out[j] = res ? m + res[j] : m;
                }
            } else {
                for (int j = 0; j < ow; j++) {
                    float m = v[j * s];
                    for (int t = 1; t < k; t++) m = v[j * s + t] > m ? v[j * s + t] : m;
                    out[j] = res ? m + res[j] : m;
                }
            }
        }
    }
}

#define MAXPOOL_ADD_PARAMS                                                                                          \
    (const float *x, const float *r, float *y, long planes, int h, int w, int oh, int ow, int k, int s, int top,    \
     int left, float *scratch)

static void maxpool_add_base MAXPOOL_ADD_PARAMS {
    maxpool_add_body(x, r, y, planes, h, w, oh, ow, k, s, top, left, scratch);
}

#if defined(__x86_64__)
/// One plane of a 3×3 stride-2 pool (+ res), AVX2 throughout. `v` (fervid_maxpool_add_scratch
/// floats) is the padded row of column maxima: v[i] = input column i − left, its −∞ border
/// written once per call by the caller (`v` holds −∞ everywhere on entry to the first plane),
/// its interior [left, left + w) rewritten per output row. Row pass: out[j] = max(v[2j],
/// v[2j+1], v[2j+2]), 8 at a time: even and odd columns de-interleaved with in-lane shuffles,
/// put back in order with one permute, the row's tail stored masked. The max order is the
/// scalar loop's (m = v0; m = v1 > m ? v1 : m; …), which _mm256_max_ps(a, m) computes exactly
/// (a > m ? a : m), NaN and ±0 included.
FERVID_TARGET_AVX2 ALWAYS_INLINE void pool3s2_plane_256(const float *plane, const float *res, float *y, int h, int w,
                                                        int oh, int ow, int top, int left, float *v) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i wtail = _mm256_cmpgt_epi32(_mm256_set1_epi32(w % 8), lane);
    const __m256i otail = _mm256_cmpgt_epi32(_mm256_set1_epi32(ow % 8), lane);
    float *vi = v + left;
    for (int o = 0; o < oh; o++) {
        float *out = y + (long)o * ow;
        const float *rr = res ? res + (long)o * ow : NULL;
        int h0 = o * 2 - top, h1 = h0 + 3;
        if (h0 < 0) h0 = 0;
        if (h1 > h) h1 = h;
        // Column maxima of rows [h0, h1) (1 to 3 rows: a missing third or second row repeats the
        // last one, which leaves every max as it was).
        const float *r0 = plane + (long)h0 * w;
        const float *r1 = h1 - h0 > 1 ? r0 + w : r0, *r2 = h1 - h0 > 2 ? r1 + w : r1;
        int j = 0;
        for (; j + 8 <= w; j += 8) {
            const __m256 m = _mm256_max_ps(_mm256_loadu_ps(r1 + j), _mm256_loadu_ps(r0 + j));
            _mm256_storeu_ps(vi + j, _mm256_max_ps(_mm256_loadu_ps(r2 + j), m));
        }
        if (j < w) {
            const __m256 m = _mm256_max_ps(_mm256_maskload_ps(r1 + j, wtail), _mm256_maskload_ps(r0 + j, wtail));
            _mm256_maskstore_ps(vi + j, wtail, _mm256_max_ps(_mm256_maskload_ps(r2 + j, wtail), m));
        }
        for (j = 0; j < ow; j += 8) {
            const float *p = v + 2 * j;
            const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
            const __m256 c = _mm256_loadu_ps(p + 2), d = _mm256_loadu_ps(p + 10);
            const __m256 e0 = _mm256_shuffle_ps(a, b, 0x88), o0 = _mm256_shuffle_ps(a, b, 0xDD);
            const __m256 e1 = _mm256_shuffle_ps(c, d, 0x88);
            __m256 m = _mm256_max_ps(e1, _mm256_max_ps(o0, e0));
            m = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8));
            if (j + 8 <= ow) {
                if (rr) m = _mm256_add_ps(m, _mm256_loadu_ps(rr + j));
                _mm256_storeu_ps(out + j, m);
            } else {
                if (rr) m = _mm256_add_ps(m, _mm256_maskload_ps(rr + j, otail));
                _mm256_maskstore_ps(out + j, otail, m);
            }
        }
    }
}

/// fervid_maxpool_add for 3×3 stride 2 whose windows never miss the input (top, left ≤ 1 and
/// the last window starting inside it): every plane through pool3s2_plane_256. 0 when the
/// shape is another.
FERVID_TARGET_AVX2 ALWAYS_INLINE int pool3s2_256(const float *x, const float *r, float *y, long planes, int h, int w,
                                                 int oh, int ow, int k, int s, int top, int left, float *scratch) {
    if (k != 3 || s != 2 || top < 0 || top > 1 || left < 0 || left > 1 || (oh - 1) * 2 - top >= h
        || (ow - 1) * 2 - left >= w) return 0;
    // −∞ everywhere the row pass reads: (ow rounded up to 8)·2 + 10 floats, within the scratch.
    const long len = fervid_maxpool_add_scratch(ow, 3, 2);
    for (long i = 0; i < len; i++) scratch[i] = -INFINITY;
    for (long p = 0; p < planes; p++) {
        pool3s2_plane_256(x + p * h * w, r ? r + p * oh * ow : NULL, y + p * oh * ow, h, w, oh, ow, top, left, scratch);
    }
    return 1;
}

FERVID_TARGET_AVX2 static void maxpool_add_256 MAXPOOL_ADD_PARAMS {
    if (pool3s2_256(x, r, y, planes, h, w, oh, ow, k, s, top, left, scratch)) return;
    maxpool_add_body(x, r, y, planes, h, w, oh, ow, k, s, top, left, scratch);
}

/// The AVX2 code (the pool is a few loads and maxes per output; 512-bit vectors would mostly
/// run masked on mini-Xception's 4–30-column rows), compiled for the AVX-512 target.
FERVID_TARGET_AVX512 static void maxpool_add_512 MAXPOOL_ADD_PARAMS {
    if (pool3s2_256(x, r, y, planes, h, w, oh, ow, k, s, top, left, scratch)) return;
    maxpool_add_body(x, r, y, planes, h, w, oh, ow, k, s, top, left, scratch);
}
#endif

void fervid_maxpool_add(int isa, const float *x, const float *r, float *y, long planes, int h, int w, int oh, int ow,
                        int k, int s, int top, int left, float *scratch) {
#if defined(__x86_64__)
    if (isa == FERVID_GEMM_AVX512) { maxpool_add_512(x, r, y, planes, h, w, oh, ow, k, s, top, left, scratch); return; }
    if (isa == FERVID_GEMM_AVX2) { maxpool_add_256(x, r, y, planes, h, w, oh, ow, k, s, top, left, scratch); return; }
#else
    (void)isa;
#endif
    maxpool_add_base(x, r, y, planes, h, w, oh, ow, k, s, top, left, scratch);
}
