import Foundation
import Testing
@testable import Timeline

@Suite("Smoothing specification")
struct SmoothingSpecTests {
    @Test func parsesEveryAcceptedForm() throws {
        #expect(try SmoothingSpec.parse("none") == .none)
        #expect(try SmoothingSpec.parse("ema") == .ema(tau: SmoothingSpec.defaultTau))
        #expect(try SmoothingSpec.parse("ema:0.25") == .ema(tau: 0.25))
        #expect(try SmoothingSpec.parse("window") == .window(seconds: SmoothingSpec.defaultWindow))
        #expect(try SmoothingSpec.parse("WINDOW:2") == .window(seconds: 2))
        #expect(try SmoothingSpec.parse("hmm") == .hmm(stay: SmoothingSpec.defaultStay))
        #expect(try SmoothingSpec.parse("hmm:0.95") == .hmm(stay: 0.95))
        // description is the canonical form and parses back to the same value.
        for text in ["none", "ema:0.25", "window:2", "hmm:0.95", "ema:3"] {
            let spec = try SmoothingSpec.parse(text)
            #expect(spec.description == text)
            #expect(SmoothingSpec(spec.description) == spec)
        }
    }

    @Test(arguments: ["", "median", "ema:", "ema:0", "ema:-1", "ema:abc", "ema:nan", "window:0",
                      "hmm:1", "hmm:0.1", "none:3", "ema:1:2"])
    func rejectsWithAClearMessage(_ text: String) {
        do {
            _ = try SmoothingSpec.parse(text)
            Issue.record("'\(text)' parsed")
        } catch {
            let message = error.description
            #expect(message.contains("'\(text)'"), "\(message)")
            #expect(message.contains("expected none, ema[:TAU], window[:SEC] or hmm[:STAY]"), "\(message)")
            #expect(!message.contains("\n"))
        }
    }

    @Test func windowIsRefusedForLiveSources() {
        #expect(throws: TimelineError.smoothingNeedsLookahead("window:1")) {
            _ = try SmoothingSpec.window(seconds: 1).makeSmoother(live: true)
        }
        #expect((try? SmoothingSpec.window(seconds: 1).makeSmoother(live: false)) != nil)
        #expect(SmoothingSpec.hmm(stay: 0.9).supportsLive && SmoothingSpec.ema(tau: 1).supportsLive)
    }
}

@Suite("Exponential smoother")
struct ExponentialSmootherTests {
    /// Pushes (t, p) pairs one by one; returns one output per input (EMA is causal).
    func run(_ s: inout ExponentialSmoother, _ samples: [(Double, [Double])]) -> [[Double]] {
        samples.map { t, p in
            let out = s.push(time: t, probabilities: p)
            precondition(out.count == 1)
            return out[0].probabilities
        }
    }

    @Test func stepResponseMatchesHandComputedValues() {
        // Input held at "angry" until t = 0, then "happy" from the next sample on. TAU = 0.5 s:
        // happy weight after a further dt is 1 - exp(-dt / 0.5); 1 - e^-0.2 = 0.181269246922,
        // 1 - e^-0.4 = 0.329679953964 (Python math.exp).
        var fast = ExponentialSmoother(timeConstant: 0.5)
        let a = run(&fast, [(0, onehot(.angry)), (0.1, onehot(.happy)), (0.2, onehot(.happy))])
        #expect(abs(a[1][EmotionClass.happy.index] - 0.181269246922) < 1e-9)
        #expect(abs(a[2][EmotionClass.happy.index] - 0.329679953964) < 1e-9)
        // Sampled half as often, the value at t = 0.2 is the same: the weights compose in time.
        var slow = ExponentialSmoother(timeConstant: 0.5)
        let b = run(&slow, [(0, onehot(.angry)), (0.2, onehot(.happy))])
        #expect(abs(b[1][EmotionClass.happy.index] - 0.329679953964) < 1e-9)
        #expect(abs(b[1][EmotionClass.angry.index] - (1 - 0.329679953964)) < 1e-9)
    }

