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

/// One segment of a B panel: `len` columns of kc rows, row p from src + p·ldb into dst + p·w,
/// through the optional per-row transform (scale/shift indexed by the segment's row p, ReLU).
typedef void (*pack_segment_fn)(float *restrict dst, int w, const float *restrict src, long ldb, int len, int kc,
                                const float *scale, const float *shift, int relu);

/// The portable segment: plain loops (and the naive twin of the vector ones below).
static void pack_segment_base(float *restrict dst, int w, const float *restrict src, long ldb, int len, int kc,
                              const float *scale, const float *shift, int relu) {
    for (int p = 0; p < kc; p++) {
        float *d = dst + (long)p * w;
        const float *x = src + (long)p * ldb;
        if (!scale) {
            for (int j = 0; j < len; j++) d[j] = x[j];
            continue;
        }
        const float sc = scale[p], t = shift[p];
        for (int j = 0; j < len; j++) {
            const float v = x[j] * sc + t;
            d[j] = relu && !(v > 0) ? 0 : v;
        }
    }
}

#if defined(__x86_64__)
/// AVX-512: 16 columns at a time, the last partial vector masked (a segment of a multi-image
/// panel is often shorter than a vector: DenseNet-161's 6×6 and 3×3 planes). Before this the
/// rows were a memcpy call or a vector loop with a scalar remainder each.
FERVID_TARGET_AVX512 static void pack_segment_512(float *restrict dst, int w, const float *restrict src, long ldb,
                                                  int len, int kc, const float *scale, const float *shift,
                                                  int relu) {
    const int full = len & ~15;
    const __mmask16 tail = (__mmask16)((1u << (len & 15)) - 1);
    const __m512 zero = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++) {
        float *d = dst + (long)p * w;
        const float *x = src + (long)p * ldb;
        if (!scale) {
            for (int j = 0; j < full; j += 16) _mm512_storeu_ps(d + j, _mm512_loadu_ps(x + j));
            if (tail) _mm512_mask_storeu_ps(d + full, tail, _mm512_maskz_loadu_ps(tail, x + full));
            continue;
        }
        const __m512 sc = _mm512_set1_ps(scale[p]), t = _mm512_set1_ps(shift[p]);
        for (int j = 0; j < full; j += 16) {
            __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(x + j), sc, t);
            if (relu) v = _mm512_max_ps(v, zero);
            _mm512_storeu_ps(d + j, v);
        }
        if (tail) {
            __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, x + full), sc, t);
            if (relu) v = _mm512_max_ps(v, zero);
            _mm512_mask_storeu_ps(d + full, tail, v);
        }
    }
}

/// AVX2: 8 columns at a time, the rest one by one (AMD's masked stores are slow).
FERVID_TARGET_AVX2 static void pack_segment_256(float *restrict dst, int w, const float *restrict src, long ldb,
                                                int len, int kc, const float *scale, const float *shift, int relu) {
    const int full = len & ~7;
    const __m256 zero = _mm256_setzero_ps();
    for (int p = 0; p < kc; p++) {
        float *d = dst + (long)p * w;
        const float *x = src + (long)p * ldb;
        if (!scale) {
            int j = 0;
            for (; j < full; j += 8) _mm256_storeu_ps(d + j, _mm256_loadu_ps(x + j));
            for (; j < len; j++) d[j] = x[j];
            continue;
        }
        const float sf = scale[p], tf = shift[p];
        const __m256 sc = _mm256_set1_ps(sf), t = _mm256_set1_ps(tf);
        int j = 0;
        for (; j < full; j += 8) {
            __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), sc, t);
            if (relu) v = _mm256_max_ps(v, zero);
            _mm256_storeu_ps(d + j, v);
        }
        for (; j < len; j++) {
            const float v = __builtin_fmaf(x[j], sf, tf);
            d[j] = relu && !(v > 0) ? 0 : v;
        }
    }
}
#endif

/// Packs rows [p0, p0 + kc) and local columns [j0, j0 + nc) of B into panels: the panel at
/// local column jj starts at ws[jj·kc] and holds kc rows of its width, zero past nc.
static void pack_b(int isa, int p0, int kc, int j0, int nc, const fervid_gemm_b *b, float *ws) {
    pack_segment_fn segment = pack_segment_base;
#if defined(__x86_64__)
    if (isa == FERVID_GEMM_AVX512) segment = pack_segment_512;
    else if (isa == FERVID_GEMM_AVX2) segment = pack_segment_256;
#endif
    const float *scale = b->scale ? b->scale + p0 : NULL, *shift = b->scale ? b->shift + p0 : NULL;
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
            segment(dst + done, w, src, b->ldb, len, kc, scale, shift, b->relu);
            done += len;
        }
        if (cols < w) {
            for (int p = 0; p < kc; p++) memset(dst + (long)p * w + cols, 0, sizeof(float) * (size_t)(w - cols));
        }
    }
}


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

