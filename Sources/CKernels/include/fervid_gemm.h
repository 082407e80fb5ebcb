#ifndef FERVID_GEMM_H
#define FERVID_GEMM_H

#include <stddef.h>

#include "fervid_isa.h"

/// fervid's own single-precision GEMM for convolution: C (m×n) = A (m×k) · B (k×n), row-major,
/// with A pre-packed once (weights, at load) and B packed per call in blocks, a register-blocked
/// micro-kernel per instruction set (AVX-512: 12×32, AVX2+FMA: 6×16, portable C: 4×8), and an
/// optional fused epilogue (accumulate into C, add a per-row bias, ReLU).
///
/// Swift here compiles for baseline x86-64 and cannot emit AVX2/AVX-512, so the kernels are C
/// with per-function target attributes, picked at run time from what the CPU reports. One call
/// is single-threaded; the caller splits rows or columns across its threads.

/// Epilogue flags.
enum {
    /// C += A·B instead of C = A·B.
    FERVID_GEMM_ACCUMULATE = 1,
    /// max(·, 0) after the bias.
    FERVID_GEMM_RELU = 2,
};

/// Rows per micro-panel of packed A for `isa` (12, 6 or 4).
int fervid_gemm_mr(int isa);
/// Floats of the packed form of an m×k matrix for `isa` (rows padded to a multiple of mr).
size_t fervid_gemm_packed_size(int isa, int m, int k);
/// Floats of per-call workspace (packed blocks of B) one thread needs.
size_t fervid_gemm_workspace_size(int isa);

/// Packs A (m×k, element (i, j) at a[i·lda + j]) into `packed` (fervid_gemm_packed_size floats).
void fervid_gemm_pack_a(int isa, int m, int k, const float *a, long lda, float *packed);
/// The inverse: A (m×k) back from its packed form, into a[i·lda + j] (exact: packing only moves floats).
void fervid_gemm_unpack_a(int isa, int m, int k, const float *packed, float *a, long lda);

// MARK: B read through a column map and a per-row transform

/// Where B comes from, for fervid_gemm_compute. Column j (0-based within the call) is global
/// column g = first_col + j, which lies in image g / image_cols at column g % image_cols; row p
/// of image i starts at data + i·image_stride + p·ldb (image_cols = n, first_col = 0 is the
/// plain row-major B). When `scale` is not NULL each element of row p is replaced, while B is
/// packed, by v·scale[p] + shift[p] (then max(·, 0) when `relu`): a per-input-channel affine map
/// such as a pre-activation batch normalization, applied without writing the normalized input.
typedef struct {
    const float *data;
    long ldb;
    long image_cols;
    long image_stride;
    long first_col;
    const float *scale;
    const float *shift;
    int relu;
} fervid_gemm_b;

/// Rows [row_begin, row_end) of C (row_begin a multiple of fervid_gemm_mr(isa), row_end ≤ m or
/// m rounded up) and all n columns:
///   C[i, j] = (flags & ACCUMULATE ? C[i, j] : 0) + Σ_p A[i, p] · B[p, j] + (bias ? bias[i] : 0)
///             + (residual ? residual[i·ldr + j] : 0),
/// then ReLU when flags & RELU. `packed` is A packed by fervid_gemm_pack_a with the same isa,
/// m and k; B is read as `b` describes; C[i, j] is c[i·ldc + j]; `bias` (nullable) is indexed
/// by the absolute row i; `workspace` holds fervid_gemm_workspace_size(isa) floats, 64-byte
/// aligned.
void fervid_gemm_compute(int isa, int m, int n, int k, const float *packed, int row_begin, int row_end,
                         const fervid_gemm_b *b, float *c, long ldc, const float *bias,
                         const float *residual, long ldr, int flags, float *workspace);

#endif
