import Faces
import Foundation
import Testing

@Suite struct FaceBoxesFileTests {
    @Test func readsRowsPerFrame() throws {
        let f = try FaceBoxesFile(text: "frame,face_id,x,y,w,h\n0,0,10,20,30,40\n0,1,100,20,30.5,40\n\n# comment\n2,0,11,21,30,40\n")
        #expect(f.faces(atFrame: 0).map(\.id) == [0, 1])
        #expect(f.faces(atFrame: 0)[1].rect == FaceRect(x: 100, y: 20, width: 30.5, height: 40))
        #expect(f.faces(atFrame: 1).isEmpty)
        #expect(f.faces(atFrame: 2).count == 1)
    }

    @Test func acceptsCRLFAndByteOrderMark() throws {
        let f = try FaceBoxesFile(text: "\u{FEFF}frame,face_id,x,y,w,h\r\n3,7,1,2,3,4\r\n")
        #expect(f.faces(atFrame: 3) == [TrackedFace(id: 7, rect: FaceRect(x: 1, y: 2, width: 3, height: 4), score: 1, source: .given)])
    }

    @Test(arguments: [
        ("0,0,10,20,30,40\n1,0,10,20,30\n", 2, "expected 6 fields"),
        ("frame,face_id,x,y,w,h\r\n0,0,10,20,30,40\r\n\r\n1,0,10,20\r\n", 4, "found 4"),
        ("frame,face_id,x,y,w,h\n0,0,10,20,30,40\nx,0,1,2,3,4\n", 3, "frame 'x'"),
        ("0,-1,10,20,30,40\n", 1, "face_id '-1'"),
        ("0,0,10,abc,30,40\n", 1, "y 'abc'"),
        ("0,0,10,20,0,40\n", 1, "not positive"),
        ("0,0,10,20,30,40\n0,0,11,20,30,40\n", 2, "appears twice"),
    ])
    func malformedLineIsNamed(text: String, line: Int, cause: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fervid-boxes-\(line)-\(UUID().uuidString).csv").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try FaceBoxesFile(path: path)
            Issue.record("no error for a malformed line")
        } catch {
            #expect(error.line == line)
            #expect(error.description.hasPrefix("\(path):\(line): "), "\(error.description)")
            #expect(error.description.contains(cause), "\(error.description)")
        }
    }

    @Test func missingFileIsNamed() {
        #expect(throws: FaceBoxesFileError.self) { try FaceBoxesFile(path: "/nonexistent/boxes.csv") }
    }
}
