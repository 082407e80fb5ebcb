import Foundation
import Testing
@testable import Timeline

/// An RGB24 picture filled with one colour, with padding bytes after each row set to a sentinel
/// (like an FFmpeg frame's linesize padding) so the tests see any write past a row's end.
struct TestImage {
    static let background = RGB(90, 100, 110)
    static let sentinel: UInt8 = 0xAB
    let width: Int, height: Int, stride: Int
    var bytes: [UInt8]

    init(width: Int, height: Int, padding: Int = 5, background: RGB = TestImage.background) {
        self.width = width
        self.height = height
        stride = 3 * width + padding
        bytes = [UInt8](repeating: Self.sentinel, count: max(stride * height, 1))
        for y in 0..<height {
            for x in 0..<width {
                bytes[y * stride + 3 * x] = background.r
                bytes[y * stride + 3 * x + 1] = background.g
                bytes[y * stride + 3 * x + 2] = background.b
            }
        }
    }

    mutating func draw(_ body: (RGBCanvas) -> Void) {
        let (w, h, s) = (width, height, stride)
        bytes.withUnsafeMutableBufferPointer { body(RGBCanvas(pixels: $0, width: w, height: h, stride: s)) }
    }

    func pixel(_ x: Int, _ y: Int) -> RGB {
        let i = y * stride + 3 * x
        return RGB(bytes[i], bytes[i + 1], bytes[i + 2])
    }

    /// Pixels that differ from `background`.
    func changed(from background: RGB = TestImage.background) -> [(x: Int, y: Int)] {
        var out: [(x: Int, y: Int)] = []
        for y in 0..<height { for x in 0..<width where pixel(x, y) != background { out.append((x, y)) } }
        return out
    }

    /// Every padding byte still holds the sentinel.
    var paddingIntact: Bool {
        (0..<height).allSatisfy { y in (3 * width..<stride).allSatisfy { bytes[y * stride + $0] == Self.sentinel } }
    }
}

private func face(id: Int = 3, _ x: Double, _ y: Double, _ w: Double, _ h: Double,
                  label: EmotionClass = .happy, p: Double = 0.87) -> FaceEmotion {
    var probabilities = [Double](repeating: (1 - p) / 6, count: EmotionClass.count)
    probabilities[label.index] = p
    return FaceEmotion(faceID: id, confidence: 0.99, box: FaceRect(x: x, y: y, width: w, height: h), probabilities: probabilities)
}

@Suite("Frame painter")
struct FramePainterTests {
    let painter = FramePainter(textScale: 1, barScale: 1, lineWidth: 2)

    @Test("class colours are the documented palette (docs/plot.md)")
    func palette() {
        #expect(RGB.of(.angry) == RGB(0xD5, 0x5E, 0x00))
        #expect(RGB.of(.happy) == RGB(0xE6, 0x9F, 0x00))
        #expect(RGB.of(.sad) == RGB(0x00, 0x72, 0xB2))
        #expect(RGB.of(.surprise) == RGB(0xF0, 0xE4, 0x42))
        // WCAG contrast: dark text on orange and yellow, light text on blue.
        // (luminances by hand: vermillion 0.22, bluish green 0.26, blue 0.16: 0.205/0.05 < 1.05/0.205)
        for c in EmotionClass.allCases {
            #expect(RGB.of(c).textColour == (c == .sad ? .white : .black), "\(c)")
        }
        #expect(RGB(hex: "#12345") == nil && RGB(hex: "zzzzzz") == nil)
    }

