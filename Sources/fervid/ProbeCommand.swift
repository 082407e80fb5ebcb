import ArgumentParser
import Dispatch
import Foundation
import Video

/// `fervid probe INPUT [--count] [--json]`: what an input holds, and with `--count` how much of
/// it decodes (and how fast: the decode rate printed is the release binary's, RGB-free).
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an input's container, codec, size, frame rates and duration.",
        discussion: """
            With --count, decodes every frame (a live input: until it ends or Ctrl-C) and reports \
            the number of decodable frames, the first and last pts, skipped packets and the decode rate. \
            A live input's frames are also timed as they arrive (for --arrival seconds, or the whole \
            --count): frames per second, the largest burst, and a --max-lag that analyzes such \
            bursts in full.
            """)

    @Argument(help: "A video file path or URL (http, https, tcp, udp, hls, rtmp, rtsp, srt, …).")
    var input: String

    @Flag(help: "Decode every frame and count them.")
    var count = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Option(help: "Live inputs: seconds to time frame arrivals for (0: don't).")
    var arrival: Double = 6

    func validate() throws {
        guard arrival >= 0, arrival.isFinite else { throw ValidationError("--arrival must be seconds ≥ 0, e.g. --arrival 10") }
    }

    @OptionGroup(title: "Input")
    var inputOptions: InputOptions

    func run() throws {
        // Ctrl-C stops a blocked open or a live count cleanly: the interrupt reaches the blocked call.
        let interrupt = VideoInterrupt()
        signal(SIGINT, SIG_IGN)
        let sigint = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        sigint.setEventHandler { interrupt.interrupt() }
        sigint.resume()
        defer { sigint.cancel() }

        let source: VideoSource
        do {
            source = try VideoSource(url: input, options: inputOptions.videoSourceOptions, interrupt: interrupt)
        } catch {
            throw CommandFailure(subject: input, cause: error.description)
        }
        var report = ProbeReport(info: source.info)
        var exitStatus: Int32 = 0
        var pattern = ArrivalPattern()
        func arrived(_ frame: DecodedFrame) {
            pattern.add(pts: frame.pts, arrival: Double(DispatchTime.now().uptimeNanoseconds) / 1e9)
        }
        if count {
            var first: Double?, last: Double?
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                while let frame = try source.nextFrame() {
                    if first == nil { first = frame.pts }
                    last = frame.pts
                    if source.isLive { arrived(frame) }
                }
            } catch {
                throw CommandFailure(subject: input, cause: error.description)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            report.addCount(stats: source.stats, end: source.endReason ?? .endOfInput,
                            firstPts: first, lastPts: last, seconds: seconds)
            if case let .readError(error) = source.endReason {
                // Decoded what it could: a partial count (exit 3, as analyze's partial result,
                // docs/reliability.md); the report says how far it got and the line says why.
                let reason = if case .truncated = error { "truncated" } else { "read_error" }
                printError("fervid: \(input): partial result (\(reason)): stopped after \(source.stats.framesDecoded) frames: \(error.description)")
                exitStatus = ExitStatus.partial
            }
        } else if source.isLive && arrival > 0 {
            do {
                while pattern.frames < 2 || pattern.seconds < arrival, let frame = try source.nextFrame() {
                    arrived(frame)
                }
            } catch {
                throw CommandFailure(subject: input, cause: error.description)
            }
        }
        if pattern.frames > 0 { report.addArrival(pattern) }
        print(json ? report.json() : report.text())
        if exitStatus != 0 { throw ExitCode(exitStatus) }
    }
}

/// What `probe` prints; encoded as snake_case JSON (absent values omitted).
struct ProbeReport: Encodable {
    var input: String
    var container: String
    var containerLongName: String
    var streamIndex: Int
    var codec: String
    var codecLongName: String
    var pixelFormat: String
    var width: Int
    var height: Int
    /// Display matrix: clockwise degrees, then a left–right mirror; frames are analyzed upright.
    var rotation: Int
    var mirrored: Bool
    var displayWidth: Int
    var displayHeight: Int
    var frameRateNominal: String
    var frameRateNominalFps: Double?
    var frameRateAverage: String
    var frameRateAverageFps: Double?
    var timeBase: String
    var duration: Double?
    var startTime: Double?
    var declaredFrames: Int?
    var bitRate: Int?
    var live: Bool
    // With --count:
    var frames: Int?
    var firstPts: Double?
    var lastPts: Double?
    var corruptPackets: Int?
    var corruptFrames: Int?
    var readErrors: Int?
    var timeouts: Int?
    var disconnects: Int?
    var reconnectAttempts: Int?
    var reconnects: Int?
    var end: String?
    var endError: String?
    var lastError: String?
    var decodeSeconds: Double?
    var decodeFps: Double?
    // Live inputs: how frames arrived.
    var arrivalFrames: Int?
    var arrivalSeconds: Double?
    var arrivalFps: Double?
    var streamFps: Double?
    var startupBurstFrames: Int?
    var startupBurstSeconds: Double?
    var largestBurstFrames: Int?
    var largestBurstSeconds: Double?
    var suggestedMaxLag: Double?

