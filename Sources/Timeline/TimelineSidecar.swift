import Foundation

/// The sidecar `<output>.json` next to a timeline: how the timeline was made.
///
/// Written at the start of a run with ``complete`` false and rewritten at the end (each write
/// replaces the file atomically, so a reader never sees half a sidecar). Keys are snake_case;
/// see docs/csv-schema.md for every field.
public struct TimelineSidecar: Codable, Sendable, Equatable {
    /// The model that produced the probabilities.
    public struct Model: Codable, Sendable, Equatable {
        /// Registry name or file path as given (`mini-xception`, `dba-resnet101.safetensors`).
        public var name: String
        /// The model's labels in its output order.
        public var labels: [String]
        /// The model file's metadata (architecture, backbone, input size, …).
        public var metadata: [String: String]
        /// SHA-256 of the model file (64 hex digits): `--resume` redoes inputs when it changes.
        public var sha256: String?

        public init(name: String, labels: [String], metadata: [String: String] = [:], sha256: String? = nil) {
            self.name = name
            self.labels = labels
            self.metadata = metadata
            self.sha256 = sha256
        }
    }

    /// The analyzed input.
    public struct Source: Codable, Sendable, Equatable {
        /// File path or URL as given.
        public var location: String
        /// True for live sources (streams), which add `wallclock` and may drop frames.
        public var live: Bool
        /// The stream's display matrix, applied before the face stage: clockwise degrees (0, 90,
        /// 180, 270), then a left–right mirror when ``mirrored``. Boxes and landmarks are in the
        /// turned (displayed) frame. Nil when not recorded.
        public var rotation: Int?
        public var mirrored: Bool?
        /// A local file's size in bytes and modification time (``FileStamp``); nil for URLs.
        public var size: Int64?
        public var modified: String?
        /// The input's duration in seconds when it has one (files).
        public var duration: Double?

        public init(location: String, live: Bool, rotation: Int? = nil, mirrored: Bool? = nil,
                    stamp: FileStamp? = nil, duration: Double? = nil) {
            self.location = location
            self.live = live
            self.rotation = rotation
            self.mirrored = mirrored
            self.size = stamp?.size
            self.modified = stamp?.modified
            self.duration = duration
        }
    }

    /// Frame counts.
    public struct Frames: Codable, Sendable, Equatable {
        /// Frames decoded.
        public var read: Int
        /// Frames analyzed (one or more rows each).
        public var analyzed: Int
        /// Frames dropped to keep a live source near real time.
        public var dropped: Int

        public init(read: Int = 0, analyzed: Int = 0, dropped: Int = 0) {
            self.read = read
            self.analyzed = analyzed
            self.dropped = dropped
        }
    }

    /// Live sources: back-pressure and latency (docs/live.md). Seconds are rounded to 1 ms.
    public struct Live: Codable, Sendable, Equatable {
        /// `--max-lag`, seconds.
        public var maxLag: Double
        /// Frames thinned evenly because the pipeline was slower than the stream.
        public var droppedThinned: Int
        /// Frames dropped for falling more than `max_lag` behind.
        public var droppedStale: Int
        /// All drops per minute of wall time.
        public var dropsPerMinute: Double
        /// Seconds from a frame's arrival to its rows being written.
        public var latencyP50: Double?
        public var latencyP95: Double?
        public var latencyMax: Double?
        /// The input's frame rate as received, and the rate analyzed (frames per second of stream
        /// time; below the input's when frames were thinned).
        public var streamFps: Double?
        public var sustainedFps: Double?
        /// The most frames that waited at once, and the largest lag (stream seconds) they spanned.
        public var bufferedPeak: Int
        public var lagPeak: Double

        public init(maxLag: Double, droppedThinned: Int = 0, droppedStale: Int = 0, dropsPerMinute: Double = 0,
                    latencyP50: Double? = nil, latencyP95: Double? = nil, latencyMax: Double? = nil,
                    streamFps: Double? = nil, sustainedFps: Double? = nil, bufferedPeak: Int = 0, lagPeak: Double = 0) {
            func r(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
            self.maxLag = maxLag
            self.droppedThinned = droppedThinned
            self.droppedStale = droppedStale
            self.dropsPerMinute = r(dropsPerMinute)
            self.latencyP50 = latencyP50.map(r)
            self.latencyP95 = latencyP95.map(r)
            self.latencyMax = latencyMax.map(r)
            self.streamFps = streamFps.map(r)
            self.sustainedFps = sustainedFps.map(r)
            self.bufferedPeak = bufferedPeak
            self.lagPeak = r(lagPeak)
        }
    }

