// libFuzzer target: the `--faces boxes:FILE` CSV reader, and the crop geometry every box it
// accepts goes through (fer's integer crop, DBA-Net's square + margin), on a 640×360 frame.
import Analysis
import Faces
import Foundation
import Models
import FuzzDriver

// Also exported under libFuzzer's name (see FuzzDriver).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzBoxes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    guard let text = String(data: Data(bytes: data, count: size), encoding: .utf8),
          let file = try? FaceBoxesFile(text: text) else { return 0 }
    for faces in file.faces.values {
        for face in faces {
            _ = face.rect.clamped(toWidth: 640, height: 360)
            _ = CropGeometry.squarePlusPixels(10).rect(for: face.rect, imageWidth: 640, imageHeight: 360)
            _ = CropGeometry.squarePlusFraction(0.1).rect(for: face.rect, imageWidth: 640, imageHeight: 360)
        }
        _ = FaceSelection.largest.select(faces, imageWidth: 640, imageHeight: 360)
        _ = FaceSelection.central.select(faces, imageWidth: 640, imageHeight: 360)
    }
    return 0
}

runFuzzer(fuzzBoxes)
