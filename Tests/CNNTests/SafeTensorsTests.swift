import Foundation
import Testing
@testable import CNN

/// A safetensors file built by hand: header length (default: the real one), header text, data.
func handmade(_ header: String, data: [UInt8], headerLength: UInt64? = nil) -> [UInt8] {
    handmade(Array(header.utf8), data: data, headerLength: headerLength)
}

func handmade(_ header: [UInt8], data: [UInt8], headerLength: UInt64? = nil) -> [UInt8] {
    let n = headerLength ?? UInt64(header.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + header + data
}

func f32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
}

func u16Bytes(_ values: [UInt16]) -> [UInt8] { values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }

func kind(of bytes: [UInt8]) -> SafeTensorsError.Kind? {
    do {
        _ = try SafeTensorsFile(bytes: bytes)
        return nil
    } catch {
        #expect(!error.description.contains("\n"))
        #expect(error.description.hasPrefix("<bytes>: "))
        return error.kind
    }
}

struct MalformedCase: CustomStringConvertible, Sendable {
    let name: String
    let bytes: [UInt8]
    let kind: SafeTensorsError.Kind
    var description: String { name }
}

let eightFloats = f32Bytes([1, 2])
let malformedCases: [MalformedCase] = [
    MalformedCase(name: "empty", bytes: [], kind: .truncated),
    MalformedCase(name: "5 bytes", bytes: [1, 0, 0, 0, 0], kind: .truncated),
    MalformedCase(name: "header length past end",
                  bytes: handmade("{}", data: [], headerLength: 100), kind: .headerPastEnd),
    MalformedCase(name: "header length over bound",
                  bytes: handmade("{}", data: [], headerLength: 1 << 40), kind: .headerTooLarge),
    MalformedCase(name: "header length u64 max",
                  bytes: handmade("{}", data: [], headerLength: .max), kind: .headerTooLarge),
    MalformedCase(name: "non-UTF-8 header", bytes: handmade([0x7B, 0xFF, 0xFE, 0x7D], data: []), kind: .headerNotUTF8),
    MalformedCase(name: "non-JSON header", bytes: handmade("{not json}", data: []), kind: .headerNotJSON),
    MalformedCase(name: "unterminated JSON", bytes: handmade("{\"a\": {\"dtype\": \"F32\"", data: []), kind: .headerNotJSON),
    MalformedCase(name: "trailing garbage", bytes: handmade("{} x", data: []), kind: .headerNotJSON),
    MalformedCase(name: "duplicate key",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                                  data: eightFloats), kind: .headerNotJSON),
    MalformedCase(name: "deep nesting", bytes: handmade(String(repeating: "[", count: 10_000), data: []), kind: .headerNotJSON),
    MalformedCase(name: "top-level array", bytes: handmade("[]", data: []), kind: .invalidEntry),
    MalformedCase(name: "unknown dtype",
                  bytes: handmade(#"{"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}}"#, data: eightFloats), kind: .unknownDtype),
    MalformedCase(name: "shape/size mismatch",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eightFloats), kind: .sizeMismatch),
    MalformedCase(name: "shape overflow",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: eightFloats), kind: .absurdShape),
    MalformedCase(name: "offsets outside",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: eightFloats), kind: .offsetsOutside),
    MalformedCase(name: "begin after end",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, data: eightFloats), kind: .offsetsOutside),
    MalformedCase(name: "truncated data",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#, data: eightFloats), kind: .offsetsOutside),
    MalformedCase(name: "offset beyond Int",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999999]}}"#, data: eightFloats), kind: .invalidEntry),
    MalformedCase(name: "overlapping offsets",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                  data: f32Bytes([1, 2, 3])), kind: .overlap),
    MalformedCase(name: "hole in data",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eightFloats), kind: .incompleteData),
    MalformedCase(name: "unclaimed tail",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: eightFloats), kind: .incompleteData),
    MalformedCase(name: "negative shape",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eightFloats), kind: .invalidEntry),
    MalformedCase(name: "fractional shape",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: eightFloats), kind: .invalidEntry),
    MalformedCase(name: "missing data_offsets",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[2]}}"#, data: eightFloats), kind: .invalidEntry),
    MalformedCase(name: "extra field",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}"#, data: eightFloats), kind: .invalidEntry),
    MalformedCase(name: "three offsets",
                  bytes: handmade(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}"#, data: eightFloats), kind: .invalidEntry),
    MalformedCase(name: "metadata not strings",
                  bytes: handmade(#"{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: eightFloats), kind: .invalidEntry),
]

@Test("malformed safetensors give a clear error", arguments: malformedCases)
func malformed(_ c: MalformedCase) {
    #expect(kind(of: c.bytes) == c.kind, "\(c.name)")
}

@Test func malformedFileNamesPath() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fervid-cnn-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("bad.safetensors").path
    try Data(handmade("{}", data: [], headerLength: 100)).write(to: URL(fileURLWithPath: path))
    let e = try #require(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
    #expect(e.kind == .headerPastEnd)
    #expect(e.description.hasPrefix(path + ": "))
    let missing = try #require(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path + ".nope") }
    #expect(missing.kind == .unreadable)
    let directory = try #require(throws: SafeTensorsError.self) { try SafeTensorsFile(path: dir.path) }
    #expect(directory.kind == .unreadable)
    let empty = dir.appendingPathComponent("empty.safetensors").path
    #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
    #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: empty) }
}

@Test func validEdgeCases() throws {
    // Header padded with spaces, an empty header, a scalar and a zero-size tensor, an I64 tensor.
    let f = try SafeTensorsFile(bytes: handmade(#"{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"i":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}   "#,
                                                 data: f32Bytes([2.5]) + [7, 0, 0, 0, 0, 0, 0, 0]))
    #expect(f.names == ["i", "s", "z"])
    #expect(try f.floats("s") == [2.5])
    #expect(try f.floats("z") == [])
    #expect(f.shape(of: "z") == [0, 3])
    let notFloat = try #require(throws: SafeTensorsError.self) { try f.floats("i") }
    #expect(notFloat.kind == .notFloat)
    let none = try #require(throws: SafeTensorsError.self) { try f.floats("q") }
    #expect(none.kind == .noSuchTensor)
    #expect(try SafeTensorsFile(bytes: handmade("{}", data: [])).names.isEmpty)
}

@Test func halfAndBFloat16Conversion() throws {
    // IEEE binary16: 1, −2, 65504 (max), 2^−24 (smallest subnormal), 2^−14 (smallest normal),
    // 0x3555 = 0.333251953125, −0, −∞.
    let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x0400, 0x3555, 0x8000, 0xFC00]
    let expectedHalves: [Float] = [1, -2, 65504, 0x1p-24, 0x1p-14, 0.333251953125, -0.0, -.infinity]
    // bfloat16 is the top 16 bits of a float: 1, −3, 3.140625, 1e38-ish (0x7E96 = 0x1.2cp+126).
    let bf: [UInt16] = [0x3F80, 0xC040, 0x4049, 0x7E96]
    let expectedBF: [Float] = [1, -3, 3.140625, 0x1.2cp126]
    let header = #"{"h":{"dtype":"F16","shape":[2,4],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]}}"#
    let f = try SafeTensorsFile(bytes: handmade(header, data: u16Bytes(halves) + u16Bytes(bf)))
    let h = try f.floats("h")
    #expect(h == expectedHalves)
    #expect(h[6].sign == .minus)
    #expect(try f.floats("b") == expectedBF)
    #expect(floatFromHalf(0x7E00).isNaN)
    // Every finite half converts to a float that rounds back to the same half.
    for bits in UInt16(0)...UInt16(0x7BFF) where bits % 7 == 0 {
        let v = floatFromHalf(bits)
        #expect(Float16(v).bitPattern == bits)
    }
}

