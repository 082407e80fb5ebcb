// Internal to CKernels' direct convolutions (direct.c, direct_avx2.c): the zero-padded input rows
// one output row reads.
#ifndef FERVID_DIRECT_ROWS_H
#define FERVID_DIRECT_ROWS_H

#include <string.h>

/// Zero-padded copies of the kh input rows of every input channel that output row `o` reads:
/// rows[(ci·kh + ki)·pw + j] = x[ci][o − pad_top + ki][j − pad_left], pw = ow + kw − 1 + 32
/// (the slack lets vector loads run past the last output column).
__attribute__((always_inline)) static inline void gather_rows(const float *restrict x, int cin, int h, int w, int kh, int pad_top, int pad_left,
                               int o, int pw, float *restrict rows) {
    for (int ci = 0; ci < cin; ci++) {
        for (int ki = 0; ki < kh; ki++) {
            float *dst = rows + (long)(ci * kh + ki) * pw;
            const int ih = o - pad_top + ki;
            if (ih < 0 || ih >= h) {
                memset(dst, 0, sizeof(float) * (size_t)pw);
                continue;
            }
            const float *src = x + ((long)ci * h + ih) * w;
            int lo = pad_left < pw ? pad_left : pw, hi = pad_left + w < pw ? pad_left + w : pw;
            if (hi < lo) hi = lo;
            memset(dst, 0, sizeof(float) * (size_t)lo);
            memcpy(dst + lo, src + (lo - pad_left), sizeof(float) * (size_t)(hi - lo));
            memset(dst + hi, 0, sizeof(float) * (size_t)(pw - hi));
        }
    }
}

#endif
