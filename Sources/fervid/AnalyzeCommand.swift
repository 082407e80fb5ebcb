import Analysis
import CNN
import Faces
import ArgumentParser
import Dispatch
import Foundation
import Timeline
import Video

/// `fervid analyze INPUT...`: emotion timelines of video files and live streams.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyze facial expressions in videos or live streams; write emotion timelines.",
        discussion: """
            Each input gives one timeline: by default <input name>.emotions.csv in the current \
            directory, with a sidecar <output>.json. Ctrl-C stops reading, finishes the frames in \
            flight, closes every output and prints the summary; a second Ctrl-C exits at once.
            """)

    @Argument(help: "Video files or stream URLs (http, https, tcp, udp, hls, rtmp, rtsp, srt, …).")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output file, '-' for standard output, or a directory ending in '/'.")
    var output: String?

    @Option(help: "Output format: csv or jsonl.")
    var format: TimelineFormat = .csv

    @Option(help: "Classifier: a model name (mini-xception) or a .safetensors path.")
    var model: String = ModelLocator.defaultModel

    @Option(help: "Face stage: detect (MTCNN + tracker), center (largest centred square), or boxes:FILE (CSV frame,face_id,x,y,w,h).")
    var faces: FaceMode = .detect

    @Option(help: "Which tracked faces to analyze: all, largest or central.")
    var select: FaceSelection = .all

    @Option(name: .customLong("detect-every"), help: "Run the face detector every N analyzed frames; track in between.")
    var detectEvery: Int = FaceStageFactory.defaultDetectEvery

    @Option(name: .customLong("min-face"), help: "Smallest face to detect, in pixels of the video frame (default: 20 px per 640 px of the frame's long side, at least 20; the detector runs on a frame scaled to a long side of 640 px, larger when --min-face asks for smaller faces).")
    var minFace: Int?

    @Option(help: "Analyze at most RATE frames per second of stream time (sampled by timestamp).")
    var fps: Double?

    @Option(help: "Start at this stream time (seconds).")
    var start: Double?

    @Option(help: "Stop at this stream time (seconds).")
    var end: Double?

    @Option(help: "Smoothing: none, ema[:TAU], window[:SEC] (files only) or hmm[:STAY].")
    var smooth: SmoothingSpec = .ema(tau: SmoothingSpec.defaultTau)

    @Flag(help: "Also write the unsmoothed probabilities (raw_<class> columns).")
    var raw = false

    @Option(help: "Most face crops per classifier call.")
    var batch: Int = 16

    @Option(help: "Threads for inference (the engine's loops and GEMM; also the number of classifier copies a batch is split across); default: the number of cores.")
    var threads: Int?

    @Option(help: "Also write the summary as JSON to this path.")
    var summary: String?

    @Option(help: "Seconds an open or a read of a live input may block (sets --open-timeout and --read-timeout).")
    var timeout: Double?

    @Option(help: "Reconnect attempts after a live input drops (sets --reconnect-attempts).")
    var reconnect: Int?

    @Option(help: "Write an annotated video (boxes, ids, labels, bars) to this path.")
    var annotate: String?

    @Flag(name: .customLong("no-audio"), help: "Do not copy the source's audio into the annotated video.")
    var noAudio = false

    @Option(help: "Write a timeline chart (SVG) to this path.")
    var plot: String?

    @Flag(help: "No progress or status lines.")
    var quiet = false

    @Flag(help: "Print where the time went to standard error: one 'stats' line per input with the busy seconds of each pipeline stage.")
    var stats = false

    @OptionGroup(title: "Input")
    var inputOptions: InputOptions

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one INPUT (a video file or URL)") }
        if let fps { guard fps > 0, fps.isFinite else { throw ValidationError("--fps must be a positive number of frames per second, e.g. --fps 5") } }
        if let start { guard start >= 0, start.isFinite else { throw ValidationError("--start must be seconds ≥ 0, e.g. --start 12.5") } }
        if let end { guard end > 0, end.isFinite else { throw ValidationError("--end must be seconds > 0, e.g. --end 60") } }
        if let start, let end, end <= start { throw ValidationError("--end (\(end)) must be after --start (\(start))") }
        guard (1 ... 1024).contains(batch) else { throw ValidationError("--batch must be a whole number from 1 to 1024") }
        guard detectEvery >= 1 else { throw ValidationError("--detect-every must be a whole number ≥ 1") }
        if let minFace { guard (12 ... 100_000).contains(minFace) else { throw ValidationError("--min-face must be a whole number of pixels from 12 to 100000") } }
        if let threads { guard (1 ... 256).contains(threads) else { throw ValidationError("--threads must be a whole number from 1 to 256") } }
        if let timeout { guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") } }
        if let reconnect { guard reconnect >= 0 else { throw ValidationError("--reconnect must be a whole number ≥ 0") } }
        if inputs.count > 1, let output, output == "-" || !OutputPaths.isDirectory(output) {
            throw ValidationError("-o \(output): several inputs need a directory ending in '/' (one output each)")
        }
        if inputs.count > 1, annotate != nil || plot != nil || summary != nil {
            throw ValidationError("--annotate, --plot and --summary take one INPUT")
        }
    }

    func run() throws {
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        Engine.setThreads(threadCount)
        let modelPath: String
        do {
            modelPath = try ModelLocator.resolve(model)
        } catch {
            throw CommandFailure(subject: model, cause: error.description)
        }
        let classifier: LoadedClassifier
        do {
            classifier = try LoadedClassifier(path: modelPath, maxBatch: batch)
        } catch {
            throw CommandFailure(subject: modelPath, cause: "\(error)")
        }
        if let plot { try OutputPaths.checkWritable(plot) }
        if let annotate { try OutputPaths.checkWritable(annotate) }
        if let summary { try OutputPaths.checkWritable(summary) }

        var failures = 0
        for input in inputs {
            let outputPath = try OutputPaths.timeline(for: input, output: output, format: format)
            do {
                try analyze(input: input, outputPath: outputPath, classifier: classifier)
            } catch let failure as CommandFailure {
                if inputs.count == 1 { throw failure }
                printError("fervid: \(failure.subject): \(failure.cause)")
                failures += 1
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private func analyze(input: String, outputPath: String, classifier: LoadedClassifier) throws {
        var options = AnalyzerOptions(input: input, output: outputPath)
        options.format = format
        options.smoothing = smooth
        options.raw = raw
        options.summaryPath = summary
        options.modelName = model
        options.modelMetadata = classifier.metadata
        options.pipeline.batchSize = batch
        options.pipeline.sampler = FrameSampler(start: start, end: end, rate: fps)
        var video = inputOptions.videoSourceOptions
        if let timeout { video.openTimeout = timeout; video.readTimeout = timeout }
        if let reconnect { video.reconnect.attempts = reconnect }
        options.video = video

        let faceStage: FaceStage
        do {
            faceStage = try FaceStageFactory.make(mode: faces, select: select, detectEvery: detectEvery, minFace: minFace)
        } catch {
            throw CommandFailure(subject: "--faces \(faces)", cause: "\(error)")
        }
        let analyzer: Analyzer
        do {
            analyzer = try Analyzer(options: options, faceStage: faceStage, classifier: classifier)
        } catch let error as VideoError {
            throw CommandFailure(subject: input, cause: error.description)
        }
        let extras = try OutputExtras(analyzer: analyzer, annotate: annotate, copyAudio: !noAudio, plot: plot,
                                      modelName: model)

        // Ctrl-C / SIGTERM: the first stops reading and lets the run finish cleanly; the second
        // exits at once (rows already written are complete lines: each is flushed as written).
        let interrupts = InterruptCounter()
        let signalSources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if interrupts.increment() > 1 { _exit(130) }
                analyzer.stop()
            }
            source.resume()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }

        let progress = quiet ? nil : ProgressReporter(analyzer: analyzer)
        progress?.start()
        let report: AnalysisReport
        do {
            report = try analyzer.run()
        } catch let error as VideoError {
            progress?.stop()
            try? extras.finish()
            throw CommandFailure(subject: input, cause: error.description)
        } catch let error as TimelineError {
            progress?.stop()
            try? extras.finish()
            throw CommandFailure(subject: outputPath, cause: error.description)
        } catch {
            progress?.stop()
            try? extras.finish()
            throw CommandFailure(subject: input, cause: "\(error)")
        }
        progress?.stop()
        try extras.finish()

        var text = "\(input) → \(outputPath == "-" ? "standard output" : outputPath)\n"
        text += report.summary.text
        let s = report.stats
        let fps = s.wallSeconds > 0 ? Double(s.framesAnalyzed) / s.wallSeconds : 0
        text += String(format: "frames: %d read, %d analyzed, %d dropped; %.1f frames/s", s.framesRead, s.framesAnalyzed, s.framesDropped, fps)
        if report.decode.corruptPackets + report.decode.corruptFrames > 0 {
            text += "; \(report.decode.corruptPackets) corrupt packets and \(report.decode.corruptFrames) corrupt frames skipped"
        }
        if report.interrupted { text += " (stopped early)" }
        text += "\n"
        if outputPath == "-" {
            FileHandle.standardError.write(Data(text.utf8))
        } else {
            print(text, terminator: "")
        }
        if stats {
            fflush(nil)  // the summary above first, when both go to one terminal
            printError(Self.statsLine(input: input, s))
        }
    }

    /// `stats input=… frames_read=… frames_analyzed=… faces=… wall_s=… fps=… decode_s=… face_s=…
    /// classify_s=… write_s=…`: busy seconds per stage (PipelineStats; stages overlap, so they
    /// may sum to more than the wall time). Decode includes sampling, face includes cropping,
    /// write is the consumer (smoothing, timeline, annotated video).
    static func statsLine(input: String, _ s: PipelineStats) -> String {
        let fps = s.wallSeconds > 0 ? Double(s.framesAnalyzed) / s.wallSeconds : 0
        return "stats input=\(input.replacingOccurrences(of: " ", with: "%20")) frames_read=\(s.framesRead) "
            + "frames_analyzed=\(s.framesAnalyzed) faces=\(s.faces) "
            + String(format: "wall_s=%.3f fps=%.2f decode_s=%.3f face_s=%.3f classify_s=%.3f write_s=%.3f",
                     s.wallSeconds, fps, s.decodeSeconds, s.faceSeconds, s.classifySeconds, s.writeSeconds)
    }
}

/// Counts signals from any thread.
final class InterruptCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() -> Int { lock.withLock { count += 1; return count } }
}

extension TimelineFormat: ExpressibleByArgument {}

extension SmoothingSpec: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension FaceMode: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension FaceSelection: ExpressibleByArgument {}
