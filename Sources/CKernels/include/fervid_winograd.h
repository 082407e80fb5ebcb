#ifndef FERVID_WINOGRAD_H
#define FERVID_WINOGRAD_H

#include "fervid_isa.h"

// MARK: Winograd transforms (F(m×m, 3×3), m = 2 or 4, α = m + 2). `isa` picks the compiled
// variant (any supported one; fervid_gemm_best_isa() for speed). Each call handles one channel
// over a range of tile rows, which may span images, so the vector loops run along every tile of
// the range rather than one short tile row.

/// Floats of scratch fervid_winograd_input_rows needs for `rows` tile rows of `tw` tiles.
long fervid_winograd_input_scratch(int m, int tw, int rows);

/// V = Bᵀ d B for one input channel over tile rows [first_row, first_row + rows) (row R: image
/// R / th, tile row R % th): `plane0` is the channel's plane in image 0 (h×w), image i's at
/// plane0 + i·image_stride; padding pad_top/pad_left; tile q = r·tw + t's element e goes to
/// v[e·stride + q]. `scratch` holds fervid_winograd_input_scratch(m, tw, rows) floats.
void fervid_winograd_input_rows(int isa, int m, const float *plane0, long image_stride, int h, int w, int pad_top,
                                int pad_left, int th, int tw, int first_row, int rows, float *v, long stride,
                                float *scratch);

/// Floats of scratch fervid_winograd_output_rows needs for `rows` tile rows of `tw` tiles.
long fervid_winograd_output_scratch(int m, int tw, int rows);

/// Y = Aᵀ M A + bias (then PReLU with *slope when `slope` is not NULL, else ReLU when `relu`:
/// max(y, 0) + slope·min(y, 0), as fervid_prelu computes it) for one output channel over tile rows
/// [first_row, first_row + rows): tile q = r·tw + t's element e is mm[e·stride + q]; the
/// channel's output plane in image 0 is y (oh×ow), image i's at y + i·image_stride (which must
/// fit in 32 bits); parts of tiles past the output's edge are not written. `scratch` holds
/// fervid_winograd_output_scratch(m, tw, rows) floats.
void fervid_winograd_output_rows(int isa, int m, const float *mm, long stride, int tw, int rows, int first_row,
                                 int th, float bias, float *y, long image_stride, int oh, int ow, int relu,
                                 const float *slope, float *scratch);

#endif
