import Foundation

/// An SVG 1.1 chart of a timeline: one panel per face track with the smoothed probabilities as
/// stacked areas, a strip of the smoothed label underneath, a shared time axis, a legend, and a
/// title naming the source and the model. Raw probabilities are drawn as thin lines when the
/// rows carry them. Layout and palette: docs/plot.md.
///
/// Feed it rows as they are written (the pipeline) or from ``EmotionTimelineReader`` (`fervid plot`).
/// It keeps at most ``maxPoints`` time bins per track: when a stream outgrows them, neighbouring
/// bins merge (averaging their rows), so memory and file size stay bounded on long videos while
/// the data itself is never thinned.
public struct TimelinePlot: Sendable {
    /// Okabe & Ito's colour-blind-safe palette (2008), one colour per class, in class order.
    public static let palette: [EmotionClass: String] = [
        .angry: "#D55E00",     // vermillion
        .disgust: "#009E73",   // bluish green
        .fear: "#CC79A7",      // reddish purple
        .happy: "#E69F00",     // orange
        .neutral: "#56B4E9",   // sky blue
        .sad: "#0072B2",       // blue
        .surprise: "#F0E442",  // yellow
    ]

    /// Input file or URL, shown in the title.
    public var source: String
    /// Model name, shown in the title.
    public var model: String
    /// Smoothing, shown in the title when set.
    public var smoothing: String?
    /// Most time bins (drawn points) per track.
    public let maxPoints: Int

    private struct Bin: Sendable {
        var key: Int
        var n = 0
        var timeSum = 0.0
        var first = 0.0
        var last = 0.0
        var sums = [Double](repeating: 0, count: EmotionClass.count)
        var rawSums = [Double](repeating: 0, count: EmotionClass.count)
        var rawN = 0
        var labelCounts = [Int](repeating: 0, count: EmotionClass.count)
        /// The track was absent in at least one frame just before this bin (gaps inside a bin
        /// are below the drawing's resolution and not shown).
        var breakBefore = false

        mutating func merge(_ b: Bin) {
            n += b.n
            timeSum += b.timeSum
            last = b.last
            for i in sums.indices {
                sums[i] += b.sums[i]
                rawSums[i] += b.rawSums[i]
                labelCounts[i] += b.labelCounts[i]
            }
            rawN += b.rawN
        }
    }

    private struct Track: Sendable {
        var bins: [Bin] = []
        var frames = 0
        var labelCounts = [Int](repeating: 0, count: EmotionClass.count)
        var lastOrdinal = -1
    }

    private var tracks: [Int: Track] = [:]
    private var origin: Double?
    private var binWidth = 0.001
    private var firstTime = 0.0
    private var lastTime = 0.0
    private var frames = 0
    private var lastFrame: Int?
    private var hasRaw = false

    public init(source: String, model: String, smoothing: String? = nil, maxPoints: Int = 600) {
        precondition(maxPoints >= 2)
        self.source = source
        self.model = model
        self.smoothing = smoothing
        self.maxPoints = maxPoints
    }

    /// A plot of a file read back, titled from its sidecar when there is one.
    public init(document: TimelineDocument, source: String? = nil, maxPoints: Int = 600) {
        self.init(source: source ?? document.sidecar?.source.location ?? "timeline",
                  model: document.sidecar?.model.name ?? "unknown",
                  smoothing: document.sidecar?.smoothing.description, maxPoints: maxPoints)
        add(document.rows)
    }

    /// Adds rows in the order written.
    public mutating func add(_ rows: [TimelineRow]) {
        for row in rows { add(row) }
    }

    /// Adds one row; rows of one frame are consecutive.
    public mutating func add(_ row: TimelineRow) {
        let t = row.timestamp
        if origin == nil {
            origin = t
            firstTime = t
            lastTime = t
        }
        if lastFrame != row.frame {
            lastFrame = row.frame
            frames += 1
        }
        firstTime = min(firstTime, t)
        lastTime = max(lastTime, t)
        guard let face = row.face else { return }
        // Clamped: a timestamp of 1e300 (a damaged or crafted file) must not trap the conversion.
        func binKey() -> Int {
            let v = ((t - origin!) / binWidth).rounded(.down)
            if v.isNaN { return 0 }
            return v >= 0x1p62 ? 1 << 62 : v <= -0x1p62 ? -(1 << 62) : Int(v)
        }
        var key = binKey()
        while key >= maxPoints {
            coarsen()
            key = binKey()
        }
        key = max(0, key)
        var track = tracks[face.faceID] ?? Track()
        let ordinal = frames - 1
        if track.lastOrdinal == ordinal { return }  // a face id twice in one frame counts once
        let gap = track.lastOrdinal >= 0 && ordinal > track.lastOrdinal + 1
        track.lastOrdinal = ordinal
        if track.bins.last?.key != key {
            var b = Bin(key: key)
            b.first = t
            b.breakBefore = gap
            track.bins.append(b)
        }
        let label = face.label.index
        track.frames += 1
        track.labelCounts[label] += 1
        var b = Bin(key: key)
        b.n = 1
        b.timeSum = t
        b.last = t
        b.sums = face.probabilities
        b.labelCounts[label] = 1
        if let raw = face.rawProbabilities {
            b.rawSums = raw
            b.rawN = 1
            hasRaw = true
        }
        track.bins[track.bins.count - 1].merge(b)
        tracks[face.faceID] = track
    }

