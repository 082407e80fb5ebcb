#ifndef FERVID_RESIZE_H
#define FERVID_RESIZE_H

#include <stdint.h>

/// Area interpolation (PyTorch `interpolate(mode="area")`, adaptive average pooling) of
/// `channels` planes: the region (x, y, width, height) of plane c, which starts at
/// base + c·plane_stride with rows row_stride floats apart, to out_h × out_w planes at
/// dst + c·out_h·out_w. Output cell i along an axis of n → m averages input [⌊i·n/m⌋, ⌈(i+1)·n/m⌉).
/// Sums in double: a vertical pass over whole rows (vectorized), then the horizontal spans.
/// `scratch` holds `width + out_w` doubles (row sums, then the output columns' spans). `isa` picks the compiled variant (see fervid_gemm.h).
void fervid_area_resize(int isa, const float *base, int channels, long plane_stride, long row_stride, int x, int y,
                        int width, int height, int out_h, int out_w, float *dst, double *scratch);

/// fervid_area_resize straight from packed 8-bit RGB rows (`row_bytes` apart): the region (x, y,
/// width, height) to three out_h × out_w planes at dst (R, G, B, out_h·out_w floats apart). Sums
/// in 32-bit integers (exact: each output's rectangle below 16,843,009 pixels), a vertical pass
/// over the region's bytes (vectorized), then each output column's span; each output is its exact
/// sum divided in double by its pixel count, bit-identical to fervid_area_resize of the same bytes
/// as floats. `scratch` holds 3·width + 2·out_w uint32 (row sums, then the columns' spans).
void fervid_area_resize_rgb8(int isa, const unsigned char *src, long row_bytes, int x, int y, int width, int height,
                             int out_h, int out_w, float *dst, uint32_t *scratch);

/// The region (x, y, width, height) of packed 8-bit RGB rows (`row_bytes` apart) as three planes
/// of 0…255 floats: R at dst (rows `width` apart), G at dst + plane_stride, B at dst + 2·plane_stride.
void fervid_rgb8_planar(int isa, const unsigned char *src, long row_bytes, int x, int y, int width, int height,
                        float *dst, long plane_stride);

/// Summed-area tables of the region (x, y, width, height) of packed 8-bit RGB rows (`row_bytes`
/// apart): plane c (R, G, B) at dst + c·plane_stride holds (height + 1) rows of width + 1 entries,
/// entry (r, j) = the sum of channel c over the region's rows [0, r) and columns [0, j) (row 0 and
/// column 0 are 0). Sums wrap modulo 2^32, so a rectangle's sum taken from them by the four-corner
/// difference is exact while it is below 2^32 (any region of up to 16,843,009 pixels).
void fervid_rgb8_integral(int isa, const unsigned char *src, long row_bytes, int x, int y, int width, int height,
                          uint32_t *dst, long plane_stride);

/// fervid_area_resize from summed-area tables (fervid_rgb8_integral's layout: plane c at
/// table + c·plane_stride, rows row_stride entries apart, entry (r, j) the sum over [0, r) × [0, j)
/// of the image): the region (x, y, width, height) of the image to out_h × out_w planes at
/// dst + c·out_h·out_w. Each output is its rectangle's exact integer sum divided (in double) by its
/// pixel count, so it is bit-identical to fervid_area_resize on the same 8-bit values (whose
/// double sums of integers are exact too), at four reads per output whatever the spans.
/// `scratch` holds out_w doubles (the output columns' spans).
void fervid_area_resize_integral(int isa, const uint32_t *table, int channels, long plane_stride, long row_stride,
                                 int x, int y, int width, int height, int out_h, int out_w, float *dst,
                                 double *scratch);

#endif
