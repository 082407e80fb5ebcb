import CNN
import Faces
import Foundation
import Synchronization
import Timeline
import Video

/// Settings of one analysis run that are not the stages themselves.
public struct PipelineSettings: Sendable {
    /// Which decoded frames are analyzed.
    public var sampler = FrameSampler()
    /// Most crops per classifier call.
    public var batchSize = 16
    /// Longest time the batcher holds a crop waiting for more (seconds): live output is never
    /// held back for long.
    public var maxBatchWait = 0.1
    /// Capacity of each queue between stages, in frames (for a live source, every queue but the
    /// first, which is bounded in time: ``live``).
    public var queueCapacity = 8
    /// The input is live: its frames wait in a ``LiveFrameBuffer`` bounded by `liveSettings`
    /// (stream time), and are dropped only past that bound or thinned evenly when the pipeline is
    /// slower than the stream. Files get back-pressure and lose nothing.
    public var live = false
    /// `--max-lag` and the drop policy of a live source.
    public var liveSettings = LiveSettings()

    public init() {}
}

/// Counters and timings of a run, as the summary and sidecar report them.
public struct PipelineStats: Sendable {
    public var framesRead = 0
    public var framesAnalyzed = 0
    /// Live frames discarded to stay near real time (thinned + stale, see ``live``).
    public var framesDropped = 0
    /// Face crops classified.
    public var faces = 0
    /// Crops whose classifier output was not finite (NaN, ±inf): written as no face.
    public var nonFiniteOutputs = 0
    /// Frames the face detector ran on (the others verified carried boxes only).
    public var detections = 0
    /// Of those, the detections whose pass ran ahead on the face stage's look-ahead thread.
    public var detectionsAhead = 0
    public var tracks = Set<Int>()
    /// Busy seconds per stage (decode includes sampling; classify includes cropping; faceAhead is
    /// the face stage's look-ahead thread, ``FaceStage/makeLookahead()``, when it has one).
    public var decodeSeconds = 0.0
    public var faceSeconds = 0.0
    public var faceAheadSeconds = 0.0
    public var classifySeconds = 0.0
    public var writeSeconds = 0.0
    public var wallSeconds = 0.0
    /// CPU seconds of the whole process (every thread, user + system) over the same span as
    /// `wallSeconds`: `cpuSeconds / wallSeconds` is how many cores the run kept busy. Process-wide:
    /// pipelines running at the same time in the process (`--jobs`, live inputs) count in each other's.
    public var cpuSeconds = 0.0
    /// Seconds between a live frame's arrival and its result (last value), nil for files.
    public var lag: Double?
    /// Timestamp of the last analyzed frame.
    public var lastTimestamp: Double?
    /// Live sources: drops by cause, lag, rates and latency percentiles; nil for files.
    public var live: LiveStats?
    public init() {}
}

/// One frame's results, in frame order, as the pipeline hands them to its consumer.
public struct FrameResult: Sendable {
    public var frame: AnalyzedFrame
    /// Tracks that ended at this frame.
    public var endedTracks: [Int]
    /// The decoded frame, when the consumer asked to keep frames (annotated output).
    public var image: DecodedFrame?
}

/// The analysis pipeline: decode → sample → [face look-ahead] → faces → crops → batcher →
/// classifier → consumer.
///
/// Each stage runs on its own thread (the face stage's look-ahead, when it has one, on one more:
/// the detection frame, the cut test and the scheduled detections run there, ahead of the
/// tracker; crops are cut on the classifier's thread), joined by ``BoundedQueue``s of `queueCapacity` frames, so
/// memory is flat whatever the input's length. Files get back-pressure (nothing dropped); a live
/// source's frames wait for the face stage in a buffer bounded in stream time
/// (``LiveSettings/maxLag``, ``LiveDropPolicy``). Results reach `consume` in frame order, on the
/// thread that called ``run(consume:)``.
public final class AnalysisPipeline: @unchecked Sendable {
    public let source: VideoSource
    public let faceStage: FaceStage
    public let classifier: FrameClassifier
    public let settings: PipelineSettings
    /// Keep each decoded frame in its result (for annotated video).
    public var keepFrames = false

    private let stopping = Atomic<Bool>(false)
    private let statsLock = NSLock()
    private var _stats = PipelineStats()
    private var failure: Error?
    private var liveBuffer: LiveFrameBuffer<DecodedJob>?

    public init(source: VideoSource, faceStage: FaceStage, classifier: FrameClassifier, settings: PipelineSettings) {
        self.source = source
        self.faceStage = faceStage
        self.classifier = classifier
        self.settings = settings
    }