/// One depth step of kernel512: x0/x1[r] += a[r] · b[0..<16] / b[16..<32].
__attribute__((target("avx512f"), always_inline))
static inline void step512(const int nv, const float *a, const float *b, __m512 x0[12], __m512 x1[12]) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = nv == 2 ? _mm512_load_ps(b + 16) : b0;
#pragma clang loop unroll(full)
    for (int r = 0; r < 12; r++) {
        const __m512 av = _mm512_set1_ps(a[r]);
        x0[r] = _mm512_fmadd_ps(av, b0, x0[r]);
        if (nv == 2) x1[r] = _mm512_fmadd_ps(av, b1, x1[r]);
    }
}

/// AVX-512: 12 rows × nv·16 columns (nv 1 or 2), 12·nv accumulators.
__attribute__((target("avx512f"), always_inline))
static inline void kernel512(const int nv, long kc, const float *a, const float *b, float *c, long ldc, int mrows,
                             int ncols, int flags, const epilogue *e) {
    __m512 x0[12], x1[12];
#pragma clang loop unroll(full)
    for (int r = 0; r < 12; r++) { x0[r] = _mm512_setzero_ps(); x1[r] = _mm512_setzero_ps(); }
    // Depth unrolled by 4 with one prefetch per 64 bytes of A (three per 4 steps of 48 bytes)
    // instead of one per step; each accumulator still sums its products in depth order.
    long p = 0;
    for (; p + 4 <= kc; p += 4) {
        // A streams from memory when the weights do not fit in cache (batch 1): fetch 4 KB
        // ahead (measured, 4096×16×4608: 50 → 79 GFLOP/s; 2048×16×4608: 90 → 134).
        _mm_prefetch((const char *)(a + 1024), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + 1040), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + 1056), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) step512(nv, a + 12 * q, b + 16 * nv * q, x0, x1);
        a += 48;
        b += 64 * nv;
    }
    for (; p < kc; p++) {
        step512(nv, a, b, x0, x1);
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

/// One depth step of kernel256: x0/x1[r] += a[r] · b[0..<8] / b[8..<16].
__attribute__((target("avx2,fma"), always_inline))
static inline void step256(const int nv, const float *a, const float *b, __m256 x0[6], __m256 x1[6]) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = nv == 2 ? _mm256_load_ps(b + 8) : b0;
#pragma clang loop unroll(full)
    for (int r = 0; r < 6; r++) {
        const __m256 av = _mm256_broadcast_ss(a + r);
        x0[r] = _mm256_fmadd_ps(av, b0, x0[r]);
        if (nv == 2) x1[r] = _mm256_fmadd_ps(av, b1, x1[r]);
    }
}

/// AVX2 + FMA: 6 rows × nv·8 columns (nv 1 or 2), 6·nv accumulators.
__attribute__((target("avx2,fma"), always_inline))
static inline void kernel256(const int nv, long kc, const float *a, const float *b, float *c, long ldc, int mrows,
                             int ncols, int flags, const epilogue *e) {
    __m256 x0[6], x1[6];
#pragma clang loop unroll(full)
    for (int r = 0; r < 6; r++) { x0[r] = _mm256_setzero_ps(); x1[r] = _mm256_setzero_ps(); }
    // Depth unrolled by 4 with one prefetch per 64 bytes of A (two per 4 steps of 24 bytes)
    // instead of one per step: 86 instructions per 48 FMAs instead of 100 (callgrind,
    // docs/benchmarks.md "Session 14"); each accumulator still sums in depth order.
    long p = 0;
    for (; p + 4 <= kc; p += 4) {
        _mm_prefetch((const char *)(a + 1024), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + 1040), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) step256(nv, a + 6 * q, b + 8 * nv * q, x0, x1);
        a += 24;
        b += 32 * nv;
    }
    for (; p < kc; p++) {
        step256(nv, a, b, x0, x1);
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
#if defined(__x86_64__)
    if (isa == FERVID_GEMM_AVX512) { narrow = kernel512_1; wide = kernel512_2; }
    else if (isa == FERVID_GEMM_AVX2) { narrow = kernel256_1; wide = kernel256_2; }
#endif
    const int mr = fervid_gemm_mr(isa), nr = gemm_nr(isa);
    const long mp = ((long)m + mr - 1) / mr * mr;
    if (row_end > m) row_end = m;
    for (int j0 = 0; j0 < n; j0 += NC) {
        const int nc = n - j0 < NC ? n - j0 : NC;
        for (int p0 = 0; p0 < k; p0 += KC) {
            const int kc = k - p0 < KC ? k - p0 : KC;
            pack_b(isa, p0, kc, j0, nc, b, workspace);
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
