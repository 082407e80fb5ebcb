// Winograd transforms for one channel's tile row (see include/fervid_gemm.h): plain C loops
// compiled three times (AVX-512, AVX2, baseline) so the compiler vectorizes them for the CPU at
// hand; picked at run time. The matrices are Lavin & Gray's (CVPR 2016), as in Winograd.swift.
#include "fervid_gemm.h"

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

ALWAYS_INLINE void input4_body(const float *restrict d, int tw, float *restrict v, long stride,
                               float *restrict s) {
    const int width = 4 * tw + 2;
    const float *r0 = d, *r1 = d + width, *r2 = d + 2 * width, *r3 = d + 3 * width, *r4 = d + 4 * width,
                *r5 = d + 5 * width;
    float *q0 = s, *q1 = s + width, *q2 = s + 2 * width, *q3 = s + 3 * width, *q4 = s + 4 * width,
          *q5 = s + 5 * width;
    // Rows: s_i = Σ_k Bᵀ[i][k] d_k over the whole width.
    for (int j = 0; j < width; j++) {
        const float d0 = r0[j], d1 = r1[j], d2 = r2[j], d3 = r3[j], d4 = r4[j], d5 = r5[j];
        const float t1 = d4 - 4 * d2, t2 = d3 - 4 * d1, t3 = d4 - d2, t4 = 2 * (d3 - d1);
        q0[j] = 4 * d0 - 5 * d2 + d4;
        q1[j] = t1 + t2;
        q2[j] = t1 - t2;
        q3[j] = t3 + t4;
        q4[j] = t3 - t4;
        q5[j] = 4 * d1 - 5 * d3 + d5;
    }
    // Columns: for tile t, Bᵀ over s_i[4t ..< 4t + 6].
    for (int i = 0; i < 6; i++) {
        const float *si = s + i * width;
        float *o0 = v + (long)(6 * i) * stride, *o1 = o0 + stride, *o2 = o0 + 2 * stride, *o3 = o0 + 3 * stride,
              *o4 = o0 + 4 * stride, *o5 = o0 + 5 * stride;
        for (int t = 0; t < tw; t++) {
            const float *p = si + 4 * t;
            const float d0 = p[0], d1 = p[1], d2 = p[2], d3 = p[3], d4 = p[4], d5 = p[5];
            const float t1 = d4 - 4 * d2, t2 = d3 - 4 * d1, t3 = d4 - d2, t4 = 2 * (d3 - d1);
            o0[t] = 4 * d0 - 5 * d2 + d4;
            o1[t] = t1 + t2;
            o2[t] = t1 - t2;
            o3[t] = t3 + t4;
            o4[t] = t3 - t4;
            o5[t] = 4 * d1 - 5 * d3 + d5;
        }
    }
}

ALWAYS_INLINE void output4_body(const float *restrict m, long stride, int tw, float bias, float *restrict y,
                                long ldy, int rows, int ow, int relu, float *restrict a) {
    float *line = a + 24 * tw;
    // Aᵀ M: 4 rows × 6 columns, each over tw tiles.
    for (int j = 0; j < 6; j++) {
        const float *m0 = m + j * stride, *m1 = m + (6 + j) * stride, *m2 = m + (12 + j) * stride,
                    *m3 = m + (18 + j) * stride, *m4 = m + (24 + j) * stride, *m5 = m + (30 + j) * stride;
        float *a0 = a + j * tw, *a1 = a + (6 + j) * tw, *a2 = a + (12 + j) * tw, *a3 = a + (18 + j) * tw;
        for (int t = 0; t < tw; t++) {
            const float p = m1[t] + m2[t], q = m1[t] - m2[t], u = m3[t] + m4[t], w = m3[t] - m4[t];
            a0[t] = m0[t] + p + u;
            a1[t] = q + 2 * w;
            a2[t] = p + 4 * u;
            a3[t] = q + 8 * w + m5[t];
        }
    }
    for (int i = 0; i < rows; i++) {
        const float *c0 = a + (6 * i) * tw, *c1 = c0 + tw, *c2 = c0 + 2 * tw, *c3 = c0 + 3 * tw, *c4 = c0 + 4 * tw,
                    *c5 = c0 + 5 * tw;
        for (int t = 0; t < tw; t++) {
            const float p = c1[t] + c2[t], q = c1[t] - c2[t], u = c3[t] + c4[t], w = c3[t] - c4[t];
            float *l = line + 4 * t;
            l[0] = c0[t] + p + u + bias;
            l[1] = q + 2 * w + bias;
            l[2] = p + 4 * u + bias;
            l[3] = q + 8 * w + c5[t] + bias;
        }
        float *out = y + i * ldy;
        if (relu) {
            for (int o = 0; o < ow; o++) out[o] = line[o] > 0 ? line[o] : 0;
        } else {
            for (int o = 0; o < ow; o++) out[o] = line[o];
        }
    }
}

