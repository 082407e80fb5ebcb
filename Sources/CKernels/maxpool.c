// Max pooling over NCHW planes (see include/fervid_gemm.h): separable, a row pass (max over
// the window's columns, at the output stride) then a column pass (max over the window's rows),
// both plain loops compiled per instruction set; common window shapes get constant-folded copies
// of the row pass so the compiler vectorizes their strided loads. Rows up to 2048 wide pool
// columns first instead (the window's rows, then one row pass per output row: half the strided
// work at stride 2), 3×3/2 and 2×2/2 windows eight outputs at a time from deinterleaving
// shuffles (MTCNN's pools: 11 % of O-Net's instructions at batch 1 before). Without top/left
// padding (MTCNN's pools) a plane takes a path specialised for the window (2 or 3): the window's
// rows maxed eight columns a step straight from x, and every output of a row, ceil-mode overhang
// and rows of fewer than 8 outputs included, from the deinterleaving steps (O-Net at batch 1:
// 0.47 → 0.23 M instructions of pooling; R-Net at batch 16: 2.42 → 0.92 M).
#include "fervid_maxpool.h"

#include <math.h>

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

/// Row pass over output columns [lo, hi) whose window lies inside the row.
ALWAYS_INLINE void row_interior(const float *restrict src, float *restrict dst, int lo, int hi, int k, int s,
                                int left) {
    for (int o = lo; o < hi; o++) {
        const float *p = src + o * s - left;
        float m = p[0];
        for (int j = 1; j < k; j++) m = p[j] > m ? p[j] : m;
        dst[o] = m;
    }
}

/// Row pass over output columns [lo, hi) whose window overhangs the row (clipped to [0, w)).
ALWAYS_INLINE void row_clipped(const float *restrict src, float *restrict dst, int lo, int hi, int w, int k, int s,
                               int left) {
    for (int o = lo; o < hi; o++) {
        int w0 = o * s - left, w1 = w0 + k;
        if (w0 < 0) w0 = 0;
        if (w1 > w) w1 = w;
        float m = -INFINITY;
        for (int i = w0; i < w1; i++) m = src[i] > m ? src[i] : m;
        dst[o] = m;
    }
}

/// One plane: rows (h × ow of `scratch`), then columns into `y` (oh × ow).
ALWAYS_INLINE void maxpool_plane(const float *restrict x, float *restrict y, int h, int w, int oh, int ow, int k,
                                 int s, int top, int left, float *restrict scratch) {
    // Output columns whose window is entirely inside [0, w).
    int lo = (left + s - 1) / s, hi = w - k + left >= 0 ? (w - k + left) / s + 1 : 0;
    if (lo > ow) lo = ow;
    if (hi > ow) hi = ow;
    if (hi < lo) hi = lo;
    for (int r = 0; r < h; r++) {
        const float *src = x + (long)r * w;
        float *dst = scratch + (long)r * ow;
        row_clipped(src, dst, 0, lo, w, k, s, left);
        if (k == 2 && s == 2) row_interior(src, dst, lo, hi, 2, 2, left);
        else if (k == 3 && s == 2) row_interior(src, dst, lo, hi, 3, 2, left);
        else if (k == 3 && s == 1) row_interior(src, dst, lo, hi, 3, 1, left);
        else row_interior(src, dst, lo, hi, k, s, left);
        row_clipped(src, dst, hi, ow, w, k, s, left);
    }
    for (int o = 0; o < oh; o++) {
        int h0 = o * s - top, h1 = h0 + k;
        if (h0 < 0) h0 = 0;
        if (h1 > h) h1 = h;
        float *out = y + (long)o * ow;
        if (h1 <= h0) {
            for (int j = 0; j < ow; j++) out[j] = -INFINITY;
            continue;
        }
        const float *first = scratch + (long)h0 * ow;
        for (int j = 0; j < ow; j++) out[j] = first[j];
        for (int r = h0 + 1; r < h1; r++) {
            const float *row = scratch + (long)r * ow;
            for (int j = 0; j < ow; j++) out[j] = row[j] > out[j] ? row[j] : out[j];
        }
    }
}

