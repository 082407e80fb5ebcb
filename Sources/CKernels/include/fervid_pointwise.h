#ifndef FERVID_POINTWISE_H
#define FERVID_POINTWISE_H

#include "fervid_isa.h"

// MARK: 1×1 convolution

/// y (n, cout, p) = act(bias + weight (cout, cin) · x (n, cin, p)): a 1×1, unpadded, stride-1
/// convolution over planes of p pixels, read in place (no copy of the input, no scratch).
/// Each output is bias[co] (0 when `bias` is NULL), then one multiply-add per input channel in
/// ascending order; ReLU when `relu`. The AVX2 variant keeps up to 6 output channels × 16
/// columns in registers, the AVX-512 one up to 8 × 32 (channels cut into blocks of near-equal
/// size); the row's tail is read and written masked, so nothing past x's or y's last element is
/// touched. `isa` picks the compiled variant.
void fervid_pointwise(int isa, const float *x, long n, int cin, long p, const float *weight, const float *bias,
                      int cout, float *y, int relu);

// MARK: max pooling plus a residual

/// y = maxpool(x) + r over `planes` contiguous h×w planes of x into oh×ow planes of y (r: same
/// layout as y, or NULL for none; r may be y): window k×k, stride s, padding top/left as
/// fervid_maxpool (padded cells never win; a window with no pixel gives −∞). Column-first: the
/// max over the window's rows for a whole input row, then over its columns at the stride.
/// `scratch` holds fervid_maxpool_add_scratch(ow, k, s) floats. `isa` picks the compiled variant.
void fervid_maxpool_add(int isa, const float *x, const float *r, float *y, long planes, int h, int w, int oh, int ow,
                        int k, int s, int top, int left, float *scratch);
long fervid_maxpool_add_scratch(int ow, int k, int s);

#endif