    @Test func frameRateDoesNotChangeTheMeaning() {
        // A slowly varying input: happy = 0.5 + 0.4 sin(2 pi t / 3), the rest neutral.
        func input(_ t: Double) -> [Double] {
            let h = 0.5 + 0.4 * sin(2 * Double.pi * t / 3)
            var v = [Double](repeating: 0, count: EmotionClass.count)
            v[EmotionClass.happy.index] = h
            v[EmotionClass.neutral.index] = 1 - h
            return v
        }
        let tau = 0.4
        // Reference: the ODE ds/dt = (p - s) / tau integrated finely (Euler, dt = 1e-5), once,
        // recorded at t = 0.4 k.
        var reference: [Int: Double] = [:]
        do {
            var s = input(0)[EmotionClass.happy.index]
            let h = 1e-5
            let steps = 40_000  // 0.4 s
            for k in 1...15 {
                for i in 0..<steps {
                    let u = (Double(k - 1) * Double(steps) + Double(i + 1)) * h
                    s += h / tau * (input(u)[EmotionClass.happy.index] - s)
                }
                reference[k] = s
            }
        }
        func sampled(rate: Double, untilCount n: Int) -> [Double: Double] {
            var s = ExponentialSmoother(timeConstant: tau)
            var out: [Double: Double] = [:]
            for i in 0..<n {
                let t = Double(i) / rate
                out[t] = s.push(time: t, probabilities: input(t))[0].probabilities[EmotionClass.happy.index]
            }
            return out
        }
        // Fixed-alpha EMA (the frame-counting kind), to show that the check can fail.
        func perFrame(rate: Double, untilCount n: Int) -> [Double: Double] {
            var s = input(0)[EmotionClass.happy.index]
            var out: [Double: Double] = [:]
            for i in 0..<n {
                let t = Double(i) / rate
                s += 0.1 * (input(t)[EmotionClass.happy.index] - s)
                out[t] = s
            }
            return out
        }
        let at30 = sampled(rate: 30, untilCount: 181), at12 = sampled(rate: 12.5, untilCount: 76)
        let fixed30 = perFrame(rate: 30, untilCount: 181), fixed12 = perFrame(rate: 12.5, untilCount: 76)
        var worstTimeAware = 0.0, worstFixed = 0.0
        for k in 1...15 {  // t = 0.4 k, common to both rates
            let t30 = Double(12 * k) / 30, t12 = Double(5 * k) / 12.5
            #expect(abs(t30 - t12) < 1e-12)
            let r = reference[k]!
            #expect(abs(at30[t30]! - r) < 0.03, "30 fps at \(t30): \(at30[t30]!) vs ODE \(r)")
            #expect(abs(at12[t12]! - r) < 0.05, "12.5 fps at \(t12): \(at12[t12]!) vs ODE \(r)")
            worstTimeAware = max(worstTimeAware, abs(at30[t30]! - at12[t12]!))
            worstFixed = max(worstFixed, abs(fixed30[t30]! - fixed12[t12]!))
        }
        #expect(worstTimeAware < 0.04, "time-aware EMA differs by \(worstTimeAware) between 30 and 12.5 fps")
        #expect(worstFixed > 0.1, "a per-frame EMA should differ between rates; differs by \(worstFixed)")
    }

    @Test func gapLongerThanTauRestarts() {
        var s = ExponentialSmoother(timeConstant: 0.5)
        _ = s.push(time: 0, probabilities: onehot(.angry))
        let within = s.push(time: 0.5, probabilities: onehot(.sad))[0].probabilities
        #expect(within[EmotionClass.angry.index] > 0.3)  // e^-1 = 0.368 of angry left
        let after = s.push(time: 1.01, probabilities: onehot(.fear))[0].probabilities
        #expect(after == onehot(.fear))
        _ = s.finish()
        #expect(s.push(time: 1.02, probabilities: onehot(.happy))[0].probabilities == onehot(.happy))
    }
}

