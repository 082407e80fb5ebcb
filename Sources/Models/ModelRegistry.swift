// The model registry (STYLE.md §14): one table from a checkpoint's declared architecture
// (`fervid.arch`) to the code that builds and loads it and the preprocessing its inputs need.
// `fervid.arch` is read here and nowhere else; `fervid analyze` and `fervid models info|run|bench`
// go through ``ModelRegistry``. Adding an architecture is one entry in ``ModelRegistry/architectures``.
import CNN

/// How a classifier wants its input: size, colour, normalisation, and how a face box becomes the
/// region it sees. Travels with the model (the registry entry sets it from the checkpoint).
public struct Preprocessing: Sendable, Equatable {
    public enum Colour: String, Sendable {
        /// One channel, BT.601 luma.
        case grey
        /// Three channels, R, G, B planes.
        case rgb

        public var channels: Int { self == .grey ? 1 : 3 }
    }

    public var width: Int
    public var height: Int
    public var colour: Colour
    /// Per channel: value = (byte / 255 − mean) / std.
    public var mean: [Float]
    public var std: [Float]
    public var crop: CropGeometry
    public var resize: CropResize

    public init(width: Int, height: Int, colour: Colour, mean: [Float], std: [Float], crop: CropGeometry,
                resize: CropResize = .swscale) {
        self.width = width
        self.height = height
        self.colour = colour
        self.mean = mean
        self.std = std
        self.crop = crop
        self.resize = resize
    }
}

/// How the crop region is brought to the classifier's size.
public enum CropResize: Sendable, Equatable {
    /// libswscale converts and scales the region in one step (bilinear, which low-pass filters
    /// when it shrinks).
    case swscale
    /// As the `fer` package does it with OpenCV: the region at its own resolution (libswscale
    /// converts only the colours), BT.601 grey per pixel, then a plain bilinear resize with no
    /// anti-aliasing (`Faces.greyBilinearCrop`). mini-Xception was trained on such crops; the
    /// smoother swscale crop lowers its confidence (sad 0.65 vs fer's 0.88 on a sample frame).
    case ferGreyBilinear
}

/// How a face box becomes the region the classifier sees.
public enum CropGeometry: Sendable, Equatable {
    /// As the `fer` package does it: square by growing the shorter side (centred), then `pixels`
    /// more on every side, clamped to the image.
    case squarePlusPixels(Int)
    /// Square by growing the shorter side, then scaled by `1 + 2 × fraction` around the centre,
    /// clamped to the image (RAF-DB's aligned crops show the face with some margin).
    case squarePlusFraction(Double)
}

/// A loaded expression classifier: immutable weights behind a forward pass to logits and to
/// class probabilities, plus what its inputs must look like.
///
/// One loaded model serves any number of threads and streams: its layers hold parameters only
/// (and the packed copies derived from them, made once), and every call keeps its activations in
/// a workspace of its own (`CNN.Workspace`). ``classify(_:)`` is the call to share: thread-safe,
/// it splits a batch across `Engine.threads` and returns a tensor the caller owns.
public final class ExpressionModel: @unchecked Sendable {
    /// The registry name of the architecture (`fervid.arch`).
    public let architecture: String
    /// A display name (e.g. `dbanet-resnet101-dba`, `mini-xception`).
    public let name: String
    /// Class labels in output order.
    public let labels: [String]
    public let preprocessing: Preprocessing
    /// The checkpoint's metadata (empty for a built-in architecture without a file).
    public let metadata: [String: String]
    /// Checkpoint tensors the model took.
    public let tensorCount: Int
    private let logitsForward: (Tensor) -> Tensor
    private let probabilitiesForward: (Tensor) -> Tensor
    private let inputCheck: ([Int]) -> String?
    private let parallel: BatchParallel

    init(architecture: String, name: String, labels: [String], preprocessing: Preprocessing,
         metadata: [String: String], tensorCount: Int, logits: @escaping (Tensor) -> Tensor,
         probabilities: @escaping (Tensor) -> Tensor, inputCheck: @escaping ([Int]) -> String?) {
        self.architecture = architecture
        self.name = name
        self.labels = labels
        self.preprocessing = preprocessing
        self.metadata = metadata
        self.tensorCount = tensorCount
        logitsForward = logits
        probabilitiesForward = probabilities
        self.inputCheck = inputCheck
        parallel = BatchParallel(probabilities)
    }

    /// (C, H, W) of one preprocessed image.
    public var inputShape: [Int] { [preprocessing.colour.channels, preprocessing.height, preprocessing.width] }

    /// Class probabilities (N, K) in ``labels`` order for a normalised batch (N, C, H, W), as a
    /// new tensor the caller owns. Safe to call from any number of threads at once: the batch is
    /// cut into one part per engine thread (`Engine.threads`, or the caller's
    /// `Engine.withThreads`), each part run single-threaded in a workspace of its own; a batch
    /// of one runs with all the threads. Memory: the weights once, plus one workspace per part
    /// or caller running at the same time.
    public func classify(_ x: Tensor) -> Tensor { parallel(x) }