    /// Doubles the bin width and merges neighbouring bins of every track.
    private mutating func coarsen() {
        binWidth *= 2
        for id in tracks.keys {
            var merged: [Bin] = []
            for var b in tracks[id]!.bins {
                b.key /= 2
                if let lastKey = merged.last?.key, lastKey == b.key {
                    merged[merged.count - 1].merge(b)
                } else {
                    merged.append(b)
                }
            }
            tracks[id]!.bins = merged
        }
    }

    // MARK: - Layout

    private enum Layout {
        static let width = 960.0
        static let left = 64.0
        static let right = 24.0
        static let titleHeight = 52.0
        static let legendHeight = 28.0
        static let panelHeader = 22.0
        static let areaHeight = 120.0
        static let stripGap = 4.0
        static let stripHeight = 12.0
        static let axisHeight = 34.0
        static let panelGap = 14.0
        static var panelHeight: Double { panelHeader + areaHeight + stripGap + stripHeight + axisHeight + panelGap }
        static var plotWidth: Double { width - left - right }
    }

    /// The time range drawn: first to last analyzed timestamp (1 s wide when they coincide).
    public var timeRange: ClosedRange<Double> {
        origin == nil ? 0...1 : (lastTime > firstTime ? firstTime...lastTime : firstTime...(firstTime + 1))
    }

    /// The comment every chart fervid writes carries on its third line: how fervid recognises a
    /// chart it wrote before replacing it (``OutputSafety/foreignContent(at:kind:containerComment:)``).
    public static let marker = "<!-- fervid_output: timeline chart -->"

    /// The chart as SVG 1.1 text.
    public func svg() -> String {
        let range = timeRange
        let ids = tracks.keys.sorted()
        let panels = max(ids.count, 1)
        let height = Layout.titleHeight + Layout.legendHeight + Double(panels) * Layout.panelHeight
        var s = """
        <?xml version="1.0" encoding="UTF-8" standalone="no"?>
        <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(f(Layout.width))" height="\(f(height))" \
        viewBox="0 0 \(f(Layout.width)) \(f(height))" font-family="Helvetica, Arial, sans-serif" font-size="11">
        \(Self.marker)

        """
        var title = "\(source) · model \(model)"
        if let smoothing { title += " · smoothing \(smoothing)" }
        s += "<title>\(escape(title))</title>\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"#FFFFFF\"/>\n"
        s += "<text class=\"title\" x=\"\(f(Layout.left))\" y=\"22\" font-size=\"15\" font-weight=\"bold\">\(escape(source))</text>\n"
        var subtitle = "model \(model)"
        if let smoothing { subtitle += " · smoothing \(smoothing)" }
        subtitle += " · \(frames) frames"
        s += "<text class=\"subtitle\" x=\"\(f(Layout.left))\" y=\"40\" fill=\"#444444\">\(escape(subtitle))</text>\n"
        s += legend(y: Layout.titleHeight)
        var top = Layout.titleHeight + Layout.legendHeight
        if ids.isEmpty {
            s += emptyPanel(top: top, range: range)
        }
        for id in ids {
            s += panel(id: id, track: tracks[id]!, top: top, range: range)
            top += Layout.panelHeight
        }
        s += "</svg>\n"
        return s
    }

    /// Writes ``svg()`` to `path` atomically.
    public func write(to path: String) throws(TimelineError) {
        try writeAtomically(Data(svg().utf8), to: path)
    }