    @Test("box outline in the label's colour; inside and far away untouched; nothing outside the layout")
    func boxAndUntouched() throws {
        var image = TestImage(width: 320, height: 240)
        let f = face(100, 80, 60, 60)
        image.draw { painter.paint(faces: [f], in: $0) }
        let l = try #require(painter.layout(of: f, canvasWidth: 320, canvasHeight: 240))
        #expect(l.box == PixelRect(x: 100, y: 80, width: 60, height: 60))
        let happy = RGB(0xE6, 0x9F, 0x00)
        // The outline is lineWidth (2) px inside each edge.
        #expect(image.pixel(100, 110) == happy)
        #expect(image.pixel(101, 110) == happy)
        #expect(image.pixel(102, 110) == TestImage.background)
        #expect(image.pixel(159, 110) == happy)
        #expect(image.pixel(130, 139) == happy)
        #expect(image.pixel(130, 110) == TestImage.background)  // the face itself stays visible
        #expect(image.pixel(5, 235) == TestImage.background)
        #expect(image.pixel(319, 0) == TestImage.background)
        // Every changed pixel belongs to the box, the caption or the bar panel.
        let changed = image.changed()
        #expect(changed.count > 4 * 2 * 58)
        let outside = changed.filter { p in ![l.box, l.captionBox, l.barPanel].contains { $0.contains(x: p.x, y: p.y) } }
        #expect(outside.isEmpty, "drawn outside the layout: \(outside.prefix(5))")
        #expect(image.paddingIntact)
    }

    @Test("caption: '#id label NN%' on the label colour above the box, inside it at the top edge")
    func caption() throws {
        var image = TestImage(width: 320, height: 240)
        let f = face(id: 3, 100, 80, 60, 60, p: 0.8704)
        let l = try #require(painter.layout(of: f, canvasWidth: 320, canvasHeight: 240))
        #expect(l.caption == "#3 happy 87%")
        #expect(l.captionBox.maxY == l.box.y)
        #expect(l.captionBox.x == l.box.x)
        let text = BitmapFont.size(of: l.caption, scale: 1)
        #expect(l.captionBox.width > text.width && l.captionBox.height > text.height)
        image.draw { painter.paint(faces: [f], in: $0) }
        let happy = RGB.of(.happy)
        #expect(image.pixel(l.captionBox.x, l.captionBox.y) == happy)  // padding corner: background fill
        // The text is black on orange and lies inside the caption box.
        var black = 0
        for y in l.captionBox.y..<l.captionBox.maxY {
            for x in l.captionBox.x..<l.captionBox.maxX where image.pixel(x, y) == .black { black += 1 }
        }
        #expect(black > 100)

        // At the top edge the caption moves inside the box.
        let top = try #require(painter.layout(of: face(100, 2, 60, 60), canvasWidth: 320, canvasHeight: 240))
        #expect(top.captionBox.y == 2)
        // At the right edge it shifts left to stay on the canvas.
        let right = try #require(painter.layout(of: face(300, 80, 60, 60), canvasWidth: 320, canvasHeight: 240))
        #expect(right.captionBox.maxX == 320)
    }

