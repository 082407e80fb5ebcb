import Foundation

/// An 8-bit sRGB colour.
public struct RGB: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// Parses `#RRGGBB` (the form of ``TimelinePlot/palette``); nil otherwise.
    public init?(hex: String) {
        let digits = hex.hasPrefix("#") ? hex.dropFirst() : Substring(hex)
        guard digits.count == 6, let v = UInt32(digits, radix: 16) else { return nil }
        self.init(UInt8(v >> 16), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF))
    }

    public static let black = RGB(0, 0, 0)
    public static let white = RGB(255, 255, 255)

    /// The class colours of ``TimelinePlot/palette`` (Okabe & Ito), so video and chart agree.
    public static func of(_ c: EmotionClass) -> RGB { classColours[c.index] }
    private static let classColours: [RGB] = EmotionClass.allCases.map { RGB(hex: TimelinePlot.palette[$0]!)! }

    /// WCAG 2 relative luminance in `0...1`.
    public var luminance: Double {
        func linear(_ v: UInt8) -> Double {
            let c = Double(v) / 255
            return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }

    /// Black or white, whichever has the higher WCAG contrast ratio on this colour.
    public var textColour: RGB {
        let l = luminance
        return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? .black : .white
    }

    public var description: String { "(\(r), \(g), \(b))" }
}

/// A packed RGB24 picture someone else owns (a scaled video frame): `height` rows of `width`
/// pixels, 3 bytes each (R, G, B), rows `stride` bytes apart. Everything drawn is clipped to
/// `0..<width` × `0..<height`; the padding at the end of each row is never touched.
public struct RGBCanvas {
    /// The pixel bytes; row `y` starts at `y * stride`.
    public let pixels: UnsafeMutableBufferPointer<UInt8>
    public let width: Int
    public let height: Int
    /// Bytes from one row to the next (≥ 3 × width).
    public let stride: Int

    /// - Precondition: `width, height >= 0`, `stride >= 3 * width`, and the buffer holds every
    ///   row: `pixels.count >= (height - 1) * stride + 3 * width`.
    public init(pixels: UnsafeMutableBufferPointer<UInt8>, width: Int, height: Int, stride: Int) {
        precondition(width >= 0 && height >= 0, "canvas size \(width)x\(height)")
        precondition(stride >= 3 * width, "stride \(stride) < 3 × width \(width)")
        precondition(height == 0 || width == 0 || pixels.count >= (height - 1) * stride + 3 * width,
                     "buffer of \(pixels.count) bytes is too small for \(width)x\(height), stride \(stride)")
        self.pixels = pixels
        self.width = width
        self.height = height
        self.stride = stride
    }

    /// The colour at (`x`, `y`). - Precondition: the point is on the canvas.
    public func pixel(x: Int, y: Int) -> RGB {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "(\(x), \(y)) is off the \(width)x\(height) canvas")
        let i = y * stride + 3 * x
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Fills the visible part of `rect` with `color`, blended at `alpha` (255 opaque):
    /// `out = (color · alpha + in · (255 − alpha)) / 255`, rounded.
    public func fill(_ rect: PixelRect, _ color: RGB, alpha: UInt8 = 255) {
        let r = rect.clamped(toWidth: width, height: height)
        guard !r.isEmpty, alpha > 0 else { return }
        let a = Int(alpha), ia = 255 - a
        let cr = Int(color.r) * a, cg = Int(color.g) * a, cb = Int(color.b) * a
        for y in r.y..<r.maxY {
            var i = y * stride + 3 * r.x
            for _ in 0..<r.width {
                if alpha == 255 {
                    pixels[i] = color.r
                    pixels[i + 1] = color.g
                    pixels[i + 2] = color.b
                } else {
                    pixels[i] = UInt8((cr + Int(pixels[i]) * ia + 127) / 255)
                    pixels[i + 1] = UInt8((cg + Int(pixels[i + 1]) * ia + 127) / 255)
                    pixels[i + 2] = UInt8((cb + Int(pixels[i + 2]) * ia + 127) / 255)
                }
                i += 3
            }
        }
    }

    /// Draws the outline of `rect`, `thickness` pixels wide, inside its edges.
    public func strokeRect(_ rect: PixelRect, _ color: RGB, thickness: Int) {
        guard !rect.isEmpty, thickness > 0 else { return }
        let t = min(thickness, rect.width, rect.height)
        fill(PixelRect(x: rect.x, y: rect.y, width: rect.width, height: t), color)
        fill(PixelRect(x: rect.x, y: rect.maxY - t, width: rect.width, height: t), color)
        fill(PixelRect(x: rect.x, y: rect.y + t, width: t, height: rect.height - 2 * t), color)
        fill(PixelRect(x: rect.maxX - t, y: rect.y + t, width: t, height: rect.height - 2 * t), color)
    }
}

