// Area interpolation (see include/fervid_resize.h), compiled per instruction set.
#include "fervid_resize.h"
#include "fervid_gemm.h"

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

ALWAYS_INLINE void area_body(const float *base, int channels, long plane_stride, long row_stride, int x, int y,
                             int width, int height, int out_h, int out_w, float *dst, double *restrict acc) {
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
            // Horizontal: each output column's span of the row sums.
            for (int ox = 0; ox < out_w; ox++) {
                const int x0 = (int)((long)ox * width / out_w), x1 = (int)(((long)(ox + 1) * width + out_w - 1) / out_w);
                double sum = 0;
                for (int j = x0; j < x1; j++) sum += acc[j];
                out[(long)oy * out_w + ox] = (float)(sum / ((double)(y1 - y0) * (double)(x1 - x0)));
            }
        }
    }
}

#define AREA_PARAMS                                                                                                 \
    (const float *base, int channels, long plane_stride, long row_stride, int x, int y, int width, int height,       \
     int out_h, int out_w, float *dst, double *scratch)
#define AREA_ARGS (base, channels, plane_stride, row_stride, x, y, width, height, out_h, out_w, dst, scratch)

FERVID_PER_ISA(fervid_area_resize, area_body, AREA_PARAMS, AREA_ARGS)
