#ifndef FERVID_GEMV_H
#define FERVID_GEMV_H

#include "fervid_isa.h"

// MARK: matrix × vector on the packed GEMM layout

/// y = A·x (+ bias) (then ReLU) for each of `samples` vectors, with A (m×k) packed by
/// fervid_gemm_pack_a for the same `isa`: a dense layer at batch 1 or a few samples, where the
/// packed GEMM fills 1 of its 8–32 columns (and packs B each call). Rows [row_begin, row_end)
/// of each sample (row_begin a multiple of fervid_gemm_mr(isa)); sample s reads x + s·ldx and
/// writes y + s·ldy. The GEMM's arithmetic exactly: each output is one multiply-add chain over
/// the depth in ascending order within each block of 256 (fused on AVX2/AVX-512, as its
/// micro-kernels; multiply then add in the portable build), a block's chain starting at 0 and
/// added to the blocks before it, then the bias, then ReLU (`relu`: max(·, 0), NaN to 0), so
/// the result is bit-identical to fervid_gemm_compute's C = A·B with B = x. A panel's rows run
/// in one vector register (6 of 8 lanes on AVX2, 12 of 16 on AVX-512, 4 scalars portable); the
/// extra lanes read the next depth's values and are never stored. Nothing outside A, x, the
/// bias or y's rows is read or written. `bias` may be NULL.
void fervid_gemv_packed(int isa, int m, int k, const float *packed, int row_begin, int row_end, int samples,
                        const float *x, long ldx, float *y, long ldy, const float *bias, int relu);

// MARK: softmax over two channels

/// Softmax over the channel pair of each pixel of `n` images of two p-pixel planes (x and y:
/// (n, 2, p); y may be x): m = max(a, b), e₀ = expf(a − m), e₁ = expf(b − m), then eᵢ · (1 /
/// (e₀ + e₁)), in that order (libm's expf, so the same floats as the loop it replaces).
void fervid_softmax2(const float *x, float *y, long n, long p);

// MARK: flatten in (W, H, C) order

/// y[i][(iw·h + ih)·c + ci] = x[i][(ci·h + ih)·w + iw] for n samples of (c, h, w): PyTorch's
/// x.permute(0, 3, 2, 1).reshape(n, −1), the order MTCNN's dense layers read.
void fervid_flatten_whc(const float *x, float *y, long n, int c, int h, int w);

#endif