    /// Logits (N, K) for a normalised batch (N, C, H, W), on the calling thread with the engine's
    /// threads; the tensor is the model's output slot in the calling thread's workspace (valid
    /// until this thread's next call).
    public func logits(_ x: Tensor) -> Tensor { logitsForward(x) }

    /// Class probabilities (N, K) in ``labels`` order, as ``logits(_:)`` returns its tensor.
    public func probabilities(_ x: Tensor) -> Tensor { probabilitiesForward(x) }

    /// Nil when the model runs on a batch of `shape`; else the shapes it accepts, in words.
    public func expectedInput(for shape: [Int]) -> String? { inputCheck(shape) }
}

/// One architecture of the registry: the `fervid.arch` value it answers to, how a checkpoint of
/// it loads (strictly), and how it is described.
public struct ModelArchitecture: Sendable {
    /// The `fervid.arch` value.
    public let name: String
    /// Loads an expression classifier from a checkpoint; nil for networks that are not one
    /// (MTCNN, the face detector).
    let loadClassifier: (@Sendable (SafeTensorsFile) throws -> ExpressionModel)?
    /// `models info` lines (key, value) for a checkpoint of this architecture.
    let describe: @Sendable (SafeTensorsFile) throws -> [(String, String)]

    /// Whether checkpoints of this architecture classify expressions (analyze, `models run|bench`).
    public var isClassifier: Bool { loadClassifier != nil }
}

/// The table of architectures and the one place that reads `fervid.arch`.
public enum ModelRegistry {
    /// Every architecture fervid knows, classifiers first.
    public static let architectures: [ModelArchitecture] = [
        ModelArchitecture(name: "dbanet", loadClassifier: { try dbanetClassifier($0) }, describe: { try describeDBANet($0) }),
        ModelArchitecture(name: "mini-xception", loadClassifier: { try miniXceptionClassifier($0) },
                          describe: { describeShipped($0, architecture: "mini-xception") }),
        ModelArchitecture(name: "mtcnn", loadClassifier: nil, describe: { describeShipped($0, architecture: "mtcnn") }),
    ]

    /// Names of the architectures that classify expressions.
    public static var classifierNames: [String] { architectures.filter(\.isClassifier).map(\.name) }

    /// The declared architecture of a checkpoint (`fervid.arch`), nil when absent.
    public static func declaredArchitecture(of file: SafeTensorsFile) -> String? {
        file.metadata["fervid.arch"]
    }

    /// The registry entry for a checkpoint; throws naming the file when it declares none or an
    /// unknown one.
    public static func architecture(of file: SafeTensorsFile) throws -> ModelArchitecture {
        let declared = declaredArchitecture(of: file)
        guard let declared, let entry = architectures.first(where: { $0.name == declared }) else {
            let shown = declared.map { "'\($0)'" } ?? "(none: no fervid.arch metadata)"
            throw ModelFileError(source: file.source,
                                 detail: "architecture \(shown) is not one fervid knows (\(architectures.map(\.name).joined(separator: ", ")))")
        }
        return entry
    }

    /// Loads an expression classifier from a checkpoint, strictly (every tensor present, used,
    /// and of the right shape). Throws ``ModelFileError`` (or the engine's errors) naming the file.
    public static func loadClassifier(path: String) throws -> ExpressionModel {
        try loadClassifier(file: SafeTensorsFile(path: path))
    }

    public static func loadClassifier(file: SafeTensorsFile) throws -> ExpressionModel {
        let declared = declaredArchitecture(of: file)
        guard let entry = architectures.first(where: { $0.name == declared }), let load = entry.loadClassifier else {
            let shown = declared.map { "'\($0)'" } ?? "'(none: no fervid.arch metadata)'"
            throw ModelFileError(source: file.source,
                                 detail: "architecture \(shown) is not an expression classifier fervid runs (\(classifierNames.joined(separator: ", ")))")
        }
        return try load(file)
    }

    /// `models info` lines (key, value) for a checkpoint, after loading it strictly where the
    /// architecture's description needs the weights.
    public static func describe(file: SafeTensorsFile) throws -> [(String, String)] {
        try architecture(of: file).describe(file)
    }

    // MARK: Built-in architectures without a file (DBA-Net's twelve variants)

    /// Names of the architectures that exist without a checkpoint (`dbanet-{backbone}-{strategy}`).
    public static var builtInNames: [String] { DBANetMetadata.builtInNames }

    /// Whether `name` is a built-in architecture name.
    public static func isBuiltIn(_ name: String) -> Bool { DBANetMetadata.builtIn(name) != nil }

    /// The tensors a built-in architecture takes (for generated weights), nil for unknown names.
    public static func tensorSpecs(builtIn name: String) -> [TensorSpec]? {
        DBANetMetadata.builtIn(name).map { DBANet($0).tensorSpecs }
    }

