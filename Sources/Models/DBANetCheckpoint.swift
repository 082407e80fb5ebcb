// DBA-Net checkpoints: the `fervid.*` metadata that makes a safetensors file self-describing,
// the built-in architecture names, and loading (docs/dbanet.md).
import CNN

/// The class order of every fervid classifier (the CSV columns).
public let fervidEmotionLabels = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]

/// What a DBA-Net checkpoint says about itself in its safetensors `__metadata__`.
///
/// Keys: `fervid.arch` = `dbanet`, `fervid.backbone`, `fervid.strategy`, `fervid.input_size`
/// (`100` or `100x100`), `fervid.labels` (comma-separated, output order), `fervid.colour` = `rgb`,
/// `fervid.mean` and `fervid.std` (three comma-separated numbers each, for RGB in [0, 1]).
public struct DBANetMetadata: Sendable, Equatable {
    public var backbone: DBANetBackbone
    public var strategy: DBANetStrategy
    /// Input height and width the model was trained at.
    public var inputSize: (height: Int, width: Int)
    public var labels: [String]
    /// Per-channel normalization of RGB in [0, 1]: (x − mean) / std.
    public var mean: [Float], std: [Float]

    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    public init(backbone: DBANetBackbone, strategy: DBANetStrategy, inputSize: Int = 100,
                labels: [String] = fervidEmotionLabels,
                mean: [Float] = DBANetMetadata.imageNetMean, std: [Float] = DBANetMetadata.imageNetStd) {
        self.backbone = backbone
        self.strategy = strategy
        self.inputSize = (inputSize, inputSize)
        self.labels = labels
        self.mean = mean
        self.std = std
    }

    /// Parses and validates the metadata of `source` (a path, for messages); throws
    /// ``ModelFileError`` naming the key.
    public init(_ metadata: [String: String], source: String) throws {
        func fail(_ cause: String) -> ModelFileError { ModelFileError(source: source, detail: cause) }
        func value(_ key: String) throws -> String {
            guard let v = metadata[key] else { throw fail("metadata '\(key)' is missing") }
            return v
        }
        let arch = try value("fervid.arch")
        guard arch == "dbanet" else { throw fail("metadata 'fervid.arch' is '\(arch)', not 'dbanet'") }
        let b = try value("fervid.backbone"), s = try value("fervid.strategy")
        guard let backbone = DBANetBackbone(rawValue: b) else {
            throw fail("unknown backbone '\(b)' (expected \(DBANetBackbone.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let strategy = DBANetStrategy(rawValue: s) else {
            throw fail("unknown strategy '\(s)' (expected \(DBANetStrategy.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.backbone = backbone
        self.strategy = strategy

        let size = try value("fervid.input_size")
        let sides = size.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        switch sides.count {
        case 1 where sides[0] != nil: inputSize = (sides[0]!, sides[0]!)
        case 2 where sides[0] != nil && sides[1] != nil: inputSize = (sides[0]!, sides[1]!)
        default: throw fail("metadata 'fervid.input_size' is '\(size)', expected e.g. '100' or '100x100'")
        }
        guard inputSize.height >= 32, inputSize.width >= 32, inputSize.height <= 4096, inputSize.width <= 4096 else {
            throw fail("metadata 'fervid.input_size' \(size) is outside 32…4096 (five 2× reductions need ≥ 32)")
        }

        labels = try value("fervid.labels").split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        guard !labels.isEmpty, !labels.contains(where: \.isEmpty), Set(labels).count == labels.count else {
            throw fail("metadata 'fervid.labels' must be distinct, non-empty, comma-separated names")
        }
        let colour = try value("fervid.colour")
        guard colour == "rgb" else { throw fail("metadata 'fervid.colour' is '\(colour)'; DBA-Net takes 'rgb'") }
        func triple(_ key: String) throws -> [Float] {
            let text = try value(key)
            let v = text.split(separator: ",", omittingEmptySubsequences: false).map { Float(String($0).trimmingSpaces) }
            guard v.count == 3, v.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                throw fail("metadata '\(key)' is '\(text)', expected three comma-separated numbers")
            }
            return v.map { $0! }
        }
        mean = try triple("fervid.mean")
        std = try triple("fervid.std")
        guard std.allSatisfy({ $0 > 0 }) else { throw fail("metadata 'fervid.std' must be positive") }
    }

    /// The metadata as written into a checkpoint.
    public var dictionary: [String: String] {
        [
            "fervid.arch": "dbanet",
            "fervid.backbone": backbone.rawValue,
            "fervid.strategy": strategy.rawValue,
            "fervid.input_size": "\(inputSize.height)x\(inputSize.width)",
            "fervid.labels": labels.joined(separator: ","),
            "fervid.colour": "rgb",
            "fervid.mean": mean.map { "\($0)" }.joined(separator: ","),
            "fervid.std": std.map { "\($0)" }.joined(separator: ","),
        ]
    }

    /// The built-in name, e.g. `dbanet-resnet101-dba`.
    public var name: String { DBANetMetadata.name(backbone, strategy) }

    public static func name(_ backbone: DBANetBackbone, _ strategy: DBANetStrategy) -> String {
        "dbanet-\(backbone.rawValue)-\(strategy.rawValue)"
    }

    /// All built-in architecture names, `dbanet-{backbone}-{strategy}`.
    public static var builtInNames: [String] {
        DBANetBackbone.allCases.flatMap { b in DBANetStrategy.allCases.map { name(b, $0) } }
    }

    /// The architecture of a built-in name (K = 7, fervid's labels, input 100×100), or nil.
    public static func builtIn(_ name: String) -> DBANetMetadata? {
        for b in DBANetBackbone.allCases {
            for s in DBANetStrategy.allCases where self.name(b, s) == name {
                return DBANetMetadata(backbone: b, strategy: s)
            }
        }
        return nil
    }

    public static func == (a: DBANetMetadata, b: DBANetMetadata) -> Bool {
        a.backbone == b.backbone && a.strategy == b.strategy && a.inputSize == b.inputSize
            && a.labels == b.labels && a.mean == b.mean && a.std == b.std
    }
}

extension DBANet {
    /// The untrained network a metadata record describes (K = number of labels).
    public convenience init(_ metadata: DBANetMetadata) {
        self.init(backbone: metadata.backbone, strategy: metadata.strategy, classes: metadata.labels.count)
    }

    /// Trainable parameters, from the architecture alone (Table II).
    public var parameterCount: Int { Models.parameterCount(of: layers) }

    /// The checkpoint tensors this network takes, in load order.
    public var tensorSpecs: [TensorSpec] { Models.tensorSpecs(of: layers) }

    /// Builds the network a checkpoint's metadata describes and loads it strictly.
    public static func load(contentsOf path: String) throws -> (model: DBANet, metadata: DBANetMetadata) {
        let file = try SafeTensorsFile(path: path)
        let metadata = try DBANetMetadata(file.metadata, source: path)
        let model = DBANet(metadata)
        try model.load(WeightLoader(file))
        return (model, metadata)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
