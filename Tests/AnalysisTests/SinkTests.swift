import Foundation
import Testing
import TestSupport
import Timeline
import Video
@testable import Analysis

/// A library user's sink: records what it is told and what the outputs before it look like then.
final class ProbeSink: AnalysisSink {
    let timeline: String, sidecar: String
    var events: [String] = []
    var rowsSeen = 0
    var sidecarAtStart: TimelineSidecar?
    var sidecarAtFinish: TimelineSidecar?
    var timelineExistedAtStart = false
    init(timeline: String) {
        self.timeline = timeline
        sidecar = TimelineSidecar.path(forOutput: timeline)
    }
    func start(_ run: AnalysisRun) throws {
        events.append("start")
        timelineExistedAtStart = FileManager.default.fileExists(atPath: timeline)
        sidecarAtStart = try TimelineSidecar.read(from: sidecar)
    }
    func frame(_ result: FrameResult) throws { if events.last != "frame" { events.append("frame") } }
    func rows(_ rows: [TimelineRow]) throws { rowsSeen += rows.count }
    func close() throws { events.append("close") }
    func finish(_ end: AnalysisEnd) throws {
        events.append("finish \(end.outcome.status.rawValue)")
        sidecarAtFinish = try TimelineSidecar.read(from: sidecar)
    }
}

/// A sink that cannot start.
final class BrokenSink: AnalysisSink {
    struct Broken: Error, CustomStringConvertible { var description: String { "the probe's disk is full" } }
    func start(_ run: AnalysisRun) throws { throw Broken() }
}

@Suite struct SinkTests {
    func options(output: String) throws -> AnalyzerOptions {
        var options = try AnalyzerOptions(input: #require(samplePath("single_face.mp4")), output: output)
        options.pipeline.sampler = FrameSampler(end: 1)
        return options
    }

    @Test func theTimelineAndItsSidecarAreSinksThatBracketTheOthers() throws {
        let output = temporaryPath(".csv")
        defer { try? FileManager.default.removeItem(atPath: output); try? FileManager.default.removeItem(atPath: output + ".json") }
        let probe = ProbeSink(timeline: output)
        let analyzer = try Analyzer(options: options(output: output), faceStage: TwoFaces(),
                                    classifier: RecordingClassifier(), sinks: [probe])
        #expect(analyzer.sinks.map { "\(type(of: $0))" } == ["SidecarSink", "TimelineSink", "ProbeSink"])
        let report = try analyzer.run()
        // By the time a later sink starts, the sidecar says "running" and the timeline exists.
        #expect(probe.timelineExistedAtStart)
        #expect(probe.sidecarAtStart?.status == .partial && probe.sidecarAtStart?.reason == .running)
        #expect(probe.events == ["start", "frame", "close", "finish complete"])
        // By the time it finishes, the sidecar is final and counts the rows the timeline holds.
        let rows = try EmotionTimelineReader.read(path: output).rows.count
        #expect(rows > 0 && rows == probe.rowsSeen && rows == report.rowsWritten)
        #expect(probe.sidecarAtFinish?.status == .complete && probe.sidecarAtFinish?.rows == rows)
    }

    @Test func aSinkThatCannotStartFailsTheRunAndTheSidecarSaysSo() throws {
        let output = temporaryPath(".csv")
        defer { try? FileManager.default.removeItem(atPath: output); try? FileManager.default.removeItem(atPath: output + ".json") }
        let analyzer = try Analyzer(options: options(output: output), faceStage: TwoFaces(),
                                    classifier: RecordingClassifier(), sinks: [BrokenSink()])
        #expect(throws: BrokenSink.Broken.self) { try analyzer.run() }
        let sidecar = try TimelineSidecar.read(from: output + ".json")
        #expect(sidecar.status == .failed && sidecar.reason == .error)
        #expect(sidecar.detail == "the probe's disk is full")
        #expect(sidecar.rows == 0)
    }

    @Test func aTimelineThatCannotBeCreatedLeavesAFailedSidecar() throws {
        // A dangling link into a folder that does not exist: not a non-regular file (so it gets
        // a sidecar next to it), and the timeline cannot be created through it.
        let output = temporaryPath(".csv")
        try FileManager.default.createSymbolicLink(atPath: output, withDestinationPath: temporaryPath("/missing/x.csv"))
        defer { try? FileManager.default.removeItem(atPath: output); try? FileManager.default.removeItem(atPath: output + ".json") }
        let analyzer = try Analyzer(options: options(output: output), faceStage: TwoFaces(), classifier: RecordingClassifier())
        #expect(throws: TimelineError.self) { try analyzer.run() }
        let sidecar = try TimelineSidecar.read(from: output + ".json")
        #expect(sidecar.status == .failed && sidecar.reason == .error)
        #expect(sidecar.detail?.contains("cannot create output") == true)
    }

    @Test func noSidecarWhenTheOptionsSayNone() throws {
        let output = temporaryPath(".jsonl")
        defer { try? FileManager.default.removeItem(atPath: output) }
        var options = try options(output: output)
        options.format = .jsonl
        options.sidecar = false
        let analyzer = try Analyzer(options: options, faceStage: TwoFaces(), classifier: RecordingClassifier())
        #expect(analyzer.sinks.map { "\(type(of: $0))" } == ["TimelineSink"])
        let report = try analyzer.run()
        #expect(report.status == .complete)
        #expect(try EmotionTimelineReader.read(path: output).rows.count == report.rowsWritten)
        #expect(!FileManager.default.fileExists(atPath: output + ".json"))
    }
}