/// Where ``FramePainter`` draws one face, in canvas pixels (parts may lie off the canvas).
public struct FaceLayout: Sendable, Equatable {
    /// The face box (outline drawn inside it).
    public var box: PixelRect
    /// The caption, e.g. `#3 happy 87%`.
    public var caption: String
    /// The caption's filled background: above the box, or inside its top when there is no room.
    public var captionBox: PixelRect
    /// Top-left corner of the caption text.
    public var captionText: (x: Int, y: Int)
    /// The dark panel holding the class bars: right of the box, or left when it does not fit.
    public var barPanel: PixelRect
    /// Per class (``EmotionClass`` order): the full-length bar track.
    public var barTracks: [PixelRect]
    /// Per class: the filled part of the track, `round(p × track width)` wide.
    public var bars: [PixelRect]
    /// Per class: top-left corner of the class initials.
    public var initials: [(x: Int, y: Int)]
    /// The colour of the box and caption: the smoothed label's class colour.
    public var colour: RGB
    /// One small square per landmark, centred on it (none when the face has no landmarks).
    public var landmarks: [PixelRect] = []

    public static func == (a: Self, b: Self) -> Bool {
        a.landmarks == b.landmarks && a.box == b.box && a.caption == b.caption && a.captionBox == b.captionBox
            && a.captionText == b.captionText && a.barPanel == b.barPanel && a.barTracks == b.barTracks
            && a.bars == b.bars && a.initials.elementsEqual(b.initials) { $0.x == $1.x && $0.y == $1.y } && a.colour == b.colour
    }
}

/// Draws what the model saw onto a video frame: for each face its box, a caption with the face
/// id, the smoothed label and its probability (`#3 happy 87%`), and one small bar per class.
/// Pure Swift on an ``RGBCanvas``; knows nothing of FFmpeg. What it draws: docs/annotate.md.
public struct FramePainter: Sendable {
    /// Font scale of the caption (each font pixel is `textScale`² device pixels).
    public var textScale: Int
    /// Font scale of the bar initials.
    public var barScale: Int
    /// Box outline width in pixels.
    public var lineWidth: Int

    /// Class initials beside the bars, in ``EmotionClass`` order (two letters: sad/surprise).
    public static let initials = ["An", "Di", "Fe", "Ha", "Ne", "Sa", "Su"]
    /// Opacity of the bar panel's dark background.
    static let panelAlpha: UInt8 = 170
    /// Opacity of an empty bar track.
    static let trackAlpha: UInt8 = 90

    public init(textScale: Int = 2, barScale: Int = 1, lineWidth: Int = 3) {
        precondition(textScale >= 1 && barScale >= 1 && lineWidth >= 1)
        self.textScale = textScale
        self.barScale = barScale
        self.lineWidth = lineWidth
    }

    /// Sizes for a frame `height` pixels tall: caption scale `height / 360` (1 at 360p, 2 at
    /// 720p, 3 at 1080p, at most 6), bars one step smaller, outline 2 px below 720p, else 3 px.
    public init(frameHeight height: Int) {
        let scale = min(max(height / 360, 1), 6)
        self.init(textScale: scale, barScale: max(scale - 1, 1), lineWidth: height >= 720 ? 3 : 2)
    }

    /// Paints the faces of the rows of one frame (rows without a face are skipped).
    public func paint(rows: [TimelineRow], in canvas: RGBCanvas, sourceSize: (width: Int, height: Int)? = nil) {
        paint(faces: rows.compactMap(\.face), in: canvas, sourceSize: sourceSize)
    }

    /// Paints `faces` (smoothed results of one frame). Boxes are in source pixels; pass
    /// `sourceSize` when the canvas is the frame scaled to another size. Faces whose box is not
    /// finite, or whose probabilities are not 7 values, are skipped.
    public func paint(faces: [FaceEmotion], in canvas: RGBCanvas, sourceSize: (width: Int, height: Int)? = nil) {
        guard canvas.width > 0, canvas.height > 0 else { return }
        let layouts = faces.compactMap { layout(of: $0, canvasWidth: canvas.width, canvasHeight: canvas.height, sourceSize: sourceSize) }
        // All boxes first, then captions and bars, so no box crosses another face's text.
        for l in layouts {
            canvas.strokeRect(l.box, l.colour, thickness: lineWidth)
            // Landmarks: a dot in the class colour with a dark rim, visible on skin.
            for p in l.landmarks {
                canvas.fill(p, .black)
                canvas.fill(PixelRect(x: p.x + 1, y: p.y + 1, width: p.width - 2, height: p.height - 2), l.colour)
            }
        }
        for l in layouts {
            canvas.fill(l.barPanel, .black, alpha: Self.panelAlpha)
            for c in EmotionClass.allCases {
                canvas.fill(l.barTracks[c.index], .white, alpha: Self.trackAlpha)
                canvas.fill(l.bars[c.index], RGB.of(c))
                canvas.drawText(Self.initials[c.index], x: l.initials[c.index].x, y: l.initials[c.index].y,
                                scale: barScale, color: .white)
            }
            canvas.fill(l.captionBox, l.colour)
            canvas.drawText(l.caption, x: l.captionText.x, y: l.captionText.y, scale: textScale, color: l.colour.textColour)
        }
    }

