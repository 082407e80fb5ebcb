// Winograd transforms for one channel's tile row (see include/fervid_gemm.h): plain C loops
// compiled three times (AVX-512, AVX2, baseline) so the compiler vectorizes them for the CPU at
// hand; picked at run time. The matrices are Lavin & Gray's (CVPR 2016), as in Winograd.swift.
#include "fervid_winograd.h"

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

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

#define INPUT_PARAMS                                                                                                \
    (int m, const float *plane0, long image_stride, int h, int w, int pad_top, int pad_left, int th, int tw,         \
     int first_row, int rows, float *v, long stride, float *scratch)
#define INPUT_ARGS (m, plane0, image_stride, h, w, pad_top, pad_left, th, tw, first_row, rows, v, stride, scratch)

FERVID_PER_ISA_BUT_512(fervid_winograd_input_rows, input_rows_body, INPUT_PARAMS, INPUT_ARGS)

#if defined(__x86_64__)
#include <immintrin.h>


/// AVX-512: the column transform for 16 tiles at once, their α inputs gathered from S.
__attribute__((target("avx512f")))
static void fervid_winograd_input_rows_512(int m, const float *plane0, long image_stride, int h, int w, int pad_top, int pad_left,
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

FERVID_ISA_DISPATCH(fervid_winograd_input_rows, INPUT_PARAMS, INPUT_ARGS)

// MARK: whole-channel output transform

/// Floats of scratch fervid_winograd_output_rows needs.
long fervid_winograd_output_scratch(int m, int tw, int rows) {
    const long alpha = m + 2, tiles = (long)rows * tw;
    return (long)m * alpha * tiles + 3 * tiles + 16;
}

/// Aᵀ M over every tile of the chunk (vectorized along tiles) into a (m·α rows of `tiles`), and
/// each tile's output offset and how many of its rows and columns lie inside the output.
ALWAYS_INLINE void output_prepare(int m, const float *restrict mm, long stride, int tw, int rows, int first_row,
                                  int th, long image_stride, int oh, int ow, float *restrict a, int *restrict off,
                                  int *restrict rowlim, int *restrict collim) {
    const int alpha = m + 2, tiles = rows * tw;
    for (int j = 0; j < alpha; j++) {
        if (m == 4) {
            const float *m0 = mm + j * stride, *m1 = mm + (6 + j) * stride, *m2 = mm + (12 + j) * stride,
                        *m3 = mm + (18 + j) * stride, *m4 = mm + (24 + j) * stride, *m5 = mm + (30 + j) * stride;
            float *a0 = a + (long)j * tiles, *a1 = a + (long)(6 + j) * tiles, *a2 = a + (long)(12 + j) * tiles,
                  *a3 = a + (long)(18 + j) * tiles;
            for (int q = 0; q < tiles; q++) {
                const float p = m1[q] + m2[q], d = m1[q] - m2[q], u = m3[q] + m4[q], w = m3[q] - m4[q];
                a0[q] = m0[q] + p + u;
                a1[q] = d + 2 * w;
                a2[q] = p + 4 * u;
                a3[q] = d + 8 * w + m5[q];
            }
        } else {
            const float *m0 = mm + j * stride, *m1 = mm + (4 + j) * stride, *m2 = mm + (8 + j) * stride,
                        *m3 = mm + (12 + j) * stride;
            float *a0 = a + (long)j * tiles, *a1 = a + (long)(4 + j) * tiles;
            for (int q = 0; q < tiles; q++) {
                a0[q] = m0[q] + m1[q] + m2[q];
                a1[q] = m1[q] - m2[q] - m3[q];
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        const int global = first_row + r, img = global / th, oy = m * (global % th);
        for (int t = 0; t < tw; t++) {
            const int q = r * tw + t;
            off[q] = (int)(img * image_stride + (long)oy * ow + m * t);
            rowlim[q] = oh - oy;
            collim[q] = ow - m * t;
        }
    }
}

/// Aᵀ over columns for output row i of every tile, bias, ReLU, written tile by tile.
/// Row i of one tile's output (the transform's column q of the i-th row block c0), plus bias, then
/// PReLU (slope) or ReLU, into `cols` outputs at out: the scalar step every output path shares.
ALWAYS_INLINE void output_tile_row(int m, const float *c0, int tiles, int q, float bias, float *out, int cols,
                                   int relu, const float *slope) {
    float v[4];
    if (m == 4) {
        const float x0 = c0[q], x1 = c0[tiles + q], x2 = c0[2 * tiles + q], x3 = c0[3 * tiles + q],
                    x4 = c0[4 * tiles + q], x5 = c0[5 * tiles + q];
        const float p = x1 + x2, d = x1 - x2, u = x3 + x4, w = x3 - x4;
        v[0] = x0 + p + u;
        v[1] = d + 2 * w;
        v[2] = p + 4 * u;
        v[3] = d + 8 * w + x5;
    } else {
        const float x0 = c0[q], x1 = c0[tiles + q], x2 = c0[2 * tiles + q], x3 = c0[3 * tiles + q];
        v[0] = x0 + x1 + x2;
        v[1] = x1 - x2 - x3;
    }
    for (int j = 0; j < cols; j++) {
        const float x = v[j] + bias;
        out[j] = slope ? (x > 0 ? x : 0) + *slope * (x < 0 ? x : 0) : relu && !(x > 0) ? 0 : x;
    }
}

ALWAYS_INLINE void output_rows_body(int m, const float *mm, long stride, int tw, int rows, int first_row, int th,
                                    float bias, float *y, long image_stride, int oh, int ow, int relu,
                                    const float *slope, float *scratch) {
    const int alpha = m + 2, tiles = rows * tw;
    float *a = scratch;
    int *off = (int *)(a + (long)m * alpha * tiles), *rowlim = off + tiles, *collim = rowlim + tiles;
    output_prepare(m, mm, stride, tw, rows, first_row, th, image_stride, oh, ow, a, off, rowlim, collim);
    for (int i = 0; i < m; i++) {
        const float *c0 = a + (long)(alpha * i) * tiles;
        for (int q = 0; q < tiles; q++) {
            if (i >= rowlim[q]) continue;
            output_tile_row(m, c0, tiles, q, bias, y + off[q] + (long)i * ow, collim[q] < m ? collim[q] : m, relu, slope);
        }
    }
}

#define OUTPUT_PARAMS                                                                                               \
    (int m, const float *mm, long stride, int tw, int rows, int first_row, int th, float bias, float *y,              \
     long image_stride, int oh, int ow, int relu, const float *slope, float *scratch)
#define OUTPUT_ARGS (m, mm, stride, tw, rows, first_row, th, bias, y, image_stride, oh, ow, relu, slope, scratch)

#if defined(__x86_64__)
static void fervid_winograd_output_rows_base OUTPUT_PARAMS { output_rows_body OUTPUT_ARGS; }

/// AVX2: the portable body's second pass wrote tile by tile (scalar, 12 % of P-Net's
/// instructions on an AVX2 CPU); here eight tiles of a tile row that lie wholly inside the
/// output at once, their m outputs per tile interleaved in registers into m·8 contiguous floats
/// (the same additions as the portable body: bit-identical), then four more when they fit, the
/// rest of the row tile by tile.
FERVID_TARGET_AVX2
static void fervid_winograd_output_rows_256(int m, const float *mm, long stride, int tw, int rows, int first_row, int th,
                                            float bias, float *y, long image_stride, int oh, int ow, int relu,
                                            const float *slope, float *scratch) {
    const int alpha = m + 2, tiles = rows * tw;
    float *a = scratch;
    int *off = (int *)(a + (long)m * alpha * tiles), *rowlim = off + tiles, *collim = rowlim + tiles;
    output_prepare(m, mm, stride, tw, rows, first_row, th, image_stride, oh, ow, a, off, rowlim, collim);
    const __m256 bv = _mm256_set1_ps(bias), zero = _mm256_setzero_ps(), two = _mm256_set1_ps(2),
                 four = _mm256_set1_ps(4), eight = _mm256_set1_ps(8), sv = _mm256_set1_ps(slope ? *slope : 0);
// PReLU as the prelu kernel computes it: max(v, 0) + slope·min(v, 0), exactly v > 0 ? v : slope·v.
#define PRELU256(v) _mm256_fmadd_ps(sv, _mm256_min_ps(v, zero), _mm256_max_ps(v, zero))
    for (int i = 0; i < m; i++) {
        const float *c0 = a + (long)(alpha * i) * tiles;
        for (int r = 0; r < rows; r++) {
            const int q0 = r * tw;
            if (i >= rowlim[q0]) continue;
            int t = 0;
            for (; t + 8 <= tw && collim[q0 + t + 7] >= m; t += 8) {
                const float *c = c0 + q0 + t;
                float *out = y + off[q0 + t] + (long)i * ow;
                if (m == 4) {
                    const __m256 x0 = _mm256_loadu_ps(c), x1 = _mm256_loadu_ps(c + tiles),
                                 x2 = _mm256_loadu_ps(c + 2 * tiles), x3 = _mm256_loadu_ps(c + 3 * tiles),
                                 x4 = _mm256_loadu_ps(c + 4 * tiles), x5 = _mm256_loadu_ps(c + 5 * tiles);
                    const __m256 p = _mm256_add_ps(x1, x2), d = _mm256_sub_ps(x1, x2), u = _mm256_add_ps(x3, x4),
                                 w = _mm256_sub_ps(x3, x4);
                    __m256 v0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x0, p), u), bv);
                    __m256 v1 = _mm256_add_ps(_mm256_fmadd_ps(two, w, d), bv);
                    __m256 v2 = _mm256_add_ps(_mm256_fmadd_ps(four, u, p), bv);
                    __m256 v3 = _mm256_add_ps(_mm256_add_ps(_mm256_fmadd_ps(eight, w, d), x5), bv);
                    if (slope) {
                        v0 = PRELU256(v0);
                        v1 = PRELU256(v1);
                        v2 = PRELU256(v2);
                        v3 = PRELU256(v3);
                    } else if (relu) {
                        v0 = _mm256_max_ps(v0, zero);
                        v1 = _mm256_max_ps(v1, zero);
                        v2 = _mm256_max_ps(v2, zero);
                        v3 = _mm256_max_ps(v3, zero);
                    }
                    // 4 × 8 transpose: tile k's four outputs at out[4k …].
                    const __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1),
                                 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
                    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                                 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                    _mm256_storeu_ps(out, _mm256_permute2f128_ps(u0, u1, 0x20));
                    _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
                    _mm256_storeu_ps(out + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
                    _mm256_storeu_ps(out + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
                } else {
                    const __m256 x0 = _mm256_loadu_ps(c), x1 = _mm256_loadu_ps(c + tiles),
                                 x2 = _mm256_loadu_ps(c + 2 * tiles), x3 = _mm256_loadu_ps(c + 3 * tiles);
                    __m256 v0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x0, x1), x2), bv);
                    __m256 v1 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(x1, x2), x3), bv);
                    if (slope) {
                        v0 = PRELU256(v0);
                        v1 = PRELU256(v1);
                    } else if (relu) {
                        v0 = _mm256_max_ps(v0, zero);
                        v1 = _mm256_max_ps(v1, zero);
                    }
                    const __m256 lo = _mm256_unpacklo_ps(v0, v1), hi = _mm256_unpackhi_ps(v0, v1);
                    _mm256_storeu_ps(out, _mm256_permute2f128_ps(lo, hi, 0x20));
                    _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
                }
            }
            if (t + 4 <= tw && collim[q0 + t + 3] >= m) {
                // Four tiles (rows of 4–7 tiles: O-Net's 21×21 and 8×8 planes), as above in xmm.
                const float *c = c0 + q0 + t;
                float *out = y + off[q0 + t] + (long)i * ow;
                const __m128 b4 = _mm_set1_ps(bias), z4 = _mm_setzero_ps(), s4 = _mm_set1_ps(slope ? *slope : 0);
#define PRELU128(v) _mm_fmadd_ps(s4, _mm_min_ps(v, z4), _mm_max_ps(v, z4))
                if (m == 4) {
                    const __m128 x0 = _mm_loadu_ps(c), x1 = _mm_loadu_ps(c + tiles), x2 = _mm_loadu_ps(c + 2 * tiles),
                                 x3 = _mm_loadu_ps(c + 3 * tiles), x4 = _mm_loadu_ps(c + 4 * tiles),
                                 x5 = _mm_loadu_ps(c + 5 * tiles);
                    const __m128 p = _mm_add_ps(x1, x2), d = _mm_sub_ps(x1, x2), u = _mm_add_ps(x3, x4),
                                 w = _mm_sub_ps(x3, x4);
                    __m128 v0 = _mm_add_ps(_mm_add_ps(_mm_add_ps(x0, p), u), b4);
                    __m128 v1 = _mm_add_ps(_mm_fmadd_ps(_mm_set1_ps(2), w, d), b4);
                    __m128 v2 = _mm_add_ps(_mm_fmadd_ps(_mm_set1_ps(4), u, p), b4);
                    __m128 v3 = _mm_add_ps(_mm_add_ps(_mm_fmadd_ps(_mm_set1_ps(8), w, d), x5), b4);
                    if (slope) {
                        v0 = PRELU128(v0);
                        v1 = PRELU128(v1);
                        v2 = PRELU128(v2);
                        v3 = PRELU128(v3);
                    } else if (relu) {
                        v0 = _mm_max_ps(v0, z4);
                        v1 = _mm_max_ps(v1, z4);
                        v2 = _mm_max_ps(v2, z4);
                        v3 = _mm_max_ps(v3, z4);
                    }
                    _MM_TRANSPOSE4_PS(v0, v1, v2, v3);   // row k: tile k's four outputs
                    _mm_storeu_ps(out, v0);
                    _mm_storeu_ps(out + 4, v1);
                    _mm_storeu_ps(out + 8, v2);
                    _mm_storeu_ps(out + 12, v3);
                } else {
                    const __m128 x0 = _mm_loadu_ps(c), x1 = _mm_loadu_ps(c + tiles), x2 = _mm_loadu_ps(c + 2 * tiles),
                                 x3 = _mm_loadu_ps(c + 3 * tiles);
                    __m128 v0 = _mm_add_ps(_mm_add_ps(_mm_add_ps(x0, x1), x2), b4);
                    __m128 v1 = _mm_add_ps(_mm_sub_ps(_mm_sub_ps(x1, x2), x3), b4);
                    if (slope) {
                        v0 = PRELU128(v0);
                        v1 = PRELU128(v1);
                    } else if (relu) {
                        v0 = _mm_max_ps(v0, z4);
                        v1 = _mm_max_ps(v1, z4);
                    }
                    _mm_storeu_ps(out, _mm_unpacklo_ps(v0, v1));
                    _mm_storeu_ps(out + 4, _mm_unpackhi_ps(v0, v1));
                }
#undef PRELU128
                t += 4;
            }
            for (; t < tw; t++) {
                const int q = q0 + t;
                output_tile_row(m, c0, tiles, q, bias, y + off[q] + (long)i * ow, collim[q] < m ? collim[q] : m, relu,
                                slope);
            }
        }
    }
}