@Suite("Window smoother")
struct WindowSmootherTests {
    @Test func equalsTheDirectCentredAverageWithBoundedDelay() {
        var rng = LCG(seed: 7)
        // Irregular timestamps on a 1/64 s grid (exact in binary, so the window edges are exact).
        var times: [Double] = []
        var t = 3.0
        for _ in 0..<200 {
            times.append(t)
            t += Double(1 + Int(rng.next() * 5)) / 64  // 1..5 ticks, some gaps of 5/64 s
        }
        let probs = times.map { _ in rng.probabilities() }
        let width = 0.5
        var s = WindowSmoother(width: width)
        var outputs: [SmoothedSample] = []
        for (i, time) in times.enumerated() {
            let done = s.push(time: time, probabilities: probs[i])
            outputs += done
            // Everything whose window closed before this sample is out; nothing else is.
            let expectedOut = times[..<i].filter { $0 + width / 2 < time }.count
            #expect(outputs.count == expectedOut, "after sample \(i)")
        }
        outputs += s.finish()
        #expect(outputs.count == times.count)
        for (k, out) in outputs.enumerated() {
            #expect(out.time == times[k])
            var sum = [Double](repeating: 0, count: EmotionClass.count)
            var n = 0.0
            for j in times.indices where abs(times[j] - times[k]) <= width / 2 {
                for c in sum.indices { sum[c] += probs[j][c] }
                n += 1
            }
            #expect(maxAbsDifference(out.probabilities, sum.map { $0 / n }) < 1e-12, "sample \(k)")
            #expect(abs(out.probabilities.reduce(0, +) - 1) < 1e-12)
        }
    }

    @Test func advanceReleasesSamplesWhenStreamTimePasses() {
        var s = WindowSmoother(width: 1)
        #expect(s.push(time: 0, probabilities: onehot(.sad)).isEmpty)
        #expect(s.advance(to: 0.5).isEmpty)  // a sample at 0.5 would still be in the window
        let out = s.advance(to: 0.51)
        #expect(out.count == 1 && out[0].probabilities == onehot(.sad))
    }
}

/// The HMM the smoother claims to implement, built independently: a continuous-time chain with
/// generator Q = mu (J / K - I), A(dt) = expm(Q dt) by scaling and squaring of a Taylor series,
/// and marginals by summing over every state path.
struct BruteForceHMM {
    let k = EmotionClass.count
    let stay: Double

    typealias Matrix = [[Double]]

    func multiply(_ a: Matrix, _ b: Matrix) -> Matrix {
        (0..<k).map { i in (0..<k).map { j in (0..<k).reduce(0) { $0 + a[i][$1] * b[$1][j] } } }
    }

    func transition(_ dt: Double) -> Matrix {
        // P(same after 1 s) = e^-mu + (1 - e^-mu) / K = STAY.
        let kd = Double(k)
        let mu = -log((stay - 1 / kd) / (1 - 1 / kd))
        var q = (0..<k).map { i in (0..<k).map { j in mu * (1 / kd - (i == j ? 1 : 0)) } }
        var squarings = 0
        let norm = mu * dt * 2
        var scale = dt
        if norm > 0.25 {
            squarings = Int(ceil(log2(norm / 0.25)))
            scale = dt / pow(2, Double(squarings))
        }
        q = q.map { $0.map { $0 * scale } }
        var result = (0..<k).map { i in (0..<k).map { j in i == j ? 1.0 : 0 } }
        var term = result
        for n in 1...20 {
            term = multiply(term, q).map { $0.map { $0 / Double(n) } }
            result = zip(result, term).map { zip($0, $1).map { $0 + $1 } }
        }
        for _ in 0..<squarings { result = multiply(result, result) }
        return result
    }

    /// Posterior of the state at each index in `at`, given observations `0...last` (uniform prior).
    func marginal(times: [Double], emissions: [[Double]], through last: Int, at index: Int) -> [Double] {
        let n = last + 1
        let a = (1..<n).map { transition(times[$0] - times[$0 - 1]) }
        var posterior = [Double](repeating: 0, count: k)
        var path = [Int](repeating: 0, count: n)
        while true {
            var w = emissions[0][path[0]] / Double(k)
            for j in 1..<n { w *= a[j - 1][path[j - 1]][path[j]] * emissions[j][path[j]] }
            posterior[path[index]] += w
            var d = n - 1
            while d >= 0 {
                path[d] += 1
                if path[d] < k { break }
                path[d] = 0
                d -= 1
            }
            if d < 0 { break }
        }
        let s = posterior.reduce(0, +)
        return posterior.map { $0 / s }
    }
}

@Suite("HMM smoother")
struct HMMSmootherTests {
    let stay = 0.8
    let times = [0.0, 0.1, 0.25, 0.3, 0.7]

    func emissions() -> [[Double]] {
        var rng = LCG(seed: 42)
        return times.map { _ in rng.probabilities() }
    }