    /// Where `face` is drawn on a `canvasWidth`×`canvasHeight` canvas; nil when it is skipped.
    public func layout(of face: FaceEmotion, canvasWidth w: Int, canvasHeight h: Int,
                       sourceSize: (width: Int, height: Int)? = nil) -> FaceLayout? {
        guard face.probabilities.count == EmotionClass.count, face.probabilities.allSatisfy(\.isFinite) else { return nil }
        var sx = 1.0, sy = 1.0
        if let s = sourceSize, s.width > 0, s.height > 0 {
            sx = Double(w) / Double(s.width)
            sy = Double(h) / Double(s.height)
        }
        let b = face.box
        let edges = [b.x * sx, b.y * sy, (b.x + b.width) * sx, (b.y + b.height) * sy]
        guard edges.allSatisfy(\.isFinite) else { return nil }
        // Far-off coordinates are clamped before the conversion to Int (which traps when out of range).
        let limit = Double(4 * max(w, h) + 1024)
        let e = edges.map { Int(min(max($0, -limit), limit).rounded()) }
        let box = PixelRect(x: min(e[0], e[2]), y: min(e[1], e[3]), width: max(abs(e[2] - e[0]), 1), height: max(abs(e[3] - e[1]), 1))

        let label = face.label
        let colour = RGB.of(label)
        let percent = Int((face.labelProbability * 100).rounded())
        let caption = "#\(face.faceID) \(label.rawValue) \(percent)%"

        // Caption: padded text on a filled background above the box's left corner, shifted
        // left to stay on the canvas; inside the box's top when above has no room.
        let pad = textScale + 1
        let text = BitmapFont.size(of: caption, scale: textScale)
        let cw = text.width + 2 * pad, ch = text.height + 2 * pad
        let cx = cw <= w ? min(max(box.x, 0), w - cw) : 0
        let cy = box.y - ch >= 0 ? box.y - ch : max(box.y, 0)
        let captionBox = PixelRect(x: cx, y: cy, width: cw, height: ch)

        // Bars: one row per class, initials then a thin bar whose filled part is p × track.
        let bs = barScale
        let bpad = bs + 1
        let row = BitmapFont.lineHeight * bs
        let initialsWidth = BitmapFont.size(of: "Mm", scale: bs).width
        let trackWidth = 32 * bs
        let barHeight = max(4 * bs, 3)
        let pw = 2 * bpad + initialsWidth + 2 * bs + trackWidth
        let ph = 2 * bpad + EmotionClass.count * row - bs
        let gap = lineWidth + 1
        var px = box.maxX + gap
        if px + pw > w, box.x - gap - pw >= 0 { px = box.x - gap - pw }
        let py = ph <= h ? min(max(box.y, 0), h - ph) : 0
        let panel = PixelRect(x: px, y: py, width: pw, height: ph)
        var tracks: [PixelRect] = [], bars: [PixelRect] = [], initials: [(x: Int, y: Int)] = []
        for c in EmotionClass.allCases {
            let top = py + bpad + c.index * row
            initials.append((px + bpad, top))
            let track = PixelRect(x: px + bpad + initialsWidth + 2 * bs, y: top + (BitmapFont.glyphHeight * bs - barHeight) / 2,
                                  width: trackWidth, height: barHeight)
            tracks.append(track)
            let p = min(max(face.probabilities[c.index], 0), 1)
            bars.append(PixelRect(x: track.x, y: track.y, width: Int((p * Double(trackWidth)).rounded()), height: barHeight))
        }
        // Landmarks: squares of 2 × line width + 2 pixels (odd), centred on the rounded point.
        let half = lineWidth + 1
        let points: [PixelRect] = face.landmarks.compactMap { p in
            let x = p.x * sx, y = p.y * sy
            guard x.isFinite, y.isFinite, abs(x) < limit, abs(y) < limit else { return nil }
            return PixelRect(x: Int(x.rounded()) - half, y: Int(y.rounded()) - half, width: 2 * half + 1, height: 2 * half + 1)
        }
        return FaceLayout(box: box, caption: caption, captionBox: captionBox, captionText: (cx + pad, cy + pad),
                          barPanel: panel, barTracks: tracks, bars: bars, initials: initials, colour: colour,
                          landmarks: points)
    }
}