ALWAYS_INLINE void input2_body(const float *restrict d, int tw, float *restrict v, long stride,
                               float *restrict s) {
    const int width = 2 * tw + 2;
    const float *d0 = d, *d1 = d + width, *d2 = d + 2 * width, *d3 = d + 3 * width;
    float *s0 = s, *s1 = s + width, *s2 = s + 2 * width, *s3 = s + 3 * width;
    for (int j = 0; j < width; j++) {
        s0[j] = d0[j] - d2[j];
        s1[j] = d1[j] + d2[j];
        s2[j] = d2[j] - d1[j];
        s3[j] = d1[j] - d3[j];
    }
    for (int i = 0; i < 4; i++) {
        const float *si = s + i * width;
        float *o0 = v + (long)(4 * i) * stride, *o1 = o0 + stride, *o2 = o0 + 2 * stride, *o3 = o0 + 3 * stride;
        for (int t = 0; t < tw; t++) {
            const float *p = si + 2 * t;
            const float a = p[0], b = p[1], c = p[2], dd = p[3];
            o0[t] = a - c;
            o1[t] = b + c;
            o2[t] = c - b;
            o3[t] = b - dd;
        }
    }
}

ALWAYS_INLINE void output2_body(const float *restrict m, long stride, int tw, float bias, float *restrict y,
                                long ldy, int rows, int ow, int relu, float *restrict a) {
    float *line = a + 8 * tw;
    for (int j = 0; j < 4; j++) {
        const float *m0 = m + j * stride, *m1 = m + (4 + j) * stride, *m2 = m + (8 + j) * stride,
                    *m3 = m + (12 + j) * stride;
        float *a0 = a + j * tw, *a1 = a + (4 + j) * tw;
        for (int t = 0; t < tw; t++) {
            a0[t] = m0[t] + m1[t] + m2[t];
            a1[t] = m1[t] - m2[t] - m3[t];
        }
    }
    for (int i = 0; i < rows; i++) {
        const float *c0 = a + (4 * i) * tw, *c1 = c0 + tw, *c2 = c0 + 2 * tw, *c3 = c0 + 3 * tw;
        for (int t = 0; t < tw; t++) {
            float *q = line + 2 * t;
            q[0] = c0[t] + c1[t] + c2[t] + bias;
            q[1] = c1[t] - c2[t] - c3[t] + bias;
        }
        float *out = y + i * ldy;
        if (relu) {
            for (int o = 0; o < ow; o++) out[o] = line[o] > 0 ? line[o] : 0;
        } else {
            for (int o = 0; o < ow; o++) out[o] = line[o];
        }
    }
}

// Per-ISA copies and the run-time choice.
#if defined(__x86_64__)
#define VARIANTS(name, params, args)                                                                 \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) static void name##_512 params {     \
        name##_body args;                                                                           \
    }                                                                                               \
    __attribute__((target("avx2,fma"))) static void name##_256 params { name##_body args; }          \
    static void name##_base params { name##_body args; }
#define CHOOSE(name) \
    (isa_level() == 2 ? name##_512 : isa_level() == 1 ? name##_256 : name##_base)
#else
#define VARIANTS(name, params, args) static void name##_base params { name##_body args; }
#define CHOOSE(name) name##_base
#endif

static int isa_level(void) {
    static int level = -1;
    if (level < 0) level = fervid_gemm_best_isa();
    return level;
}

#define INPUT_PARAMS (const float *d, int tw, float *v, long stride, float *s)
#define INPUT_ARGS (d, tw, v, stride, s)
#define OUTPUT_PARAMS \
    (const float *m, long stride, int tw, float bias, float *y, long ldy, int rows, int ow, int relu, float *a)
#define OUTPUT_ARGS (m, stride, tw, bias, y, ldy, rows, ow, relu, a)

VARIANTS(input4, INPUT_PARAMS, INPUT_ARGS)
VARIANTS(output4, OUTPUT_PARAMS, OUTPUT_ARGS)
VARIANTS(input2, INPUT_PARAMS, INPUT_ARGS)
VARIANTS(output2, OUTPUT_PARAMS, OUTPUT_ARGS)

void fervid_winograd_input(int m, const float *d, int tw, float *v, long stride, float *s) {
    if (m == 4) CHOOSE(input4)(d, tw, v, stride, s);
    else CHOOSE(input2)(d, tw, v, stride, s);
}

void fervid_winograd_output(int m, const float *mm, long stride, int tw, float bias, float *y, long ldy, int rows,
                            int ow, int relu, float *a) {
    if (m == 4) CHOOSE(output4)(mm, stride, tw, bias, y, ldy, rows, ow, relu, a);
    else CHOOSE(output2)(mm, stride, tw, bias, y, ldy, rows, ow, relu, a);
}