    @Test func transitionIsTheContinuousTimeChain() {
        let brute = BruteForceHMM(stay: stay)
        let smoother = HMMSmoother(stay: stay, mode: .filter)
        #expect(abs(brute.transition(1)[2][2] - stay) < 1e-12, "expm gives P(same after 1 s) = \(brute.transition(1)[2][2])")
        var rng = LCG(seed: 3)
        let v = rng.probabilities()
        for dt in [0.0, 0.033, 0.5, 1, 4.2] {
            let m = brute.transition(dt)
            let expected = (0..<EmotionClass.count).map { i in (0..<EmotionClass.count).reduce(0) { $0 + m[$1][i] * v[$1] } }
            #expect(maxAbsDifference(smoother.transition(v, over: dt), expected) < 1e-12, "dt \(dt)")
        }
    }

    @Test func forwardFilterEqualsBruteForceOverAllPaths() {
        let e = emissions()
        let brute = BruteForceHMM(stay: stay)
        var s = HMMSmoother(stay: stay, mode: .filter)
        for n in times.indices {
            let out = s.push(time: times[n], probabilities: e[n])
            #expect(out.count == 1, "filtering emits at once")
            let expected = brute.marginal(times: times, emissions: e, through: n, at: n)
            #expect(maxAbsDifference(out[0].probabilities, expected) < 1e-10, "sample \(n)")
        }
        #expect(s.finish().isEmpty)
    }

    @Test func forwardBackwardEqualsBruteForceMarginals() {
        let e = emissions()
        let brute = BruteForceHMM(stay: stay)
        // Lag longer than the sequence: exact forward-backward over the whole track.
        var s = HMMSmoother(stay: stay, mode: .fixedLag(10))
        var out: [SmoothedSample] = []
        for n in times.indices { out += s.push(time: times[n], probabilities: e[n]) }
        #expect(out.isEmpty, "nothing is final before the lag has passed")
        out += s.finish()
        #expect(out.count == times.count)
        for k in times.indices {
            let expected = brute.marginal(times: times, emissions: e, through: times.count - 1, at: k)
            #expect(maxAbsDifference(out[k].probabilities, expected) < 1e-10, "sample \(k)")
        }
        // The smoothed marginals differ from the filtered ones (the check above can fail).
        let filtered = brute.marginal(times: times, emissions: e, through: 1, at: 1)
        #expect(maxAbsDifference(out[1].probabilities, filtered) > 1e-3)
    }

    @Test func fixedLagConditionsOnExactlyTheLagWindow() {
        let e = emissions()
        let brute = BruteForceHMM(stay: stay)
        let lag = 0.2
        var s = HMMSmoother(stay: stay, mode: .fixedLag(lag))
        var out: [SmoothedSample] = []
        for n in times.indices {
            out += s.push(time: times[n], probabilities: e[n])
            // Released: every sample whose lag window closed before this one.
            #expect(out.count == times[..<n].filter { $0 + lag < times[n] }.count)
        }
        out += s.finish()
        #expect(out.count == times.count)
        for k in times.indices {
            let last = times.lastIndex { $0 <= times[k] + lag }!
            let expected = brute.marginal(times: times, emissions: e, through: last, at: k)
            #expect(maxAbsDifference(out[k].probabilities, expected) < 1e-10, "sample \(k) given 0...\(last)")
        }
    }

    @Test func stickyTransitionRemovesFlicker() {
        // Happy with a few one-frame dips to sad at 30 fps: the HMM keeps happy.
        var s = HMMSmoother(stay: 0.9, mode: .fixedLag(1))
        var happy = [Double](repeating: 0.02, count: EmotionClass.count)
        happy[EmotionClass.happy.index] = 0.55
        happy[EmotionClass.sad.index] = 0.33
        var sad = happy
        sad.swapAt(EmotionClass.happy.index, EmotionClass.sad.index)
        var out: [SmoothedSample] = []
        var rawChanges = 0
        for i in 0..<90 {
            let dip = i % 10 == 5
            if i % 10 == 5 || i % 10 == 6 { rawChanges += 1 }
            out += s.push(time: Double(i) / 30, probabilities: dip ? sad : happy)
        }
        out += s.finish()
        let labels = out.map { EmotionClass.argmax($0.probabilities) }
        #expect(rawChanges == 18)
        #expect(labels.allSatisfy { $0 == EmotionClass.happy.index })
        for o in out { #expect(abs(o.probabilities.reduce(0, +) - 1) < 1e-12) }
    }
}
