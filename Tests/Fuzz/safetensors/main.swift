// libFuzzer target: the safetensors parser (header length, JSON header, shapes, offsets), the
// float conversion of every tensor, and what a model makes of a file that parses (DBA-Net
// metadata, mini-Xception's Keras-layout remap). Must never crash, hang or allocate past the
// fuzzer's -rss_limit_mb, whatever the bytes.
import Foundation
import FuzzDriver
import CNN
import Models

// Also exported under libFuzzer's name (see FuzzDriver).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafeTensorsFile(bytes: bytes) else { return 0 }
    for name in file.names { _ = try? file.floats(name) }
    _ = try? DBANetMetadata(file.metadata, source: "fuzz")
    if file.metadata["fervid.arch"] == "mini-xception" { _ = try? MiniXception(file: file) }
    return 0
}

runFuzzer(fuzzSafeTensors)
