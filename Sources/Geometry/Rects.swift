// The geometry vocabulary every module shares: a face box in source-frame pixels (real-valued,
// as detectors, trackers, boxes files and timelines give it) and an integer rectangle of pixels
// (a crop of a frame, a region of an image, a box painted on a canvas). One conversion between
// them, `FaceRect.integral`, overflow-safe for any Double.

/// An axis-aligned rectangle in source-frame pixels (x, y = top-left corner), real-valued.
public struct FaceRect: Sendable, Equatable, Hashable, Codable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// From corners (x1, y1) top-left and (x2, y2) bottom-right.
    public init(x1: Double, y1: Double, x2: Double, y2: Double) {
        self.init(x: x1, y: y1, width: x2 - x1, height: y2 - y1)
    }

    /// The integer rectangle as real coordinates.
    public init(_ r: PixelRect) {
        self.init(x: Double(r.x), y: Double(r.y), width: Double(r.width), height: Double(r.height))
    }

    public var maxX: Double { x + width }
    public var maxY: Double { y + height }
    public var area: Double { max(width, 0) * max(height, 0) }
    public var centerX: Double { x + width / 2 }
    public var centerY: Double { y + height / 2 }

    /// Intersection over union (0 when either is empty).
    public func iou(_ o: FaceRect) -> Double {
        let iw = min(maxX, o.maxX) - max(x, o.x), ih = min(maxY, o.maxY) - max(y, o.y)
        guard iw > 0, ih > 0 else { return 0 }
        let inter = iw * ih
        let union = area + o.area - inter
        return union > 0 ? inter / union : 0
    }

    /// Integer (x, y, width, height), each rounded to the nearest pixel: the integer box that
    /// crop geometries (e.g. fer's) start from. Values past ±2^40 pixels (and NaN, as 0) are
    /// clamped, so an absurd box from a file never traps (see ``pixelInt(_:_:)``).
    public var integral: PixelRect {
        PixelRect(x: pixelInt(x), y: pixelInt(y), width: pixelInt(width), height: pixelInt(height))
    }

    /// The part of this box inside a `width`×`height` image (empty: width or height ≤ 0).
    public func clamped(toWidth width: Int, height: Int) -> FaceRect {
        let x0 = Swift.max(0, x), y0 = Swift.max(0, y)
        let x1 = Swift.min(Double(width), maxX), y1 = Swift.min(Double(height), maxY)
        return FaceRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
}

/// `v` rounded to the nearest integer, clamped to ±2^40 (NaN → 0): a pixel coordinate that can
/// be added to and multiplied without overflow, from any Double.
public func pixelInt(_ v: Double, _ rule: FloatingPointRoundingRule = .toNearestOrAwayFromZero) -> Int {
    let limit = Double(1 << 40)
    guard !v.isNaN else { return 0 }
    return Int(Swift.min(Swift.max(v.rounded(rule), -limit), limit))
}

/// An integer rectangle of pixels: origin at the top left; may lie partly or wholly outside the
/// image it refers to.
public struct PixelRect: Sendable, Equatable, Hashable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }

    /// True when (`px`, `py`) lies inside.
    public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }

    /// This rectangle intersected with a `width`×`height` image at the origin (empty when they
    /// do not meet).
    public func clamped(toWidth w: Int, height h: Int) -> PixelRect {
        let x0 = min(max(x, 0), w), y0 = min(max(y, 0), h)
        let x1 = min(max(maxX, 0), w), y1 = min(max(maxY, 0), h)
        return PixelRect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }
}