    /// `models info` lines for a built-in architecture, nil for unknown names.
    public static func describe(builtIn name: String) -> [(String, String)]? {
        guard let m = DBANetMetadata.builtIn(name) else { return nil }
        return dbanetLines(m, parameters: DBANet(m).parameterCount) + [("weights", "none (architecture only; train with tools/reference/train.py)")]
    }

    /// A built-in architecture with the given weights (strict), nil for unknown names.
    public static func classifier(builtIn name: String, weights: WeightLoader) throws -> ExpressionModel? {
        guard let m = DBANetMetadata.builtIn(name) else { return nil }
        let net = DBANet(m)
        try net.load(weights)
        return dbanetModel(net, m, metadata: [:])
    }

    // MARK: Entries

    private static func dbanetClassifier(_ file: SafeTensorsFile) throws -> ExpressionModel {
        let metadata = try DBANetMetadata(file.metadata, source: file.source)
        let net = DBANet(metadata)
        try net.load(WeightLoader(file))
        return dbanetModel(net, metadata, metadata: file.metadata)
    }

    private static func dbanetModel(_ net: DBANet, _ m: DBANetMetadata, metadata: [String: String]) -> ExpressionModel {
        ExpressionModel(
            architecture: "dbanet", name: m.name, labels: m.labels,
            preprocessing: Preprocessing(width: m.inputSize.width, height: m.inputSize.height, colour: .rgb,
                                         mean: m.mean, std: m.std, crop: .squarePlusFraction(0.1)),
            metadata: metadata, tensorCount: net.tensorSpecs.count,
            logits: { net($0) }, probabilities: { net.probabilities($0) },
            inputCheck: { s in
                s.count == 4 && s[0] > 0 && s[1] == 3 && s[2] >= 32 && s[3] >= 32 ? nil : "(N, 3, H, W) with H, W >= 32"
            })
    }

    private static func miniXceptionClassifier(_ file: SafeTensorsFile) throws -> ExpressionModel {
        let net = try MiniXception(file: file)
        let side = MiniXception.inputSize
        return ExpressionModel(
            architecture: "mini-xception", name: "mini-xception", labels: MiniXception.labels,
            // fer: x / 255, then (x − 0.5) × 2.
            preprocessing: Preprocessing(width: side, height: side, colour: .grey, mean: [0.5], std: [0.5],
                                         crop: .squarePlusPixels(10), resize: .ferGreyBilinear),
            metadata: file.metadata, tensorCount: file.names.count,
            logits: { net.logits($0) }, probabilities: { net($0) },
            inputCheck: { s in
                s.count == 4 && s[0] > 0 && s[1] == 1 && s[2] == side && s[3] == side ? nil : "(N, 1, \(side), \(side))"
            })
    }

    private static func dbanetLines(_ m: DBANetMetadata, parameters: Int) -> [(String, String)] {
        [("name", m.name),
         ("architecture", "DBA-Net, backbone \(m.backbone.rawValue), strategy \(m.strategy.rawValue)"),
         ("parameters", grouped(parameters)),
         ("input", "\(m.inputSize.height)x\(m.inputSize.width) RGB in [0, 1], (x - mean) / std, "
            + "mean \(m.mean.map { "\($0)" }.joined(separator: ",")), std \(m.std.map { "\($0)" }.joined(separator: ","))"),
         ("labels", m.labels.joined(separator: ", "))]
    }

    private static func describeDBANet(_ file: SafeTensorsFile) throws -> [(String, String)] {
        let metadata = try DBANetMetadata(file.metadata, source: file.source)
        let net = DBANet(metadata)
        try net.load(WeightLoader(file))
        return dbanetLines(metadata, parameters: net.parameterCount)
            + [("weights", "\(file.source) (\(net.tensorSpecs.count) tensors, all present with the expected shapes)")]
    }

    /// The shipped models (mini-Xception, MTCNN): what their converter wrote into the metadata,
    /// and the parameter count of the file's tensors.
    private static func describeShipped(_ file: SafeTensorsFile, architecture: String) -> [(String, String)] {
        let m = file.metadata
        let parameters = file.names.reduce(0) { $0 + (file.shape(of: $1) ?? []).reduce(1, *) }
        var lines: [(String, String)] = [
            ("name", file.source.split(separator: "/").last.map(String.init) ?? file.source),
            ("architecture", "\(architecture)\(m["fervid.networks"].map { " (\($0))" } ?? "")"),
            ("parameters", "\(grouped(parameters)) (\(file.names.count) tensors)"),
            ("input", "\(m["fervid.input_size"] ?? "?") \(m["fervid.colour"] ?? "?"), \(m["fervid.normalisation"] ?? "")"),
            ("labels", (m["fervid.labels"] ?? "").split(separator: ",").joined(separator: ", ")),
        ]
        if let source = m["fervid.source"] { lines.append(("source", source)) }
        if let licence = m["fervid.licence"] { lines.append(("licence", licence)) }
        lines.append(("weights", file.source))
        return lines
    }
}

/// 49193015 -> "49,193,015".
func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(d)
    }
    return out
}
