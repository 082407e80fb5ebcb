import Analysis
import CNN
import Corpus
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
            directory, with a sidecar <output>.json. Folders are searched recursively for videos \
            and, like manifests, mirrored under -o DIR/ (in/a/x.mp4 -> DIR/a/x.emotions.csv). \
            Inputs run in sorted order; files one at a time (--jobs N: N at a time), live streams \
            all at once. Ctrl-C stops every input in flight (each recorded as partial), starts no \
            other, closes every output and prints the summary; a second Ctrl-C exits at once. \
            See docs/scale-out.md for corpora, --resume, --shard and Slurm.
            """)

    @Argument(help: "Video files, folders (searched recursively for videos) or stream URLs (http, https, tcp, udp, hls, rtmp, rtsp, srt, …).")
    var inputs: [String] = []

    @Option(help: "Also read inputs from FILE, one per line ('-': standard input); '#' starts a comment.")
    var manifest: String?

    @Option(help: "In folders, take the files whose name or path below the folder matches GLOB (case-insensitive; repeatable) instead of the video extensions.")
    var include: [String] = []

    @Option(name: .shortAndLong, help: "Output file, '-' for standard output, a directory ending in '/' (mirrors the input tree), or a pattern with {stem} / {relpath}.")
    var output: String?

    @Flag(help: "Replace existing output files even when they are not fervid's own outputs (by default such a file is refused before any work; an input is never overwritten).")
    var overwrite = false

    @Flag(help: "Skip inputs whose sidecar says complete for the same input (size, modification time), model file and settings; redo the rest.")
    var resume = false

    @Option(help: "Take only the inputs whose position in the sorted list is I mod N (I/N, 0 ≤ I < N): N processes split a corpus.")
    var shard: String?

    @Option(help: "Files analyzed at the same time (live inputs always all run at once).")
    var jobs: Int = 1

    @Option(help: "Output format: csv or jsonl.")
    var format: TimelineFormat = .csv

    @Option(help: "Classifier: a model name (mini-xception) or a .safetensors path.")
    var model: String = ModelLocator.defaultModel

    @Option(help: "Face stage: detect (MTCNN + tracker), center (largest centred square), or boxes:FILE (CSV frame,face_id,x,y,w,h).")
    var faces: FaceMode = .detect

    @Option(help: "Which tracked faces to analyze: all, largest or central.")
    var select: FaceSelection = .all

    @Option(name: .customLong("detect-interval"), help: ArgumentHelp("Run the full face detector at least every SECONDS of stream time (on every analyzed frame when frames are sparser); in between, carried boxes are verified on every frame.", valueName: "SECONDS"))
    var detectInterval: Double = FaceStageFactory.defaultDetectInterval

    @Option(name: .customLong("min-face"), help: "Smallest face to detect, in pixels of the video frame (default: 20 px per 640 px of the frame's long side, at least 20; the detector runs on a frame scaled to a long side of 640 px, larger when --min-face asks for smaller faces).")
    var minFace: Int?

    @Option(help: "Analyze at most RATE frames per second of stream time (sampled by timestamp).")
    var fps: Double?

    @Option(help: "Start at this stream time (seconds).")
    var start: Double?

    @Option(help: "Stop at this stream time (seconds).")
    var end: Double?

    @Option(help: "Smoothing: none, ema[:TAU], window[:SEC] (files only) or hmm[:STAY].",
            transform: { text in
                // A bad value says why (`TAU must be > 0 seconds`), not just "invalid".
                do { return try SmoothingSpec.parse(text) } catch { throw ValidationError("\(error)") }
            })
    var smooth: SmoothingSpec = .ema(tau: SmoothingSpec.defaultTau)

    @Flag(help: "Also write the unsmoothed probabilities (raw_<class> columns).")
    var raw = false

    @Option(name: .customLong("max-lag"), help: "Live sources: seconds of stream time the analysis may fall behind the newest frame received before frames are dropped; bursts within it are analyzed in full.")
    var maxLag: Double = LiveSettings.defaultMaxLag

    @Flag(help: "Live sources: add a 'latency' column (seconds from a frame's arrival to its row being written).")
    var latency = false

    @Flag(help: "Also write five facial landmarks per face (x_0..x_4, y_0..y_4: eyes, nose, mouth corners; JSON Lines: landmarks); --annotate draws them.")
    var landmarks = false

    @Option(help: "Most face crops per classifier call.")
    var batch: Int = 16

    @Option(help: "Threads for inference (the engine's loops and GEMM; also the number of parts a batch is split across, all on one loaded model); default: the number of cores.")
    var threads: Int?

    @Option(help: "Also write the summary as JSON to this path (several inputs: a directory ending in '/' or a pattern with {stem} / {relpath}).")
    var summary: String?

    @Option(help: "Seconds an open or a read of a live input may block (sets --open-timeout and --read-timeout).")
    var timeout: Double?

    @Option(help: "Reconnect attempts after a live input drops (sets --reconnect-attempts).")
    var reconnect: Int?

    @Option(help: "Write an annotated video (boxes, ids, labels, bars) to this path (several inputs: a directory or pattern, as --summary).")
    var annotate: String?

    @Flag(name: .customLong("no-audio"), help: "Do not copy the source's audio into the annotated video.")
    var noAudio = false

    @Option(help: "Write a timeline chart (SVG) to this path (several inputs: a directory or pattern, as --summary).")
    var plot: String?

    @Flag(help: "No progress or status lines.")
    var quiet = false

    @Flag(help: "Print where the time went to standard error: one 'stats' line per input with the busy seconds of each pipeline stage.")
    var stats = false

    @OptionGroup(title: "Input")
    var inputOptions: InputOptions

    func validate() throws {
        guard !inputs.isEmpty || manifest != nil else { throw ValidationError("give at least one INPUT (a video file, folder or URL) or --manifest FILE") }
        if let shard, CorpusInputs.parseShard(shard) == nil {
            throw ValidationError("--shard must be I/N with 0 ≤ I < N, e.g. --shard 0/4 (got '\(shard)')")
        }
        guard (1 ... 256).contains(jobs) else { throw ValidationError("--jobs must be a whole number from 1 to 256") }
        if let fps { guard fps > 0, fps.isFinite else { throw ValidationError("--fps must be a positive number of frames per second, e.g. --fps 5") } }
        if let start { guard start >= 0, start.isFinite else { throw ValidationError("--start must be seconds ≥ 0, e.g. --start 12.5") } }
        if let end { guard end > 0, end.isFinite else { throw ValidationError("--end must be seconds > 0, e.g. --end 60") } }
        if let start, let end, end <= start { throw ValidationError("--end (\(end)) must be after --start (\(start))") }
        guard maxLag > 0, maxLag.isFinite, maxLag <= 3600 else { throw ValidationError("--max-lag must be seconds > 0 (at most 3600), e.g. --max-lag 4") }
        guard (1 ... 1024).contains(batch) else { throw ValidationError("--batch must be a whole number from 1 to 1024") }
        guard detectInterval >= 0, detectInterval.isFinite else { throw ValidationError("--detect-interval must be seconds ≥ 0, e.g. --detect-interval 0.5 (0: detect on every frame)") }
        if let minFace { guard (12 ... 100_000).contains(minFace) else { throw ValidationError("--min-face must be a whole number of pixels from 12 to 100000") } }
        if let threads { guard (1 ... 256).contains(threads) else { throw ValidationError("--threads must be a whole number from 1 to 256") } }
        if let timeout { guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") } }
        if let reconnect { guard reconnect >= 0 else { throw ValidationError("--reconnect must be a whole number ≥ 0") } }
    }

    /// The options that shape a timeline, as the sidecar records them (``TimelineSidecar/settings``):
    /// `--resume` redoes an input whose settings differ.
    var settings: [String: String] {
        var out = ["faces": faces.description, "select": select.rawValue, "detect-interval": String(detectInterval),
                   "smooth": smooth.description, "raw": String(raw), "landmarks": String(landmarks), "format": format.rawValue]
        if let fps { out["fps"] = String(fps) }
        if let start { out["start"] = String(start) }
        if let end { out["end"] = String(end) }
        return out
    }

    func run() throws {
        // 1. The inputs, their outputs, the clash check: usage errors (exit 2) before any work.
        let all: [CorpusInput]
        do {
            let manifestText = try manifest.map { m throws(CorpusInputError) in try CorpusInputs.readManifest(m) }
            all = try CorpusInputs.expand(arguments: inputs, manifest: manifestText, manifestName: manifest ?? "-",
                                          include: include)
        } catch {
            throw CommandFailure(subject: error.subject, cause: error.cause, exitCode: 2)
        }
        if all.isEmpty {
            throw CommandFailure(subject: (inputs + (manifest.map { [$0] } ?? [])).joined(separator: " "),
                                 cause: "no inputs (folders are searched for \(include.isEmpty ? "video files by extension; see --include" : "files matching --include"))",
                                 exitCode: 2)
        }
        let several = all.count > 1
        let suffix = ".emotions." + (format == .csv ? "csv" : "jsonl")
        let outputTemplate = OutputTemplate(output ?? "./")
        let templates: [(String, String?)] = [("-o", output), ("--summary", summary), ("--plot", plot), ("--annotate", annotate)]
        for (option, value) in templates {
            guard let value else { continue }
            let template = OutputTemplate(value)
            if several, !template.isPerInput {
                throw CommandFailure(subject: "\(option) \(value)", cause: "\(all.count) inputs need a directory ending in '/' or a pattern with {stem} or {relpath} (one output each)", exitCode: 2)
            }
            if option != "-o", template == .standardOutput {
                throw CommandFailure(subject: "\(option) -", cause: "standard output is for the timeline (-o -)", exitCode: 2)
            }
            if case let .file(path) = template { try OutputPaths.checkWritable(path) }
        }
        let plans = OutputLayout.plan(all, output: outputTemplate, timelineSuffix: suffix,
                                      summary: summary.map(OutputTemplate.init), plot: plot.map(OutputTemplate.init),
                                      annotate: annotate.map(OutputTemplate.init))
        do { try OutputLayout.checkClashes(all, plans) } catch {
            throw CommandFailure(subject: "output", cause: error.message, exitCode: 2)
        }
        let modelPath: String
        do {
            modelPath = try ModelLocator.resolve(model)
        } catch {
            throw CommandFailure(subject: model, cause: error.description)
        }
        // No output may be a file the run reads (a video, the model, the boxes file) or another
        // output — by resolved path and by device + inode (hard links): exit 2, nothing written.
        var readPaths: [(role: String, path: String)] = all.filter { !$0.isURL || ["-", "pipe:0"].contains($0.location) }
            .map { ("input", $0.location) }
        readPaths.append(("--model", modelPath))
        if case .boxes(let file) = faces { readPaths.append(("boxes file", file)) }
        let writePaths = plans.flatMap(\.all).map { (role: $0.option, path: $0.path) }
        do {
            try OutputSafety.check(inputs: readPaths, outputs: writePaths)
        } catch {
            throw CommandFailure(subject: "\(error.outputRole) \(error.output)", cause: error.cause, exitCode: ExitStatus.usage)
        }
        // Nothing is replaced that fervid did not write: an existing output must be fervid's own
        // output of that kind (docs/reliability.md), unless --overwrite.
        if !overwrite {
            do {
                try OutputSafety.checkReplaceable(plans.flatMap(\.kinds).map { (role: $0.option, path: $0.path, kind: $0.kind) })
            } catch {
                throw CommandFailure(subject: "\(error.role) \(error.path)", cause: error.cause, exitCode: ExitStatus.usage)
            }
        }
        var chosen = Array(all.indices)
        if let shard, let (index, count) = CorpusInputs.parseShard(shard) {
            chosen = chosen.filter { $0 % count == index }
        }

        // 2. The model, loaded once for every input.
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        Engine.setThreads(threadCount)
        let classifier: LoadedClassifier
        do {
            classifier = try LoadedClassifier(path: modelPath)
        } catch {
            // Most model errors already start with the path: name it once.
            var cause = "\(error)"
            if cause.hasPrefix(modelPath + ": ") { cause.removeFirst(modelPath.count + 2) }
            throw CommandFailure(subject: modelPath, cause: cause)
        }
        guard let modelSHA256 = SHA256.hex(file: modelPath) else {
            throw CommandFailure(subject: modelPath, cause: "cannot read the model file")
        }
        let shared = SharedClassifier(classifier)
        let context = RunContext(modelPath: modelPath, modelSHA256: modelSHA256, classifier: shared,
                                 settings: settings, total: chosen.count, several: several || shard != nil)

        // 3. The run: Ctrl-C / SIGTERM stops every input in flight and starts no other; a second exits at once.
        let corpus = CorpusRun(count: chosen.count, jobs: jobs)
        let interrupts = InterruptCounter()
        let signalSources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            let name = sig == SIGINT ? "SIGINT" : "SIGTERM"
            source.setEventHandler {
                if interrupts.increment() > 1 { _exit(ExitStatus.interruptedTwice) }
                corpus.stop("stopped by \(name) before the input ended")
            }
            source.resume()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }
        let command = self
        let order = chosen
        let outcomes = corpus.run { position in
            let i = order[position]
            return command.prepare(input: all[i], plan: plans[i], position: position, context: context, corpus: corpus)
        }

        // 4. Records for inputs never begun; the corpus summary; the exit code.
        for (position, outcome) in outcomes.enumerated() where outcome == .notStarted {
            let i = chosen[position]
            guard let sidecar = plans[i].sidecar, !FileManager.default.fileExists(atPath: sidecar) else { continue }
            try? writeRecord(status: .notStarted, reason: .interrupted, detail: "the run was stopped before this input began",
                             input: all[i], sidecar: sidecar, context: context)
        }
        if !context.several, let outcome = outcomes.first, case let .failed(subject, cause) = outcome {
            throw CommandFailure(subject: subject, cause: cause)
        }
        if context.several, !quiet || outcomes.contains(where: { !$0.isComplete }) {
            printCorpusSummary(outcomes.enumerated().map { (all[chosen[$0.offset]].location, $0.element) })
        }
        if outcomes.contains(where: { if case .failed = $0 { true } else { false } }) { throw ExitCode(1) }
        // docs/reliability.md: 1 when any input failed (above), else 3 when any is not complete.
        if outcomes.contains(where: { !$0.isComplete }) { throw ExitCode(ExitStatus.partial) }
    }

    /// What every input of a run shares.
    struct RunContext: @unchecked Sendable {
        let modelPath: String
        let modelSHA256: String
        let classifier: SharedClassifier
        let settings: [String: String]
        /// Inputs this process runs.
        let total: Int
        /// More than one input (or a shard): per-input progress and a summary at the end.
        let several: Bool
    }

    private func writeRecord(status: RunStatus, reason: RunReason, detail: String, input: CorpusInput, sidecar: String,
                             context: RunContext) throws {
        try OutputLayout.makeParent(of: sidecar)
        try InputRecord.write(status: status, reason: reason, detail: detail, input: input, sidecarPath: sidecar,
                              model: .init(name: model, labels: context.classifier.labels,
                                           metadata: Self.sidecarMetadata(context.classifier.metadata), sha256: context.modelSHA256),
                              settings: context.settings, format: format, smoothing: smooth, raw: raw,
                              fervidVersion: FervidVersion.number)
    }

    /// The model's `fervid.*` metadata without bulky entries (the embedded Keras config, 27 KB).
    static func sidecarMetadata(_ metadata: [String: String]) -> [String: String] {
        metadata.filter { key, value in
            key.hasPrefix("fervid.") && key != "fervid.keras_model_config" && value.utf8.count <= 1024
        }
    }

    /// Opens one input (or finds it done: skipped by --resume, failed to open). Runs on a worker thread.
    func prepare(input: CorpusInput, plan: PlannedOutputs, position: Int, context: RunContext,
                 corpus: CorpusRun) -> PreparedInput {
        if resume, let sidecar = plan.sidecar {
            let expected = Resume.Expectation(location: input.location, stamp: input.isURL ? nil : FileStamp.of(input.location),
                                              modelSHA256: context.modelSHA256, settings: context.settings)
            if Resume.redoReason(sidecarPath: sidecar, timelinePath: plan.timeline, expected: expected) == nil {
                if !quiet, context.several { printError("input \(position + 1) of \(context.total): \(input.location): complete, skipped") }
                return .done(.skipped)
            }
        }
        if !quiet, context.several {
            var line = "input \(position + 1) of \(context.total): \(input.location)"
            if let eta = corpus.eta(position: position + 1) { line += " (ETA \(CorpusRun.duration(eta)))" }
            printError(line)
        }
        func failed(_ subject: String, _ cause: String) -> PreparedInput {
            if context.several { printError("fervid: \(subject): \(cause)") }  // one input: the run's error line
            if let sidecar = plan.sidecar {
                try? writeRecord(status: .failed, reason: .error, detail: "\(subject): \(cause)", input: input,
                                 sidecar: sidecar, context: context)
            }
            return .done(.failed(subject: subject, cause: cause))
        }
        do {
            for (_, path) in plan.all { try OutputLayout.makeParent(of: path) }
        } catch {
            return failed(error.subject, error.cause)
        }
        var options = AnalyzerOptions(input: input.location, output: plan.timeline)
        options.format = format
        options.smoothing = smooth
        options.raw = raw
        options.landmarks = landmarks
        options.summaryPath = plan.summary
        options.plotPath = plan.plot
        options.annotatedVideoPath = plan.annotate
        options.copyAudio = !noAudio
        options.modelName = model
        options.modelMetadata = Self.sidecarMetadata(context.classifier.metadata)
        options.modelSHA256 = context.modelSHA256
        options.settings = context.settings
        options.pipeline.batchSize = batch
        options.pipeline.liveSettings = LiveSettings(maxLag: maxLag)
        options.latencyColumn = latency
        options.pipeline.sampler = FrameSampler(start: start, end: end, rate: fps)
        var video = inputOptions.videoSourceOptions
        if let timeout { video.openTimeout = timeout; video.readTimeout = timeout }
        if let reconnect { video.reconnect.attempts = reconnect }
        options.video = video

        let faceStage: FaceStage
        do {
            faceStage = try FaceStageFactory.make(mode: faces, select: select, detectInterval: detectInterval, minFace: minFace)
        } catch {
            return failed("--faces \(faces)", "\(error)")
        }
        let analyzer: Analyzer
        guard let interrupt = corpus.beginOpening(position) else { return .done(.notStarted) }
        defer { corpus.endOpening(position) }
        do {
            analyzer = try Analyzer(options: options, faceStage: faceStage, classifier: context.classifier, interrupt: interrupt)
        } catch let error as VideoError {
            if corpus.isStopping, interrupt.isInterrupted { return .done(.notStarted) }  // Ctrl-C during the open
            return failed(input.location, error.description)
        } catch let error as OutputError {
            return failed(error.path, error.cause)
        } catch {
            return failed(input.location, "\(error)")
        }
        let prefix = context.several ? "[\(position + 1)/\(context.total)] " : ""
        let progress = quiet ? nil : ProgressReporter(analyzer: analyzer, prefix: prefix, inPlace: jobs == 1)
        return .opened(analyzer, finish: {
            self.finish(analyzer: analyzer, progress: progress, input: input, plan: plan, context: context)
        })
    }

    /// Runs an opened input to its end; prints its summary.
    private func finish(analyzer: Analyzer, progress: ProgressReporter?, input: CorpusInput,
                        plan: PlannedOutputs, context: RunContext) -> InputOutcome {
        let outputPath = plan.timeline
        progress?.start()
        let report: AnalysisReport
        do {
            report = try analyzer.run()
        } catch {
            progress?.stop()
            let (subject, cause): (String, String) = switch error {
            case let error as OutputError: (error.path, error.cause)
            case let error as VideoError: (input.location, error.description)
            case let error as TimelineError: Self.subjectAndCause(error, output: outputPath)
            default: (input.location, "\(error)")
            }
            return failure(subject, cause, context)
        }
        progress?.stop()

        var text = "\(input.location) → \(outputPath == "-" ? "standard output" : outputPath)\n"
        text += report.summary.text
        let s = report.stats
        let fps = s.wallSeconds > 0 ? Double(s.framesAnalyzed) / s.wallSeconds : 0
        text += String(format: "frames: %d read, %d analyzed, %d dropped; %.1f frames/s", s.framesRead, s.framesAnalyzed, s.framesDropped, fps)
        if report.decode.corruptPackets + report.decode.corruptFrames > 0 {
            text += "; \(report.decode.corruptPackets) corrupt packets and \(report.decode.corruptFrames) corrupt frames skipped"
        }
        if report.interrupted { text += " (stopped early)" }
        text += "\n"
        if let live = s.live { text += Self.liveLine(live) + "\n" }
        if outputPath == "-" {
            FileHandle.standardError.write(Data(text.utf8))
        } else {
            print(text, terminator: "")
            if fflush(nil) != 0 {  // the summary went to standard output: checked too
                return failure("standard output", "write failed: \(String(cString: strerror(errno)))", context)
            }
        }
        if stats {
            fflush(nil)  // the summary above first, when both go to one terminal
            printError(Self.statsLine(input: input.location, s))
        }
        // The sidecar already says why (the Analyzer's status contract, docs/reliability.md).
        guard report.status != .complete else { return .complete }
        let reason = report.reason?.rawValue ?? "partial"
        if !context.several {  // several: the corpus summary lists it
            fflush(nil)
            printError("fervid: \(input.location): partial result (\(reason)): \(report.detail ?? "")")
        }
        return .partial(reason)
    }

    /// A Timeline error as (subject, cause): the path it names (the timeline, its sidecar, the
    /// summary) and the cause, not the timeline's path in front of another file's error.
    static func subjectAndCause(_ error: TimelineError, output: String) -> (String, String) {
        switch error {
        case let .io(path, reason): (path, reason)
        case let .malformed(path, line, reason): (line.map { "\(path):\($0)" } ?? path, reason)
        default: (output, error.description)
        }
    }

    /// A failed input: its line now when it is one of several (a single input's is the run's error line).
    private func failure(_ subject: String, _ cause: String, _ context: RunContext) -> InputOutcome {
        if context.several { printError("fervid: \(subject): \(cause)") }
        return .failed(subject: subject, cause: cause)
    }

    /// The end of a run of several inputs, on standard error: counts, then every input that is not complete.
    private func printCorpusSummary(_ results: [(String, InputOutcome)]) {
        fflush(nil)
        var complete = 0, skipped = 0, partial = 0, failed = 0, notStarted = 0
        var lines: [String] = []
        for (location, outcome) in results {
            switch outcome {
            case .complete: complete += 1
            case .skipped: skipped += 1
            case let .partial(reason): partial += 1; lines.append("fervid: partial (\(reason)): \(location)")
            case let .failed(subject, cause):
                failed += 1
                lines.append("fervid: failed: \(location)" + (subject == location ? "" : " (\(subject))") + ": \(cause)")
            case .notStarted: notStarted += 1; lines.append("fervid: not started: \(location)")
            }
        }
        var head = "fervid: \(results.count) inputs: \(complete) complete"
        if skipped > 0 { head += ", \(skipped) skipped (already complete)" }
        head += ", \(partial) partial, \(failed) failed, \(notStarted) not started"
        printError(head)
        lines.forEach(printError)
    }

    /// `stats input=… frames_read=… frames_analyzed=… faces=… detections=… wall_s=… fps=… decode_s=…
    /// face_ahead_s=… face_s=… classify_s=… write_s=… cpu_s=… cores_busy=…`: detector runs, busy seconds per stage
    /// (PipelineStats; stages overlap, so they may sum to more than the wall time). Decode
    /// includes sampling; face_ahead is the face stage's look-ahead thread (detection frame, cut
    /// test, scheduled detections; 0 without one), face the tracker's thread (verification,
    /// detections not run ahead); classify includes cropping; write is the consumer (smoothing,
    /// timeline, annotated video). cpu_s: the process's CPU seconds over the pipeline's wall time
    /// (every thread, libavcodec's included; not the start-up); cores_busy = cpu_s / wall_s.
    static func statsLine(input: String, _ s: PipelineStats) -> String {
        let fps = s.wallSeconds > 0 ? Double(s.framesAnalyzed) / s.wallSeconds : 0
        var line = "stats input=\(input.replacingOccurrences(of: " ", with: "%20")) frames_read=\(s.framesRead) "
            + "frames_analyzed=\(s.framesAnalyzed) faces=\(s.faces) detections=\(s.detections) "
            + "detections_ahead=\(s.detectionsAhead) "
            + String(format: "wall_s=%.3f fps=%.2f decode_s=%.3f face_ahead_s=%.3f face_s=%.3f classify_s=%.3f write_s=%.3f",
                     s.wallSeconds, fps, s.decodeSeconds, s.faceAheadSeconds, s.faceSeconds, s.classifySeconds,
                     s.writeSeconds)
            + String(format: " cpu_s=%.3f cores_busy=%.2f", s.cpuSeconds, s.wallSeconds > 0 ? s.cpuSeconds / s.wallSeconds : 0)
        if let live = s.live {
            func v(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "-" }
            line += " max_lag_s=\(v(live.maxLag)) dropped_thinned=\(live.droppedThinned) dropped_stale=\(live.droppedStale)"
                + " drops_per_min=\(v(live.dropsPerMinute)) latency_p50_s=\(v(live.latency.p50))"
                + " latency_p95_s=\(v(live.latency.p95)) latency_max_s=\(v(live.latency.max))"
                + " stream_fps=\(v(live.streamRate)) sustained_fps=\(v(live.sustainedRate))"
                + " buffered_peak=\(live.bufferedPeak) lag_peak_s=\(v(live.lagPeak))"
        }
        return line
    }

    /// The summary's live line: latency percentiles, drops and the sustained rate.
    static func liveLine(_ l: LiveStats) -> String {
        var text = "live: latency"
        if let p50 = l.latency.p50, let p95 = l.latency.p95, let max = l.latency.max {
            text += String(format: " p50 %.2f s, p95 %.2f s, max %.2f s", p50, p95, max)
        } else {
            text += " -"
        }
        text += String(format: "; %d dropped (%d thinned, %d over --max-lag %g s), %.1f/min",
                       l.framesDropped, l.droppedThinned, l.droppedStale, l.maxLag, l.dropsPerMinute)
        if l.droppedThinned > 0, let sustained = l.sustainedRate, let stream = l.streamRate {
            text += String(format: "; sustained %.1f of %.1f frames/s", sustained, stream)
        }
        return text
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
