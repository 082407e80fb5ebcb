#ifndef FERVID_RESIZE_H
#define FERVID_RESIZE_H

/// Area interpolation (PyTorch `interpolate(mode="area")`, adaptive average pooling) of
/// `channels` planes: the region (x, y, width, height) of plane c, which starts at
/// base + c·plane_stride with rows row_stride floats apart, to out_h × out_w planes at
/// dst + c·out_h·out_w. Output cell i along an axis of n → m averages input [⌊i·n/m⌋, ⌈(i+1)·n/m⌉).
/// Sums in double: a vertical pass over whole rows (vectorized), then the horizontal spans.
/// `scratch` holds `width + out_w` doubles (row sums, then the output columns' spans). `isa` picks the compiled variant (see fervid_gemm.h).
void fervid_area_resize(int isa, const float *base, int channels, long plane_stride, long row_stride, int x, int y,
                        int width, int height, int out_h, int out_w, float *dst, double *scratch);

/// The region (x, y, width, height) of packed 8-bit RGB rows (`row_bytes` apart) as three planes
/// of 0…255 floats: R at dst (rows `width` apart), G at dst + plane_stride, B at dst + 2·plane_stride.
void fervid_rgb8_planar(int isa, const unsigned char *src, long row_bytes, int x, int y, int width, int height,
                        float *dst, long plane_stride);

#endif
