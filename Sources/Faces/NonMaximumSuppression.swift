/// How two boxes' overlap is measured in non-maximum suppression.
public enum OverlapMeasure: Sendable {
    /// Intersection over union, areas as (x2 − x1)(y2 − y1) (torchvision's `nms`).
    case union
    /// Intersection over the smaller area, areas as (x2 − x1 + 1)(y2 − y1 + 1) (MTCNN's "Min").
    case minimum
}

/// Greedy non-maximum suppression: visits boxes by descending score (ties: lower index first),
/// keeps a box and drops every later one whose overlap with it exceeds `threshold`.
/// `boxes` holds (x1, y1, x2, y2) per box. Returns the kept indices, best first.
public func nonMaximumSuppression(boxes: [SIMD4<Float>], scores: [Float], threshold: Float,
                                  measure: OverlapMeasure = .union) -> [Int] {
    precondition(boxes.count == scores.count, "nonMaximumSuppression: \(boxes.count) boxes, \(scores.count) scores")
    let order = boxes.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
    let plus: Float = measure == .minimum ? 1 : 0
    let area = boxes.map { ($0[2] - $0[0] + plus) * ($0[3] - $0[1] + plus) }
    var suppressed = [Bool](repeating: false, count: boxes.count)
    var keep: [Int] = []
    for (k, i) in order.enumerated() where !suppressed[i] {
        keep.append(i)
        let a = boxes[i]
        for j in order[(k + 1)...] where !suppressed[j] {
            let b = boxes[j]
            let iw = max(0, min(a[2], b[2]) - max(a[0], b[0]) + plus)
            let ih = max(0, min(a[3], b[3]) - max(a[1], b[1]) + plus)
            let inter = iw * ih
            let overlap = measure == .minimum ? inter / min(area[i], area[j]) : inter / (area[i] + area[j] - inter)
            if overlap > threshold { suppressed[j] = true }
        }
    }
    return keep
}
