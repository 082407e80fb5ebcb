#ifndef FERVID_DIRECT_H
#define FERVID_DIRECT_H

/// Direct stride-1, undilated, ungrouped convolution for few input channels × taps (MTCNN's and
/// mini-Xception's first layers): x (n, cin, h, w), weight (cout, cin, kh, kw), bias (cout,
/// nullable), y (n, cout, oh, ow) with y[.., o, j] reading input row o − pad_top + ki, column
/// j − pad_left + kj (zero outside); ReLU when `relu`. `scratch` holds
/// fervid_conv_direct_scratch(cin, kh, kw, ow) floats. `isa` picks the compiled variant.
void fervid_conv_direct(int isa, const float *x, int n, int cin, int h, int w, const float *weight, const float *bias,
                        int cout, int kh, int kw, int pad_top, int pad_left, float *y, int oh, int ow, int relu,
                        float *scratch);
long fervid_conv_direct_scratch(int cin, int kh, int kw, int ow);

/// Depthwise convolution: plane p (0 ≤ p < planes) of x (h×w planes) convolved with filter
/// (first_plane + p) % channels of weight (channels, kh, kw), plus bias (nullable), ReLU when
/// `relu`, into plane p of y (oh×ow); stride, dilation and padding as in PyTorch.
void fervid_conv_depthwise(int isa, const float *x, long first_plane, long planes, int channels, int h, int w, const float *weight,
                           const float *bias, int kh, int kw, int stride, int dilation, int pad_top, int pad_left,
                           float *y, int oh, int ow, int relu);

#endif
