import Analysis
import Foundation

/// Progress on standard error: for files when it is a terminal (percent by timestamp, frames per
/// second, ETA), rewritten in place; for live sources a status line every 5 s wherever it goes.
final class ProgressReporter: @unchecked Sendable {
    private let analyzer: Analyzer
    private let tty = isatty(STDERR_FILENO) == 1
    private var timer: DispatchSourceTimer?
    private let started = Date()
    private var drewLine = false
    /// `[3/120] ` when the input is one of several.
    private let prefix: String
    /// Rewrite one line in place (one input at a time on the terminal).
    private let inPlace: Bool

    init(analyzer: Analyzer, prefix: String = "", inPlace: Bool = true) {
        self.analyzer = analyzer
        self.prefix = prefix
        self.inPlace = inPlace
    }

    func start() {
        let live = analyzer.isLive
        guard live || (tty && inPlace) else { return }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        let period = live ? 5.0 : 0.5
        timer.schedule(deadline: .now() + period, repeating: period)
        timer.setEventHandler { [self] in tick() }
        timer.resume()
        self.timer = timer
    }

    private func tick() {
        let p = analyzer.progress
        let s = p.stats
        let elapsed = Date().timeIntervalSince(started)
        let fps = elapsed > 0 ? Double(s.framesAnalyzed) / elapsed : 0
        var line: String
        if p.live {
            line = String(format: "live: %d frames analyzed, %d dropped, %.1f fps", s.framesAnalyzed, s.framesDropped, fps)
            if let l = s.live {
                if let p50 = l.latency.p50, let p95 = l.latency.p95, let max = l.latency.max {
                    line += String(format: ", latency p50 %.2f / p95 %.2f / max %.2f s", p50, p95, max)
                }
                line += String(format: ", %.1f drops/min, lag %.2f s", l.dropsPerMinute, l.lag)
                if let keep = l.keepRate, let stream = l.streamRate {
                    line += String(format: ", thinning to %.1f of %.1f fps", keep, stream)
                }
            } else if let lag = s.lag {
                line += String(format: ", lag %.2f s", lag)
            }
            if let t = s.lastTimestamp { line += String(format: ", stream time %.1f s", t) }
            FileHandle.standardError.write(Data((prefix + line + "\n").utf8))
            return
        }
        line = String(format: "%d frames, %.1f fps", s.framesAnalyzed, fps)
        if let duration = p.duration, duration > 0, let t = s.lastTimestamp {
            let fraction = min(1, max(0, t / duration))
            let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
            line = String(format: "%5.1f%%  ", fraction * 100) + line + String(format: ", ETA %.0f s", eta)
        }
        drewLine = true
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + prefix + line).utf8))
    }

    func stop() {
        timer?.cancel()
        timer = nil
        if drewLine { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
