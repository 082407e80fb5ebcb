#ifndef FERVID_ISA_H
#define FERVID_ISA_H

/// The instruction sets fervid's C kernels are compiled for, which one the CPU runs, and the
/// one macro that compiles a loop body once per instruction set with its run-time dispatch.
///
/// Swift here compiles for baseline x86-64 and cannot emit AVX2/AVX-512, so the kernels are C
/// with per-function target attributes, picked at run time from what the CPU reports.
///
/// CKernels's headers, one per family: fervid_isa.h, fervid_gemm.h, fervid_winograd.h,
/// fervid_direct.h, fervid_pointwise.h, fervid_maxpool.h, fervid_act.h, fervid_resize.h, fervid_threadpool.h and
/// fervid_alloc.h (the allocator setting).

/// Instruction sets (the `isa` argument everywhere).
enum {
    FERVID_GEMM_GENERIC = 0,
    FERVID_GEMM_AVX2 = 1,
    FERVID_GEMM_AVX512 = 2,
};

/// The fastest instruction set this CPU and OS support.
int fervid_gemm_best_isa(void);
/// 1 when `isa` can run here.
int fervid_gemm_isa_supported(int isa);

/// Target attributes of the AVX-512 and AVX2 compilations.
#define FERVID_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw")))
#define FERVID_TARGET_AVX2 __attribute__((target("avx2,fma")))

/// `(int isa, <params>)` from a parenthesized parameter list.
#define FERVID_WITH_ISA(...) (int isa, __VA_ARGS__)

/// The per-ISA wrappers of one loop body: `static void name_base PARAMS`, `name_256` (AVX2+FMA)
/// and `name_512` (AVX-512), each calling `body ARGS` compiled for its instruction set, and
/// `void name(int isa, <params>)`, which runs the compilation `isa` names (the portable one
/// for FERVID_GEMM_GENERIC or off x86-64). PARAMS and ARGS are parenthesized lists.
#define FERVID_PER_ISA(name, body, PARAMS, ARGS) \
    FERVID_ISA_VARIANTS(name, body, PARAMS, ARGS) \
    FERVID_ISA_DISPATCH(name, PARAMS, ARGS)

/// The three wrappers of FERVID_PER_ISA without the dispatch, for a kernel that picks its
/// variant itself (a special case first, or a function pointer): `name_base`, and on x86-64
/// `name_256` and `name_512`.
#define FERVID_ISA_VARIANTS(name, body, PARAMS, ARGS) \
    FERVID_PER_ISA_BUT_512(name, body, PARAMS, ARGS) \
    FERVID_ISA_512(name, body, PARAMS, ARGS)

/// As FERVID_PER_ISA, for a kernel whose AVX-512 variant `static void name_512 PARAMS` is
/// written by hand (declared before): the portable and AVX2 wrappers of `body`, no dispatch
/// (follow with FERVID_ISA_DISPATCH).
#if defined(__x86_64__)
#define FERVID_PER_ISA_BUT_512(name, body, PARAMS, ARGS) \
    static void name##_base PARAMS { body ARGS; } \
    FERVID_TARGET_AVX2 static void name##_256 PARAMS { body ARGS; }
#define FERVID_ISA_512(name, body, PARAMS, ARGS) FERVID_TARGET_AVX512 static void name##_512 PARAMS { body ARGS; }
#define FERVID_ISA_DISPATCH(name, PARAMS, ARGS) \
    void name FERVID_WITH_ISA PARAMS { \
        if (isa == FERVID_GEMM_AVX512) { name##_512 ARGS; return; } \
        if (isa == FERVID_GEMM_AVX2) { name##_256 ARGS; return; } \
        name##_base ARGS; \
    }
#else
#define FERVID_PER_ISA_BUT_512(name, body, PARAMS, ARGS) static void name##_base PARAMS { body ARGS; }
#define FERVID_ISA_512(name, body, PARAMS, ARGS)
#define FERVID_ISA_DISPATCH(name, PARAMS, ARGS) \
    void name FERVID_WITH_ISA PARAMS { (void)isa; name##_base ARGS; }
#endif

#endif
