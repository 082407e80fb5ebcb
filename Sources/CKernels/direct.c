// Direct convolutions (see include/fervid_direct.h): for layers whose GEMM would be tiny in depth
// (few input channels × taps) im2col and packing cost more than the multiply-adds, so these
// compute straight from zero-padded input rows. Compiled per instruction set; the AVX-512
// variant keeps 8 output channels × 32 columns in registers.
#include "fervid_direct.h"
#include "fervid_gemm.h"

#include <string.h>

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

#include "direct_rows.h"

ALWAYS_INLINE void direct_body(const float *x, int n, int cin, int h, int w, const float *weight, const float *bias,
                               int cout, int kh, int kw, int pad_top, int pad_left, float *y, int oh, int ow, int relu,
                               const float *slopes, float *scratch, int o0, int o1) {
    const int pw = ow + kw - 1 + 32;
    float *rows = scratch, *acc = scratch + (long)cin * kh * pw;
    const int taps = cin * kh * kw;
    for (int img = 0; img < n; img++) {
        const float *xi = x + (long)img * cin * h * w;
        for (int o = o0; o < o1; o++) {
            gather_rows(xi, cin, h, w, kh, pad_top, pad_left, o, pw, rows);
            for (int co = 0; co < cout; co++) {
                const float *wc = weight + (long)co * taps;
                for (int j = 0; j < ow; j++) acc[j] = bias ? bias[co] : 0;
                for (int ci = 0; ci < cin; ci++) {
                    for (int ki = 0; ki < kh; ki++) {
                        const float *row = rows + (long)(ci * kh + ki) * pw;
                        for (int kj = 0; kj < kw; kj++) {
                            const float wv = wc[(ci * kh + ki) * kw + kj];
                            const float *restrict src = row + kj;
                            for (int j = 0; j < ow; j++) acc[j] += wv * src[j];
                        }
                    }
                }
                float *out = y + (((long)img * cout + co) * oh + o) * ow;
                if (slopes) {
                    const float a = slopes[co];
                    for (int j = 0; j < ow; j++) out[j] = acc[j] > 0 ? acc[j] : a * acc[j];
                } else {
                    for (int j = 0; j < ow; j++) out[j] = relu && !(acc[j] > 0) ? 0 : acc[j];
                }
            }
        }
    }
}

static void direct_base(const float *x, int n, int cin, int h, int w, const float *weight, const float *bias, int cout,
                        int kh, int kw, int pad_top, int pad_left, float *y, int oh, int ow, int relu,
                        const float *slopes, float *scratch, int o0, int o1) {
    direct_body(x, n, cin, h, w, weight, bias, cout, kh, kw, pad_top, pad_left, y, oh, ow, relu, slopes, scratch, o0,
                o1);
}

#if defined(__x86_64__)
#include <immintrin.h>

