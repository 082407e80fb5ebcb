// Matrix × vector on the packed GEMM layout (include/fervid_gemv.h): MTCNN's dense layers at
// batch 1 (O-Net verifies one tracked face a frame), which the packed GEMM ran with one used
// column of 8–32, packing x into zero-padded panels each call. Here a panel's MR rows are one
// register and x is read where it lies. Naive twin: naiveLinear (Sources/CNN/Naive.swift), and
// bit-identity with fervid_gemm_compute, both in Tests/CNNTests/GemmTests.swift.
// Also P-Net's two-channel softmax.
#include "fervid_gemv.h"
#include "fervid_gemm.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// Depth of one packed block: gemm.c's KC (the packed layout and the GEMM's summation blocks).
/// The bit-identity test against fervid_gemm_compute at depths past 256 fails if they differ.
#define KC 256

// MARK: portable (MR 4)

static void gemv_base(int m, int k, const float *packed, int row_begin, int row_end, int samples, const float *x,
                      long ldx, float *y, long ldy, const float *bias, int relu) {
    const int mr = 4;
    const long mp = ((long)m + mr - 1) / mr * mr;
    if (row_end > m) row_end = m;
    for (int s = 0; s < samples; s++) {
        const float *xs = x + s * ldx;
        float *ys = y + s * ldy;
        for (int i0 = row_begin; i0 < row_end; i0 += mr) {
            const int rows = row_end - i0 < mr ? row_end - i0 : mr;
            float sum[4] = {0, 0, 0, 0};
            for (int p0 = 0; p0 < k; p0 += KC) {
                const int kc = k - p0 < KC ? k - p0 : KC;
                const float *a = packed + (long)p0 * mp + (long)i0 * kc;
                const float *xp = xs + p0;
                float acc[4] = {0, 0, 0, 0};
                for (int p = 0; p < kc; p++) {
                    for (int r = 0; r < 4; r++) acc[r] += a[p * 4 + r] * xp[p];
                }
                for (int r = 0; r < 4; r++) sum[r] = p0 == 0 ? acc[r] : acc[r] + sum[r];
            }
            for (int r = 0; r < rows; r++) {
                float v = sum[r];
                if (bias) v += bias[i0 + r];
                if (relu && !(v > 0)) v = 0;
                ys[i0 + r] = v;
            }
        }
    }
}

#if defined(__x86_64__)

// MARK: AVX2 + FMA (MR 6)

/// Lanes [0, n) set (n clamped to 0…8).
FERVID_TARGET_AVX2 static inline __m256i gemv_mask8(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// G panels (6 rows each, `stride` floats apart in a block) of one sample, all depth blocks.
#define GEMV256_GROUP(G)                                                                                             \
    FERVID_TARGET_AVX2 static void gemv256_group##G(long mp, int k, const float *panel0, long i0, const float *xs, \
                                                    float *ys, int rows_last, const float *bias, int relu) {       \
        const __m256i six = gemv_mask8(6);                                                                           \
        __m256 sum[G];                                                                                               \
        for (int p0 = 0; p0 < k; p0 += KC) {                                                                         \
            const int kc = k - p0 < KC ? k - p0 : KC;                                                                \
            const float *a = panel0 + (long)p0 * mp + i0 * kc;                                                       \
            const long stride = 6L * kc;                                                                             \
            __m256 acc[G];                                                                                           \
            for (int g = 0; g < G; g++) acc[g] = _mm256_setzero_ps();                                                \
            int p = 0;                                                                                               \
            /* Full 8-float loads: lanes 6 and 7 hold the next depth's rows 0 and 1 (never stored). */             \
            for (; p < kc - 1; p++) {                                                                                \
                const __m256 xv = _mm256_broadcast_ss(xs + p0 + p);                                                  \
                for (int g = 0; g < G; g++) acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(a + g * stride + p * 6), xv, acc[g]); \
            }                                                                                                        \
            {   /* The last depth of the block: masked, so nothing past A is read. */                               \
                const __m256 xv = _mm256_broadcast_ss(xs + p0 + p);                                                  \
                for (int g = 0; g < G; g++)                                                                          \
                    acc[g] = _mm256_fmadd_ps(_mm256_maskload_ps(a + g * stride + p * 6, six), xv, acc[g]);           \
            }                                                                                                        \
            for (int g = 0; g < G; g++) sum[g] = p0 == 0 ? acc[g] : _mm256_add_ps(acc[g], sum[g]);                  \
        }                                                                                                            \
        const __m256 zero = _mm256_setzero_ps();                                                                     \
        for (int g = 0; g < G; g++) {                                                                                \
            const __m256i keep = gemv_mask8(g == G - 1 ? rows_last : 6);                                             \
            __m256 v = sum[g];                                                                                       \
            if (bias) v = _mm256_add_ps(v, _mm256_maskload_ps(bias + i0 + 6 * g, keep));                             \
            if (relu) v = _mm256_max_ps(v, zero);                                                                    \
            _mm256_maskstore_ps(ys + i0 + 6 * g, keep, v);                                                           \
        }                                                                                                            \
    }

GEMV256_GROUP(1)
GEMV256_GROUP(2)
GEMV256_GROUP(3)
GEMV256_GROUP(4)

// MARK: AVX-512 (MR 12)