/// Widest row the column-first order pools (its row of column maxima lives on the stack).
#define COLUMN_FIRST_MAX_W 2048

typedef float vec8 __attribute__((ext_vector_type(8)));
/// The same, at any float's alignment (unaligned loads).
typedef float vec8u __attribute__((ext_vector_type(8), aligned(4), may_alias));

/// Eight unaligned floats (macros, not functions: no vector-ABI arguments in the portable build).
#define LOAD8(p) (*(const vec8u *)(p))
/// The running max `m` against the next tap `v`, as the scalar loops: `v` only when greater.
#define VMAX8(m, v) ((v) > (m) ? (v) : (m))

/// Row pass of a k × k / 2 window (k = 2 or 3) over output columns [lo, hi) inside the row, 8
/// outputs per step from even/odd deinterleaved loads (rows of 8 outputs or more; the last step
/// overlaps the one before); reads one float past the last window.
#define STRIDE2_STEP(o)                                                                                        \
    do {                                                                                                       \
        const float *p = src + 2 * (o) - left;                                                                 \
        const vec8 a = LOAD8(p), b = LOAD8(p + 8);                                                             \
        const vec8 even = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);                            \
        const vec8 odd = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);                             \
        vec8 m = VMAX8(even, odd);                                                                             \
        if (k == 3) {                                                                                          \
            const vec8 c = LOAD8(p + 2), d = LOAD8(p + 10);                                                    \
            const vec8 third = __builtin_shufflevector(c, d, 0, 2, 4, 6, 8, 10, 12, 14);                       \
            m = VMAX8(m, third);                                                                               \
        }                                                                                                      \
        __builtin_memcpy(dst + (o), &m, sizeof m);                                                             \
    } while (0)

ALWAYS_INLINE int row_stride2(const float *restrict src, float *restrict dst, int lo, int hi, int k, int left) {
    if (hi - lo < 8) return lo;
    int o = lo;
    for (; o + 8 <= hi; o += 8) STRIDE2_STEP(o);
    // The last outputs: one more step ending at hi, overlapping the previous (same values).
    if (o < hi) STRIDE2_STEP(hi - 8);
    return hi;
}

/// Max over rows [h0, h1) of x (row stride w) into row[0, w), in row order (as the scalar
/// loops: a later row's value only when greater).
ALWAYS_INLINE void column_max(const float *restrict x, float *restrict row, int w, int h0, int h1) {
    const float *first = x + (long)h0 * w;
    for (int j = 0; j < w; j++) row[j] = first[j];
    for (int r = h0 + 1; r < h1; r++) {
        const float *restrict src = x + (long)r * w;
        for (int j = 0; j < w; j++) row[j] = src[j] > row[j] ? src[j] : row[j];
    }
}

/// One plane of a k × k / 2 window (k = 2 or 3, a compile-time constant here) with no top or
/// left padding (MTCNN's pools, ceil mode or not): per output row the max over its (up to) k
/// input rows, eight columns a step (the last step overlapping the one before: max is
/// idempotent) straight from x, then every output of the row from the deinterleaving steps — a
/// ceil-mode window hanging past the row included: the −∞ after the row never wins, as in the
/// clipped scalar loop. A row of fewer than 8 outputs is one step whose first ow lanes are
/// kept. `row` holds w + 32 floats, the 32 past w −∞.
ALWAYS_INLINE void maxpool_plane_stride2(const float *restrict x, float *restrict y, int h, int w, int oh, int ow,
                                         const int k, float *restrict row) {
    const int left = 0;
    for (int o = 0; o < oh; o++) {
        const float *r0 = x + (long)(2 * o) * w;
        const int n = h - 2 * o < k ? h - 2 * o : k;   // rows of this window inside the plane (≥ 1)
        if (w >= 8) {
#define COLUMN_STEP(j)                                                                                         \
    do {                                                                                                       \
        vec8 m = LOAD8(r0 + (j));                                                                              \
        if (n > 1) {                                                                                           \
            const vec8 v = LOAD8(r0 + w + (j));                                                                \
            m = VMAX8(m, v);                                                                                   \
        }                                                                                                      \
        if (k == 3 && n > 2) {                                                                                 \
            const vec8 v = LOAD8(r0 + 2 * w + (j));                                                            \
            m = VMAX8(m, v);                                                                                   \
        }                                                                                                      \
        __builtin_memcpy(row + (j), &m, sizeof m);                                                             \
    } while (0)
            int j = 0;
            for (; j + 8 <= w; j += 8) COLUMN_STEP(j);
            if (j < w) COLUMN_STEP(w - 8);
#undef COLUMN_STEP
        } else {
            column_max(x, row, w, 2 * o, 2 * o + n);
        }
        float *out = y + (long)o * ow;
        if (ow >= 8) {
            row_stride2(row, out, 0, ow, k, left);
        } else {
            float part[8];
            const float *src = row;
            float *dst = part;
            STRIDE2_STEP(0);
            for (int j = 0; j < ow; j++) out[j] = part[j];
        }
    }
}

