import Foundation
import Timeline

/// `--resume`: whether an input's outputs are already what this run would write.
public enum Resume {
    /// What this run would record for an input.
    public struct Expectation: Sendable {
        public var location: String
        /// The input file's stamp now (nil for a URL).
        public var stamp: FileStamp?
        public var modelSHA256: String
        public var settings: [String: String]

        public init(location: String, stamp: FileStamp?, modelSHA256: String, settings: [String: String]) {
            self.location = location
            self.stamp = stamp
            self.modelSHA256 = modelSHA256
            self.settings = settings
        }
    }

    /// Nil when the sidecar at `sidecarPath` says `complete` for the same input (location, size,
    /// modification time), the same model file (SHA-256) and the same settings, and the timeline
    /// next to it exists: the input can be skipped. Otherwise why it is redone.
    public static func redoReason(sidecarPath: String, timelinePath: String, expected: Expectation) -> String? {
        guard let data = FileManager.default.contents(atPath: sidecarPath) else { return "no sidecar" }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return "sidecar unreadable" }
        // Sidecars from before the status contract carry only `complete`.
        let status = object["status"] as? String ?? ((object["complete"] as? Bool) == true ? "complete" : nil)
        guard status == "complete" else { return "status \(status ?? "unknown")" }
        guard FileManager.default.fileExists(atPath: timelinePath) else { return "timeline missing" }
        let source = object["source"] as? [String: Any] ?? [:]
        guard source["location"] as? String == expected.location else { return "another input" }
        let size = (source["size"] as? NSNumber)?.int64Value
        let modified = source["modified"] as? String
        if let stamp = expected.stamp {
            guard size == stamp.size, modified == stamp.modified else { return "the input changed (size or modification time)" }
        } else if size != nil || modified != nil {
            return "the input changed (size or modification time)"
        }
        let model = object["model"] as? [String: Any] ?? [:]
        guard model["sha256"] as? String == expected.modelSHA256 else { return "another model file" }
        guard let settings = object["settings"] as? [String: String], settings == expected.settings else {
            return "other settings"
        }
        return nil
    }
}
