import Foundation

/// OpenBLAS 0.3.21 does not recognise recent CPUs and falls back to its SSE3 ("Prescott")
/// kernels: ~9 GFLOP/s on ResNet-101's convolutions here, against 40–70 with the Haswell (AVX2)
/// kernels (docs/engine.md). It reads `OPENBLAS_CORETYPE` once, when the library loads, so the
/// only fix from inside is to run again with it set. When the variable is unset, the fallback
/// was taken and the CPU has AVX2 and FMA, fervid re-executes itself with
/// `OPENBLAS_CORETYPE=Haswell` — the setting this project's machines use. A value already in
/// the environment is always kept; `FERVID_KEEP_BLAS_CORE=1` keeps OpenBLAS's own choice.
public enum BLASKernels {
    /// Call first thing in `main` (before any thread starts): it may re-execute the process.
    public static func upgradeIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        guard env["FERVID_KEEP_BLAS_CORE"] == nil, env["FERVID_BLAS_REEXEC"] == nil,
              Engine.blasCoreWarning != nil else { return }
        setenv("OPENBLAS_CORETYPE", "Haswell", 1)
        setenv("FERVID_BLAS_REEXEC", "1", 1)  // never loop
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed: carry on with the kernels we have.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
