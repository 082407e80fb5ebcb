// fervid's own SGEMM for convolution (see include/fervid_gemm.h). Blocking follows the
// GotoBLAS/BLIS scheme: B is packed per (KC × NC) block into column panels of the kernel's width,
// A arrives pre-packed in (KC × MR) row panels, and a register-blocked micro-kernel multiplies one
// A panel by one B panel, the A panel staying in L1 while the B block streams from L2.
#include "fervid_gemm.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// Depth of one packed block (rows of B, columns of A).
#define KC 256
/// Columns of B in one packed block (a multiple of every kernel width).
#define NC 512

int fervid_gemm_isa_supported(int isa) {
    switch (isa) {
    case FERVID_GEMM_GENERIC: return 1;
#if defined(__x86_64__)
    case FERVID_GEMM_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FERVID_GEMM_AVX512:
        // The AVX-512 variants of the non-GEMM kernels are compiled for VL/DQ/BW as well.
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
#endif
    default: return 0;
    }
}

int fervid_gemm_best_isa(void) {
    if (fervid_gemm_isa_supported(FERVID_GEMM_AVX512)) return FERVID_GEMM_AVX512;
    if (fervid_gemm_isa_supported(FERVID_GEMM_AVX2)) return FERVID_GEMM_AVX2;
    return FERVID_GEMM_GENERIC;
}

int fervid_gemm_mr(int isa) {
    switch (isa) {
    case FERVID_GEMM_AVX512: return 12;
    case FERVID_GEMM_AVX2: return 6;
    default: return 4;
    }
}

/// Kernel width (columns of one B panel) for the isa.
static int gemm_nr(int isa) {
    switch (isa) {
    case FERVID_GEMM_AVX512: return 32;
    case FERVID_GEMM_AVX2: return 16;
    default: return 8;
    }
}

/// Width of a B panel holding the last `rem` columns: half a kernel width when that suffices
/// (the narrow kernel does half the work), else a full one.
static int panel_width(int isa, int rem) {
    int nr = gemm_nr(isa);
    if (isa != FERVID_GEMM_GENERIC && rem <= nr / 2) return nr / 2;
    return nr;
}

size_t fervid_gemm_packed_size(int isa, int m, int k) {
    size_t mr = (size_t)fervid_gemm_mr(isa);
    return ((size_t)m + mr - 1) / mr * mr * (size_t)k;
}

size_t fervid_gemm_workspace_size(int isa) {
    (void)isa;
    return (size_t)KC * NC;
}

// Packed A: K in blocks of KC; block starting at depth p0 holds every MR-row panel of it,
// panel i0 at packed[p0·Mp + i0·kc], element (row i0 + r, depth p0 + p) at [p·MR + r].
void fervid_gemm_pack_a(int isa, int m, int k, const float *a, long lda, float *packed) {
    const int mr = fervid_gemm_mr(isa);
    const long mp = ((long)m + mr - 1) / mr * mr;
    for (int p0 = 0; p0 < k; p0 += KC) {
        const int kc = k - p0 < KC ? k - p0 : KC;
        for (int i0 = 0; i0 < mp; i0 += mr) {
            float *dst = packed + (long)p0 * mp + (long)i0 * kc;
            for (int p = 0; p < kc; p++) {
                for (int r = 0; r < mr; r++) {
                    const int i = i0 + r;
                    dst[p * mr + r] = i < m ? a[(long)i * lda + p0 + p] : 0.0f;
                }
            }
        }
    }
}

// The inverse of fervid_gemm_pack_a: rows [0, m) back into a (element (i, j) at a[i·lda + j]).
void fervid_gemm_unpack_a(int isa, int m, int k, const float *packed, float *a, long lda) {
    const int mr = fervid_gemm_mr(isa);
    const long mp = ((long)m + mr - 1) / mr * mr;
    for (int p0 = 0; p0 < k; p0 += KC) {
        const int kc = k - p0 < KC ? k - p0 : KC;
        for (int i0 = 0; i0 < mp; i0 += mr) {
            const float *src = packed + (long)p0 * mp + (long)i0 * kc;
            for (int p = 0; p < kc; p++) {
                for (int r = 0; r < mr && i0 + r < m; r++) a[(long)(i0 + r) * lda + p0 + p] = src[p * mr + r];
            }
        }
    }
}