/// One plane, columns first: for each output row the max over its window's rows (contiguous,
/// vector loops), then the row pass over that one row. `row` holds w + 32 floats.
ALWAYS_INLINE void maxpool_plane_columns_first(const float *restrict x, float *restrict y, int h, int w, int oh,
                                               int ow, int k, int s, int top, int left, float *restrict row) {
    int lo = (left + s - 1) / s, hi = w - k + left >= 0 ? (w - k + left) / s + 1 : 0;
    if (lo > ow) lo = ow;
    if (hi > ow) hi = ow;
    if (hi < lo) hi = lo;
    for (int o = 0; o < oh; o++) {
        int h0 = o * s - top, h1 = h0 + k;
        if (h0 < 0) h0 = 0;
        if (h1 > h) h1 = h;
        float *out = y + (long)o * ow;
        if (h1 <= h0) {
            for (int j = 0; j < ow; j++) out[j] = -INFINITY;
            continue;
        }
        column_max(x, row, w, h0, h1);
        row_clipped(row, out, 0, lo, w, k, s, left);
        int mid = lo;
        if (s == 2 && (k == 2 || k == 3)) mid = row_stride2(row, out, lo, hi, k, left);
        if (k == 3 && s == 1) row_interior(row, out, mid, hi, 3, 1, left);
        else row_interior(row, out, mid, hi, k, s, left);
        row_clipped(row, out, hi, ow, w, k, s, left);
    }
}

ALWAYS_INLINE void maxpool_body(const float *x, float *y, long planes, int h, int w, int oh, int ow, int k, int s,
                                int top, int left, float *scratch) {
    if (w <= COLUMN_FIRST_MAX_W) {
        // Slack after the row for the stride-2 pass's vector loads (never in a used lane).
        float row[COLUMN_FIRST_MAX_W + 32];
        for (int j = w; j < w + 32; j++) row[j] = -INFINITY;
        if (s == 2 && top == 0 && left == 0 && (k == 2 || k == 3)) {
            for (long p = 0; p < planes; p++) {
                if (k == 3) maxpool_plane_stride2(x + p * h * w, y + p * oh * ow, h, w, oh, ow, 3, row);
                else maxpool_plane_stride2(x + p * h * w, y + p * oh * ow, h, w, oh, ow, 2, row);
            }
            return;
        }
        for (long p = 0; p < planes; p++) {
            maxpool_plane_columns_first(x + p * h * w, y + p * oh * ow, h, w, oh, ow, k, s, top, left, row);
        }
        return;
    }
    for (long p = 0; p < planes; p++) {
        maxpool_plane(x + p * h * w, y + p * oh * ow, h, w, oh, ow, k, s, top, left, scratch);
    }
}

#define MAXPOOL_PARAMS                                                                                              \
    (const float *x, float *y, long planes, int h, int w, int oh, int ow, int k, int s, int top, int left, float *scratch)
#define MAXPOOL_ARGS (x, y, planes, h, w, oh, ow, k, s, top, left, scratch)

FERVID_PER_ISA(fervid_maxpool, maxpool_body, MAXPOOL_PARAMS, MAXPOOL_ARGS)
