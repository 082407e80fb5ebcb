// libFuzzer target: the timeline reader behind `fervid plot` (CSV schema 1 and JSON Lines), the
// chart it draws from what parses, and the sidecar decoder.
import Foundation
import Timeline

// Also exported under libFuzzer's name: the runtime's own main (linked from its archive when
// the linker looks for `main`) calls it.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzTimeline(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    if let text = String(data: bytes, encoding: .utf8),
       let document = try? EmotionTimelineReader.parse(text, name: "fuzz") {
        _ = TimelinePlot(document: document, source: "fuzz").svg()
    }
    _ = try? TimelineSidecar.decode(bytes, path: "fuzz")
    return 0
}

// libFuzzer's driver, called from this executable's own main (SwiftPM names the entry point;
// libFuzzer's main is not linked then): `-sanitize=fuzzer` instruments and links the runtime.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzTimeline))
