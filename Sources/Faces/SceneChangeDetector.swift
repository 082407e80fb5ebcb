/// Detects abrupt changes between consecutive frames (hard cuts): the face stage runs its full
/// detector on such a frame instead of trusting boxes carried from another scene.
///
/// The signature of a frame is its colour histogram: 16 bins per channel over a grid of about
/// 64 × 64 sampled pixels. The change between two frames is half the L1 distance of their
/// normalised histograms, averaged over the channels: 0 for identical colour content, 1 for
/// disjoint. Motion within a shot moves pixels but barely changes the histogram; a cut to
/// another scene replaces it (docs/faces.md gives the values measured on the samples).
public final class SceneChangeDetector {
    /// Change at or above which a frame is a cut.
    public let threshold: Double
    /// The default threshold (docs/faces.md).
    public static let defaultThreshold = 0.35
    public static let bins = 16
    private var previous: [Double]?

    public init(threshold: Double = defaultThreshold) {
        precondition(threshold > 0 && threshold <= 1, "SceneChangeDetector: threshold must be in (0, 1]")
        self.threshold = threshold
    }

    /// The normalised histogram of `image`: 3 × ``bins`` shares, each channel's summing to 1.
    public static func signature(_ image: RGBImage) -> [Double] {
        let stepX = max(1, image.width / 64), stepY = max(1, image.height / 64)
        var counts = [Int](repeating: 0, count: 3 * bins)
        var n = 0
        image.pixels.withUnsafeBufferPointer { px in
            counts.withUnsafeMutableBufferPointer { c in
                let red = c.baseAddress!, green = red + bins, blue = green + bins
                // value · bins / 256 of a byte (non-negative): a shift right by 8.
                var y = stepY / 2
                while y < image.height {
                    let row = px.baseAddress! + y * image.width * 3
                    var x = stepX / 2
                    while x < image.width {
                        let p = row + 3 * x
                        red[(Int(p[0]) &* bins) &>> 8] &+= 1
                        green[(Int(p[1]) &* bins) &>> 8] &+= 1
                        blue[(Int(p[2]) &* bins) &>> 8] &+= 1
                        n += 1
                        x += stepX
                    }
                    y += stepY
                }
            }
        }
        return counts.map { Double($0) / Double(n) }
    }

    /// The change between two signatures, 0…1.
    public static func change(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "SceneChangeDetector: signatures of different sizes")
        var sum = 0.0
        for i in a.indices { sum += abs(a[i] - b[i]) }
        return sum / 6  // half the L1 distance, averaged over 3 channels
    }

    /// The change from the previous frame given (nil for the first), and remembers this one.
    public func change(_ image: RGBImage) -> Double? {
        let s = Self.signature(image)
        defer { previous = s }
        return previous.map { Self.change($0, s) }
    }

    /// True when `image` differs abruptly from the previous frame given.
    public func isCut(_ image: RGBImage) -> Bool {
        (change(image) ?? 0) >= threshold
    }
}