    init(info: VideoInfo) {
        input = info.url
        container = info.container
        containerLongName = info.containerLongName
        streamIndex = info.streamIndex
        codec = info.codec
        codecLongName = info.codecLongName
        pixelFormat = info.pixelFormat
        width = info.width
        height = info.height
        rotation = info.orientation.rotation
        mirrored = info.orientation.mirrored
        (displayWidth, displayHeight) = info.orientation.displaySize(width: info.width, height: info.height)
        frameRateNominal = info.nominalFrameRate.description
        frameRateNominalFps = info.nominalFrameRate.value
        frameRateAverage = info.averageFrameRate.description
        frameRateAverageFps = info.averageFrameRate.value
        timeBase = info.timeBase.description
        duration = info.duration
        startTime = info.startTime
        declaredFrames = info.declaredFrameCount
        bitRate = info.bitRate
        live = info.isLive
    }

    mutating func addCount(stats: DecodeStats, end: EndReason, firstPts: Double?, lastPts: Double?, seconds: Double) {
        frames = stats.framesDecoded
        self.firstPts = firstPts
        self.lastPts = lastPts
        corruptPackets = stats.corruptPackets
        corruptFrames = stats.corruptFrames
        readErrors = stats.readErrors
        timeouts = stats.timeouts
        disconnects = stats.disconnects
        reconnectAttempts = stats.reconnectAttempts
        reconnects = stats.reconnects
        lastError = stats.lastError?.description
        switch end {
        case .endOfInput: self.end = "end_of_input"
        case let .readError(error): self.end = "read_error"; endError = error.description
        case .disconnected: self.end = "disconnected"
        case .interrupted: self.end = "interrupted"
        }
        decodeSeconds = seconds
        decodeFps = seconds > 0 ? Double(stats.framesDecoded) / seconds : nil
    }

    mutating func addArrival(_ p: ArrivalPattern) {
        func r(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
        arrivalFrames = p.frames
        arrivalSeconds = r(p.seconds)
        arrivalFps = p.framesPerSecond.map(r)
        streamFps = p.streamFramesPerSecond.map(r)
        startupBurstFrames = p.startupFrames
        startupBurstSeconds = r(p.startupSeconds)
        largestBurstFrames = p.largestBurstFrames
        largestBurstSeconds = r(p.largestBurstSeconds)
        suggestedMaxLag = p.suggestedMaxLag
    }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    func text() -> String {
        func fps(_ value: Double?, _ ratio: String) -> String {
            value.map { String(format: "%.3f fps (%@)", $0, ratio) } ?? "unknown"
        }
        var lines = [
            "input:       \(input)",
            "container:   \(container) (\(containerLongName))",
            "video:       stream \(streamIndex), \(codec) (\(codecLongName)), \(pixelFormat), \(width)x\(height)",
            "display:     " + (rotation == 0 && !mirrored ? "as stored"
                : "\(displayWidth)x\(displayHeight): " + DisplayOrientation(rotation: rotation, mirrored: mirrored).description
                  + " (display matrix; analyzed upright)"),
            "frame rate:  \(fps(frameRateNominalFps, frameRateNominal)) nominal, \(fps(frameRateAverageFps, frameRateAverage)) average",
            "duration:    " + (duration.map { String(format: "%.3f s", $0) } ?? "unknown"),
            "live:        \(live ? "yes" : "no")",
        ]
        if let frames {
            let declared = declaredFrames.map { " (container declares \($0))" } ?? ""
            lines.append("frames:      \(frames) decodable\(declared)")
            if let firstPts, let lastPts {
                lines.append(String(format: "pts:         first %.6f s, last %.6f s", firstPts, lastPts))
            }
            lines.append("skipped:     \(corruptPackets ?? 0) corrupt packets, \(readErrors ?? 0) read errors, \(corruptFrames ?? 0) frames concealed")
            if live {
                lines.append("reconnects:  \(disconnects ?? 0) disconnects, \(reconnectAttempts ?? 0) reconnect attempts, \(reconnects ?? 0) reconnected")
            }
            lines.append("end:         \(end ?? "")" + (endError.map { ": \($0)" } ?? ""))
            if let lastError, lastError != endError { lines.append("last error:  \(lastError)") }
            if let decodeSeconds {
                lines.append(String(format: "decode:      %.3f s, %.1f fps", decodeSeconds, decodeFps ?? 0))
            }
        }
        if let arrivalFrames, let arrivalSeconds {
            var line = String(format: "arrival:     %d frames in %.1f s", arrivalFrames, arrivalSeconds)
            if let arrivalFps { line += String(format: ", %.1f frames/s", arrivalFps) }
            if let streamFps { line += String(format: " (stream %.1f fps)", streamFps) }
            line += String(format: "; at start %d frames (%.2f s) at once; then largest burst %d frames, %.2f s of stream ahead of real time",
                           startupBurstFrames ?? 0, startupBurstSeconds ?? 0, largestBurstFrames ?? 0, largestBurstSeconds ?? 0)
            lines.append(line)
            if let suggestedMaxLag {
                lines.append(String(format: "max lag:     --max-lag %g analyzes bursts like these in full", suggestedMaxLag))
            }
        }
        return lines.joined(separator: "\n")
    }
}
