import Foundation
import Testing
@testable import CNN

/// A safetensors file from (name, dtype, shape, raw bytes) entries, laid out in order.
func craftedSafeTensors(_ tensors: [(String, String, [Int], [UInt8])], metadata: [String: String] = [:]) -> [UInt8] {
    var header: [String: Any] = [:]
    var data: [UInt8] = []
    for (name, dtype, shape, raw) in tensors {
        header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [data.count, data.count + raw.count]]
        data += raw
    }
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var json = [UInt8](try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
    while json.count % 8 != 0 { json.append(0x20) }
    var length = UInt64(json.count).littleEndian
    return withUnsafeBytes(of: &length) { Array($0) } + json + data
}

func floatBytes(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }

@Suite struct SafeTensorsUntrustedTests {
    @Test("a zero-element tensor with absurd dimensions is refused at parse time, naming it")
    func absurdDimensions() {
        let bytes = craftedSafeTensors([("conv1.kernel", "F32", [1_000_000, 1_000_000, 1_000_000, 0], [])])
        do {
            _ = try SafeTensorsFile(bytes: bytes)
            Issue.record("parsed")
        } catch {
            #expect(error.kind == .absurdShape)
            #expect(error.description.contains("conv1.kernel"), "\(error)")
        }
        // Still fine: empty tensors of sane shape, and the biggest shapes a model has.
        #expect(throws: Never.self) { _ = try SafeTensorsFile(bytes: craftedSafeTensors([("e", "F32", [0, 64], [])])) }
        let rank9 = craftedSafeTensors([("r", "F32", [1, 1, 1, 1, 1, 1, 1, 1, 1], floatBytes([1]))])
        #expect(throws: SafeTensorsError.self) { _ = try SafeTensorsFile(bytes: rank9) }
    }

    @Test("NaN, infinite and out-of-range weights are refused when a model loads them, naming the tensor",
          arguments: [("F32", floatBytes([1, .nan])), ("F32", floatBytes([.infinity, 0])),
                      ("F64", withUnsafeBytes(of: (1e300 as Double).bitPattern.littleEndian) { Array($0) } + [UInt8](repeating: 0, count: 8)),
                      ("F16", [0x00, 0x7C, 0x00, 0x3C])])   // +inf, 1.0
    func nonFinite(_ dtype: String, _ raw: [UInt8]) throws {
        let file = try SafeTensorsFile(bytes: craftedSafeTensors([("layer.weight", dtype, [2], raw)]))
        #expect(throws: Never.self) { _ = try file.floats("layer.weight") }  // the format itself allows them
        let loader = WeightLoader(file)
        do {
            _ = try loader.take("layer.weight", shape: [2])
            Issue.record("loaded")
        } catch {
            guard case let WeightError.nonFinite(_, name, value, _) = error else { Issue.record("\(error)"); return }
            #expect(name == "layer.weight" && !value.isFinite)
            #expect("\(error)".contains("'layer.weight' holds a non-finite value"))
        }
    }
}
