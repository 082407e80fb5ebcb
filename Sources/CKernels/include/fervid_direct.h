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

/// fervid_conv_direct with a per-output-channel PReLU (`slopes`, cout floats; y = v > 0 ? v :
/// slope·v) applied to each output instead of ReLU when `slopes` is not NULL.
void fervid_conv_direct_act(int isa, const float *x, int n, int cin, int h, int w, const float *weight,
                            const float *bias, int cout, int kh, int kw, int pad_top, int pad_left, float *y, int oh,
                            int ow, int relu, const float *slopes, float *scratch);

/// fervid_conv_direct_act for output rows [row_begin, row_end) of every image only (the rest of
/// y untouched): one image's rows split across threads.
void fervid_conv_direct_rows(int isa, const float *x, int n, int cin, int h, int w, const float *weight,
                             const float *bias, int cout, int kh, int kw, int pad_top, int pad_left, float *y, int oh,
                             int ow, int relu, const float *slopes, float *scratch, int row_begin, int row_end);

/// The AVX2 + FMA variant of fervid_conv_direct_rows (direct_avx2.c): blocks of up to 6 output
/// channels × 16 columns in registers, output rows [o0, o1). Call it only on a CPU with AVX2 and FMA.
void fervid_direct_avx2(const float *x, int n, int cin, int h, int w, const float *weight, const float *bias, int cout,
                        int kh, int kw, int pad_top, int pad_left, float *y, int oh, int ow, int relu,
                        const float *slopes, float *scratch, int o0, int o1);

/// Depthwise convolution: plane p (0 ≤ p < planes) of x (h×w planes) convolved with filter
/// (first_plane + p) % channels of weight (channels, kh, kw), plus bias (nullable), ReLU when
/// `relu`, into plane p of y (oh×ow); stride, dilation and padding as in PyTorch.
void fervid_conv_depthwise(int isa, const float *x, long first_plane, long planes, int channels, int h, int w, const float *weight,
                           const float *bias, int kh, int kw, int stride, int dilation, int pad_top, int pad_left,
                           float *y, int oh, int ow, int relu);

/// Depthwise 3×3, stride 1, undilated (depthwise3x3.c): fervid_conv_depthwise's arguments for
/// that shape, each plane zero-padded into a stack buffer and convolved with the 9 taps in
/// registers (16 columns per AVX-512 vector, 8 per AVX2 one). Returns 0, doing nothing, when the
/// padded plane exceeds the buffer ((oh + 2) × (ow + 18) > 16384 floats). CPU: AVX-512 F/VL/DQ/BW,
/// resp. AVX2 + FMA.
int fervid_depthwise3x3_avx512(const float *x, long first_plane, long planes, int channels, int h, int w,
                               const float *weight, const float *bias, int pad_top, int pad_left, float *y, int oh,
                               int ow, int relu);
int fervid_depthwise3x3_avx2(const float *x, long first_plane, long planes, int channels, int h, int w,
                             const float *weight, const float *bias, int pad_top, int pad_left, float *y, int oh,
                             int ow, int relu);

#endif
