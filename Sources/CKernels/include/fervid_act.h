#ifndef FERVID_ACT_H
#define FERVID_ACT_H

/// PReLU over NCHW planes (prelu.c): plane p (0 ≤ p < planes) of `size` floats of x uses slope
/// slopes[(first_plane + p) % channels]; y = x > 0 ? x : slope·x, exactly (computed as
/// max(x, 0) + slope·min(x, 0)). x and y may be the same buffer. `isa` picks the compiled variant.
void fervid_prelu(int isa, const float *x, float *y, long first_plane, long planes, int channels, long size,
                  const float *slopes);

#endif