@Test func writerReaderRoundTrip() throws {
    let tensors: [(name: String, shape: [Int], values: [Float])] = [
        ("conv.weight", [4, 3, 3, 3], randomValues(108, seed: 101)),
        ("conv.bias", [4], randomValues(4, seed: 102)),
        ("scalar", [], [42]),
        ("empty", [0], []),
        ("weird \"name\" ✓", [2, 1], [.infinity, -0.0]),
    ]
    let metadata = ["format": "pt", "note": "quote \" backslash \\ newline \n unicode é✓"]
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fervid-cnn-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("w.safetensors").path
    try writeSafeTensors(path: path, tensors: tensors, metadata: metadata)
    for f in [try SafeTensorsFile(path: path), try SafeTensorsFile(bytes: try safeTensorsBytes(tensors: tensors, metadata: metadata))] {
        #expect(f.metadata == metadata)
        #expect(f.names == tensors.map(\.name).sorted())
        for t in tensors {
            #expect(f.shape(of: t.name) == t.shape)
            #expect(try f.floats(t.name).map(\.bitPattern) == t.values.map(\.bitPattern))
        }
    }
    // The data region starts 8-byte aligned, as the reference writer does.
    let bytes = try safeTensorsBytes(tensors: tensors, metadata: metadata)
    let n = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
    #expect((8 + n) % 8 == 0)
    #expect(throws: SafeTensorsError.self) { try safeTensorsBytes(tensors: [("a", [2], [1])]) }
}