    private func legend(y: Double) -> String {
        var s = "<g class=\"legend\">\n"
        let step = Layout.plotWidth / Double(EmotionClass.count + (hasRaw ? 1 : 0))
        for c in EmotionClass.allCases {
            let x = Layout.left + Double(c.index) * step
            s += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"12\" height=\"12\" fill=\"\(Self.palette[c]!)\"/>"
            s += "<text x=\"\(f(x + 16))\" y=\"\(f(y + 10))\">\(c.rawValue)</text>\n"
        }
        if hasRaw {
            let x = Layout.left + Double(EmotionClass.count) * step
            s += "<line x1=\"\(f(x))\" y1=\"\(f(y + 6))\" x2=\"\(f(x + 14))\" y2=\"\(f(y + 6))\" stroke=\"#333333\" stroke-width=\"1\"/>"
            s += "<text x=\"\(f(x + 18))\" y=\"\(f(y + 10))\">raw (lines)</text>\n"
        }
        return s + "</g>\n"
    }

    private func x(_ t: Double, _ range: ClosedRange<Double>) -> Double {
        Layout.left + (t - range.lowerBound) / (range.upperBound - range.lowerBound) * Layout.plotWidth
    }

    private func panel(id: Int, track: Track, top: Double, range: ClosedRange<Double>) -> String {
        let areaTop = top + Layout.panelHeader
        let bottom = areaTop + Layout.areaHeight
        func y(_ p: Double) -> Double { bottom - p * Layout.areaHeight }
        let dominant = EmotionClass.allCases[EmotionClass.argmax(track.labelCounts.map(Double.init))]
        let share = Double(track.labelCounts[dominant.index]) / Double(max(track.frames, 1)) * 100
        var s = "<g class=\"panel\" id=\"track-\(id)\">\n"
        s += "<text x=\"\(f(Layout.left))\" y=\"\(f(top + 14))\" font-weight=\"bold\">face \(id)</text>"
        s += "<text x=\"\(f(Layout.left + 56))\" y=\"\(f(top + 14))\" fill=\"#444444\">\(track.frames) frames, mostly "
        s += "\(dominant.rawValue) (\(FixedPoint.format(share, decimals: 1))%)</text>\n"
        s += "<rect x=\"\(f(Layout.left))\" y=\"\(f(areaTop))\" width=\"\(f(Layout.plotWidth))\" height=\"\(f(Layout.areaHeight))\" "
        s += "fill=\"#F4F4F4\" stroke=\"#BBBBBB\" stroke-width=\"0.5\"/>\n"
        // y axis: 0, 0.5, 1
        for p in [0.0, 0.5, 1.0] {
            s += "<line x1=\"\(f(Layout.left - 4))\" y1=\"\(f(y(p)))\" x2=\"\(f(Layout.left))\" y2=\"\(f(y(p)))\" stroke=\"#666666\"/>"
            s += "<text x=\"\(f(Layout.left - 6))\" y=\"\(f(y(p) + 4))\" text-anchor=\"end\">\(FixedPoint.format(p, decimals: 1))</text>\n"
        }
        // Runs of bins without an absence between them.
        var runs: [[Bin]] = []
        for b in track.bins {
            if b.breakBefore || runs.isEmpty { runs.append([b]) } else { runs[runs.count - 1].append(b) }
        }
        let opacity = hasRaw ? "0.55" : "0.9"
        s += "<g class=\"areas\" fill-opacity=\"\(opacity)\" stroke=\"none\">\n"
        for run in runs {
            // Points: (x, cumulative probabilities); a single-bin run is widened to 1 px.
            var xs = run.map { x($0.timeSum / Double($0.n), range) }
            var means = run.map { b in b.sums.map { $0 / Double(b.n) } }
            if xs.count == 1 {
                xs = [xs[0] - 0.5, xs[0] + 0.5]
                means.append(means[0])
            }
            var lower = [Double](repeating: 0, count: xs.count)
            for c in EmotionClass.allCases {
                let upper = zip(lower, means).map { $0 + $1[c.index] }
                var d = "M"
                for i in xs.indices { d += "\(f(xs[i])),\(f(y(upper[i]))) " }
                for i in xs.indices.reversed() { d += "L\(f(xs[i])),\(f(y(lower[i]))) " }
                s += "<path d=\"\(d)Z\" fill=\"\(Self.palette[c]!)\"/>\n"
                lower = upper
            }
        }
        s += "</g>\n"
        if hasRaw {
            s += "<g class=\"raw\" fill=\"none\" stroke-width=\"1\">\n"
            for run in runs where run.contains(where: { $0.rawN > 0 }) {
                for c in EmotionClass.allCases {
                    let points = run.filter { $0.rawN > 0 }.map {
                        "\(f(x($0.timeSum / Double($0.n), range))),\(f(y($0.rawSums[c.index] / Double($0.rawN))))"
                    }
                    s += "<polyline points=\"\(points.joined(separator: " "))\" stroke=\"\(Self.palette[c]!)\"/>\n"
                }
            }
            s += "</g>\n"
        }
        // Label strip: the majority smoothed label of each bin, drawn until the next bin.
        let stripTop = bottom + Layout.stripGap
        let interval = frames > 1 ? (lastTime - firstTime) / Double(frames - 1) : 0
        s += "<g class=\"label-strip\">\n"
        for run in runs {
            var i = 0
            while i < run.count {
                let label = EmotionClass.argmax(run[i].labelCounts.map(Double.init))
                var j = i
                while j + 1 < run.count, EmotionClass.argmax(run[j + 1].labelCounts.map(Double.init)) == label { j += 1 }
                let x0 = x(run[i].first, range)
                let x1 = j + 1 < run.count ? x(run[j + 1].first, range) : x(min(run[j].last + interval, range.upperBound), range)
                s += "<rect x=\"\(f(x0))\" y=\"\(f(stripTop))\" width=\"\(f(max(x1 - x0, 0.5)))\" height=\"\(f(Layout.stripHeight))\" "
                s += "fill=\"\(Self.palette[EmotionClass.allCases[label]]!)\"><title>\(EmotionClass.allCases[label].rawValue)</title></rect>\n"
                i = j + 1
            }
        }
        s += "</g>\n"
        s += axis(top: stripTop + Layout.stripHeight + 4, range: range)
        return s + "</g>\n"
    }