/// One row of a B panel: `len` elements of B row p from `src` into `dst`, through the optional
/// per-row transform.
__attribute__((always_inline)) static inline void pack_row(float *restrict dst, const float *restrict src, int len,
                                                          const float *scale, const float *shift, int relu,
                                                          int p) {
    if (!scale) {
        memcpy(dst, src, sizeof(float) * (size_t)len);
        return;
    }
    const float s = scale[p], t = shift[p];
    if (relu) {
        for (int j = 0; j < len; j++) {
            const float v = src[j] * s + t;
            dst[j] = v > 0 ? v : 0;
        }
    } else {
        for (int j = 0; j < len; j++) dst[j] = src[j] * s + t;
    }
}

/// Packs rows [p0, p0 + kc) and local columns [j0, j0 + nc) of B into panels: the panel at
/// local column jj starts at ws[jj·kc] and holds kc rows of its width, zero past nc.
__attribute__((always_inline)) static inline void pack_b_body(int isa, int p0, int kc, int j0, int nc,
                                                              const fervid_gemm_b *b, float *ws) {
    const int nr = gemm_nr(isa);
    for (int jj = 0; jj < nc; jj += nr) {
        const int cols = nc - jj < nr ? nc - jj : nr;
        const int w = cols == nr ? nr : panel_width(isa, cols);
        float *dst = ws + (long)jj * kc;
        // Segments of the panel that lie in one image.
        int done = 0;
        while (done < cols) {
            const long g = b->first_col + j0 + jj + done;
            const long img = g / b->image_cols, col = g % b->image_cols;
            int len = cols - done;
            if (len > b->image_cols - col) len = (int)(b->image_cols - col);
            const float *src = b->data + img * b->image_stride + col + (long)p0 * b->ldb;
            for (int p = 0; p < kc; p++) {
                pack_row(dst + (long)p * w + done, src + (long)p * b->ldb, len, b->scale, b->shift, b->relu, p0 + p);
            }
            done += len;
        }
        if (cols < w) {
            for (int p = 0; p < kc; p++) memset(dst + (long)p * w + cols, 0, sizeof(float) * (size_t)(w - cols));
        }
    }
}

typedef void (*pack_b_fn)(int, int, int, int, int, const fervid_gemm_b *, float *);

#define PACK_B_PARAMS (int isa, int p0, int kc, int j0, int nc, const fervid_gemm_b *b, float *ws)
#define PACK_B_ARGS (isa, p0, kc, j0, nc, b, ws)
FERVID_ISA_VARIANTS(pack_b, pack_b_body, PACK_B_PARAMS, PACK_B_ARGS)

// MARK: micro-kernels
// kernel(kc, a, b, c, ldc, mrows, ncols, flags, e): C[0..<mrows, 0..<ncols] (row stride ldc)
// gets the product of A panel `a` (kc × MR) and B panel `b` (kc × width), plus C when flags has
// ACCUMULATE, plus e's bias and residual when e is not NULL, then ReLU when flags has RELU.

/// What the last depth block adds before the ReLU: a per-row bias and a residual tile (row
/// stride ldr), each optional; `bias` and `res` point at the tile's first row / element.
typedef struct {
    const float *bias;
    const float *res;
    long ldr;
} epilogue;

typedef void (*gemm_kernel)(long, const float *, const float *, float *, long, int, int, int, const epilogue *);

static void kernel_generic(long kc, const float *a, const float *b, float *c, long ldc, int mrows, int ncols,
                           int flags, const epilogue *e) {
    float acc[4][8] = {{0}};
    for (long p = 0; p < kc; p++) {
        for (int r = 0; r < 4; r++) {
            for (int j = 0; j < 8; j++) acc[r][j] += a[p * 4 + r] * b[p * 8 + j];
        }
    }
    for (int r = 0; r < mrows; r++) {
        float *row = c + r * ldc;
        for (int j = 0; j < ncols; j++) {
            float v = acc[r][j];
            if (flags & FERVID_GEMM_ACCUMULATE) v += row[j];
            if (e && e->bias) v += e->bias[r];
            if (e && e->res) v += e->res[r * e->ldr + j];
            if ((flags & FERVID_GEMM_RELU) && !(v > 0)) v = 0;
            row[j] = v;
        }
    }
}

#if defined(__x86_64__)

