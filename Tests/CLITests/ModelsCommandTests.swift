import Foundation
import Testing
import TestSupport

/// Runs the fervid binary under test (Support.swift) with `arguments`.
func runFervid(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let binary = try #require(fervidBinary())
    let r = try run(binary, arguments)
    return (r.status, r.stdout, r.stderr)
}

@Suite("fervid models")
struct ModelsCommandTests {
    @Test("`models info` lists Table II's parameter counts")
    func table() throws {
        let r = try runFervid(["models", "info"])
        #expect(r.status == 0)
        for (name, count) in [("dbanet-vgg16-baseline", "134,289,223"), ("dbanet-vgg16-awodb", "14,801,823"),
                              ("dbanet-vgg16-dba", "15,834,911"), ("dbanet-vgg16_bn-baseline", "134,297,671"),
                              ("dbanet-vgg16_bn-awodb", "14,810,271"), ("dbanet-vgg16_bn-dba", "15,843,359"),
                              ("dbanet-resnet101-baseline", "42,514,503"), ("dbanet-resnet101-awodb", "43,227,447"),
                              ("dbanet-resnet101-dba", "49,193,015"), ("dbanet-densenet161-baseline", "26,487,463"),
                              ("dbanet-densenet161-awodb", "27,775,261"), ("dbanet-densenet161-dba", "42,911,197")] {
            let line = r.out.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            #expect(line?.hasSuffix(" " + count) == true, "\(name): \(line ?? "missing")")
        }
    }

    @Test("`models info NAME` prints architecture, parameters, input and labels")
    func info() throws {
        let r = try runFervid(["models", "info", "dbanet-densenet161-dba"])
        #expect(r.status == 0)
        #expect(r.out.contains("backbone densenet161, strategy dba"))
        #expect(r.out.contains("parameters:   42,911,197"))
        #expect(r.out.contains("input:        100x100 RGB"))
        #expect(r.out.contains("labels:       angry, disgust, fear, happy, neutral, sad, surprise"))
    }

    @Test("an unknown model is one error line and exit status 1")
    func unknown() throws {
        let r = try runFervid(["models", "info", "dbanet-resnet50-dba"])
        #expect(r.status == 1)
        #expect(r.err.hasPrefix("fervid: dbanet-resnet50-dba: "))
        #expect(r.err.split(separator: "\n").count == 1)
    }

    @Test("a malformed checkpoint is one error line naming the file")
    func malformed() throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("fervid-bad-\(ProcessInfo.processInfo.processIdentifier).safetensors").path
        // Header length 2^63 − 1: far past the end of a 9-byte file.
        try Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x7B]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        for arguments in [["models", "info", path],
                          ["models", "run", path, "--input", path, "--output", path + ".out"]] {
            let r = try runFervid(arguments)
            #expect(r.status == 1)
            #expect(r.err.hasPrefix("fervid: \(path): "), "\(r.err)")
            #expect(r.err.split(separator: "\n").count == 1)
        }
    }
}

@Suite struct ShippedModelsInfoTests {
    /// Parameter counts from docs/assets.md (the original packages' own counts).
    @Test(arguments: [("mini-xception", "58,423", "angry, disgust, fear, happy, sad, surprise, neutral"),
                      ("mtcnn", "495,850", "background, face")])
    func infoDescribesTheShippedModels(_ name: String, _ parameters: String, _ labels: String) throws {
        guard let bin = fervidBinary() else { return }
        let result = try run(bin, ["models", "info", name])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("parameters:   \(parameters)"), "\(result.stdout)")
        #expect(result.stdout.contains("labels:       \(labels)"))
    }
}
