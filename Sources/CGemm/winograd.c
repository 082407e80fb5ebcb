// Winograd transforms for one channel's tile row (see include/fervid_gemm.h): plain C loops
// compiled three times (AVX-512, AVX2, baseline) so the compiler vectorizes them for the CPU at
// hand; picked at run time. The matrices are Lavin & Gray's (CVPR 2016), as in Winograd.swift.
#include "fervid_gemm.h"

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

ALWAYS_INLINE void output4_body(const float *restrict m, long stride, int tw, float bias, float *restrict y,
                                long ldy, int rows, int ow, int relu, float *restrict a) {
    float *line = a + 24 * tw;
    // Aᵀ M: 4 rows × 6 columns, each over tw tiles.
    for (int j = 0; j < 6; j++) {
        const float *m0 = m + j * stride, *m1 = m + (6 + j) * stride, *m2 = m + (12 + j) * stride,
                    *m3 = m + (18 + j) * stride, *m4 = m + (24 + j) * stride, *m5 = m + (30 + j) * stride;
        float *a0 = a + j * tw, *a1 = a + (6 + j) * tw, *a2 = a + (12 + j) * tw, *a3 = a + (18 + j) * tw;
        for (int t = 0; t < tw; t++) {
            const float p = m1[t] + m2[t], q = m1[t] - m2[t], u = m3[t] + m4[t], w = m3[t] - m4[t];
            a0[t] = m0[t] + p + u;
            a1[t] = q + 2 * w;
            a2[t] = p + 4 * u;
            a3[t] = q + 8 * w + m5[t];
        }
    }
    for (int i = 0; i < rows; i++) {
        const float *c0 = a + (6 * i) * tw, *c1 = c0 + tw, *c2 = c0 + 2 * tw, *c3 = c0 + 3 * tw, *c4 = c0 + 4 * tw,
                    *c5 = c0 + 5 * tw;
        for (int t = 0; t < tw; t++) {
            const float p = c1[t] + c2[t], q = c1[t] - c2[t], u = c3[t] + c4[t], w = c3[t] - c4[t];
            float *l = line + 4 * t;
            l[0] = c0[t] + p + u + bias;
            l[1] = q + 2 * w + bias;
            l[2] = p + 4 * u + bias;
            l[3] = q + 8 * w + c5[t] + bias;
        }
        float *out = y + i * ldy;
        if (relu) {
            for (int o = 0; o < ow; o++) out[o] = line[o] > 0 ? line[o] : 0;
        } else {
            for (int o = 0; o < ow; o++) out[o] = line[o];
        }
    }
}

ALWAYS_INLINE void output2_body(const float *restrict m, long stride, int tw, float bias, float *restrict y,
                                long ldy, int rows, int ow, int relu, float *restrict a) {
    float *line = a + 8 * tw;
    for (int j = 0; j < 4; j++) {
        const float *m0 = m + j * stride, *m1 = m + (4 + j) * stride, *m2 = m + (8 + j) * stride,
                    *m3 = m + (12 + j) * stride;
        float *a0 = a + j * tw, *a1 = a + (4 + j) * tw;
        for (int t = 0; t < tw; t++) {
            a0[t] = m0[t] + m1[t] + m2[t];
            a1[t] = m1[t] - m2[t] - m3[t];
        }
    }
    for (int i = 0; i < rows; i++) {
        const float *c0 = a + (4 * i) * tw, *c1 = c0 + tw, *c2 = c0 + 2 * tw, *c3 = c0 + 3 * tw;
        for (int t = 0; t < tw; t++) {
            float *q = line + 2 * t;
            q[0] = c0[t] + c1[t] + c2[t] + bias;
            q[1] = c1[t] - c2[t] - c3[t] + bias;
        }
        float *out = y + i * ldy;
        if (relu) {
            for (int o = 0; o < ow; o++) out[o] = line[o] > 0 ? line[o] : 0;
        } else {
            for (int o = 0; o < ow; o++) out[o] = line[o];
        }
    }
}