    /// A snapshot of the counters (safe from any thread).
    public var stats: PipelineStats {
        var s = statsLock.withLock { _stats }
        if let live = liveStats {
            s.live = live
            s.framesDropped = live.framesDropped
        }
        return s
    }

    /// Live sources: a snapshot of drops, lag, rates and latency (any thread); nil for files or
    /// before ``run(consume:)``.
    public var liveStats: LiveStats? {
        statsLock.withLock { liveBuffer }?.snapshot()
    }

    private func update(_ body: (inout PipelineStats) -> Void) {
        statsLock.withLock { body(&_stats) }
    }

    /// Stops reading (from any thread, e.g. a signal handler): frames already read are finished,
    /// then ``run(consume:)`` returns.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        source.interrupt()
    }

    public var isStopping: Bool { stopping.load(ordering: .relaxed) }

    private struct DecodedJob: @unchecked Sendable {
        let frame: DecodedFrame
        var prepared: PreparedFaceFrame?
    }

    /// The first queue: slots with back-pressure for files, stream time for live sources.
    private enum Inbox {
        case file(BoundedQueue<DecodedJob>)
        case live(LiveFrameBuffer<DecodedJob>)

        func push(_ job: DecodedJob) {
            switch self {
            case .file(let queue): queue.push(job)
            case .live(let buffer): buffer.push(job, pts: job.frame.pts)
            }
        }

        func pop() -> DecodedJob? {
            switch self {
            case .file(let queue): queue.pop()
            case .live(let buffer): buffer.pop()
            }
        }

        func close() {
            switch self {
            case .file(let queue): queue.close()
            case .live(let buffer): buffer.close()
            }
        }

        func recordBusy(_ stage: Int, _ seconds: Double, frames: Int) {
            if case .live(let buffer) = self { buffer.recordBusy(stage: stage, seconds: seconds, frames: frames) }
        }
    }

    private struct CropJob: @unchecked Sendable {
        let frame: DecodedFrame
        let faces: [TrackedFace]
        let ended: [Int]
        /// The frame in RGB when the face stage had it (``FaceStageOutput/frameRGB``).
        var rgb: FrameRGB?
        /// `faces.count` inputs, each `inputSize` floats (cut on the classifier's thread).
        var crops: [Float] = []
    }

    /// Hands the look-ahead to its thread (only that thread uses it).
    private final class LookaheadBox: @unchecked Sendable {
        let lookahead: FaceLookahead
        init(_ lookahead: FaceLookahead) { self.lookahead = lookahead }
    }

    private func fail(_ error: Error) {
        statsLock.withLock { if failure == nil { failure = error } }
        stop()
    }

    /// Runs to the end of the input (or ``stop()``), handing each frame's results to `consume`
    /// in frame order. Rethrows the first error of any stage after every stage has stopped.
    public func run(consume: (FrameResult) throws -> Void) throws {
        let started = Date()
        let startedCPU = Self.processCPUSeconds()
        let decoded: Inbox
        if settings.live {
            let buffer = LiveFrameBuffer<DecodedJob>(settings: settings.liveSettings)
            statsLock.withLock { liveBuffer = buffer }
            decoded = .live(buffer)
        } else {
            decoded = .file(BoundedQueue<DecodedJob>(capacity: settings.queueCapacity))
        }
        let cropped = BoundedQueue<CropJob>(capacity: settings.queueCapacity)
        let results = BoundedQueue<FrameResult>(capacity: max(settings.queueCapacity, settings.batchSize))

        // One thread per stage: they block in C calls (FFmpeg reads, BLAS), which the
        // cooperative thread pool must not do.
        let done = DispatchGroup()
        var stages: [@Sendable () -> Void] = [
            { [self] in decodeLoop(into: decoded) },
            { [self] in classifyLoop(from: cropped, into: results, inbox: decoded) },
        ]
        if let lookahead = faceStage.makeLookahead() {
            let ahead = BoundedQueue<DecodedJob>(capacity: settings.queueCapacity)
            let owned = LookaheadBox(lookahead)
            // Both face threads run their networks on half the engine's threads (1 on 2 cores):
            // the stages already keep the cores busy, and a network split across threads there
            // only adds hand-offs and spinning (measured: docs/benchmarks.md, session 12).
            let ft = Swift.max(1, Engine.threads / 2)
            stages.append { [self] in Engine.withThreads(ft) { lookaheadLoop(owned.lookahead, from: decoded, into: ahead) } }
            stages.append { [self] in Engine.withThreads(ft) { faceLoop(pop: { ahead.pop() }, inbox: decoded, into: cropped) } }
        } else {
            stages.append { [self] in faceLoop(pop: { decoded.pop() }, inbox: decoded, into: cropped) }
        }
        for stage in stages {
            done.enter()
            let thread = Thread { stage(); done.leave() }
            thread.stackSize = 8 << 20
            thread.start()
        }

        var consumerError: Error?
        while let result = results.pop() {
            if consumerError != nil { continue }  // drain so the stages can finish
            let t0 = Date()
            do {
                try consume(result)
            } catch {
                consumerError = error
                stop()
            }
            let written = Date()
            let dt = written.timeIntervalSince(t0)
            let latency = result.frame.wallclock.map { written.timeIntervalSince($0) }
            update {
                $0.writeSeconds += dt
                $0.framesAnalyzed += 1
                $0.lastTimestamp = result.frame.timestamp
                if let latency { $0.lag = latency }
            }
            if case .live(let buffer) = decoded {
                buffer.recordBusy(stage: 2, seconds: dt, frames: 1)
                if let latency { buffer.recordLatency(latency) }
            }
        }
        done.wait()
        let cpu = Self.processCPUSeconds() - startedCPU
        update {
            $0.wallSeconds = Date().timeIntervalSince(started)
            $0.cpuSeconds = cpu
        }
        if let failure = statsLock.withLock({ failure }) { throw failure }
        if let consumerError { throw consumerError }
    }

    /// User + system CPU seconds of the process so far (`CLOCK_PROCESS_CPUTIME_ID`).
    static func processCPUSeconds() -> Double {
        var t = timespec()
        guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) == 0 else { return 0 }
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    private func decodeLoop(into queue: Inbox) {
        defer { queue.close() }
        var sampler = settings.sampler
        var busy = 0.0
        defer { update { $0.decodeSeconds += busy } }
        while !isStopping {
            let t0 = Date()
            let frame: DecodedFrame?
            do {
                frame = try source.nextFrame()
            } catch {
                fail(error)
                return
            }
            busy += Date().timeIntervalSince(t0)
            guard let frame else { return }
            update { $0.framesRead += 1 }
            switch sampler.decide(frame.pts) {
            case .skip: continue
            case .finished: return
            case .take:
                queue.push(DecodedJob(frame: frame))
            }
        }
    }

    /// The face stage's look-ahead: prepares each frame (in order) for ``faceLoop``.
    private func lookaheadLoop(_ lookahead: FaceLookahead, from input: Inbox, into output: BoundedQueue<DecodedJob>) {
        defer { output.close() }
        let scaler = FrameScaler(algorithm: .bilinear)
        var failed = false
        while var job = input.pop() {
            if failed { continue }
            let t0 = Date()
            do {
                job.prepared = try lookahead.prepare(job.frame, scaler: scaler)
            } catch {
                failed = true
                fail(error)
                continue
            }
            let busy = Date().timeIntervalSince(t0)
            // A stage of its own for the live buffer's rate estimate (the slowest stage sets it).
            input.recordBusy(3, busy, frames: 1)
            update { $0.faceAheadSeconds += busy }
            output.push(job)
        }
    }

    private func faceLoop(pop: () -> DecodedJob?, inbox input: Inbox, into output: BoundedQueue<CropJob>) {
        defer { output.close() }
        let scaler = FrameScaler(algorithm: .bilinear)
        var failed = false
        while var job = pop() {
            if failed { continue }
            let t0 = Date()
            do {
                // The job lets go of the prepared frame: the stage hands its buffers back to the
                // look-ahead when done, and this is then the last reference (no copy on reuse).
                let prepared = job.prepared
                job.prepared = nil
                var out = try prepared.map { try faceStage.process(job.frame, prepared: $0, scaler: scaler) }
                    ?? faceStage.process(job.frame, scaler: scaler)
                // A box outside the frame, or too small once clamped to it, is no face.
                let side = classifier.input.minimumFaceSide
                out.faces.removeAll { face in
                    let r = face.rect.clamped(toWidth: job.frame.width, height: job.frame.height)
                    return !(r.width >= side && r.height >= side)
                }
                let busy = Date().timeIntervalSince(t0)
                input.recordBusy(0, busy, frames: 1)
                update { stats in
                    stats.faceSeconds += busy
                    if out.detectorRan { stats.detections += 1 }
                    if out.detectorRanAhead { stats.detectionsAhead += 1 }
                    for face in out.faces { stats.tracks.insert(face.id) }
                }
                output.push(CropJob(frame: job.frame, faces: out.faces, ended: out.endedTracks, rgb: out.frameRGB))
            } catch {
                failed = true
                fail(error)
            }
        }
        if !failed {
            // The stage forgets its tracks; the consumer's smoother flushes them at the end.
            _ = faceStage.finish()
        }
    }

    private func classifyLoop(from input: BoundedQueue<CropJob>, into output: BoundedQueue<FrameResult>, inbox: Inbox) {
        defer { output.close() }
        let spec = classifier.input
        let perCrop = spec.width * spec.height * spec.layout.channels
        let labels = classifier.labels
        let mapping: ClassMapping
        do {
            mapping = try ClassMapping(modelLabels: labels)
        } catch {
            fail(error)
            while input.pop() != nil {}
            return
        }
        var pending: [CropJob] = []
        var pendingCrops = 0
        var batch = [Float](repeating: 0, count: perCrop * settings.batchSize)
        var failed = false
        let crops = CropPreparation(spec, scaler: FrameScaler(algorithm: .bilinear))
        precondition(crops.floatsPerCrop == perCrop)

        /// The classifier's inputs for `job`'s faces, cut from its full-resolution frame.
        func cut(_ job: inout CropJob) throws {
            let rgb = job.rgb
            job.rgb = nil
            defer { rgb?.release() }
            var inputs = [Float](repeating: 0, count: perCrop * job.faces.count)
            try inputs.withUnsafeMutableBufferPointer { dst in
                for (n, face) in job.faces.enumerated() {
                    try crops.prepare(job.frame, box: face.rect, into: dst.baseAddress! + n * perCrop, rgb: rgb?.image)
                }
            }
            job.crops = inputs
        }

        func flush() {
            defer { pending.removeAll(keepingCapacity: true); pendingCrops = 0 }
            if failed { return }
            let t0 = Date()
            var probabilities: [[Float]] = []
            probabilities.reserveCapacity(pendingCrops)
            do {
                // One classifier call per `batchSize` crops, across frames.
                var filled = 0
                for job in pending {
                    var offset = 0
                    while offset < job.faces.count {
                        let take = min(job.faces.count - offset, settings.batchSize - filled)
                        batch.withUnsafeMutableBufferPointer { dst in
                            job.crops.withUnsafeBufferPointer { src in
                                (dst.baseAddress! + filled * perCrop).update(
                                    from: src.baseAddress! + offset * perCrop, count: take * perCrop)
                            }
                        }
                        filled += take
                        offset += take
                        if filled == settings.batchSize {
                            probabilities += try batch.withUnsafeBufferPointer { try classifier.classify($0.baseAddress!, count: filled) }
                            filled = 0
                        }
                    }
                }
                if filled > 0 {
                    probabilities += try batch.withUnsafeBufferPointer { try classifier.classify($0.baseAddress!, count: filled) }
                }
            } catch {
                failed = true
                fail(error)
                return
            }
            let seconds = Date().timeIntervalSince(t0)
            inbox.recordBusy(1, seconds, frames: pending.count)
            update { $0.classifySeconds += seconds; $0.faces += pendingCrops }
            var k = 0
            for job in pending {
                var observations: [FaceObservation] = []
                for face in job.faces {
                    defer { k += 1 }
                    // A classifier output that is not a finite probability vector is never a
                    // success row: the frame gets no face for this box.
                    guard probabilities[k].allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                        update { $0.nonFiniteOutputs += 1 }
                        continue
                    }
                    observations.append(FaceObservation(
                        faceID: face.id, confidence: face.score,
                        box: face.rect,
                        probabilities: mapping.schemaProbabilities(probabilities[k]),
                        boxSource: FaceBoxSource(face.source),
                        landmarks: face.landmarks.map { Landmark(x: $0.x, y: $0.y) }))
                }
                let analyzed = AnalyzedFrame(frame: job.frame.index, timestamp: job.frame.pts,
                                             wallclock: job.frame.wallclock, faces: observations)
                output.push(FrameResult(frame: analyzed, endedTracks: job.ended, image: keepFrames ? job.frame : nil))
            }
        }

        var deadline = Date.distantFuture
        while true {
            let (popped, timedOut) = input.pop(until: deadline)
            if var job = popped {
                if !failed {
                    let t0 = Date()
                    do {
                        try cut(&job)
                    } catch {
                        failed = true
                        fail(error)
                    }
                    let seconds = Date().timeIntervalSince(t0)
                    update { $0.classifySeconds += seconds }
                }
                if pending.isEmpty { deadline = Date().addingTimeInterval(settings.maxBatchWait) }
                pending.append(job)
                pendingCrops += job.faces.count
                if pendingCrops >= settings.batchSize { flush(); deadline = .distantFuture }
            } else if timedOut {
                flush()
                deadline = .distantFuture
            } else {
                flush()  // closed and drained
                return
            }
        }
    }
}
