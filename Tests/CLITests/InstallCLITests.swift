import Foundation
import Testing
import TestSupport

/// What an installed fervid relies on: `--version`, and finding its models next to itself
/// rather than in whatever `./models` the current directory holds.
@Suite("fervid installed")
struct InstallCLITests {
    /// The test process's environment without `FERVID_MODELS`, plus `extra`.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["FERVID_MODELS"] = nil
        env.merge(extra) { $1 }
        return env
    }

    /// The `weights:` line of `models info` output.
    static func weightsPath(_ out: String) -> String? {
        out.split(separator: "\n").first { $0.hasPrefix("weights:") }
            .map { String($0.dropFirst("weights:".count)).trimmingCharacters(in: .whitespaces) }
    }

    @Test("--version prints the version and the git commit the binary was built from")
    func version() throws {
        let binary = try #require(fervidBinary())
        let r = try run(binary, ["--version"])
        #expect(r.status == 0)
        let match = try #require(r.stdout.wholeMatch(of: /fervid (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)\n/),
                                 "\(r.stdout)")
        // The sidecar names the same version (one constant, FervidVersion.number).
        let dir = temporaryPath("-version")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sample = try #require(samplePath("single_face.mp4"))
        try #require(try run("ffmpeg", ["-v", "error", "-i", sample, "-frames:v", "1", dir + "/f.png"]).status == 0)
        let analyzed = try run(binary, ["analyze", dir + "/f.png", "-o", dir + "/f.csv", "--quiet"])
        try #require(analyzed.status == 0, "\(analyzed.stderr)")
        #expect(try jsonObject(dir + "/f.csv.json")["fervid_version"] as? String == String(match.output.1))

        // The oracle for the commit: git itself, when the binary is this tree's and git is here.
        let root = packageRoot().path
        guard binary.hasPrefix(root + "/.build/"), FileManager.default.fileExists(atPath: root + "/.git") else { return }
        let head = try run("git", ["-C", root, "rev-parse", "--short=12", "HEAD"])
        guard head.status == 0 else { return }
        #expect(match.output.2.prefix(12) == head.stdout.trimmingCharacters(in: .whitespacesAndNewlines).prefix(12),
                "binary built from \(match.output.2), tree at \(head.stdout) (rebuild: make build)")
    }

    @Test("the binary loads no Swift library: every library it needs is found, and each belongs to a Debian package")
    func onlyDebianLibraries() throws {
        let binary = try #require(fervidBinary())
        let ldd = try run("ldd", [binary])
        try #require(ldd.status == 0, "\(ldd.stderr)")
        var names: [String] = []
        for line in ldd.stdout.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            #expect(!text.contains("not found"), "\(text)")
            #expect(!text.lowercased().contains("swift") && !text.contains("Foundation") && !text.contains("libdispatch"),
                    "a Swift runtime library: \(text)")
            // "libavformat.so.59 => /lib/x86_64-linux-gnu/libavformat.so.59 (0x…)"
            if let arrow = text.range(of: " => ") {
                names.append(String(text[..<arrow.lowerBound]))
            } else if text.hasPrefix("/"), let path = text.split(separator: " ").first {
                names.append(String(path.split(separator: "/").last ?? ""))  // the dynamic loader
            }
        }
        #expect(names.contains("libavformat.so.59") && names.contains("libc.so.6"), "\(ldd.stdout)")
        // The binary's own NEEDED entries (the rest are theirs): dpkg's file database is the oracle
        // for "Debian's own"; it exits non-zero if any is unowned.
        let dynamic = try run("readelf", ["-d", binary])
        try #require(dynamic.status == 0, "\(dynamic.stderr)")
        let needed = dynamic.stdout.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("(NEEDED)"), let open = line.lastIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: open) ..< close])
        }
        #expect(needed.count >= 5 && Set(needed).isSubset(of: names), "\(needed)")
        let owners = try run("dpkg", ["-S"] + needed)
        #expect(owners.status == 0, "\(owners.stderr)")
    }

    @Test("a models folder planted in the current directory is not used unless asked for")
    func plantedModelsIgnored() throws {
        let binary = try #require(fervidBinary())
        let cwd = temporaryPath("-cwd")
        try FileManager.default.createDirectory(atPath: cwd + "/models", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: cwd) }
        // Not a safetensors file: used, it would fail.
        try Data("planted".utf8).write(to: URL(fileURLWithPath: cwd + "/models/mini-xception.safetensors"))

        let plain = try run(binary, ["models", "info", "mini-xception"], environment: Self.environment(), currentDirectory: cwd)
        #expect(plain.status == 0, "\(plain.stderr)")
        let used = try #require(Self.weightsPath(plain.stdout))
        #expect(!used.hasPrefix(cwd) && !used.hasPrefix("./") && !used.hasPrefix("models/"), "\(used)")
        #expect(FileManager.default.contentsEqual(atPath: used, andPath: modelsDirectory.path + "/mini-xception.safetensors"))

        // Asked for with FERVID_MODELS, the planted file is read (and rejected, naming it).
        let asked = try run(binary, ["models", "info", "mini-xception"],
                            environment: Self.environment(["FERVID_MODELS": "./models"]), currentDirectory: cwd)
        #expect(asked.status == 1)
        #expect(asked.stderr.hasPrefix("fervid: ./models/mini-xception.safetensors: "), "\(asked.stderr)")
    }

    @Test("a binary in PREFIX/bin finds its models in PREFIX/share/fervid/models, also when run from PATH")
    func modelsNextToTheBinary() throws {
        let binary = try #require(fervidBinary())
        let prefix = temporaryPath("-prefix")
        let fm = FileManager.default
        try fm.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: prefix + "/share/fervid/models", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: prefix) }
        // A copy, not a symlink: a symlink resolves back to the build tree.
        try fm.copyItem(atPath: binary, toPath: prefix + "/bin/fervid")
        let model = prefix + "/share/fervid/models/mini-xception.safetensors"
        try fm.copyItem(atPath: modelsDirectory.path + "/mini-xception.safetensors", toPath: model)

        // Found on PATH (argv[0] is then the bare name), run from an unrelated folder.
        let env = Self.environment(["PATH": prefix + "/bin:/usr/bin:/bin"])
        let r = try run("fervid", ["models", "info", "mini-xception"], environment: env, currentDirectory: "/")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.weightsPath(r.stdout) == model, "\(r.stdout)")

        // A name that is nowhere: the error lists the folders searched, the installed one first.
        let sample = try #require(samplePath("single_face.mp4"))
        let out = prefix + "/x.csv"
        let missing = try run("fervid", ["analyze", sample, "--model", "no-such-model", "-o", out],
                              environment: env, currentDirectory: "/")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("looked for no-such-model.safetensors in \(prefix)/share/fervid/models, "),
                "\(missing.stderr)")
        #expect(!fm.fileExists(atPath: out))
    }
}