/// AVX-512: blocks of 8 output channels × 32 output columns accumulate in registers over every
/// tap; each tap is two loads of the padded input row and 16 multiply-adds with 8 broadcasts.
__attribute__((target("avx512f")))
static void direct_512(const float *x, int n, int cin, int h, int w, const float *weight, const float *bias, int cout,
                       int kh, int kw, int pad_top, int pad_left, float *y, int oh, int ow, int relu,
                       const float *slopes, float *scratch, int o0, int o1) {
    const int pw = ow + kw - 1 + 32;
    float *rows = scratch;
    const int taps = cin * kh * kw;
    const __m512 zero = _mm512_setzero_ps();
    for (int img = 0; img < n; img++) {
        const float *xi = x + (long)img * cin * h * w;
        for (int o = o0; o < o1; o++) {
            gather_rows(xi, cin, h, w, kh, pad_top, pad_left, o, pw, rows);
            for (int co0 = 0; co0 < cout; co0 += 8) {
                const int cb = cout - co0 < 8 ? cout - co0 : 8;
                for (int j0 = 0; j0 < ow; j0 += 32) {
                    const int left = ow - j0;
                    const __mmask16 k0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
                    const __mmask16 k1 = left >= 32 ? (__mmask16)0xFFFF
                                       : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : (__mmask16)0;
                    __m512 a0[8], a1[8];
#pragma clang loop unroll(full)
                    for (int c = 0; c < 8; c++) {
                        a0[c] = c < cb && bias ? _mm512_set1_ps(bias[co0 + c]) : zero;
                        a1[c] = a0[c];
                    }
                    // KW a literal 3 for 3×3 kernels, so the column loop unrolls.
#define DIRECT512_TAPS(KW)                                                                                     \
    for (int ci = 0; ci < cin; ci++) {                                                                         \
        for (int ki = 0; ki < kh; ki++) {                                                                      \
            const float *row = rows + (long)(ci * kh + ki) * pw + j0;                                          \
            const int t0 = (ci * kh + ki) * kw;                                                                \
            for (int kj = 0; kj < (KW); kj++) {                                                                \
                const __m512 v0 = _mm512_loadu_ps(row + kj), v1 = _mm512_loadu_ps(row + kj + 16);              \
                const float *wt = weight + (long)co0 * taps + t0 + kj;                                         \
                _Pragma("clang loop unroll(full)") for (int c = 0; c < 8; c++) {                               \
                    if (c < cb) {                                                                              \
                        const __m512 wv = _mm512_set1_ps(wt[(long)c * taps]);                                  \
                        a0[c] = _mm512_fmadd_ps(wv, v0, a0[c]);                                                \
                        a1[c] = _mm512_fmadd_ps(wv, v1, a1[c]);                                                \
                    }                                                                                          \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
    }
                    if (kw == 3) { DIRECT512_TAPS(3) }
                    else { DIRECT512_TAPS(kw) }
#undef DIRECT512_TAPS
#pragma clang loop unroll(full)
                    for (int c = 0; c < 8; c++) {
                        if (c < cb) {
                            float *out = y + (((long)img * cout + co0 + c) * oh + o) * ow + j0;
                            __m512 r0 = a0[c], r1 = a1[c];
                            if (slopes) {
                                // max(v, 0) + slope·min(v, 0) = v > 0 ? v : slope·v, exactly.
                                const __m512 s = _mm512_set1_ps(slopes[co0 + c]);
                                r0 = _mm512_fmadd_ps(s, _mm512_min_ps(r0, zero), _mm512_max_ps(r0, zero));
                                r1 = _mm512_fmadd_ps(s, _mm512_min_ps(r1, zero), _mm512_max_ps(r1, zero));
                            } else if (relu) {
                                r0 = _mm512_max_ps(r0, zero);
                                r1 = _mm512_max_ps(r1, zero);
                            }
                            _mm512_mask_storeu_ps(out, k0, r0);
                            _mm512_mask_storeu_ps(out + 16, k1, r1);
                        }
                    }
                }
            }
        }
    }
}
#endif

long fervid_conv_direct_scratch(int cin, int kh, int kw, int ow) {
    const long pw = ow + kw - 1 + 32;
    return (long)cin * kh * pw + pw;
}

void fervid_conv_direct_rows(int isa, const float *x, int n, int cin, int h, int w, const float *weight,
                             const float *bias, int cout, int kh, int kw, int pad_top, int pad_left, float *y, int oh,
                             int ow, int relu, const float *slopes, float *scratch, int row_begin, int row_end) {
#if defined(__x86_64__)
    if (isa == FERVID_GEMM_AVX512) {
        direct_512(x, n, cin, h, w, weight, bias, cout, kh, kw, pad_top, pad_left, y, oh, ow, relu, slopes, scratch,
                   row_begin, row_end);
        return;
    }
    if (isa == FERVID_GEMM_AVX2) {
        fervid_direct_avx2(x, n, cin, h, w, weight, bias, cout, kh, kw, pad_top, pad_left, y, oh, ow, relu, slopes,
                           scratch, row_begin, row_end);
        return;
    }
#endif
    direct_base(x, n, cin, h, w, weight, bias, cout, kh, kw, pad_top, pad_left, y, oh, ow, relu, slopes, scratch,
                row_begin, row_end);
}

void fervid_conv_direct_act(int isa, const float *x, int n, int cin, int h, int w, const float *weight,
                            const float *bias, int cout, int kh, int kw, int pad_top, int pad_left, float *y, int oh,
                            int ow, int relu, const float *slopes, float *scratch) {
    fervid_conv_direct_rows(isa, x, n, cin, h, w, weight, bias, cout, kh, kw, pad_top, pad_left, y, oh, ow, relu, slopes,
                            scratch, 0, oh);
}

void fervid_conv_direct(int isa, const float *x, int n, int cin, int h, int w, const float *weight, const float *bias,
                        int cout, int kh, int kw, int pad_top, int pad_left, float *y, int oh, int ow, int relu,
                        float *scratch) {
    fervid_conv_direct_act(isa, x, n, cin, h, w, weight, bias, cout, kh, kw, pad_top, pad_left, y, oh, ow, relu, NULL,
                           scratch);
}

// MARK: depthwise

ALWAYS_INLINE void depthwise_body(const float *x, long first_plane, long planes, int channels, int h, int w, const float *weight,
                                  const float *bias, int kh, int kw, int stride, int dilation, int pad_top,
                                  int pad_left, float *y, int oh, int ow, int relu) {
    for (long plane = 0; plane < planes; plane++) {
        const int ch = (int)((first_plane + plane) % channels);
        const float *src = x + plane * h * w;
        float *dst = y + plane * oh * ow;
        const float *filter = weight + (long)ch * kh * kw;
        const float b = bias ? bias[ch] : 0;
        for (int o = 0; o < oh; o++) {
            float *restrict out = dst + (long)o * ow;
            for (int j = 0; j < ow; j++) out[j] = b;
            for (int ki = 0; ki < kh; ki++) {
                const int ih = o * stride - pad_top + ki * dilation;
                if (ih < 0 || ih >= h) continue;
                const float *row = src + (long)ih * w;
                for (int kj = 0; kj < kw; kj++) {
                    const float wv = filter[ki * kw + kj];
                    const int off = kj * dilation - pad_left;
                    // Output columns whose input column o·stride + off lies in [0, w).
                    int lo = off < 0 ? (-off + stride - 1) / stride : 0;
                    int hi = w - 1 - off >= 0 ? (w - 1 - off) / stride + 1 : 0;
                    if (hi > ow) hi = ow;
                    if (lo >= hi) continue;
                    if (stride == 1) {
                        const float *restrict r = row + off;
                        for (int j = lo; j < hi; j++) out[j] += wv * r[j];
                    } else {
                        for (int j = lo; j < hi; j++) out[j] += wv * row[j * stride + off];
                    }
                }
            }
            if (relu) {
                for (int j = 0; j < ow; j++) out[j] = out[j] > 0 ? out[j] : 0;
            }
        }
    }
}

#define DEPTHWISE_PARAMS                                                                                             \
    (const float *x, long first_plane, long planes, int channels, int h, int w, const float *weight, const float *bias, int kh, int kw, \
     int stride, int dilation, int pad_top, int pad_left, float *y, int oh, int ow, int relu)
#define DEPTHWISE_ARGS (x, first_plane, planes, channels, h, w, weight, bias, kh, kw, stride, dilation, pad_top, pad_left, y, oh, ow, relu)

FERVID_ISA_VARIANTS(depthwise, depthwise_body, DEPTHWISE_PARAMS, DEPTHWISE_ARGS)

void fervid_conv_depthwise(int isa, const float *x, long first_plane, long planes, int channels, int h, int w, const float *weight,
                           const float *bias, int kh, int kw, int stride, int dilation, int pad_top, int pad_left,
                           float *y, int oh, int ow, int relu) {
#if defined(__x86_64__)
    if (kh == 3 && kw == 3 && stride == 1 && dilation == 1) {
        if (isa == FERVID_GEMM_AVX512 && fervid_depthwise3x3_avx512(x, first_plane, planes, channels, h, w, weight, bias,
                                                                    pad_top, pad_left, y, oh, ow, relu)) return;
        if (isa == FERVID_GEMM_AVX2 && fervid_depthwise3x3_avx2(x, first_plane, planes, channels, h, w, weight, bias,
                                                                pad_top, pad_left, y, oh, ow, relu)) return;
    }
    if (isa == FERVID_GEMM_AVX512) { depthwise_512 DEPTHWISE_ARGS; return; }
    if (isa == FERVID_GEMM_AVX2) { depthwise_256 DEPTHWISE_ARGS; return; }
#endif
    depthwise_base DEPTHWISE_ARGS;
}