#undef PRELU256

/// AVX-512: 16 tiles at a time, each output (row i, column j) of the 16 tiles scattered to its
/// place, masked where a tile overhangs the output.
__attribute__((target("avx512f")))
static void fervid_winograd_output_rows_512(int m, const float *mm, long stride, int tw, int rows, int first_row, int th,
                            float bias, float *y, long image_stride, int oh, int ow, int relu, const float *slope,
                            float *scratch) {
    const int alpha = m + 2, tiles = rows * tw;
    float *a = scratch;
    int *off = (int *)(a + (long)m * alpha * tiles), *rowlim = off + tiles, *collim = rowlim + tiles;
    output_prepare(m, mm, stride, tw, rows, first_row, th, image_stride, oh, ow, a, off, rowlim, collim);
    const __m512 bv = _mm512_set1_ps(bias), zero = _mm512_setzero_ps(), two = _mm512_set1_ps(2),
                 four = _mm512_set1_ps(4), eight = _mm512_set1_ps(8), sv = _mm512_set1_ps(slope ? *slope : 0);
    for (int q0 = 0; q0 < tiles; q0 += 16) {
        const int left = tiles - q0;
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512i offv = _mm512_maskz_loadu_epi32(k, off + q0);
        const __m512i rl = _mm512_maskz_loadu_epi32(k, rowlim + q0), cl = _mm512_maskz_loadu_epi32(k, collim + q0);
        for (int i = 0; i < m; i++) {
            const __mmask16 ki = k & _mm512_cmpgt_epi32_mask(rl, _mm512_set1_epi32(i));
            if (!ki) continue;
            const float *c0 = a + (long)(alpha * i) * tiles + q0;
            __m512 v[4];
            if (m == 4) {
                const __m512 x0 = _mm512_maskz_loadu_ps(k, c0), x1 = _mm512_maskz_loadu_ps(k, c0 + tiles),
                             x2 = _mm512_maskz_loadu_ps(k, c0 + 2 * tiles), x3 = _mm512_maskz_loadu_ps(k, c0 + 3 * tiles),
                             x4 = _mm512_maskz_loadu_ps(k, c0 + 4 * tiles), x5 = _mm512_maskz_loadu_ps(k, c0 + 5 * tiles);
                const __m512 p = _mm512_add_ps(x1, x2), d = _mm512_sub_ps(x1, x2), u = _mm512_add_ps(x3, x4),
                             w = _mm512_sub_ps(x3, x4);
                v[0] = _mm512_add_ps(_mm512_add_ps(x0, p), u);
                v[1] = _mm512_fmadd_ps(two, w, d);
                v[2] = _mm512_fmadd_ps(four, u, p);
                v[3] = _mm512_add_ps(_mm512_fmadd_ps(eight, w, d), x5);
            } else {
                const __m512 x0 = _mm512_maskz_loadu_ps(k, c0), x1 = _mm512_maskz_loadu_ps(k, c0 + tiles),
                             x2 = _mm512_maskz_loadu_ps(k, c0 + 2 * tiles), x3 = _mm512_maskz_loadu_ps(k, c0 + 3 * tiles);
                v[0] = _mm512_add_ps(_mm512_add_ps(x0, x1), x2);
                v[1] = _mm512_sub_ps(_mm512_sub_ps(x1, x2), x3);
            }
            const __m512i rowoff = _mm512_add_epi32(offv, _mm512_set1_epi32(i * ow));
            for (int j = 0; j < m; j++) {
                const __mmask16 kj = ki & _mm512_cmpgt_epi32_mask(cl, _mm512_set1_epi32(j));
                __m512 x = _mm512_add_ps(v[j], bv);
                if (slope) x = _mm512_fmadd_ps(sv, _mm512_min_ps(x, zero), _mm512_max_ps(x, zero));
                else if (relu) x = _mm512_max_ps(x, zero);
                _mm512_mask_i32scatter_ps(y, kj, _mm512_add_epi32(rowoff, _mm512_set1_epi32(j)), x, 4);
            }
        }
    }
}

#else
static void fervid_winograd_output_rows_base OUTPUT_PARAMS { output_rows_body OUTPUT_ARGS; }
#endif

FERVID_ISA_DISPATCH(fervid_winograd_output_rows, OUTPUT_PARAMS, OUTPUT_ARGS)