@Test func strictLoaderErrors() throws {
    let bytes = try safeTensorsBytes(tensors: [
        ("fc.weight", [3, 4], randomValues(12, seed: 111)),
        ("fc.bias", [3], randomValues(3, seed: 112)),
        ("extra.weight", [2], [1, 2]),
        ("bn.num_batches_tracked", [], [0]),
    ])
    let file = try SafeTensorsFile(bytes: bytes)

    // Wrong shape: names the tensor and both shapes.
    let wrong = WeightLoader(file)
    let mismatch = try #require(throws: WeightError.self) { try Linear("fc", in: 5, out: 3).load(wrong) }
    #expect(mismatch == .shapeMismatch(source: "<bytes>", name: "fc.weight", expected: [3, 5], found: [3, 4]))
    #expect(mismatch.description.contains("fc.weight") && mismatch.description.contains("[3, 5]")
            && mismatch.description.contains("[3, 4]"))

    // Missing: names the tensor and the expected shape.
    let missing = try #require(throws: WeightError.self) { try Linear("head", in: 4, out: 3).load(WeightLoader(file)) }
    #expect(missing == .missing(source: "<bytes>", name: "head.weight", expected: [3, 4]))
    #expect(missing.description.contains("head.weight"))

    // Unused: extra.weight is reported; num_batches_tracked is ignored by default.
    let w = WeightLoader(file)
    try Linear("fc", in: 4, out: 3).load(w)
    let unused = try #require(throws: WeightError.self) { try w.finish() }
    #expect(unused == .unused(source: "<bytes>", names: ["extra.weight"]))
    #expect(unused.description.contains("extra.weight"))

    // With a filter that ignores nothing, num_batches_tracked is unused too.
    let strict = WeightLoader(file, ignore: { _ in false })
    try strict.load([Linear("fc", in: 4, out: 3)])
    _ = try strict.take("extra.weight", shape: [2])
    #expect(throws: WeightError.unused(source: "<bytes>", names: ["bn.num_batches_tracked"])) { try strict.finish() }

    // Everything used: finish succeeds.
    let ok = WeightLoader(file)
    try ok.load([Linear("fc", in: 4, out: 3)])
    _ = try ok.take("extra.weight", shape: [2])
    try ok.finish()
}