/// AVX-512: 12 rows × nv·16 columns (nv 1 or 2), 12·nv accumulators.
__attribute__((target("avx512f"), always_inline))
static inline void kernel512(const int nv, long kc, const float *a, const float *b, float *c, long ldc, int mrows,
                             int ncols, int flags, const epilogue *e) {
    __m512 x0[12], x1[12];
#pragma clang loop unroll(full)
    for (int r = 0; r < 12; r++) { x0[r] = _mm512_setzero_ps(); x1[r] = _mm512_setzero_ps(); }
    for (long p = 0; p < kc; p++) {
        // A streams from memory when the weights do not fit in cache (batch 1): fetch 4 KB
        // ahead (measured, 4096×16×4608: 50 → 79 GFLOP/s; 2048×16×4608: 90 → 134).
        _mm_prefetch((const char *)(a + 1024), _MM_HINT_T0);
        const __m512 b0 = _mm512_load_ps(b);
        const __m512 b1 = nv == 2 ? _mm512_load_ps(b + 16) : b0;
#pragma clang loop unroll(full)
        for (int r = 0; r < 12; r++) {
            const __m512 av = _mm512_set1_ps(a[r]);
            x0[r] = _mm512_fmadd_ps(av, b0, x0[r]);
            if (nv == 2) x1[r] = _mm512_fmadd_ps(av, b1, x1[r]);
        }
        a += 12;
        b += 16 * nv;
    }
    __mmask16 m0, m1 = 0;
    if (nv == 1) {
        m0 = ncols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << ncols) - 1);
    } else {
        m0 = (__mmask16)0xFFFF;
        m1 = ncols >= 32 ? (__mmask16)0xFFFF : (__mmask16)((1u << (ncols - 16)) - 1);
    }
    const __m512 zero = _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int r = 0; r < 12; r++) {
        if (r < mrows) {
            float *row = c + r * ldc;
            __m512 v0 = x0[r], v1 = x1[r];
            if (flags & FERVID_GEMM_ACCUMULATE) {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
                if (nv == 2) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
            }
            if (e && e->bias) {
                const __m512 bv = _mm512_set1_ps(e->bias[r]);
                v0 = _mm512_add_ps(v0, bv);
                if (nv == 2) v1 = _mm512_add_ps(v1, bv);
            }
            if (e && e->res) {
                const float *rr = e->res + r * e->ldr;
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, rr));
                if (nv == 2) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, rr + 16));
            }
            if (flags & FERVID_GEMM_RELU) {
                v0 = _mm512_max_ps(v0, zero);
                if (nv == 2) v1 = _mm512_max_ps(v1, zero);
            }
            _mm512_mask_storeu_ps(row, m0, v0);
            if (nv == 2) _mm512_mask_storeu_ps(row + 16, m1, v1);
        }
    }
}

__attribute__((target("avx512f")))
static void kernel512_1(long kc, const float *a, const float *b, float *c, long ldc, int mrows, int ncols, int flags,
                        const epilogue *e) {
    kernel512(1, kc, a, b, c, ldc, mrows, ncols, flags, e);
}

__attribute__((target("avx512f")))
static void kernel512_2(long kc, const float *a, const float *b, float *c, long ldc, int mrows, int ncols, int flags,
                        const epilogue *e) {
    kernel512(2, kc, a, b, c, ldc, mrows, ncols, flags, e);
}

/// Lanes [0, n) set (n clamped to 0…8).
__attribute__((target("avx2")))
static inline __m256i lane_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// AVX2 + FMA: 6 rows × nv·8 columns (nv 1 or 2), 6·nv accumulators.
__attribute__((target("avx2,fma"), always_inline))
static inline void kernel256(const int nv, long kc, const float *a, const float *b, float *c, long ldc, int mrows,
                             int ncols, int flags, const epilogue *e) {
    __m256 x0[6], x1[6];
#pragma clang loop unroll(full)
    for (int r = 0; r < 6; r++) { x0[r] = _mm256_setzero_ps(); x1[r] = _mm256_setzero_ps(); }
    for (long p = 0; p < kc; p++) {
        _mm_prefetch((const char *)(a + 1024), _MM_HINT_T0);
        const __m256 b0 = _mm256_load_ps(b);
        const __m256 b1 = nv == 2 ? _mm256_load_ps(b + 8) : b0;
#pragma clang loop unroll(full)
        for (int r = 0; r < 6; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r);
            x0[r] = _mm256_fmadd_ps(av, b0, x0[r]);
            if (nv == 2) x1[r] = _mm256_fmadd_ps(av, b1, x1[r]);
        }
        a += 6;
        b += 8 * nv;
    }
    const __m256i m0 = lane_mask(ncols), m1 = lane_mask(ncols - 8);
    const __m256 zero = _mm256_setzero_ps();