    /// Always ``TimelineColumns/schemaVersion``.
    public var schemaVersion: Int
    public var fervidVersion: String
    public var model: Model
    /// Class names in column order (``EmotionClass``).
    public var classOrder: [String]
    /// Every column of the timeline file, in order.
    public var columns: [String]
    public var format: TimelineFormat
    /// The smoothing, canonical `--smooth` form (`ema:0.5`).
    public var smoothing: SmoothingSpec
    public var source: Source
    /// UTC wall-clock time the analysis started (ISO 8601, milliseconds).
    public var startTime: String
    /// UTC wall-clock time the analysis ended; nil while running.
    public var endTime: String?
    /// False while the run is going on (or if it never ended cleanly).
    public var complete: Bool
    public var frames: Frames
    /// Rows with a face (`success=1`).
    public var faces: Int
    /// Distinct face tracks.
    public var tracks: Int
    /// Live sources only (absent for files).
    public var live: Live?
    /// The options that shape the timeline (`faces`, `smooth`, `fps`, …, as `analyze` spells
    /// them): `--resume` redoes an input whose settings differ.
    public var settings: [String: String]?

    public init(fervidVersion: String, model: Model, columns: TimelineColumns, format: TimelineFormat,
                smoothing: SmoothingSpec, source: Source, startTime: Date, endTime: Date? = nil,
                complete: Bool = false, frames: Frames = Frames(), faces: Int = 0, tracks: Int = 0, live: Live? = nil) {
        self.schemaVersion = TimelineColumns.schemaVersion
        self.fervidVersion = fervidVersion
        self.model = model
        self.classOrder = EmotionClass.allCases.map(\.rawValue)
        self.columns = columns.names
        self.format = format
        self.smoothing = smoothing
        self.source = source
        self.startTime = ISOTime.format(startTime)
        self.endTime = endTime.map(ISOTime.format)
        self.complete = complete
        self.frames = frames
        self.faces = faces
        self.tracks = tracks
        self.live = live
    }

    /// The sidecar path of a timeline output: `<output>.json`.
    public static func path(forOutput output: String) -> String { output + ".json" }

    /// Pretty-printed JSON with sorted keys.
    public func jsonData() throws(TimelineError) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(self) + Data("\n".utf8) } catch {
            throw .io(path: "sidecar", reason: "cannot encode: \(error)")
        }
    }

    /// Writes the sidecar atomically (temporary file, then rename).
    public func write(to path: String) throws(TimelineError) {
        try writeAtomically(jsonData(), to: path)
    }

    /// Reads and validates a sidecar.
    public static func read(from path: String) throws(TimelineError) -> TimelineSidecar {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .io(path: path, reason: "cannot read sidecar")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let sidecar: TimelineSidecar
        do { sidecar = try decoder.decode(TimelineSidecar.self, from: data) } catch {
            throw .malformed(path: path, line: nil, reason: "not a fervid sidecar: \(Self.reason(error))")
        }
        guard sidecar.schemaVersion == TimelineColumns.schemaVersion else {
            throw .malformed(path: path, line: nil, reason: "schema version \(sidecar.schemaVersion), this fervid reads \(TimelineColumns.schemaVersion)")
        }
        return sidecar
    }

    static func reason(_ error: any Error) -> String {
        // Keys as they are spelled in the file (snake_case), not as the decoder names them.
        func name(_ path: [any CodingKey]) -> String { path.map { snakeCase($0.stringValue) }.joined(separator: ".") }
        switch error {
        case let DecodingError.keyNotFound(key, c): return "missing field '\(name(c.codingPath + [key]))'"
        case let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c):
            return "bad field '\(name(c.codingPath))'"
        case let DecodingError.dataCorrupted(c):
            return c.codingPath.isEmpty ? "not JSON" : "bad field '\(name(c.codingPath))': \(c.debugDescription)"
        default: return "\(error)"
        }
    }

    /// `fervidVersion` -> `fervid_version` (what `.convertToSnakeCase` writes).
    static func snakeCase(_ key: String) -> String {
        var out = ""
        for ch in key {
            if ch.isUppercase, !out.isEmpty { out += "_" }
            out += ch.lowercased()
        }
        return out
    }
}

/// Writes `data` to a temporary file next to `path`, then renames it over `path`.
func writeAtomically(_ data: Data, to path: String) throws(TimelineError) {
    let url = URL(fileURLWithPath: path)
    let given = (path as NSString).deletingLastPathComponent
    let directory = given.isEmpty ? "." : given
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw .io(path: path, reason: "cannot write: no such directory \(directory)")
    }
    do { try data.write(to: url, options: .atomic) } catch {
        throw .io(path: path, reason: "cannot write: \((error as NSError).localizedDescription)")
    }
}