    private func emptyPanel(top: Double, range: ClosedRange<Double>) -> String {
        let areaTop = top + Layout.panelHeader
        var s = "<g class=\"empty\">\n"
        s += "<rect x=\"\(f(Layout.left))\" y=\"\(f(areaTop))\" width=\"\(f(Layout.plotWidth))\" height=\"\(f(Layout.areaHeight))\" "
        s += "fill=\"#F4F4F4\" stroke=\"#BBBBBB\" stroke-width=\"0.5\"/>\n"
        let note = frames == 0
            ? "No rows: nothing was analyzed."
            : "No faces found in \(frames) frames (\(ClockText.format(range.lowerBound, decimals: 1))–\(ClockText.format(lastTime, decimals: 1)))."
        s += "<text class=\"note\" x=\"\(f(Layout.left + Layout.plotWidth / 2))\" y=\"\(f(areaTop + Layout.areaHeight / 2))\" "
        s += "text-anchor=\"middle\" font-size=\"14\" fill=\"#444444\">\(escape(note))</text>\n"
        s += axis(top: areaTop + Layout.areaHeight + Layout.stripGap + Layout.stripHeight + 4, range: range)
        return s + "</g>\n"
    }

    /// Time axis spanning `range` exactly, ticks at a round step, labels in seconds or m:ss.
    private func axis(top: Double, range: ClosedRange<Double>) -> String {
        let span = range.upperBound - range.lowerBound
        let steps: [Double] = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600]
        var step = steps.first { span / $0 <= 8 } ?? 3600
        while span / step > 8 { step *= 2 }
        let clock = range.upperBound >= 60
        let decimals = step >= 1 ? 0 : (step >= 0.1 ? 1 : 2)
        var s = "<g class=\"time-axis\">\n"
        s += "<line class=\"axis-line\" x1=\"\(f(x(range.lowerBound, range)))\" y1=\"\(f(top))\" "
        s += "x2=\"\(f(x(range.upperBound, range)))\" y2=\"\(f(top))\" stroke=\"#333333\"/>\n"
        var k = (range.lowerBound / step).rounded(.up)
        while k * step <= range.upperBound + step * 1e-9 {
            let t = k * step
            let tx = x(t, range)
            let label = clock ? ClockText.format(t, decimals: decimals) : FixedPoint.format(t, decimals: decimals)
            s += "<line class=\"tick\" x1=\"\(f(tx))\" y1=\"\(f(top))\" x2=\"\(f(tx))\" y2=\"\(f(top + 4))\" stroke=\"#333333\"/>"
            s += "<text class=\"tick-label\" x=\"\(f(tx))\" y=\"\(f(top + 15))\" text-anchor=\"middle\">\(label)</text>\n"
            k += 1
        }
        s += "<text x=\"\(f(Layout.left + Layout.plotWidth))\" y=\"\(f(top + 28))\" text-anchor=\"end\" fill=\"#444444\">"
        s += clock ? "time (m:ss)" : "time (s)"
        s += "</text>\n</g>\n"
        return s
    }

    /// Coordinates with 2 decimals: sub-pixel exact, short.
    private func f(_ v: Double) -> String { FixedPoint.format(v, decimals: 2) }

    private func escape(_ text: String) -> String {
        var out = ""
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 forbids most control characters.
                if ch.value < 0x20 && ch != "\t" && ch != "\n" && ch != "\r" { out += "?" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out
    }
}
