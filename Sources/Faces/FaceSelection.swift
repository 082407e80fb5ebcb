/// Which of a frame's faces are analysed (`--select`).
public enum FaceSelection: String, Sendable, CaseIterable {
    /// Every face.
    case all
    /// The face with the largest box.
    case largest
    /// The face whose box centre is nearest the image centre.
    case central

    /// The faces to analyse, in the order given. Ties go to the earlier face.
    public func select(_ faces: [TrackedFace], imageWidth: Int, imageHeight: Int) -> [TrackedFace] {
        guard faces.count > 1 else { return faces }
        switch self {
        case .all:
            return faces
        case .largest:
            var best = faces[0]
            for f in faces.dropFirst() where f.rect.area > best.rect.area { best = f }
            return [best]
        case .central:
            let cx = Double(imageWidth) / 2, cy = Double(imageHeight) / 2
            func d(_ f: TrackedFace) -> Double {
                let dx = f.rect.centerX - cx, dy = f.rect.centerY - cy
                return dx * dx + dy * dy
            }
            var best = faces[0]
            for f in faces.dropFirst() where d(f) < d(best) { best = f }
            return [best]
        }
    }
}

/// `--faces center`: the largest centred square of the frame, for videos that are already face crops.
public enum CenterCrop {
    /// The square of side min(width, height), centred (the odd pixel goes right/bottom).
    public static func rect(imageWidth: Int, imageHeight: Int) -> PixelRect {
        let side = min(imageWidth, imageHeight)
        return PixelRect(x: (imageWidth - side) / 2, y: (imageHeight - side) / 2, width: side, height: side)
    }

    /// The centre square as the single face of every frame (id 0, score 1).
    public static func face(imageWidth: Int, imageHeight: Int) -> TrackedFace {
        let r = rect(imageWidth: imageWidth, imageHeight: imageHeight)
        return TrackedFace(id: 0, rect: FaceRect(r),
                           score: 1, source: .center)
    }
}
