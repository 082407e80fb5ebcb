// What every fuzz target shares: libFuzzer's driver loop. Each target is an executable whose
// main.swift defines its entry point — exported as `LLVMFuzzerTestOneInput` too, since the
// fuzzer runtime's own main (linked from its archive when the linker looks for `main`) calls
// that — and ends with `runFuzzer(entry)`.
import Foundation

/// One fuzz input: its bytes (nil when empty) and their count; returns 0.
public typealias FuzzEntry = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

// libFuzzer's driver, called from the target's own main (SwiftPM names the entry point, so
// libFuzzer's main is not linked then): `-sanitize=fuzzer` instruments and links the runtime.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: FuzzEntry) -> Int32

/// Runs libFuzzer with this process's arguments (`-max_total_time=…`, corpus folders) on `entry`
/// and exits with its status.
public func runFuzzer(_ entry: FuzzEntry) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, entry))
}
