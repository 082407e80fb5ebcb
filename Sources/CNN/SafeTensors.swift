// The safetensors format (huggingface/safetensors, docs "Format"): an 8-byte little-endian
// header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {string: string}}, then the data region; offsets are relative to its start.
// Model files are untrusted: every length and offset is checked before use.
import Foundation

/// A malformed or unreadable safetensors file; `description` is one line naming the input and
/// the cause.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case unreadable, truncated, headerTooLarge, headerPastEnd, headerNotUTF8, headerNotJSON
        case invalidEntry, unknownDtype, sizeMismatch, offsetsOutside, overlap, incompleteData
        case noSuchTensor, notFloat, writeFailed, absurdShape
    }
    public let kind: Kind
    /// The file path, or "<bytes>" for an in-memory buffer.
    public let source: String
    public let detail: String
    public var description: String { "\(source): \(detail)" }
}

/// Element types of the format, with their sizes in bytes.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64

    public var size: Int {
        switch self {
        case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3: return 1
        case .I16, .U16, .F16, .BF16: return 2
        case .I32, .U32, .F32: return 4
        case .F64, .I64, .U64: return 8
        }
    }
}

/// The file's bytes: a read-only memory map (unmapped in `deinit`) or a heap copy.
final class ByteSource: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int
    private let mapped: Bool

    init(copying bytes: [UInt8]) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { if let src = $0.baseAddress { p.copyMemory(from: src, byteCount: bytes.count) } }
        base = UnsafeRawPointer(p)
        count = bytes.count
        mapped = false
    }

    init(mapping path: String) throws(SafeTensorsError) {
        func fail(_ why: String) -> SafeTensorsError {
            SafeTensorsError(kind: .unreadable, source: path, detail: "cannot read: \(why)")
        }
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw fail(String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw fail(String(cString: strerror(errno))) }
        if (st.st_mode & S_IFMT) != S_IFREG { throw fail("not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            // mmap rejects length 0; an empty file is reported as truncated by the parser.
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16))
            count = 0
            mapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
              p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw fail("mmap: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
        count = size
        mapped = true
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}

/// A validated safetensors file, memory-mapped; tensors are converted to `Float` on request.
public struct SafeTensorsFile: @unchecked Sendable {
    /// Largest header accepted (the reference implementation's bound, 100 MB).
    public static let maxHeaderLength = 100_000_000
    /// Most dimensions a tensor may have.
    public static let maxRank = 8
    /// Largest element count a shape may describe, counting a zero dimension as 1: a
    /// zero-element tensor of shape [1000000, 1000000, 1000000, 0] passes the size checks but
    /// sends any loop over its dimensions spinning, so it is refused here (2^32 elements is
    /// 16 GiB of F32, far past any model fervid loads).
    public static let maxElements = 1 << 32

    struct Entry {
        let dtype: SafeTensorsDType
        let shape: [Int]
        let begin: Int, end: Int   // byte offsets into the data region
    }

    /// The path, or "<bytes>".
    public let source: String
    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Tensor names, sorted.
    public let names: [String]
    let entries: [String: Entry]
    private let bytes: ByteSource
    private let dataStart: Int

    /// Maps and validates the file at `path`.
    public init(path: String) throws(SafeTensorsError) {
        try self.init(source: path, bytes: ByteSource(mapping: path))
    }

    /// Validates an in-memory file (copied).
    public init(bytes: [UInt8]) throws(SafeTensorsError) {
        try self.init(source: "<bytes>", bytes: ByteSource(copying: bytes))
    }

    private init(source: String, bytes: ByteSource) throws(SafeTensorsError) {
        func fail(_ kind: SafeTensorsError.Kind, _ detail: String) -> SafeTensorsError {
            SafeTensorsError(kind: kind, source: source, detail: detail)
        }
        self.source = source
        self.bytes = bytes
        let size = bytes.count
        guard size >= 8 else {
            throw fail(.truncated, "truncated: \(size) bytes, fewer than the 8-byte header length")
        }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(bytes.base.load(fromByteOffset: i, as: UInt8.self)) }
        guard n <= UInt64(SafeTensorsFile.maxHeaderLength) else {
            throw fail(.headerTooLarge, "header length \(n) exceeds the \(SafeTensorsFile.maxHeaderLength)-byte bound")
        }
        let headerLength = Int(n)
        guard 8 + headerLength <= size else {
            throw fail(.headerPastEnd, "header length \(headerLength) runs past the end of the \(size)-byte file")
        }
        dataStart = 8 + headerLength
        let dataSize = size - dataStart
        let header = [UInt8](UnsafeRawBufferPointer(start: bytes.base + 8, count: headerLength))

        // UTF-8, then JSON.
        var it = header.makeIterator()
        var utf8 = UTF8()
        decoding: while true {
            switch utf8.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: break decoding
            case .error: throw fail(.headerNotUTF8, "header is not valid UTF-8")
            }
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(header)
        } catch {
            throw fail(.headerNotJSON, "header is not JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let members) = json else {
            throw fail(.invalidEntry, "header is not a JSON object")
        }

        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                guard case .object(let kv) = value else {
                    throw fail(.invalidEntry, "__metadata__ is not an object of strings")
                }
                for (k, v) in kv {
                    guard case .string(let s) = v else {
                        throw fail(.invalidEntry, "__metadata__[\"\(k)\"] is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard case .object(let fields) = value else {
                throw fail(.invalidEntry, "tensor '\(name)': entry is not an object")
            }
            var dtypeName: String?, shape: [Int]?, offsets: [Int]?
            for (k, v) in fields {
                switch (k, v) {
                case ("dtype", .string(let s)): dtypeName = s
                case ("shape", .array(let a)):
                    let dims = a.compactMap(\.nonNegativeInt)
                    guard dims.count == a.count else {
                        throw fail(.invalidEntry, "tensor '\(name)': shape has a non-integer or negative entry")
                    }
                    shape = dims
                case ("data_offsets", .array(let a)):
                    let o = a.compactMap(\.nonNegativeInt)
                    guard a.count == 2, o.count == 2 else {
                        throw fail(.invalidEntry, "tensor '\(name)': data_offsets is not two non-negative integers")
                    }
                    offsets = o
                default:
                    throw fail(.invalidEntry, "tensor '\(name)': unexpected or mistyped field '\(k)'")
                }
            }
            guard let dtypeName, let shape, let offsets else {
                throw fail(.invalidEntry, "tensor '\(name)': needs dtype, shape and data_offsets")
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw fail(.unknownDtype, "tensor '\(name)': unknown dtype '\(dtypeName)'")
            }
            guard shape.count <= SafeTensorsFile.maxRank else {
                throw fail(.absurdShape, "tensor '\(name)': \(shape.count) dimensions, more than \(SafeTensorsFile.maxRank)")
            }
            var extent = 1
            for d in shape where d > 0 {
                let (m, overflow) = extent.multipliedReportingOverflow(by: d)
                guard !overflow, m <= SafeTensorsFile.maxElements else {
                    throw fail(.absurdShape, "tensor '\(name)': shape \(shape) is absurd (over \(SafeTensorsFile.maxElements) elements, a zero dimension counted as 1)")
                }
                extent = m
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end, end <= dataSize else {
                throw fail(.offsetsOutside,
                           "tensor '\(name)': data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data region")
            }
            var expected = dtype.size
            for d in shape {
                let (m, overflow) = expected.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail(.sizeMismatch, "tensor '\(name)': shape \(shape) overflows") }
                expected = m
            }
            guard end - begin == expected else {
                throw fail(.sizeMismatch,
                           "tensor '\(name)': shape \(shape) of \(dtypeName) needs \(expected) bytes, data_offsets span \(end - begin)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: begin, end: end)
        }
        // No overlaps and no holes: the tensors tile the data region exactly.
        let byOffset = entries.sorted { ($0.value.begin, $0.value.end) < ($1.value.begin, $1.value.end) }
        var position = 0
        var previous = ""
        for (name, e) in byOffset {
            if e.begin < position {
                throw fail(.overlap, "tensors '\(previous)' and '\(name)' overlap in the data region")
            }
            if e.begin > position {
                throw fail(.incompleteData, "bytes \(position)..<\(e.begin) of the data region belong to no tensor")
            }
            position = e.end
            previous = name
        }
        if position != dataSize {
            throw fail(.incompleteData, "bytes \(position)..<\(dataSize) of the data region belong to no tensor")
        }
        self.metadata = metadata
        self.entries = entries
        names = entries.keys.sorted()
    }

    /// The shape of tensor `name`, or nil when the file has no such tensor.
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// The dtype of tensor `name`.
    public func dtype(of name: String) -> SafeTensorsDType? { entries[name]?.dtype }

    /// Tensor `name` converted to `Float` (from F32, F16, BF16 or F64), as stored (NaN and
    /// infinities included; ``WeightLoader`` refuses those when a model loads).
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        guard let e = entries[name] else {
            throw SafeTensorsError(kind: .noSuchTensor, source: source, detail: "no tensor named '\(name)'")
        }
        let src = bytes.base + dataStart + e.begin
        let n = (e.end - e.begin) / e.dtype.size
        switch e.dtype {
        case .F32:
            return [Float](unsafeUninitializedCapacity: n) { buf, done in
                if n > 0 { UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: src, byteCount: n * 4) }
                done = n
            }
        case .F16:
            return (0..<n).map { floatFromHalf(src.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        case .BF16:
            return (0..<n).map {
                Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16)
            }
        case .F64:
            return (0..<n).map { Float(src.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self)) }
        default:
            throw SafeTensorsError(kind: .notFloat, source: source,
                                   detail: "tensor '\(name)' has dtype \(e.dtype.rawValue), not a float type")
        }
    }
}

/// IEEE 754 binary16 bits -> Float (exact: every half is a float).
public func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0:
        // Zero or subnormal: mantissa · 2^-24.
        let v = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign == 0 ? v : -v
    case 31:
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}

