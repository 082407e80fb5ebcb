import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a timeline covers its whole input: the sidecar's `status` (docs/reliability.md).
public enum RunStatus: String, Codable, Sendable, Equatable, CaseIterable {
    /// The input was read to its end (or to `--end`) with no frame lost; every row is written.
    case complete
    /// Every row written is right, but the timeline covers less than the input: the run is still
    /// going or was killed (`running`), stopped (`interrupted`), or the input ended early
    /// (`truncated`, `read_error`, `decode_errors`). See ``TimelineSidecar/reason``.
    case partial
    /// The run stopped on an error (``TimelineSidecar/detail`` says which); rows before it stand.
    case failed
    /// A record, not a timeline: a run of several inputs was stopped before this one began.
    case notStarted = "not_started"
}

/// Why a run is not ``RunStatus/complete``: the sidecar's `reason` keywords.
public enum RunReason: String, Codable, Sendable, Equatable, CaseIterable {
    /// The run is going on; a sidecar that keeps this after its process is gone was killed.
    case running
    /// Stopped by the user (SIGINT, SIGTERM) or ``stop()`` before the input ended.
    case interrupted
    /// A file whose container index lists more packets than the file holds (cut short).
    case truncated
    /// The input stopped on a read or demuxer error before its end.
    case readError = "read_error"
    /// Packets the decoder rejected (skipped) or frames it could only conceal.
    case decodeErrors = "decode_errors"
    /// An error ended the run (``RunStatus/failed``).
    case error
}

/// The sidecar `<output>.json` next to a timeline: how the timeline was made, and whether it is
/// complete.
///
/// Written when a run starts (`status: partial`, `reason: running`), rewritten every few seconds
/// while it goes (frame counts, `updated_time`) and at the end with the final ``status``. Each
/// write replaces the file atomically (temporary file, then rename), so a reader never sees half
/// a sidecar, and a killed run leaves one that says how far it got. Keys are snake_case; see
/// docs/csv-schema.md for every field and docs/reliability.md for the status contract.
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
        /// Packets the decoder rejected plus frames it flagged as corrupt (absent in old sidecars).
        public var corrupt: Int?
        /// Timestamp (seconds) of the last analyzed frame: how far the timeline reaches.
        public var lastTimestamp: Double?

        public init(read: Int = 0, analyzed: Int = 0, dropped: Int = 0, corrupt: Int? = nil,
                    lastTimestamp: Double? = nil) {
            self.read = read
            self.analyzed = analyzed
            self.dropped = dropped
            self.corrupt = corrupt
            self.lastTimestamp = lastTimestamp
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
    /// UTC wall-clock time the analysis ended; nil while running (and after a kill).
    public var endTime: String?
    /// UTC wall-clock time of this write: while a run goes, at most a few seconds old.
    public var updatedTime: String?
    /// True exactly when ``status`` is ``RunStatus/complete`` (kept for readers of older sidecars).
    public var complete: Bool
    /// `complete`, `partial` or `failed` (nil only in sidecars of fervid before the status contract).
    public var status: RunStatus?
    /// Why the run is not complete; nil when it is.
    public var reason: RunReason?
    /// One line for a person: the error, the signal, what the container's index said.
    public var detail: String?
    /// Timeline rows written (and flushed) so far.
    public var rows: Int?
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
                status: RunStatus = .partial, reason: RunReason? = .running, detail: String? = nil,
                updatedTime: Date = Date(), rows: Int = 0,
                frames: Frames = Frames(), faces: Int = 0, tracks: Int = 0, live: Live? = nil) {
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
        self.updatedTime = ISOTime.format(updatedTime)
        self.complete = status == .complete
        self.status = status
        self.reason = status == .complete ? nil : reason
        self.detail = detail
        self.rows = rows
        self.frames = frames
        self.faces = faces
        self.tracks = tracks
        self.live = live
    }

    /// The sidecar path of a timeline output: `<output>.json`.
    public static func path(forOutput output: String) -> String { output + ".json" }

    /// The sidecar path for `output`, or nil when it gets none: standard output (`-`) and
    /// anything that exists and is not a regular file (`/dev/null`, a FIFO, a terminal), so
    /// that `-o /dev/null` never creates `/dev/null.json`.
    public static func path(forOutputIfRegular output: String) -> String? {
        guard output != "-" else { return nil }
        var st = stat()
        if stat(output, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG { return nil }
        return path(forOutput: output)
    }

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
        try decode(readWholeFile(path), path: path)
    }

    /// Decodes and validates sidecar bytes; `path` names them in errors.
    public static func decode(_ data: Data, path: String) throws(TimelineError) -> TimelineSidecar {
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

/// The whole of the file at `path`; a failure names it with the system's reason (`strerror`),
/// not Foundation's "The operation could not be completed".
public func readWholeFile(_ path: String) throws(TimelineError) -> Data {
    func cause() -> String { String(cString: strerror(errno)) }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: path, reason: "cannot read: \(cause())") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw .io(path: path, reason: "cannot read: \(cause())") }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw .io(path: path, reason: "cannot read: \(String(cString: strerror(EISDIR)))") }
    var data = Data()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw .io(path: path, reason: "cannot read: \(cause())")
        }
        if n == 0 { return data }
        data.append(contentsOf: chunk[0 ..< n])
    }
}

