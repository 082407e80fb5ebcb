import Foundation
import Testing
@testable import Timeline

@Suite struct OutputSafetyTests {
    @Test("an output that is an input: same path, ./.. spellings, symbolic and hard links")
    func outputIsInput() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("in.mp4")
        try Data("video".utf8).write(to: URL(fileURLWithPath: input))
        try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: true)
        try FileManager.default.linkItem(atPath: input, toPath: dir.file("hard.csv"))
        try FileManager.default.createSymbolicLink(atPath: dir.file("soft.csv"), withDestinationPath: input)
        try FileManager.default.createSymbolicLink(atPath: dir.file("subdir"), withDestinationPath: dir.file("sub"))
        for output in [input, dir.file("sub/../in.mp4"), dir.file("./in.mp4"), dir.file("hard.csv"), dir.file("soft.csv"),
                       dir.file("subdir/../in.mp4")] {
            #expect(throws: PathClash(output: output, outputRole: "-o", other: input, otherRole: "input", otherIsInput: true)) {
                try OutputSafety.check(inputs: [("input", input)], outputs: [("-o", output)])
            }
        }
        // A different file, a new file: fine.
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.file("other.csv")))
        try OutputSafety.check(inputs: [("input", input)], outputs: [("-o", dir.file("other.csv")), ("-o", dir.file("new.csv"))])
    }

    @Test("two outputs that are one file, existing or not; devices never clash")
    func outputsClash() throws {
        let dir = TemporaryDirectory()
        let a = dir.file("a.csv")
        #expect(throws: PathClash.self) {
            try OutputSafety.check(inputs: [], outputs: [("-o", a), ("--plot", dir.file("./a.csv"))])
        }
        try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: true)
        #expect(throws: PathClash(output: dir.file("sub/../a.csv"), outputRole: "--plot", other: a, otherRole: "-o",
                                    otherIsInput: false)) {
            try OutputSafety.check(inputs: [], outputs: [("-o", a), ("--plot", dir.file("sub/../a.csv"))])
        }
        try OutputSafety.check(inputs: [("input", "/dev/null")], outputs: [("-o", "/dev/null"), ("--plot", "/dev/null")])
        try OutputSafety.check(inputs: [("input", "http://example.com/a.mp4")], outputs: [("-o", "a.mp4")])
    }

    @Test("the clash message names both paths and says nothing was written")
    func message() {
        let clash = PathClash(output: "g.mp4", outputRole: "--annotate", other: "g.mp4", otherRole: "-o", otherIsInput: false)
        #expect(clash.description == "--annotate g.mp4 is also the -o output g.mp4 (the same file); refusing to run, nothing was written")
    }
}

@Suite struct AtomicWriteTests {
    @Test("writeAtomically replaces a file whole and leaves no temporary file; a symlink's target is replaced")
    func replaces() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.json")
        try writeAtomically(Data("one".utf8), to: path)
        try writeAtomically(Data("two".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
        try FileManager.default.createSymbolicLink(atPath: dir.file("link.json"), withDestinationPath: path)
        try writeAtomically(Data("three".utf8), to: dir.file("link.json"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "three")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("link.json")) == path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["link.json", "s.json"])
    }

    @Test("a device is written in place, never replaced; /dev/full is an error with the OS's reason")
    func devices() throws {
        try writeAtomically(Data("x".utf8), to: "/dev/null")
        var st = stat()
        #expect(stat("/dev/null", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR)
        #expect(throws: TimelineError.io(path: "/dev/full", reason: "write failed: No space left on device")) {
            try writeAtomically(Data("x".utf8), to: "/dev/full")
        }
        let dir = TemporaryDirectory()
        #expect(throws: TimelineError.io(path: dir.file("no/such.json"), reason: "cannot write: no such directory \(dir.file("no"))")) {
            try writeAtomically(Data("x".utf8), to: dir.file("no/such.json"))
        }
    }

    @Test("sidecar path: next to regular files and new paths only")
    func sidecarPath() {
        #expect(TimelineSidecar.path(forOutputIfRegular: "-") == nil)
        #expect(TimelineSidecar.path(forOutputIfRegular: "/dev/null") == nil)
        #expect(TimelineSidecar.path(forOutputIfRegular: "/tmp/new-\(UUID()).csv")?.hasSuffix(".csv.json") == true)
    }
}
