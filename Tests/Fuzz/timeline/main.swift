// libFuzzer target: the timeline reader behind `fervid plot` (CSV schema 1 and JSON Lines), the
// chart it draws from what parses, and the sidecar decoder.
import Foundation
import FuzzDriver
import Timeline

// Also exported under libFuzzer's name (see FuzzDriver).
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

runFuzzer(fuzzTimeline)
