import Foundation

/// Number and time formatting for the writers: locale-free, fixed decimals, fast.
///
/// Decimals (documented in docs/csv-schema.md): probabilities and confidences 6, timestamps 6
/// (microseconds: FFmpeg's `pts_time` is printed with 6 decimals by ffprobe, so a timestamp
/// compares equal to it as text), box coordinates 2.
enum Decimals {
    static let probability = 6
    static let timestamp = 6
    static let box = 2
    static let latency = 3
}

public enum FixedPoint {
    private static let powers: [Double] = (0...9).map { pow(10, Double($0)) }

    /// `value` rounded half away from zero to `decimals` places, e.g. `0.5` -> `"0.500000"`.
    /// Never prints `-0.000`; non-finite values print as `nan`, `inf`, `-inf`.
    public static func format(_ value: Double, decimals: Int) -> String {
        precondition((0...9).contains(decimals))
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        let scaled = (abs(value) * powers[decimals]).rounded(.toNearestOrAwayFromZero)
        guard scaled < 9.0e15 else { return String(format: "%.\(decimals)f", value) }
        let n = UInt64(scaled)
        let negative = value < 0 && n != 0
        let unit = UInt64(powers[decimals])
        let whole = n / unit, frac = n % unit
        var s = negative ? "-" : ""
        s += String(whole)
        if decimals > 0 {
            let digits = String(frac)
            s += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return s
    }
}

/// ISO 8601 UTC timestamps with milliseconds: `2024-05-01T12:34:56.789Z`.
public enum ISOTime {
    /// Formats `date` (UTC, rounded to the millisecond).
    public static func format(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (secs, milli) = floorDivide(ms, 1000)
        let (days, secOfDay) = floorDivide(secs, 86_400)
        let (y, m, d) = civil(fromDays: days)
        func pad(_ v: Int64, _ w: Int) -> String {
            let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secOfDay / 3600, 2)):\(pad(secOfDay / 60 % 60, 2))"
            + ":\(pad(secOfDay % 60, 2)).\(pad(milli, 3))Z"
    }

    /// Parses what ``format(_:)`` writes (fraction optional, 1–9 digits); nil otherwise.
    public static func parse(_ text: some StringProtocol) -> Date? {
        let b = Array(text.utf8)
        func num(_ r: Range<Int>) -> Int64? {
            guard r.upperBound <= b.count, !r.isEmpty else { return nil }
            var v: Int64 = 0
            for i in r { guard (48...57).contains(b[i]) else { return nil }; v = v * 10 + Int64(b[i] - 48) }
            return v
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58, b.last == 90,
              let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10),
              let h = num(11..<13), let mi = num(14..<16), let s = num(17..<19),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        var fraction = 0.0
        if b.count > 20 {
            guard b[19] == 46, b.count - 21 <= 9, let f = num(20..<(b.count - 1)) else { return nil }
            fraction = Double(f) / pow(10, Double(b.count - 21))
        } else if b[19] != 90 { return nil }
        let days = daysFromCivil(y, mo, d)
        return Date(timeIntervalSince1970: Double(days * 86_400 + h * 3600 + mi * 60 + s) + fraction)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a >= 0 ? a / b : -((-a + b - 1) / b)
        return (q, a - q * b)
    }

    // Days since 1970-01-01 <-> proleptic Gregorian date (H. Hinnant's civil-from-days algorithm).
    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// Human time for summaries and the plot: `12.5 s` under a minute, `m:ss` (`1:02:03`) past it.
enum ClockText {
    static func format(_ seconds: Double, decimals: Int = 0) -> String {
        let negative = seconds < 0
        let v = abs(seconds)
        let scale = pow(10, Double(decimals))
        let total = (v * scale).rounded() / scale
        let whole = Int(total)
        let h = whole / 3600, m = whole / 60 % 60
        let s = total - Double(h * 3600 + m * 60)
        var sec = FixedPoint.format(s, decimals: decimals)
        if s < 10 { sec = "0" + sec }
        let body = h > 0 ? "\(h):\(m < 10 ? "0" : "")\(m):\(sec)" : "\(m):\(sec)"
        return (negative ? "-" : "") + body
    }
}
