// Strict weight loading: every tensor a layer asks for must exist with exactly the expected
// shape, and every tensor in the file must be asked for (STYLE.md §2).

/// A weight-loading failure naming the tensor and, for shapes, both sides.
public enum WeightError: Error, CustomStringConvertible, Equatable {
    case missing(source: String, name: String, expected: [Int])
    case shapeMismatch(source: String, name: String, expected: [Int], found: [Int])
    case unused(source: String, names: [String])
    case unreadable(source: String, name: String, reason: String)
    /// A tensor holding NaN or an infinity: damaged weights (model files are untrusted).
    case nonFinite(source: String, name: String, value: Float, index: Int)

    public var description: String {
        switch self {
        case .missing(let s, let n, let e):
            return "\(s): tensor '\(n)' (expected shape \(e)) is missing"
        case .shapeMismatch(let s, let n, let e, let f):
            return "\(s): tensor '\(n)' has shape \(f), the model expects \(e)"
        case .unused(let s, let names):
            let shown = names.prefix(10).joined(separator: ", ")
            return "\(s): \(names.count) tensor(s) not used by the model: \(shown)\(names.count > 10 ? ", …" : "")"
        case .unreadable(let s, let n, let r):
            return "\(s): tensor '\(n)': \(r)"
        case .nonFinite(let s, let n, let v, let i):
            return "\(s): tensor '\(n)' holds a non-finite value (\(v) at element \(i)): the weights are damaged"
        }
    }
}

/// Something with checkpoint parameters.
public protocol Loadable: AnyObject {
    /// Takes this object's tensors from `w` by their checkpoint names.
    func load(_ w: WeightLoader) throws
}

/// Hands out tensors by name with shape checks and remembers which were used.
public final class WeightLoader {
    private enum Store {
        case file(SafeTensorsFile)
        case memory([String: (shape: [Int], values: [Float])])
    }
    private let store: Store
    private let ignore: (String) -> Bool
    private var used = Set<String>()
    /// The file path (or a label for in-memory weights) used in error messages.
    public let source: String

    /// Loads from a safetensors file. Tensors for which `ignore` is true need not be used.
    public init(_ file: SafeTensorsFile,
                ignore: @escaping (String) -> Bool = { $0.hasSuffix("num_batches_tracked") }) {
        store = .file(file)
        source = file.source
        self.ignore = ignore
    }

    /// Loads from in-memory tensors, e.g. the output of a model's remap function.
    public init(tensors: [String: (shape: [Int], values: [Float])], source: String = "<weights>",
                ignore: @escaping (String) -> Bool = { $0.hasSuffix("num_batches_tracked") }) {
        store = .memory(tensors)
        self.source = source
        self.ignore = ignore
    }

    /// The checkpoint file, when the tensors come from one (nil for in-memory weights): a layer
    /// that drops a derived-from copy reads its tensors from it again (`Conv2d`).
    public var filePath: String? {
        if case .file = store { return source }
        return nil
    }

    /// All tensor names available.
    public var names: [String] {
        switch store {
        case .file(let f): return f.names
        case .memory(let m): return m.keys.sorted()
        }
    }

    /// The shape of `name`, if present.
    public func shape(of name: String) -> [Int]? {
        switch store {
        case .file(let f): return f.shape(of: name)
        case .memory(let m): return m[name]?.shape
        }
    }

    /// Tensor `name` as floats; throws if it is missing or its shape is not `shape`.
    public func take(_ name: String, shape: [Int]) throws -> [Float] {
        guard let found = self.shape(of: name) else {
            throw WeightError.missing(source: source, name: name, expected: shape)
        }
        guard found == shape else {
            throw WeightError.shapeMismatch(source: source, name: name, expected: shape, found: found)
        }
        used.insert(name)
        let values: [Float]
        switch store {
        case .file(let f):
            do {
                values = try f.floats(name)
            } catch {
                throw WeightError.unreadable(source: source, name: name, reason: error.detail)
            }
        case .memory(let m):
            values = m[name]!.values
        }
        try WeightLoader.requireFinite(values, name: name, source: source)
        return values
    }

    /// Weights that are not finite would make every output NaN: refused at load, naming the tensor.
    public static func requireFinite(_ values: [Float], name: String, source: String) throws(WeightError) {
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(source: source, name: name, value: values[i], index: i)
        }
    }

    /// Loads each layer in order.
    public func load(_ layers: [Loadable]) throws {
        for l in layers { try l.load(self) }
    }

    /// Throws if any tensor (not ignored) was never taken.
    public func finish() throws {
        let unused = names.filter { !used.contains($0) && !ignore($0) }
        if !unused.isEmpty { throw WeightError.unused(source: source, names: unused) }
    }
}
