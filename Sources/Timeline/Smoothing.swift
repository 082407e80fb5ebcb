import Foundation

/// One smoothed probability vector, for the input sample at `time`.
public struct SmoothedSample: Sendable, Equatable {
    /// Timestamp of the input sample this is the smoothed value of (seconds).
    public var time: Double
    /// Smoothed probabilities, same order and length as the input vector, summing to 1.
    public var probabilities: [Double]

    public init(time: Double, probabilities: [Double]) {
        self.time = time
        self.probabilities = probabilities
    }
}

/// A time-aware smoother of one face track's probability vectors.
///
/// Feed samples with ``push(time:probabilities:)`` in timestamp order. Every call returns the
/// samples that became final, in input order: exactly one output per input, possibly later
/// (a smoother that needs lookahead holds samples back by at most ``lookahead`` seconds of
/// stream time). ``advance(to:)`` tells the smoother that stream time has reached `time` with no
/// new sample for this track, so held samples whose lookahead has passed come out.
/// ``finish()`` returns everything held and resets the smoother to its initial state (the track
/// ended). Timestamps that do not increase count as no time passing.
public protocol EmotionSmoother: Sendable {
    /// Most stream time by which an output lags its input, in seconds (0 for causal smoothers).
    var lookahead: Double { get }
    /// Adds one sample; returns the samples that are now final, oldest first.
    mutating func push(time: Double, probabilities: [Double]) -> [SmoothedSample]
    /// Stream time reached `time` without a sample; returns samples that are now final.
    mutating func advance(to time: Double) -> [SmoothedSample]
    /// Returns every held sample and resets the smoother.
    mutating func finish() -> [SmoothedSample]
}

// MARK: - Specification

/// A smoothing method with its parameter, as given to `--smooth`.
///
/// Parses `none`, `ema[:TAU]`, `window[:SEC]`, `hmm[:STAY]`; `description` gives the canonical
/// form back (`ema:0.5`), so the value round-trips through the sidecar.
public enum SmoothingSpec: Sendable, Equatable, LosslessStringConvertible, Codable {
    /// Raw probabilities, unchanged.
    case none
    /// ``ExponentialSmoother`` with time constant `tau` seconds.
    case ema(tau: Double)
    /// ``WindowSmoother``: centred moving average over `seconds` (files only).
    case window(seconds: Double)
    /// ``HMMSmoother``: `stay` is the probability that the expression is the same one second later.
    case hmm(stay: Double)

    /// Default time constant of `ema`, seconds.
    public static let defaultTau = 0.5
    /// Default width of `window`, seconds.
    public static let defaultWindow = 1.0
    /// Default one-second stay probability of `hmm`.
    public static let defaultStay = 0.9
    /// Lag of the fixed-lag forward-backward smoother used by `hmm` on files, seconds.
    public static let hmmLag = 2.0

    /// Parses a `--smooth` value; `nil` when it does not parse (see ``parse(_:)`` for the reason).
    public init?(_ description: String) {
        guard let spec = try? Self.parse(description) else { return nil }
        self = spec
    }

    /// Parses a `--smooth` value, or throws ``TimelineError/invalidSmoothing(_:reason:)``.
    public static func parse(_ text: String) throws(TimelineError) -> SmoothingSpec {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2, let method = parts.first?.lowercased() else {
            throw .invalidSmoothing(text, reason: "too many ':'")
        }
        func value(_ name: String) throws(TimelineError) -> Double? {
            guard parts.count == 2 else { return nil }
            guard let v = Double(parts[1]), v.isFinite else {
                throw .invalidSmoothing(text, reason: "\(name) '\(parts[1])' is not a number")
            }
            return v
        }
        switch method {
        case "none":
            if parts.count == 2 { throw .invalidSmoothing(text, reason: "none takes no parameter") }
            return .none
        case "ema":
            let tau = try value("TAU") ?? defaultTau
            guard tau > 0 else { throw .invalidSmoothing(text, reason: "TAU must be > 0 seconds") }
            return .ema(tau: tau)
        case "window":
            let sec = try value("SEC") ?? defaultWindow
            guard sec > 0 else { throw .invalidSmoothing(text, reason: "SEC must be > 0 seconds") }
            return .window(seconds: sec)
        case "hmm":
            let stay = try value("STAY") ?? defaultStay
            let floor = 1.0 / Double(EmotionClass.count)
            guard stay > floor, stay < 1 else {
                throw .invalidSmoothing(text, reason: "STAY must be between 1/\(EmotionClass.count) and 1 (exclusive)")
            }
            return .hmm(stay: stay)
        default:
            throw .invalidSmoothing(text, reason: "unknown method '\(parts[0])'")
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case let .ema(tau): return "ema:\(Self.number(tau))"
        case let .window(seconds): return "window:\(Self.number(seconds))"
        case let .hmm(stay): return "hmm:\(Self.number(stay))"
        }
    }

