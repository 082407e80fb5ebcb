// PReLU (include/fervid_act.h), compiled per instruction set: MTCNN's activation, after every
// convolution the direct kernel cannot fuse it into and after its dense layers.
#include "fervid_act.h"
#include "fervid_gemm.h"

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

ALWAYS_INLINE void prelu_body(const float *x, float *y, long first_plane, long planes, int channels, long size,
                              const float *slopes) {
    for (long p = 0; p < planes; p++) {
        const float a = slopes[(first_plane + p) % channels];
        const float *src = x + p * size;
        float *dst = y + p * size;
        for (long i = 0; i < size; i++) {
            const float v = src[i];
            // max(v, 0) + a·min(v, 0): branch-free, and equal to v > 0 ? v : a·v.
            dst[i] = (v > 0 ? v : 0) + a * (v < 0 ? v : 0);
        }
    }
}

static void prelu_base(const float *x, float *y, long first_plane, long planes, int channels, long size,
                       const float *slopes) {
    prelu_body(x, y, first_plane, planes, channels, size, slopes);
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw")))
static void prelu_512(const float *x, float *y, long first_plane, long planes, int channels, long size,
                      const float *slopes) {
    prelu_body(x, y, first_plane, planes, channels, size, slopes);
}

__attribute__((target("avx2,fma")))
static void prelu_256(const float *x, float *y, long first_plane, long planes, int channels, long size,
                      const float *slopes) {
    prelu_body(x, y, first_plane, planes, channels, size, slopes);
}
#endif

void fervid_prelu(int isa, const float *x, float *y, long first_plane, long planes, int channels, long size,
                  const float *slopes) {
#if defined(__x86_64__)
    if (isa == FERVID_GEMM_AVX512) { prelu_512(x, y, first_plane, planes, channels, size, slopes); return; }
    if (isa == FERVID_GEMM_AVX2) { prelu_256(x, y, first_plane, planes, channels, size, slopes); return; }
#endif
    prelu_base(x, y, first_plane, planes, channels, size, slopes);
}