    @Test("one bar per class, filled in proportion to its probability, beside the box")
    func bars() throws {
        var image = TestImage(width: 320, height: 240)
        let f = FaceEmotion(faceID: 1, confidence: 1, box: FaceRect(x: 60, y: 60, width: 80, height: 80),
                            probabilities: [0.05, 0.0, 0.10, 0.5, 0.25, 0.1, 0.0])
        let l = try #require(painter.layout(of: f, canvasWidth: 320, canvasHeight: 240))
        #expect(l.bars.count == 7 && l.barTracks.count == 7)
        #expect(l.barPanel.x > l.box.maxX)
        for c in EmotionClass.allCases {
            let track = l.barTracks[c.index]
            #expect(l.bars[c.index].width == Int((f.probabilities[c.index] * Double(track.width)).rounded()))
            #expect(l.barPanel.contains(x: track.x, y: track.y) && l.barPanel.contains(x: track.maxX - 1, y: track.maxY - 1))
            if c.index > 0 { #expect(track.y > l.barTracks[c.index - 1].maxY) }
        }
        image.draw { painter.paint(faces: [f], in: $0) }
        let happyBar = l.bars[EmotionClass.happy.index]
        #expect(image.pixel(happyBar.x, happyBar.y) == RGB.of(.happy))
        #expect(image.pixel(happyBar.maxX - 1, happyBar.maxY - 1) == RGB.of(.happy))
        #expect(image.pixel(happyBar.maxX, happyBar.y) != RGB.of(.happy))  // the empty rest of the track
        let emptyBar = l.barTracks[EmotionClass.disgust.index]
        #expect(image.pixel(emptyBar.x, emptyBar.y) != RGB.of(.disgust))

        // No room on the right: the panel goes left of the box.
        let left = try #require(painter.layout(of: face(250, 60, 60, 60), canvasWidth: 320, canvasHeight: 240))
        #expect(left.barPanel.maxX < left.box.x)
    }

    @Test("alpha blending rounds (c·a + d·(255−a)) / 255")
    func blending() {
        var image = TestImage(width: 4, height: 4)
        image.draw { $0.fill(PixelRect(x: 1, y: 1, width: 2, height: 2), RGB(255, 0, 200), alpha: 128) }
        // 255·128 + 90·127 = 44070 → 172.8 → 173; 0 + 100·127 = 12700 → 49.8 → 50; 200·128 + 110·127 = 39570 → 155.2 → 155
        #expect(image.pixel(1, 1) == RGB(173, 50, 155))
        #expect(image.pixel(0, 0) == TestImage.background && image.pixel(3, 3) == TestImage.background)
    }

    @Test("text fills exactly its measured box", arguments: [1, 2, 3])
    func textBounds(scale: Int) {
        var image = TestImage(width: 120, height: 60)
        // 'H' touches the left and top, '_' the bottom row and the right column.
        let size = BitmapFont.size(of: "H_", scale: scale)
        image.draw { $0.drawText("H_", x: 7, y: 9, scale: scale, color: .white) }
        let changed = image.changed()
        #expect(changed.map(\.x).min() == 7 && changed.map(\.y).min() == 9)
        #expect(changed.map(\.x).max() == 7 + size.width - 1 && changed.map(\.y).max() == 9 + size.height - 1)
        #expect(size.width == (2 * 6 - 1) * scale && size.height == 8 * scale)

        var caption = TestImage(width: 200, height: 40)
        let s = BitmapFont.size(of: "#12 surprise 100%", scale: scale)
        caption.draw { $0.drawText("#12 surprise 100%", x: 3, y: 4, scale: scale, color: .black) }
        let inside = PixelRect(x: 3, y: 4, width: s.width, height: s.height)
        #expect(!caption.changed().isEmpty)
        #expect(caption.changed().allSatisfy { inside.contains(x: $0.x, y: $0.y) })
    }

    @Test("a glyph at scale k is the scale-1 glyph with each pixel a k×k square")
    func scaling() {
        let text = "Ag0:%#(y)/_"
        var one = TestImage(width: 80, height: 10), three = TestImage(width: 240, height: 30)
        one.draw { $0.drawText(text, x: 0, y: 0, scale: 1, color: .white) }
        three.draw { $0.drawText(text, x: 0, y: 0, scale: 3, color: .white) }
        for y in 0..<30 { for x in 0..<240 { #expect(three.pixel(x, y) == one.pixel(x / 3, y / 3)) } }
    }

    @Test("the glyph table has every character it claims, each well formed and distinct")
    func glyphTable() throws {
        let claimed = Array(BitmapFont.characters)
        #expect(Set(claimed).count == claimed.count)
        let needed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .:%-_#()/"
        #expect(Set(needed) == Set(claimed))
        #expect(Set(BitmapFont.rawDrawings.keys) == Set(claimed))
        var seen: [[UInt8]: Character] = [:]
        for c in claimed {
            let rows = try #require(BitmapFont.rawDrawings[c])
            #expect(rows.count == 8, "\(c)")
            #expect(rows.allSatisfy { $0.count == 5 && $0.allSatisfy { "#.".contains($0) } }, "\(c)")
            let glyph = try #require(BitmapFont.glyph(c))
            #expect(glyph.count == 8)
            #expect(glyph.allSatisfy { $0 < 32 })
            #expect(glyph.contains { $0 != 0 } == (c != " "), "\(c) blank")
            // Only descenders and the underscore use the bottom row.
            #expect((glyph[7] != 0) == "gjpqy_".contains(c), "\(c) bottom row")
            if let other = seen[glyph] { Issue.record("'\(c)' and '\(other)' have the same glyph") }
            seen[glyph] = c
        }
        #expect(BitmapFont.glyph("?") == nil && BitmapFont.glyph("é") == nil)
    }

    @Test("a missing character is drawn as a hollow box")
    func missingCharacter() {
        var image = TestImage(width: 10, height: 10)
        image.draw { $0.drawText("?", x: 0, y: 0, scale: 1, color: .white) }
        for y in 0..<8 {
            for x in 0..<5 {
                let edge = y == 0 || y == 6 || x == 0 || x == 4
                #expect((image.pixel(x, y) == .white) == (edge && y < 7), "(\(x), \(y))")
            }
        }
    }

    @Test("boxes are mapped from source pixels when the canvas is scaled")
    func sourceScaling() throws {
        let l = try #require(painter.layout(of: face(640, 360, 128, 64), canvasWidth: 320, canvasHeight: 180,
                                            sourceSize: (1280, 720)))
        #expect(l.box == PixelRect(x: 160, y: 90, width: 32, height: 16))
    }

    @Test("clipping: boxes partly or wholly off the canvas, odd boxes, tiny canvases")
    func clipping() {
        let boxes: [FaceRect] = [
            FaceRect(x: -30, y: 10, width: 60, height: 40), FaceRect(x: 40, y: -25, width: 40, height: 40),
            FaceRect(x: 50, y: 30, width: 40, height: 40), FaceRect(x: -100, y: -100, width: 400, height: 400),
            FaceRect(x: 1000, y: 1000, width: 10, height: 10), FaceRect(x: -1e300, y: 5, width: 2e300, height: 1),
            FaceRect(x: .nan, y: 0, width: 10, height: 10), FaceRect(x: 0, y: .infinity, width: 10, height: 10),
            FaceRect(x: 20, y: 20, width: -10, height: -10), FaceRect(x: 3, y: 3, width: 0, height: 0),
        ]
        let faces = boxes.enumerated().map { i, b in
            FaceEmotion(faceID: i * 1000, confidence: 1, box: b, probabilities: face(0, 0, 1, 1, label: EmotionClass.allCases[i % 7]).probabilities)
        }
        for (w, h) in [(64, 48), (1, 1), (2, 3), (7, 5), (13, 1), (1, 17)] {
            for p in [painter, FramePainter(textScale: 4, barScale: 3, lineWidth: 3), FramePainter(frameHeight: h)] {
                var image = TestImage(width: w, height: h)
                image.draw { p.paint(faces: faces, in: $0) }
                #expect(image.paddingIntact, "\(w)x\(h)")
            }
        }
        // The visible edge of a box hanging off the left is still drawn.
        var image = TestImage(width: 64, height: 48)
        image.draw { painter.paint(faces: [faces[0]], in: $0) }
        #expect(image.pixel(29, 30) == RGB.of(.angry))
        #expect(image.pixel(0, 10) == RGB.of(.angry))
        // Non-finite boxes and wrong probability counts are skipped, not drawn.
        #expect(painter.layout(of: faces[6], canvasWidth: 64, canvasHeight: 48) == nil)
        #expect(painter.layout(of: FaceEmotion(faceID: 1, confidence: 1, box: FaceRect(x: 1, y: 1, width: 5, height: 5),
                                               probabilities: [1]), canvasWidth: 64, canvasHeight: 48) == nil)
        // An empty canvas is fine too.
        var empty = TestImage(width: 0, height: 0)
        empty.draw { painter.paint(faces: faces, in: $0) }
    }

    @Test("rows without a face paint nothing; sizes follow the frame height")
    func rowsAndSizes() {
        var image = TestImage(width: 64, height: 48)
        image.draw { painter.paint(rows: [TimelineRow(frame: 0, timestamp: 0, face: nil)], in: $0) }
        #expect(image.changed().isEmpty)
        #expect(FramePainter(frameHeight: 240).textScale == 1 && FramePainter(frameHeight: 240).lineWidth == 2)
        #expect(FramePainter(frameHeight: 720).textScale == 2 && FramePainter(frameHeight: 720).lineWidth == 3)
        #expect(FramePainter(frameHeight: 1080).textScale == 3 && FramePainter(frameHeight: 1080).barScale == 2)
    }
}