// Per-ISA copies and the run-time choice.
#if defined(__x86_64__)
#define VARIANTS(name, params, args)                                                                 \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) static void name##_512 params {     \
        name##_body args;                                                                           \
    }                                                                                               \
    __attribute__((target("avx2,fma"))) static void name##_256 params { name##_body args; }          \
    static void name##_base params { name##_body args; }
#define CHOOSE(name) \
    (isa == FERVID_GEMM_AVX512 ? name##_512 : isa == FERVID_GEMM_AVX2 ? name##_256 : name##_base)
#else
#define VARIANTS(name, params, args) static void name##_base params { name##_body args; }
#define CHOOSE(name) name##_base
#endif

#define OUTPUT_PARAMS \
    (const float *m, long stride, int tw, float bias, float *y, long ldy, int rows, int ow, int relu, float *a)
#define OUTPUT_ARGS (m, stride, tw, bias, y, ldy, rows, ow, relu, a)

VARIANTS(output4, OUTPUT_PARAMS, OUTPUT_ARGS)
VARIANTS(output2, OUTPUT_PARAMS, OUTPUT_ARGS)

void fervid_winograd_output(int isa, int m, const float *mm, long stride, int tw, float bias, float *y, long ldy, int rows,
                            int ow, int relu, float *a) {
    if (m == 4) CHOOSE(output4)(mm, stride, tw, bias, y, ldy, rows, ow, relu, a);
    else CHOOSE(output2)(mm, stride, tw, bias, y, ldy, rows, ow, relu, a);
}

// MARK: whole-channel input transform

/// Floats of scratch fervid_winograd_input_rows needs.
long fervid_winograd_input_scratch(int m, int tw, int rows) {
    const long alpha = m + 2, width = (long)m * tw + 2;
    return (long)rows * alpha * width + alpha * width + (long)rows * tw + 16;
}

/// Gathers the α zero-padded input rows of one tile row into d and applies Bᵀ over rows into s.
ALWAYS_INLINE void rows_body(int m, const float *restrict plane, int h, int w, int iy0, int ix0, int width,
                             float *restrict d, float *restrict s) {
    const int alpha = m + 2;
    int lo = -ix0 < 0 ? 0 : -ix0, hi = w - ix0;
    if (lo > width) lo = width;
    if (hi > width) hi = width;
    if (hi < lo) hi = lo;
    for (int i = 0; i < alpha; i++) {
        float *row = d + i * width;
        const int iy = iy0 + i;
        if (iy < 0 || iy >= h) {
            for (int j = 0; j < width; j++) row[j] = 0;
            continue;
        }
        const float *src = plane + (long)iy * w + ix0;
        for (int j = 0; j < lo; j++) row[j] = 0;
        for (int j = lo; j < hi; j++) row[j] = src[j];
        for (int j = hi; j < width; j++) row[j] = 0;
    }
    if (m == 4) {
        const float *r0 = d, *r1 = d + width, *r2 = d + 2 * width, *r3 = d + 3 * width, *r4 = d + 4 * width,
                    *r5 = d + 5 * width;
        float *q0 = s, *q1 = s + width, *q2 = s + 2 * width, *q3 = s + 3 * width, *q4 = s + 4 * width,
              *q5 = s + 5 * width;
        for (int j = 0; j < width; j++) {
            const float d0 = r0[j], d1 = r1[j], d2 = r2[j], d3 = r3[j], d4 = r4[j], d5 = r5[j];
            const float t1 = d4 - 4 * d2, t2 = d3 - 4 * d1, t3 = d4 - d2, t4 = 2 * (d3 - d1);
            q0[j] = 4 * d0 - 5 * d2 + d4;
            q1[j] = t1 + t2;
            q2[j] = t1 - t2;
            q3[j] = t3 + t4;
            q4[j] = t3 - t4;
            q5[j] = 4 * d1 - 5 * d3 + d5;
        }
    } else {
        const float *d0 = d, *d1 = d + width, *d2 = d + 2 * width, *d3 = d + 3 * width;
        float *s0 = s, *s1 = s + width, *s2 = s + 2 * width, *s3 = s + 3 * width;
        for (int j = 0; j < width; j++) {
            s0[j] = d0[j] - d2[j];
            s1[j] = d1[j] + d2[j];
            s2[j] = d2[j] - d1[j];
            s3[j] = d1[j] - d3[j];
        }
    }
}

/// Row transforms for every tile row; returns the per-tile base offsets into S.
ALWAYS_INLINE void prepare_rows(int m, const float *plane0, long image_stride, int h, int w, int pad_top,
                                int pad_left, int th, int tw, int first_row, int rows, float *S, float *d,
                                int *base) {
    const int alpha = m + 2, width = m * tw + 2;
    for (int r = 0; r < rows; r++) {
        const int global = first_row + r, img = global / th, ty = global % th;
        rows_body(m, plane0 + (long)img * image_stride, h, w, m * ty - pad_top, -pad_left, width, d,
                  S + (long)r * alpha * width);
        for (int t = 0; t < tw; t++) base[r * tw + t] = r * alpha * width + m * t;
    }
}

/// Column transforms, one tile at a time.
ALWAYS_INLINE void columns_scalar(int m, int tw, int rows, const float *restrict S, const int *restrict base,
                                  float *restrict v, long stride) {
    const int alpha = m + 2, width = m * tw + 2, tiles = rows * tw;
    for (int i = 0; i < alpha; i++) {
        float *o = v + (long)(alpha * i) * stride;
        for (int q = 0; q < tiles; q++) {
            const float *p = S + base[q] + i * width;
            if (m == 4) {
                const float d0 = p[0], d1 = p[1], d2 = p[2], d3 = p[3], d4 = p[4], d5 = p[5];
                const float t1 = d4 - 4 * d2, t2 = d3 - 4 * d1, t3 = d4 - d2, t4 = 2 * (d3 - d1);
                o[q] = 4 * d0 - 5 * d2 + d4;
                o[stride + q] = t1 + t2;
                o[2 * stride + q] = t1 - t2;
                o[3 * stride + q] = t3 + t4;
                o[4 * stride + q] = t3 - t4;
                o[5 * stride + q] = 4 * d1 - 5 * d3 + d5;
            } else {
                const float a = p[0], b = p[1], c = p[2], dd = p[3];
                o[q] = a - c;
                o[stride + q] = b + c;
                o[2 * stride + q] = c - b;
                o[3 * stride + q] = b - dd;
            }
        }
    }
}

/// Row transforms, then column transforms one tile at a time (each variant compiles it for its ISA).
ALWAYS_INLINE void input_rows_body(int m, const float *plane0, long image_stride, int h, int w, int pad_top,
                                   int pad_left, int th, int tw, int first_row, int rows, float *v, long stride,
                                   float *scratch) {
    const int alpha = m + 2, width = m * tw + 2;
    float *S = scratch, *d = S + (long)rows * alpha * width;
    int *base = (int *)(d + alpha * width);
    prepare_rows(m, plane0, image_stride, h, w, pad_top, pad_left, th, tw, first_row, rows, S, d, base);
    columns_scalar(m, tw, rows, S, base, v, stride);
}

static void input_rows_base(int m, const float *plane0, long image_stride, int h, int w, int pad_top, int pad_left,
                            int th, int tw, int first_row, int rows, float *v, long stride, float *scratch) {
    input_rows_body(m, plane0, image_stride, h, w, pad_top, pad_left, th, tw, first_row, rows, v, stride, scratch);
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static void input_rows_256(int m, const float *plane0, long image_stride, int h, int w, int pad_top, int pad_left,
                           int th, int tw, int first_row, int rows, float *v, long stride, float *scratch) {
    input_rows_body(m, plane0, image_stride, h, w, pad_top, pad_left, th, tw, first_row, rows, v, stride, scratch);
}

/// AVX-512: the column transform for 16 tiles at once, their α inputs gathered from S.
__attribute__((target("avx512f")))
static void input_rows_512(int m, const float *plane0, long image_stride, int h, int w, int pad_top, int pad_left,
                           int th, int tw, int first_row, int rows, float *v, long stride, float *scratch) {
    const int alpha = m + 2, width = m * tw + 2, tiles = rows * tw;
    float *S = scratch, *d = S + (long)rows * alpha * width;
    int *base = (int *)(d + alpha * width);
    prepare_rows(m, plane0, image_stride, h, w, pad_top, pad_left, th, tw, first_row, rows, S, d, base);
    const __m512 c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5), c2 = _mm512_set1_ps(2);
    for (int q0 = 0; q0 < tiles; q0 += 16) {
        const int left = tiles - q0;
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512i idx = _mm512_maskz_loadu_epi32(k, base + q0);
        for (int i = 0; i < alpha; i++) {
            const float *row = S + i * width;
            float *o = v + (long)(alpha * i) * stride + q0;
            const __m512 z = _mm512_setzero_ps();
            const __m512 d0 = _mm512_mask_i32gather_ps(z, k, idx, row, 4);
            const __m512 d1 = _mm512_mask_i32gather_ps(z, k, idx, row + 1, 4);
            const __m512 d2 = _mm512_mask_i32gather_ps(z, k, idx, row + 2, 4);
            const __m512 d3 = _mm512_mask_i32gather_ps(z, k, idx, row + 3, 4);
            if (m == 4) {
                const __m512 d4 = _mm512_mask_i32gather_ps(z, k, idx, row + 4, 4);
                const __m512 d5 = _mm512_mask_i32gather_ps(z, k, idx, row + 5, 4);
                const __m512 t1 = _mm512_fnmadd_ps(c4, d2, d4), t2 = _mm512_fnmadd_ps(c4, d1, d3);
                const __m512 t3 = _mm512_sub_ps(d4, d2), t4 = _mm512_mul_ps(c2, _mm512_sub_ps(d3, d1));
                _mm512_mask_storeu_ps(o, k, _mm512_add_ps(_mm512_fnmadd_ps(c5, d2, _mm512_mul_ps(c4, d0)), d4));
                _mm512_mask_storeu_ps(o + stride, k, _mm512_add_ps(t1, t2));
                _mm512_mask_storeu_ps(o + 2 * stride, k, _mm512_sub_ps(t1, t2));
                _mm512_mask_storeu_ps(o + 3 * stride, k, _mm512_add_ps(t3, t4));
                _mm512_mask_storeu_ps(o + 4 * stride, k, _mm512_sub_ps(t3, t4));
                _mm512_mask_storeu_ps(o + 5 * stride, k, _mm512_add_ps(_mm512_fnmadd_ps(c5, d3, _mm512_mul_ps(c4, d1)), d5));
            } else {
                _mm512_mask_storeu_ps(o, k, _mm512_sub_ps(d0, d2));
                _mm512_mask_storeu_ps(o + stride, k, _mm512_add_ps(d1, d2));
                _mm512_mask_storeu_ps(o + 2 * stride, k, _mm512_sub_ps(d2, d1));
                _mm512_mask_storeu_ps(o + 3 * stride, k, _mm512_sub_ps(d1, d3));
            }
        }
    }
}
#endif

void fervid_winograd_input_rows(int isa, int m, const float *plane0, long image_stride, int h, int w, int pad_top,
                                int pad_left, int th, int tw, int first_row, int rows, float *v, long stride,
                                float *scratch) {
#if defined(__x86_64__)
    if (isa == FERVID_GEMM_AVX512) {
        input_rows_512(m, plane0, image_stride, h, w, pad_top, pad_left, th, tw, first_row, rows, v, stride, scratch);
        return;
    }
    if (isa == FERVID_GEMM_AVX2) {
        input_rows_256(m, plane0, image_stride, h, w, pad_top, pad_left, th, tw, first_row, rows, v, stride, scratch);
        return;
    }
#endif
    input_rows_base(m, plane0, image_stride, h, w, pad_top, pad_left, th, tw, first_row, rows, v, stride, scratch);
}
