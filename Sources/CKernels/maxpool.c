// Max pooling over NCHW planes (see include/fervid_gemm.h): separable, a row pass (max over
// the window's columns, at the output stride) then a column pass (max over the window's rows),
// both plain loops compiled per instruction set; common window shapes get constant-folded copies
// of the row pass so the compiler vectorizes their strided loads.
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

ALWAYS_INLINE void maxpool_body(const float *x, float *y, long planes, int h, int w, int oh, int ow, int k, int s,
                                int top, int left, float *scratch) {
    for (long p = 0; p < planes; p++) {
        maxpool_plane(x + p * h * w, y + p * oh * ow, h, w, oh, ow, k, s, top, left, scratch);
    }
}

#define MAXPOOL_PARAMS                                                                                              \
    (const float *x, float *y, long planes, int h, int w, int oh, int ow, int k, int s, int top, int left, float *scratch)
#define MAXPOOL_ARGS (x, y, planes, h, w, oh, ow, k, s, top, left, scratch)

FERVID_PER_ISA(fervid_maxpool, maxpool_body, MAXPOOL_PARAMS, MAXPOOL_ARGS)
