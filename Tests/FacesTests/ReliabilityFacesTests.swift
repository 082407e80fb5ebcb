import Testing
@testable import Faces

@Suite struct AbsurdBoxTests {
    @Test("integral never traps: huge, negative, NaN and infinite values clamp")
    func integralClamps() {
        let huge = FaceRect(x: 1e308, y: -1e308, width: .infinity, height: .nan).integral
        #expect(huge == PixelRect(x: 1 << 40, y: -(1 << 40), width: 1 << 40, height: 0))
        #expect(FaceRect(x: 1.5, y: 2.4, width: 10.5, height: -3.5).integral == PixelRect(x: 2, y: 2, width: 11, height: -4))
        // fer's crop from such a box stays finite and inside the image (or is nil).
        if let r = ferCropRegion(FaceRect(x: 1e308, y: 1e308, width: 1e308, height: 1e308).integral, imageWidth: 640, imageHeight: 360) {
            #expect(r.x >= 0 && r.y >= 0 && r.x + r.width <= 640 && r.y + r.height <= 360)
        }
    }

    @Test("clamped: the part inside the image; empty when outside")
    func clamped() {
        #expect(FaceRect(x: -10, y: -10, width: 30, height: 30).clamped(toWidth: 100, height: 50)
                == FaceRect(x: 0, y: 0, width: 20, height: 20))
        let outside = FaceRect(x: -500, y: 10, width: 10, height: 10).clamped(toWidth: 100, height: 50)
        #expect(!(outside.width > 0))
        let tiny = FaceRect(x: 10, y: 10, width: 1e-300, height: 1e-300).clamped(toWidth: 100, height: 50)
        #expect(tiny.width < 1 && tiny.height < 1)
    }

    @Test("a boxes file with huge coordinates parses (the face stage drops the box)")
    func hugeBoxesParse() throws {
        let file = try FaceBoxesFile(text: "0,0,1e308,1e308,1e308,1e308\n")
        #expect(file.faces(atFrame: 0).count == 1)
        _ = file.faces(atFrame: 0)[0].rect.integral
    }

    @Test("an unreadable boxes file names the OS's cause")
    func unreadable() {
        do {
            _ = try FaceBoxesFile(path: "/nonexistent/boxes.csv")
            Issue.record("read")
        } catch {
            #expect(error.description == "/nonexistent/boxes.csv: cannot read: No such file or directory")
        }
    }
}