    private static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    /// Whether the method works on live sources (it needs no lookahead there).
    public var supportsLive: Bool {
        if case .window = self { return false }
        return true
    }

    /// A fresh smoother for one track. Live sources get causal smoothers (HMM forward
    /// filtering); files get the lookahead variants (window, HMM fixed-lag forward-backward).
    /// Throws ``TimelineError/smoothingNeedsLookahead(_:)`` for `window` on a live source.
    public func makeSmoother(live: Bool) throws(TimelineError) -> any EmotionSmoother {
        switch self {
        case .none: return PassthroughSmoother()
        case let .ema(tau): return ExponentialSmoother(timeConstant: tau)
        case let .window(seconds):
            if live { throw .smoothingNeedsLookahead(description) }
            return WindowSmoother(width: seconds)
        case let .hmm(stay):
            return HMMSmoother(stay: stay, mode: live ? .filter : .fixedLag(Self.hmmLag))
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try Self.parse(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

// MARK: - none

/// The identity smoother (`--smooth none`).
public struct PassthroughSmoother: EmotionSmoother {
    public init() {}
    public var lookahead: Double { 0 }
    public mutating func push(time: Double, probabilities: [Double]) -> [SmoothedSample] {
        [SmoothedSample(time: time, probabilities: probabilities)]
    }
    public mutating func advance(to time: Double) -> [SmoothedSample] { [] }
    public mutating func finish() -> [SmoothedSample] { [] }
}

// MARK: - ema

/// Time-aware exponential moving average (`--smooth ema:TAU`).
///
/// A sample `dt` seconds after the previous one gets weight `alpha = 1 - exp(-dt / TAU)`:
/// `s = s + alpha * (p - s)`. Weights compose over time (`exp(-a) * exp(-b) = exp(-(a+b))`), so
/// the frame rate and `--fps` sampling do not change the meaning of TAU: for an input that
/// holds still between samples the result at a given time is the same at any rate. A gap longer
/// than ``restartGap`` (default TAU) restarts the average at the new sample. Causal: no delay.
public struct ExponentialSmoother: EmotionSmoother {
    /// Time constant TAU, seconds.
    public let timeConstant: Double
    /// A gap between samples longer than this (seconds) restarts the average.
    public let restartGap: Double
    private var state: [Double]?
    private var lastTime = 0.0

    public init(timeConstant: Double, restartGap: Double? = nil) {
        precondition(timeConstant > 0)
        self.timeConstant = timeConstant
        self.restartGap = restartGap ?? timeConstant
    }

    public var lookahead: Double { 0 }

    public mutating func push(time: Double, probabilities p: [Double]) -> [SmoothedSample] {
        let dt = max(0, time - lastTime)
        lastTime = max(lastTime, time)
        if var s = state, s.count == p.count, dt <= restartGap {
            let alpha = 1 - exp(-dt / timeConstant)
            for i in s.indices { s[i] += alpha * (p[i] - s[i]) }
            state = s
        } else {
            state = p
            lastTime = time
        }
        return [SmoothedSample(time: time, probabilities: state!)]
    }

    public mutating func advance(to time: Double) -> [SmoothedSample] { [] }

    public mutating func finish() -> [SmoothedSample] {
        state = nil
        return []
    }
}

// MARK: - window

/// Centred moving average by timestamp (`--smooth window:SEC`), for files.
///
/// The output for a sample at `t` is the plain mean of every sample of the track with a
/// timestamp in `[t - SEC/2, t + SEC/2]` (fewer at the ends of the track). A sample is final
/// once a later sample beyond `t + SEC/2` arrives (or stream time passes it, or the track
/// ends), so the delay is at most SEC/2 of stream time and memory is the samples of one window.
public struct WindowSmoother: EmotionSmoother {
    /// Full window width SEC, seconds.
    public let width: Double
    private var half: Double { width / 2 }
    private var samples: [(time: Double, p: [Double])] = []
    /// Index in `samples` of the oldest sample not yet returned.
    private var next = 0

    public init(width: Double) {
        precondition(width > 0)
        self.width = width
    }

    public var lookahead: Double { width / 2 }

    public mutating func push(time: Double, probabilities: [Double]) -> [SmoothedSample] {
        let t = max(time, samples.last?.time ?? time)
        let h = half
        let out = emit { $0 + h < t }
        samples.append((t, probabilities))
        return out
    }

    public mutating func advance(to time: Double) -> [SmoothedSample] {
        let h = half
        return emit { $0 + h < time }
    }

    public mutating func finish() -> [SmoothedSample] {
        let out = emit { _ in true }
        samples.removeAll()
        next = 0
        return out
    }

    /// Returns pending samples (oldest first) while `isFinal(t)`, then drops samples no
    /// pending one can see any more.
    private mutating func emit(while isFinal: (Double) -> Bool) -> [SmoothedSample] {
        var out: [SmoothedSample] = []
        while next < samples.count, isFinal(samples[next].time) {
            let t = samples[next].time
            var sum = [Double](repeating: 0, count: samples[next].p.count)
            var n = 0.0
            for s in samples where abs(s.time - t) <= half && s.p.count == sum.count {
                for i in sum.indices { sum[i] += s.p[i] }
                n += 1
            }
            out.append(SmoothedSample(time: t, probabilities: sum.map { $0 / n }))
            next += 1
        }
        // Keep what the oldest pending sample's window (or a later one) still needs.
        let horizon = next < samples.count ? samples[next].time - half : .infinity
        var drop = 0
        while drop < next, samples[drop].time < horizon { drop += 1 }
        if drop > 0 {
            samples.removeFirst(drop)
            next -= drop
        }
        return out
    }
}

// MARK: - hmm

/// Hidden Markov model over the classes with a sticky, time-aware transition (`--smooth hmm:STAY`).
///
/// States are the classes; the classifier's probabilities are used as emission likelihoods
/// (uniform class prior). Transition over `dt` seconds is the continuous-time chain that, at
/// rate `mu`, redraws the state uniformly:
/// `A(dt) = m * I + (1 - m) / K * 1 1^T` with `m = r^dt`, `r = (STAY - 1/K) / (1 - 1/K)`,
/// so `P(same state after 1 s) = STAY` and `A(a) A(b) = A(a + b)` (frame rate does not change
/// the meaning). Long gaps mix towards the uniform prior by themselves, so there is no restart.
///
/// - ``Mode/filter``: forward filtering `P(s_n | x_0..n)`, emitted at once (live sources).
/// - ``Mode/fixedLag(_:)``: each sample's posterior `P(s_k | x_j : t_j <= t_k + L)`, the
///   forward-backward marginal over every sample up to `L` seconds later. Memory is bounded
///   by `L` seconds of samples; when the track ends within `L` of a sample, this is the exact
///   forward-backward over the whole track. On long tracks it approximates the full
///   forward-backward closely once `L` is a few times the chain's memory of the evidence.
public struct HMMSmoother: EmotionSmoother {
    /// Filtering (causal) or fixed-lag smoothing with lag in seconds.
    public enum Mode: Sendable, Equatable {
        case filter
        case fixedLag(Double)
    }

    /// Probability that the state is unchanged one second later.
    public let stay: Double
    public let mode: Mode
    /// Emissions are floored at this value so one zero probability cannot veto a state forever.
    public static let emissionFloor = 1e-12

    /// Forward message after the last pushed sample, normalised; nil before the first.
    private var alpha: [Double]?
    private var lastTime = 0.0
    /// Fixed-lag buffer: samples not yet emitted and the ones after them.
    private var buffer: [(time: Double, emission: [Double], alpha: [Double])] = []

    public init(stay: Double, mode: Mode) {
        precondition(stay > 0 && stay < 1)
        self.stay = stay
        self.mode = mode
    }

    public var lookahead: Double {
        if case let .fixedLag(l) = mode { return l }
        return 0
    }

    /// `A(dt) v` (A is symmetric, so this is also `A(dt)^T v`), for `K = v.count` states.
    public func transition(_ v: [Double], over dt: Double) -> [Double] {
        let k = Double(v.count)
        let r = max(0, (stay - 1 / k) / (1 - 1 / k))
        let m = pow(r, max(0, dt))
        let spread = (1 - m) / k * v.reduce(0, +)
        return v.map { m * $0 + spread }
    }

    private static func normalised(_ v: [Double]) -> [Double] {
        let s = v.reduce(0, +)
        guard s > 0, s.isFinite else { return [Double](repeating: 1 / Double(v.count), count: v.count) }
        return v.map { $0 / s }
    }

    public mutating func push(time: Double, probabilities: [Double]) -> [SmoothedSample] {
        let e = probabilities.map { max($0, Self.emissionFloor) }
        let t = max(time, lastTime)
        var out: [SmoothedSample] = []
        if case let .fixedLag(lag) = mode {
            // Samples whose lag window closes before this one are final without it.
            out = emitSmoothed { $0 + lag < t }
        }
        let predicted: [Double]
        if let a = alpha, a.count == e.count {
            predicted = transition(a, over: t - lastTime)
        } else {
            predicted = [Double](repeating: 1 / Double(e.count), count: e.count)
        }
        let a = Self.normalised(zip(predicted, e).map { $0 * $1 })
        alpha = a
        lastTime = t
        switch mode {
        case .filter:
            out.append(SmoothedSample(time: time, probabilities: a))
        case .fixedLag:
            buffer.append((t, e, a))
        }
        return out
    }

    public mutating func advance(to time: Double) -> [SmoothedSample] {
        guard case let .fixedLag(lag) = mode else { return [] }
        return emitSmoothed { $0 + lag < time }
    }

    public mutating func finish() -> [SmoothedSample] {
        let out = emitSmoothed { _ in true }
        buffer.removeAll()
        alpha = nil
        lastTime = 0
        return out
    }

    /// One backward sweep over the buffer, then every leading sample with `isFinal(t)` gets
    /// `alpha_k * beta_k` (normalised) and leaves the buffer.
    private mutating func emitSmoothed(while isFinal: (Double) -> Bool) -> [SmoothedSample] {
        var count = 0
        while count < buffer.count, isFinal(buffer[count].time) { count += 1 }
        guard count > 0 else { return [] }
        // beta_n = 1; beta_j = A(t_{j+1} - t_j) (e_{j+1} * beta_{j+1}), normalised for range.
        var beta = [Double](repeating: 1, count: buffer[buffer.count - 1].emission.count)
        var betas = [[Double]](repeating: [], count: count)
        for j in stride(from: buffer.count - 1, through: 0, by: -1) {
            if j < count { betas[j] = beta }
            if j == 0 { break }
            let next = buffer[j]
            beta = Self.normalised(transition(zip(next.emission, beta).map { $0 * $1 },
                                              over: next.time - buffer[j - 1].time))
        }
        var out: [SmoothedSample] = []
        out.reserveCapacity(count)
        for k in 0..<count {
            out.append(SmoothedSample(time: buffer[k].time,
                                      probabilities: Self.normalised(zip(buffer[k].alpha, betas[k]).map { $0 * $1 })))
        }
        buffer.removeFirst(count)
        return out
    }
}
