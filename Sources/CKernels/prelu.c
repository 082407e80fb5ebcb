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

#define PRELU_PARAMS (const float *x, float *y, long first_plane, long planes, int channels, long size, const float *slopes)
#define PRELU_ARGS (x, y, first_plane, planes, channels, size, slopes)

FERVID_PER_ISA(fervid_prelu, prelu_body, PRELU_PARAMS, PRELU_ARGS)
