import Foundation

/// The seven expression classes of CSV schema version 1, in column order.
///
/// The order is fervid's, not any model's: a model's output is mapped onto it by label name
/// (see ``ClassMapping``), so files written with different models line up column for column.
public enum EmotionClass: String, CaseIterable, Sendable, Codable, Comparable {
    case angry, disgust, fear, happy, neutral, sad, surprise

    /// Number of classes (the length of every probability vector in this module).
    public static let count = 7

    /// Column position of the class, `0..<count`.
    public var index: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (a: Self, b: Self) -> Bool { a.index < b.index }

    /// Maps a model's label to a class: case-insensitive, with the spellings used by the common
    /// datasets (FER2013 `angry`, RAF-DB `anger`/`happiness`/`sadness`, AffectNet `surprised` …).
    /// `contempt` (CK+, AffectNet-8) has no column in schema version 1 and maps to nil.
    public init?(modelLabel: String) {
        let key = modelLabel.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        switch key {
        case "angry", "anger": self = .angry
        case "disgust", "disgusted": self = .disgust
        case "fear", "fearful", "afraid", "scared": self = .fear
        case "happy", "happiness", "joy": self = .happy
        case "neutral": self = .neutral
        case "sad", "sadness": self = .sad
        case "surprise", "surprised": self = .surprise
        default: return nil
        }
    }

    /// The index of the largest value of a probability vector (first one on ties).
    public static func argmax(_ p: [Double]) -> Int {
        var best = 0
        for i in 1..<p.count where p[i] > p[best] { best = i }
        return best
    }
}

/// How a model's output vector maps onto ``EmotionClass`` order.
///
/// Every model label must name a class (see ``EmotionClass/init(modelLabel:)``), and no class
/// may be named twice; a class the model lacks gets probability 0 in every row.
public struct ClassMapping: Sendable, Equatable {
    /// The model's labels, in its output order.
    public let modelLabels: [String]
    /// For each ``EmotionClass`` (in schema order), the index into the model's output, or nil.
    public let modelIndex: [Int?]

    /// Builds the mapping, or throws ``TimelineError/unmappableLabel(_:labels:)`` naming the label.
    public init(modelLabels: [String]) throws(TimelineError) {
        var modelIndex = [Int?](repeating: nil, count: EmotionClass.count)
        for (i, label) in modelLabels.enumerated() {
            guard let c = EmotionClass(modelLabel: label) else {
                throw .unmappableLabel(label, labels: modelLabels)
            }
            if modelIndex[c.index] != nil { throw .duplicateLabel(label, labels: modelLabels) }
            modelIndex[c.index] = i
        }
        if modelLabels.isEmpty { throw .unmappableLabel("", labels: modelLabels) }
        self.modelLabels = modelLabels
        self.modelIndex = modelIndex
    }

    /// Reorders one model output (probabilities in model order) into schema order.
    /// - Precondition: `output.count == modelLabels.count`.
    public func schemaProbabilities<F: BinaryFloatingPoint>(_ output: some Collection<F>) -> [Double] {
        precondition(output.count == modelLabels.count, "model output has \(output.count) values, labels \(modelLabels.count)")
        let values = output.map { Double($0) }
        return modelIndex.map { $0.map { values[$0] } ?? 0 }
    }
}

/// Every error of the Timeline module; `description` is one line naming the input and the cause.
public enum TimelineError: Error, CustomStringConvertible, Equatable {
    /// A model label that no CSV column can hold.
    case unmappableLabel(String, labels: [String])
    /// Two model labels that map onto the same column.
    case duplicateLabel(String, labels: [String])
    /// A `--smooth` value that does not parse.
    case invalidSmoothing(String, reason: String)
    /// A smoothing method that needs lookahead, asked for on a live source.
    case smoothingNeedsLookahead(String)
    /// An output that cannot be created or written.
    case io(path: String, reason: String)
    /// A timeline file (CSV / JSON Lines / sidecar) that does not parse.
    case malformed(path: String, line: Int?, reason: String)

    public var description: String {
        switch self {
        case let .unmappableLabel(label, labels):
            return "model label '\(label)' (labels: \(labels.joined(separator: ", "))) maps to no CSV column; "
                + "schema version 1 has \(EmotionClass.allCases.map(\.rawValue).joined(separator: ", "))"
        case let .duplicateLabel(label, labels):
            return "model label '\(label)' (labels: \(labels.joined(separator: ", "))) maps to a CSV column already taken"
        case let .invalidSmoothing(spec, reason):
            return "invalid smoothing '\(spec)': \(reason); expected none, ema[:TAU], window[:SEC] or hmm[:STAY]"
        case let .smoothingNeedsLookahead(spec):
            return "smoothing '\(spec)' needs lookahead and works on files only; use ema or hmm for live sources"
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .malformed(path, line, reason):
            return line.map { "\(path):\($0): \(reason)" } ?? "\(path): \(reason)"
        }
    }
}

extension TimelineError: LocalizedError {
    public var errorDescription: String? { description }
}