/// Writes all of `data` to standard output, checked: a full disk or a closed pipe is an error.
public func writeStandardOutput(_ data: Data) throws(TimelineError) {
    if let failure = writeAll(STDOUT_FILENO, data) { throw .io(path: "standard output", reason: failure) }
}

/// Writes `data` to a temporary file next to `path` (same directory, so the same file system),
/// syncs it, then renames it over `path`: a reader sees the old file or the new one, never half
/// of one. Every call is checked; a failure names the path and the system's reason (`strerror`),
/// and leaves no temporary file behind.
///
/// A `path` that exists and is not a regular file (`/dev/null`, `/dev/full`, a FIFO) is written
/// in place, never replaced; a symbolic link is followed (its target is replaced, not the link).
public func writeAtomically(_ data: Data, to path: String) throws(TimelineError) {
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
        try writeInPlace(data, to: path)
        return
    }
    var target = path
    if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK, let resolved = realpath(path, nil) {
        target = String(cString: resolved)
        free(resolved)
    }
    try replaceAtomically(data, at: target, naming: path)
}

/// Writes `data` to an existing non-regular file (a device, a FIFO), every call checked.
func writeInPlace(_ data: Data, to path: String) throws(TimelineError) {
    func cause() -> String { String(cString: strerror(errno)) }
    let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: path, reason: "cannot write: \(cause())") }
    var failure = writeAll(fd, data)
    if close(fd) != 0, failure == nil { failure = "close failed: \(cause())" }
    if let failure { throw .io(path: path, reason: failure) }
}

/// Writes every byte of `data` to `fd` (retrying short writes and EINTR); the failure's text, or nil.
func writeAll(_ fd: Int32, _ data: Data) -> String? {
    data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> String? in
        var offset = 0
        while offset < buffer.count {
            let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return "write failed: \(String(cString: strerror(errno)))"
            }
            offset += n
        }
        return nil
    }
}

private func replaceAtomically(_ data: Data, at path: String, naming shown: String) throws(TimelineError) {
    let given = PathText.parent(path)
    let directory = given.isEmpty ? "." : given
    let name = PathText.name(path)
    var dirStat = stat()
    guard stat(directory, &dirStat) == 0, (dirStat.st_mode & S_IFMT) == S_IFDIR else {
        throw .io(path: shown, reason: "cannot write: no such directory \(directory)")
    }
    let temporary = directory + "/." + name + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    func cause() -> String { String(cString: strerror(errno)) }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .io(path: shown, reason: "cannot write: \(cause())") }
    var failure = writeAll(fd, data)
    if failure == nil, fsync(fd) != 0, errno != EINVAL { failure = "fsync failed: \(cause())" }
    if close(fd) != 0, failure == nil { failure = "close failed: \(cause())" }
    if failure == nil, rename(temporary, path) != 0 { failure = "cannot replace: \(cause())" }
    if let failure {
        unlink(temporary)
        throw .io(path: shown, reason: failure)
    }
}