/// The bytes of a safetensors file holding `tensors` as F32 (in the given order) and `metadata`.
public func safeTensorsBytes(tensors: [(name: String, shape: [Int], values: [Float])],
                             metadata: [String: String] = [:]) throws(SafeTensorsError) -> [UInt8] {
    var parts: [String] = []
    if !metadata.isEmpty {
        let kv = metadata.sorted { $0.key < $1.key }.map { "\(jsonQuoted($0.key)):\(jsonQuoted($0.value))" }
        parts.append("\"__metadata__\":{\(kv.joined(separator: ","))}")
    }
    var offset = 0
    var seen = Set<String>()
    for t in tensors {
        guard t.name != "__metadata__", seen.insert(t.name).inserted else {
            throw SafeTensorsError(kind: .invalidEntry, source: "<writer>", detail: "duplicate or reserved tensor name '\(t.name)'")
        }
        guard t.shape.allSatisfy({ $0 >= 0 }), t.shape.reduce(1, *) == t.values.count else {
            throw SafeTensorsError(kind: .sizeMismatch, source: "<writer>",
                                   detail: "tensor '\(t.name)': \(t.values.count) values for shape \(t.shape)")
        }
        let end = offset + 4 * t.values.count
        let shape = t.shape.map(String.init).joined(separator: ",")
        parts.append("\(jsonQuoted(t.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
        offset = end
    }
    var header = Array("{\(parts.joined(separator: ","))}".utf8)
    // Pad with spaces so the data region starts 8-byte aligned, as the reference writer does.
    while (8 + header.count) % 8 != 0 { header.append(0x20) }
    var out: [UInt8] = []
    out.reserveCapacity(8 + header.count + offset)
    let n = UInt64(header.count)
    for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
    out += header
    for t in tensors {
        for v in t.values {
            let bits = v.bitPattern
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt32(i)))) }
        }
    }
    return out
}

/// Writes `tensors` (F32) and `metadata` to a safetensors file at `path`.
public func writeSafeTensors(path: String, tensors: [(name: String, shape: [Int], values: [Float])],
                             metadata: [String: String] = [:]) throws(SafeTensorsError) {
    let bytes = try safeTensorsBytes(tensors: tensors, metadata: metadata)
    do {
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        // The OS's reason (strerror), not Foundation's "The operation could not be completed".
        let ns = error as NSError
        let posix = (ns.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? $0.code : nil }
        let cause = posix.map { String(cString: strerror(Int32($0))) } ?? ns.localizedDescription
        throw SafeTensorsError(kind: .writeFailed, source: path, detail: "cannot write: \(cause)")
    }
}
