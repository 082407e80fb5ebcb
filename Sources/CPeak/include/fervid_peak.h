#ifndef FERVID_PEAK_H
#define FERVID_PEAK_H

/// FMA throughput loops for `fervid models bench --peak`: the denominator of peak_fraction.
///
/// Swift code in a baseline x86-64 build cannot emit AVX2/AVX-512 FMA instructions, so these few
/// loops are C compiled per function for the instruction set they measure (target attributes),
/// and chosen at run time by what the CPU reports.
///
/// Each call runs `iterations` rounds of FERVID_PEAK_CHAINS independent fused multiply-add chains
/// (a = a * b + c, enough independent chains to cover the FMA latency on two ports) and returns
/// a value derived from every chain, so the work cannot be optimized away.
/// FLOPs done = iterations * FERVID_PEAK_CHAINS * lanes * 2 (lanes 16 for AVX-512, 8 for AVX2).

#define FERVID_PEAK_CHAINS 12

/// 1 when the CPU and OS support the instruction set, else 0.
int fervid_peak_has_avx512f(void);
int fervid_peak_has_avx2_fma(void);

/// 512-bit FMA chains; call only when fervid_peak_has_avx512f() is 1.
float fervid_peak_fma512(long iterations);
/// 256-bit FMA chains; call only when fervid_peak_has_avx2_fma() is 1.
float fervid_peak_fma256(long iterations);

#endif
