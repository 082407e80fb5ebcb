import Foundation

/// A malformed boxes file: names the file, the 1-based line and the cause.
public struct FaceBoxesFileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    /// 1-based line number; 0 when the file itself could not be read.
    public let line: Int
    public let reason: String

    public var description: String { line > 0 ? "\(path):\(line): \(reason)" : "\(path): \(reason)" }
}

/// `--faces boxes:FILE`: face boxes per frame from a CSV file.
///
/// One row per (frame, face): `frame,face_id,x,y,w,h` — 0-based decoded-frame index, a
/// non-negative integer id, the box's top-left corner and size in pixels (w, h > 0). An optional
/// header line starting with `frame`, blank lines and `#` comment lines are skipped; CRLF line
/// ends and a byte-order mark are accepted. Any other
/// malformed line is an error naming that line; a (frame, face_id) pair may appear only once.
public struct FaceBoxesFile: Sendable {
    /// Faces per frame index, each list in file order.
    public let faces: [Int: [TrackedFace]]

    public init(path: String) throws(FaceBoxesFileError) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FaceBoxesFileError(path: path, line: 0, reason: "cannot read: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FaceBoxesFileError(path: path, line: 0, reason: "not UTF-8 text")
        }
        try self.init(text: text, path: path)
    }

    public init(text: String, path: String = "<boxes>") throws(FaceBoxesFileError) {
        var faces: [Int: [TrackedFace]] = [:]
        var seen = Set<[Int]>()
        // Lines split on Character.isNewline: "\r\n" is one Character in Swift, so splitting on
        // "\n" alone would leave a CRLF file as one line.
        let body = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text   // a UTF-8 byte-order mark
        for (n, raw) in body.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || (n == 0 && line.lowercased().hasPrefix("frame")) { continue }
            func fail(_ reason: String) -> FaceBoxesFileError { FaceBoxesFileError(path: path, line: n + 1, reason: reason) }
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 6 else { throw fail("expected 6 fields frame,face_id,x,y,w,h, found \(f.count)") }
            guard let frame = Int(f[0]), frame >= 0 else { throw fail("frame '\(f[0])' is not a non-negative integer") }
            guard let id = Int(f[1]), id >= 0 else { throw fail("face_id '\(f[1])' is not a non-negative integer") }
            var v: [Double] = []
            for (name, s) in zip(["x", "y", "w", "h"], f[2...]) {
                guard let d = Double(s), d.isFinite else { throw fail("\(name) '\(s)' is not a number") }
                v.append(d)
            }
            guard v[2] > 0, v[3] > 0 else { throw fail("box size \(f[4])×\(f[5]) is not positive") }
            guard seen.insert([frame, id]).inserted else { throw fail("face_id \(id) appears twice in frame \(frame)") }
            faces[frame, default: []].append(TrackedFace(id: id, rect: FaceRect(x: v[0], y: v[1], width: v[2], height: v[3]), score: 1, source: .given))
        }
        self.faces = faces
    }

    /// The boxes of frame `index` (empty when the file lists none).
    public func faces(atFrame index: Int) -> [TrackedFace] { faces[index] ?? [] }
}