#define GEMV512_GROUP(G)                                                                                             \
    FERVID_TARGET_AVX512 static void gemv512_group##G(long mp, int k, const float *panel0, long i0, const float *xs, \
                                                      float *ys, int rows_last, const float *bias, int relu) {     \
        const __mmask16 twelve = 0x0FFF;                                                                             \
        __m512 sum[G];                                                                                               \
        for (int p0 = 0; p0 < k; p0 += KC) {                                                                         \
            const int kc = k - p0 < KC ? k - p0 : KC;                                                                \
            const float *a = panel0 + (long)p0 * mp + i0 * kc;                                                       \
            const long stride = 12L * kc;                                                                            \
            __m512 acc[G];                                                                                           \
            for (int g = 0; g < G; g++) acc[g] = _mm512_setzero_ps();                                                \
            int p = 0;                                                                                               \
            /* Full 16-float loads: lanes 12–15 hold the next depth's rows 0–3 (never stored). */                  \
            for (; p < kc - 1; p++) {                                                                                \
                const __m512 xv = _mm512_set1_ps(xs[p0 + p]);                                                        \
                for (int g = 0; g < G; g++) acc[g] = _mm512_fmadd_ps(_mm512_loadu_ps(a + g * stride + p * 12), xv, acc[g]); \
            }                                                                                                        \
            {                                                                                                        \
                const __m512 xv = _mm512_set1_ps(xs[p0 + p]);                                                        \
                for (int g = 0; g < G; g++)                                                                          \
                    acc[g] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(twelve, a + g * stride + p * 12), xv, acc[g]);    \
            }                                                                                                        \
            for (int g = 0; g < G; g++) sum[g] = p0 == 0 ? acc[g] : _mm512_add_ps(acc[g], sum[g]);                  \
        }                                                                                                            \
        const __m512 zero = _mm512_setzero_ps();                                                                     \
        for (int g = 0; g < G; g++) {                                                                                \
            const int rows = g == G - 1 ? rows_last : 12;                                                            \
            const __mmask16 keep = (__mmask16)((1u << rows) - 1);                                                    \
            __m512 v = sum[g];                                                                                       \
            if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(keep, bias + i0 + 12 * g));                         \
            if (relu) v = _mm512_max_ps(v, zero);                                                                    \
            _mm512_mask_storeu_ps(ys + i0 + 12 * g, keep, v);                                                        \
        }                                                                                                            \
    }

GEMV512_GROUP(1)
GEMV512_GROUP(2)
GEMV512_GROUP(3)
GEMV512_GROUP(4)

/// One sample's panels of both vector variants: groups of up to four panels of `mr` rows.
typedef void (*gemv_group_fn)(long mp, int k, const float *panel0, long i0, const float *xs, float *ys,
                              int rows_last, const float *bias, int relu);

static void gemv_vector(int mr, const gemv_group_fn group[4], int m, int k, const float *packed, int row_begin,
                        int row_end, int samples, const float *x, long ldx, float *y, long ldy, const float *bias,
                        int relu) {
    const long mp = ((long)m + mr - 1) / mr * mr;
    if (row_end > m) row_end = m;
    for (int s = 0; s < samples; s++) {
        for (int i0 = row_begin; i0 < row_end; i0 += 4 * mr) {
            const int left = row_end - i0;
            const int panels = left >= 4 * mr ? 4 : (left + mr - 1) / mr;
            const int rows_last = left >= panels * mr ? mr : left - (panels - 1) * mr;
            group[panels - 1](mp, k, packed, i0, x + s * ldx, y + s * ldy, rows_last, bias, relu);
        }
    }
}

static const gemv_group_fn gemv256_groups[4] = {gemv256_group1, gemv256_group2, gemv256_group3, gemv256_group4};
static const gemv_group_fn gemv512_groups[4] = {gemv512_group1, gemv512_group2, gemv512_group3, gemv512_group4};

#endif

void fervid_gemv_packed(int isa, int m, int k, const float *packed, int row_begin, int row_end, int samples,
                        const float *x, long ldx, float *y, long ldy, const float *bias, int relu) {
    if (m <= 0 || k <= 0 || samples <= 0 || row_begin >= row_end) return;
#if defined(__x86_64__)
    if (isa == FERVID_GEMM_AVX512) {
        gemv_vector(12, gemv512_groups, m, k, packed, row_begin, row_end, samples, x, ldx, y, ldy, bias, relu);
        return;
    }
    if (isa == FERVID_GEMM_AVX2) {
        gemv_vector(6, gemv256_groups, m, k, packed, row_begin, row_end, samples, x, ldx, y, ldy, bias, relu);
        return;
    }
#endif
    gemv_base(m, k, packed, row_begin, row_end, samples, x, ldx, y, ldy, bias, relu);
}

// MARK: softmax over two channels

void fervid_softmax2(const float *x, float *y, long n, long p) {
    for (long img = 0; img < n; img++) {
        const float *a = x + img * 2 * p, *b = a + p;
        float *ya = y + img * 2 * p, *yb = ya + p;
        for (long i = 0; i < p; i++) {
            const float u = a[i], v = b[i];
            // Swift.max(Swift.max(−∞, u), v): v when v ≥ u.
            const float m = v >= u ? v : u;
            const float e0 = expf(u - m), e1 = expf(v - m);
            const float inv = 1 / (e0 + e1);
            ya[i] = e0 * inv;
            yb[i] = e1 * inv;
        }
    }
}

// MARK: flatten in (W, H, C) order

void fervid_flatten_whc(const float *x, float *y, long n, int c, int h, int w) {
    const long f = (long)c * h * w;
    for (long i = 0; i < n; i++) {
        const float *src = x + i * f;
        float *dst = y + i * f;
        for (int ci = 0; ci < c; ci++) {
            for (int ih = 0; ih < h; ih++) {
                const float *row = src + ((long)ci * h + ih) * w;
                float *out = dst + (long)ih * c + ci;
                for (int iw = 0; iw < w; iw++) out[(long)iw * h * c] = row[iw];
            }
        }
    }
}
