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

// MARK: summed-area tables

ALWAYS_INLINE void rgb8_integral_body(const unsigned char *src, long row_bytes, int x, int y, int width, int height,
                                      uint32_t *dst, long plane_stride) {
    const long stride = (long)width + 1;
    uint32_t *red = dst, *green = dst + plane_stride, *blue = dst + 2 * plane_stride;
    for (long j = 0; j < stride; j++) red[j] = green[j] = blue[j] = 0;
    for (int r = 0; r < height; r++) {
        const unsigned char *restrict s = src + (long)(y + r) * row_bytes + 3L * x;
        // Row r + 1 = row r + the running sums of this source row (three independent chains).
        uint32_t *ro = red + (r + 1) * stride, *go = green + (r + 1) * stride, *bo = blue + (r + 1) * stride;
        const uint32_t *ru = ro - stride, *gu = go - stride, *bu = bo - stride;
        uint32_t sr = 0, sg = 0, sb = 0;
        ro[0] = go[0] = bo[0] = 0;
        for (int j = 0; j < width; j++) {
            sr += s[3 * j];
            sg += s[3 * j + 1];
            sb += s[3 * j + 2];
            ro[j + 1] = ru[j + 1] + sr;
            go[j + 1] = gu[j + 1] + sg;
            bo[j + 1] = bu[j + 1] + sb;
        }
    }
}

#define INTEGRAL_PARAMS (const unsigned char *src, long row_bytes, int x, int y, int width, int height, uint32_t *dst, long plane_stride)
#define INTEGRAL_ARGS (src, row_bytes, x, y, width, height, dst, plane_stride)

FERVID_PER_ISA(fervid_rgb8_integral, rgb8_integral_body, INTEGRAL_PARAMS, INTEGRAL_ARGS)

ALWAYS_INLINE void area_integral_body(const uint32_t *table, int channels, long plane_stride, long row_stride, int x,
                                      int y, int width, int height, int out_h, int out_w, float *dst,
                                      double *scratch) {
    // Each output column's span [x0, x1) in table columns (the region's x added), once per call.
    int *restrict span = (int *)scratch;
    for (int ox = 0; ox < out_w; ox++) {
        span[2 * ox] = x + (int)((long)ox * width / out_w);
        span[2 * ox + 1] = x + (int)(((long)(ox + 1) * width + out_w - 1) / out_w);
    }
    for (int c = 0; c < channels; c++) {
        const uint32_t *plane = table + c * plane_stride;
        float *out = dst + (long)c * out_h * out_w;
        for (int oy = 0; oy < out_h; oy++) {
            const int y0 = (int)((long)oy * height / out_h), y1 = (int)(((long)(oy + 1) * height + out_h - 1) / out_h);
            const uint32_t *restrict top = plane + (long)(y + y0) * row_stride,
                                     *restrict bottom = plane + (long)(y + y1) * row_stride;
            const double rows = (double)(y1 - y0);
            float *restrict o = out + (long)oy * out_w;
            for (int ox = 0; ox < out_w; ox++) {
                const int x0 = span[2 * ox], x1 = span[2 * ox + 1];
                // Modulo 2^32: exact, the true sum being below 2^32.
                const uint32_t sum = (bottom[x1] - top[x1]) - (bottom[x0] - top[x0]);
                o[ox] = (float)((double)sum / (rows * (double)(x1 - x0)));
            }
        }
    }
}

#define AREA_INTEGRAL_PARAMS                                                                                        \
    (const uint32_t *table, int channels, long plane_stride, long row_stride, int x, int y, int width, int height,  \
     int out_h, int out_w, float *dst, double *scratch)
#define AREA_INTEGRAL_ARGS (table, channels, plane_stride, row_stride, x, y, width, height, out_h, out_w, dst, scratch)

FERVID_PER_ISA(fervid_area_resize_integral, area_integral_body, AREA_INTEGRAL_PARAMS, AREA_INTEGRAL_ARGS)

// MARK: area resize straight from packed RGB bytes

ALWAYS_INLINE void area_rgb8_body(const unsigned char *src, long row_bytes, int x, int y, int width, int height,
                                  int out_h, int out_w, float *dst, uint32_t *restrict acc) {
    const int n3 = 3 * width;
    int *restrict span = (int *)(acc + n3);
    for (int ox = 0; ox < out_w; ox++) {
        span[2 * ox] = (int)((long)ox * width / out_w);
        span[2 * ox + 1] = (int)(((long)(ox + 1) * width + out_w - 1) / out_w);
    }
    const long plane = (long)out_h * out_w;
    const unsigned char *base = src + (long)y * row_bytes + 3L * x;
    for (int oy = 0; oy < out_h; oy++) {
        const int y0 = (int)((long)oy * height / out_h), y1 = (int)(((long)(oy + 1) * height + out_h - 1) / out_h);
        // Vertical: the span's rows summed per byte (R, G, B interleaved), whole width at once.
        const unsigned char *restrict first = base + (long)y0 * row_bytes;
        for (int j = 0; j < n3; j++) acc[j] = first[j];
        for (int r = y0 + 1; r < y1; r++) {
            const unsigned char *restrict row = base + (long)r * row_bytes;
            for (int j = 0; j < n3; j++) acc[j] += row[j];
        }
        // Horizontal: each output column's span of the row sums, per colour.
        const double rows = (double)(y1 - y0);
        float *restrict o = dst + (long)oy * out_w;
        for (int ox = 0; ox < out_w; ox++) {
            const int x0 = span[2 * ox], x1 = span[2 * ox + 1];
            uint32_t red = 0, green = 0, blue = 0;
            for (int j = x0; j < x1; j++) {
                red += acc[3 * j];
                green += acc[3 * j + 1];
                blue += acc[3 * j + 2];
            }
            const double count = rows * (double)(x1 - x0);
            o[ox] = (float)((double)red / count);
            o[plane + ox] = (float)((double)green / count);
            o[2 * plane + ox] = (float)((double)blue / count);
        }
    }
}

#define AREA_RGB8_PARAMS                                                                                            \
    (const unsigned char *src, long row_bytes, int x, int y, int width, int height, int out_h, int out_w, float *dst, \
     uint32_t *scratch)
#define AREA_RGB8_ARGS (src, row_bytes, x, y, width, height, out_h, out_w, dst, scratch)

FERVID_PER_ISA(fervid_area_resize_rgb8, area_rgb8_body, AREA_RGB8_PARAMS, AREA_RGB8_ARGS)

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
