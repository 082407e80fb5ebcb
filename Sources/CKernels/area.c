// Area interpolation (see include/fervid_resize.h), compiled per instruction set.
#include "fervid_resize.h"
#include "fervid_gemm.h"

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

ALWAYS_INLINE void area_body(const float *base, int channels, long plane_stride, long row_stride, int x, int y,
                             int width, int height, int out_h, int out_w, float *dst, double *restrict acc) {
    // Each output column's span [x0, x0 + n), computed once per call (not once per output
    // pixel: two 64-bit divisions each), in the scratch after the row sums.
    int *restrict span = (int *)(acc + width);
    for (int ox = 0; ox < out_w; ox++) {
        const int x0 = (int)((long)ox * width / out_w), x1 = (int)(((long)(ox + 1) * width + out_w - 1) / out_w);
        span[2 * ox] = x0;
        span[2 * ox + 1] = x1 - x0;
    }
    for (int c = 0; c < channels; c++) {
        const float *plane = base + c * plane_stride + (long)y * row_stride + x;
        float *out = dst + (long)c * out_h * out_w;
        for (int oy = 0; oy < out_h; oy++) {
            const int y0 = (int)((long)oy * height / out_h), y1 = (int)(((long)(oy + 1) * height + out_h - 1) / out_h);
            // Vertical: the sum of the span's rows, whole width at once.
            const float *first = plane + (long)y0 * row_stride;
            for (int j = 0; j < width; j++) acc[j] = (double)first[j];
            for (int r = y0 + 1; r < y1; r++) {
                const float *restrict row = plane + (long)r * row_stride;
                for (int j = 0; j < width; j++) acc[j] += (double)row[j];
            }
            // Horizontal: each output column's span of the row sums, left to right (the same
            // additions in the same order as the naive twin's rows).
            const double rows = (double)(y1 - y0);
            float *restrict o = out + (long)oy * out_w;
            for (int ox = 0; ox < out_w; ox++) {
                const double *a = acc + span[2 * ox];
                const int n = span[2 * ox + 1];
                double sum = a[0];
                if (n > 1) sum += a[1];
                if (n > 2) sum += a[2];
                for (int j = 3; j < n; j++) sum += a[j];
                o[ox] = (float)(sum / (rows * (double)n));
            }
        }
    }
}

#define AREA_PARAMS                                                                                                 \
    (const float *base, int channels, long plane_stride, long row_stride, int x, int y, int width, int height,       \
     int out_h, int out_w, float *dst, double *scratch)
#define AREA_ARGS (base, channels, plane_stride, row_stride, x, y, width, height, out_h, out_w, dst, scratch)

FERVID_PER_ISA(fervid_area_resize, area_body, AREA_PARAMS, AREA_ARGS)

// MARK: packed RGB bytes -> planar floats

ALWAYS_INLINE void rgb8_planar_body(const unsigned char *src, long row_bytes, int x, int y, int width, int height,
                                    float *dst, long plane_stride) {
    for (int r = 0; r < height; r++) {
        const unsigned char *restrict s = src + (long)(y + r) * row_bytes + 3L * x;
        float *restrict red = dst + (long)r * width, *restrict green = red + plane_stride,
                        *restrict blue = green + plane_stride;
        for (int j = 0; j < width; j++) {
            red[j] = (float)s[3 * j];
            green[j] = (float)s[3 * j + 1];
            blue[j] = (float)s[3 * j + 2];
        }
    }
}

#define RGB8_PARAMS (const unsigned char *src, long row_bytes, int x, int y, int width, int height, float *dst, long plane_stride)
#define RGB8_ARGS (src, row_bytes, x, y, width, height, dst, plane_stride)

FERVID_PER_ISA(fervid_rgb8_planar, rgb8_planar_body, RGB8_PARAMS, RGB8_ARGS)
