import Analysis
import Corpus
import Foundation
import Timeline
import Video

/// How one input of an `analyze` run ended.
enum InputOutcome: Sendable, Equatable {
    case complete
    /// Skipped by `--resume`: its sidecar already says complete for this input, model and settings.
    case skipped
    case partial(String)
    case failed(subject: String, cause: String)
    /// Not begun when the run was stopped (Ctrl-C / SIGTERM).
    case notStarted

    var isComplete: Bool { self == .complete || self == .skipped }
}

/// One input made ready by a worker: opened, or already finished (failed to open, skipped).
enum PreparedInput {
    case opened(Analyzer, finish: @Sendable () -> InputOutcome)
    case done(InputOutcome)
}

/// Runs the inputs of one `analyze` call: files one after another (or `--jobs N` at a time),
/// each live input in its own thread as soon as it is opened (a live stream never ends, so it
/// must not hold up the rest); all share one loaded model. Ctrl-C stops every input in flight
/// and starts no other.
final class CorpusRun: @unchecked Sendable {
    let count: Int
    private let jobs: Int
    private let lock = NSLock()
    private var next = 0
    private var stopping = false
    private var active: [Int: Analyzer] = [:]
    /// Inputs being opened: their interrupts stop a blocked open (a silent live URL).
    private var opening: [Int: VideoInterrupt] = [:]
    private var outcomes: [InputOutcome?]
    private var started: Date = Date()
    private var finishedFiles = 0
    private let group = DispatchGroup()

    init(count: Int, jobs: Int) {
        self.count = count
        self.jobs = max(1, jobs)
        outcomes = Array(repeating: nil, count: count)
    }

    /// Runs `prepare(i)` for every input, then its `finish` (on the worker for files, on a thread
    /// of its own for live inputs). Returns every input's outcome, in input order; inputs not
    /// begun before ``stop()`` are `.notStarted`.
    func run(prepare: @escaping @Sendable (Int) -> PreparedInput) -> [InputOutcome] {
        started = Date()
        for _ in 0 ..< min(jobs, count) {
            group.enter()
            let worker = Thread { [self] in
                defer { group.leave() }
                while let i = take() {
                    switch prepare(i) {
                    case let .done(outcome):
                        record(i, outcome)
                    case let .opened(analyzer, finish):
                        guard register(i, analyzer) else { continue }  // stopped meanwhile: not started
                        if analyzer.isLive, count > 1 {
                            group.enter()
                            let live = Thread { [self] in
                                defer { group.leave() }
                                let outcome = finish()
                                unregister(i)
                                record(i, outcome)
                            }
                            live.stackSize = 4 << 20
                            live.start()
                        } else {
                            let outcome = finish()
                            unregister(i)
                            record(i, outcome, file: true)
                        }
                    }
                }
            }
            worker.stackSize = 4 << 20
            worker.start()
        }
        group.wait()
        return lock.withLock { outcomes.map { $0 ?? .notStarted } }
    }

    /// Ctrl-C: every input in flight stops reading (and finishes its frames in flight); no other starts.
    func stop() {
        let (running, blocked) = lock.withLock { () -> ([Analyzer], [VideoInterrupt]) in
            stopping = true
            return (Array(active.values), Array(opening.values))
        }
        for analyzer in running { analyzer.stop() }
        for interrupt in blocked { interrupt.interrupt() }
    }

    /// The stop signal for opening input `i`; nil when the run is stopping (do not open it).
    func beginOpening(_ i: Int) -> VideoInterrupt? {
        lock.withLock {
            if stopping { return nil }
            let interrupt = VideoInterrupt()
            opening[i] = interrupt
            return interrupt
        }
    }

    func endOpening(_ i: Int) { _ = lock.withLock { opening.removeValue(forKey: i) } }

    var isStopping: Bool { lock.withLock { stopping } }

    /// The estimated time left, from the files finished so far (nil before the first).
    func eta(position: Int) -> TimeInterval? {
        lock.withLock {
            guard finishedFiles > 0 else { return nil }
            let per = Date().timeIntervalSince(started) / Double(finishedFiles)
            return per * Double(count - position + 1) / Double(jobs)
        }
    }

    private func take() -> Int? {
        lock.withLock {
            guard !stopping, next < count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    private func register(_ i: Int, _ analyzer: Analyzer) -> Bool {
        lock.withLock {
            if stopping { return false }
            active[i] = analyzer
            return true
        }
    }

    private func unregister(_ i: Int) { _ = lock.withLock { active.removeValue(forKey: i) } }

    private func record(_ i: Int, _ outcome: InputOutcome, file: Bool = false) {
        lock.withLock {
            outcomes[i] = outcome
            if file, outcome != .skipped { finishedFiles += 1 }
        }
    }

    /// `1h02m`, `5m10s`, `40s`.
    static func duration(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}

/// The record of an input that has no timeline: it failed before its analysis began, or was
/// never begun. Written where its sidecar goes, so that `collect` and `--resume` see it.
enum InputRecord {
    /// Adds `status: partial` and the reason to a sidecar that has no `status` yet, so that
    /// `--resume` redoes a timeline cut short by a stop.
    static func markPartial(_ sidecarPath: String, reason: String) {
        guard let data = FileManager.default.contents(atPath: sidecarPath),
              var object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object["status"] == nil else { return }
        object["status"] = "partial"
        object["reason"] = reason
        object["complete"] = false
        guard let out = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return }
        try? (out + Data("\n".utf8)).write(to: URL(fileURLWithPath: sidecarPath), options: .atomic)
    }

    static func write(status: String, reason: String, detail: String, input: CorpusInput, sidecarPath: String,
                      model: TimelineSidecar.Model, settings: [String: String], format: TimelineFormat,
                      smoothing: SmoothingSpec, raw: Bool, fervidVersion: String) throws
    {
        var sidecar = TimelineSidecar(
            fervidVersion: fervidVersion, model: model,
            columns: TimelineColumns(includeRaw: raw, includeWallclock: false), format: format, smoothing: smoothing,
            source: .init(location: input.location, live: false, stamp: input.isURL ? nil : FileStamp.of(input.location)),
            startTime: Date(), endTime: Date(), complete: false)
        sidecar.settings = settings
        // The status fields on top of the sidecar's own (docs/csv-schema.md).
        var object = try JSONSerialization.jsonObject(with: sidecar.jsonData()) as? [String: Any] ?? [:]
        object["status"] = status
        object["reason"] = reason
        object["detail"] = detail
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try (data + Data("\n".utf8)).write(to: URL(fileURLWithPath: sidecarPath), options: .atomic)
    }
}

/// Exit code for a run where some input is partial or not started (docs/scale-out.md).
enum ExitStatusCorpus {
    static let partial: Int32 = 3
}

/// One loaded model for every input of a run: the engine's networks are reentrant (weights
/// once, a workspace per call), so the pipelines classify concurrently on the one model.
final class SharedClassifier: FrameClassifier, Sendable {
    private let model: LoadedClassifier

    init(_ model: LoadedClassifier) { self.model = model }

    var labels: [String] { model.labels }
    var input: ClassifierInput { model.input }
    var metadata: [String: String] { model.metadata }

    func classify(_ batch: UnsafePointer<Float>, count: Int) throws -> [[Float]] {
        try model.classify(batch, count: count)
    }
}