#pragma clang loop unroll(full)
    for (int r = 0; r < 6; r++) {
        if (r < mrows) {
            float *row = c + r * ldc;
            __m256 v0 = x0[r], v1 = x1[r];
            if (flags & FERVID_GEMM_ACCUMULATE) {
                v0 = _mm256_add_ps(v0, _mm256_maskload_ps(row, m0));
                if (nv == 2) v1 = _mm256_add_ps(v1, _mm256_maskload_ps(row + 8, m1));
            }
            if (e && e->bias) {
                const __m256 bv = _mm256_set1_ps(e->bias[r]);
                v0 = _mm256_add_ps(v0, bv);
                if (nv == 2) v1 = _mm256_add_ps(v1, bv);
            }
            if (e && e->res) {
                const float *rr = e->res + r * e->ldr;
                v0 = _mm256_add_ps(v0, _mm256_maskload_ps(rr, m0));
                if (nv == 2) v1 = _mm256_add_ps(v1, _mm256_maskload_ps(rr + 8, m1));
            }
            if (flags & FERVID_GEMM_RELU) {
                v0 = _mm256_max_ps(v0, zero);
                if (nv == 2) v1 = _mm256_max_ps(v1, zero);
            }
            _mm256_maskstore_ps(row, m0, v0);
            if (nv == 2) _mm256_maskstore_ps(row + 8, m1, v1);
        }
    }
}

__attribute__((target("avx2,fma")))
static void kernel256_1(long kc, const float *a, const float *b, float *c, long ldc, int mrows, int ncols, int flags,
                        const epilogue *e) {
    kernel256(1, kc, a, b, c, ldc, mrows, ncols, flags, e);
}

__attribute__((target("avx2,fma")))
static void kernel256_2(long kc, const float *a, const float *b, float *c, long ldc, int mrows, int ncols, int flags,
                        const epilogue *e) {
    kernel256(2, kc, a, b, c, ldc, mrows, ncols, flags, e);
}

#endif

void fervid_gemm_compute(int isa, int m, int n, int k, const float *packed, int row_begin, int row_end,
                         const fervid_gemm_b *b, float *c, long ldc, const float *bias, const float *residual,
                         long ldr, int flags, float *workspace) {
    gemm_kernel narrow = kernel_generic, wide = kernel_generic;
    pack_b_fn pack = pack_b_base;
#if defined(__x86_64__)
    if (isa == FERVID_GEMM_AVX512) { narrow = kernel512_1; wide = kernel512_2; pack = pack_b_512; }
    else if (isa == FERVID_GEMM_AVX2) { narrow = kernel256_1; wide = kernel256_2; pack = pack_b_256; }
#endif
    const int mr = fervid_gemm_mr(isa), nr = gemm_nr(isa);
    const long mp = ((long)m + mr - 1) / mr * mr;
    if (row_end > m) row_end = m;
    for (int j0 = 0; j0 < n; j0 += NC) {
        const int nc = n - j0 < NC ? n - j0 : NC;
        for (int p0 = 0; p0 < k; p0 += KC) {
            const int kc = k - p0 < KC ? k - p0 : KC;
            pack(isa, p0, kc, j0, nc, b, workspace);
            const int last = p0 + kc == k;
            int fl = p0 == 0 ? (flags & FERVID_GEMM_ACCUMULATE) : FERVID_GEMM_ACCUMULATE;
            if (last) fl |= flags & FERVID_GEMM_RELU;
            for (int i0 = row_begin; i0 < row_end; i0 += mr) {
                const float *ap = packed + (long)p0 * mp + (long)i0 * kc;
                const int mrows = row_end - i0 < mr ? row_end - i0 : mr;
                const int epi = last && (bias || residual);
                for (int jj = 0; jj < nc; jj += nr) {
                    const int cols = nc - jj < nr ? nc - jj : nr;
                    const gemm_kernel kern = panel_width(isa, cols) < nr ? narrow : wide;
                    const epilogue e = {bias ? bias + i0 : NULL,
                                        residual ? residual + (long)i0 * ldr + j0 + jj : NULL, ldr};
                    kern(kc, ap, workspace + (long)jj * kc, c + (long)i0 * ldc + j0 + jj, ldc, mrows, cols, fl,
                         epi ? &e : NULL);
                }
            }
        }
    }
}
