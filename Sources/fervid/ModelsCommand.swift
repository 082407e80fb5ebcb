import Analysis
import ArgumentParser
import CNN
import Foundation
import Models
import Timeline

/// `fervid models`: what a model is (architecture, parameters, input, labels), running a
/// checkpoint on a tensor file (the Swift side of `make test-reference`) and timing it
/// (`models bench`, ModelsBenchCommand.swift).
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Describe and run classifier models.",
        subcommands: [Info.self, Run.self, ModelsBench.self])

    /// A path as given, or a model name found where `analyze --model` looks (`models/NAME.safetensors`).
    static func locate(_ nameOrPath: String) -> String? {
        if FileManager.default.fileExists(atPath: nameOrPath) { return nameOrPath }
        return try? ModelLocator.resolve(nameOrPath)
    }

    /// Runs `body`, turning the engine's and the registry's errors (which already read
    /// "<path>: <cause>") into one ``CommandFailure`` naming `path`.
    static func naming<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let failure as CommandFailure {
            throw failure
        } catch let error as SafeTensorsError {
            throw CommandFailure(subject: path, cause: error.detail)
        } catch let error as CustomStringConvertible & Error {
            let text = error.description
            let prefix = path + ": "
            throw CommandFailure(subject: path, cause: text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
        }
    }

    /// The expression classifier in a checkpoint, through the model registry.
    static func loadClassifier(_ path: String) throws -> ExpressionModel {
        try naming(path) { try ModelRegistry.loadClassifier(path: path) }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a model's architecture, parameter count, input and labels.",
            discussion: "Without an argument, lists the built-in DBA-Net architectures (Table II of the paper).")

        @Argument(help: "A built-in name such as dbanet-resnet101-dba, or a .safetensors checkpoint.")
        var model: String?

        func run() throws {
            guard let model else {
                print("name                          parameters")
                for name in ModelRegistry.builtInNames {
                    let count = ModelRegistry.describe(builtIn: name)?.first { $0.0 == "parameters" }?.1 ?? "?"
                    print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + count.leftPadded(13))
                }
                return
            }
            let lines: [(String, String)]
            if let builtIn = ModelRegistry.describe(builtIn: model) {
                lines = builtIn
            } else {
                guard let path = ModelsCommand.locate(model) else {
                    throw CommandFailure(subject: model, cause: "neither a model file nor a built-in name (\(ModelRegistry.builtInNames.count) names: `fervid models info` lists them)")
                }
                lines = try ModelsCommand.naming(path) { try ModelRegistry.describe(file: SafeTensorsFile(path: path)) }
            }
            for (key, value) in lines {
                print((key + ":").padding(toLength: 14, withPad: " ", startingAt: 0) + value)
            }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a checkpoint on a tensor file: `input` (N, C, H, W) in, `logits` and `probabilities` out.")

        @Argument(help: "A DBA-Net or mini-Xception .safetensors checkpoint, or mtcnn-pnet, mtcnn-rnet, mtcnn-onet (the face detector's networks; `logits` = their outputs concatenated per image).")
        var checkpoint: String

        @Option(help: "safetensors file with a float tensor `input` of shape (N, C, H, W), already normalized (DBA-Net: C = 3; mini-Xception: (N, 1, 64, 64)).")
        var input: String

        @Option(help: "safetensors file to write `logits` and `probabilities` (N, K) to.")
        var output: String

        @Flag(help: "Replace --output even when it is an existing file fervid did not write (by default refused).")
        var overwrite = false

        func run() throws {
            // Before any work: --output is neither input nor a file fervid did not write.
            do {
                try OutputSafety.check(inputs: [("--input", input), ("checkpoint", checkpoint)], outputs: [("--output", output)])
            } catch {
                throw CommandFailure(subject: "\(error.outputRole) \(error.output)", cause: error.cause, exitCode: ExitStatus.usage)
            }
            if !overwrite {
                do { try OutputSafety.checkOwnership([(role: "--output", path: output, kind: .tensorOutput)]) } catch {
                    throw CommandFailure(subject: "\(error.role) \(error.path)", cause: error.cause, exitCode: ExitStatus.usage)
                }
            }
            if let network = MTCNNNetwork(rawValue: checkpoint) {
                try runMTCNN(network)
                return
            }
            let model = try ModelsCommand.loadClassifier(checkpoint)
            let x: Tensor
            do {
                let file = try SafeTensorsFile(path: input)
                guard let shape = file.shape(of: "input") else {
                    throw CommandFailure(subject: input, cause: "no tensor named 'input'")
                }
                if let expected = model.expectedInput(for: shape) {
                    throw CommandFailure(subject: input, cause: "'input' has shape \(shape), expected \(expected)")
                }
                x = Tensor(shape: shape, values: try file.floats("input"))
            } catch let error as SafeTensorsError {
                throw CommandFailure(subject: input, cause: error.detail)
            }
            let labels = model.labels
            let forward = { (x: Tensor) in (model.logits(x).toArray(), model.probabilities(x).toArray()) }
            let (logits, probabilities) = forward(x)
            let shape = [x.shape[0], labels.count]
            do {
                try writeSafeTensors(path: output, tensors: [("logits", shape, logits), ("probabilities", shape, probabilities)],
                                     metadata: ["fervid.labels": labels.joined(separator: ",")])
            } catch {
                throw CommandFailure(subject: output, cause: error.detail)
            }
        }

        /// One of MTCNN's networks: `logits` = its outputs concatenated per image (`MTCNNNetwork`).
        private func runMTCNN(_ network: MTCNNNetwork) throws {
            let nets = try MTCNNNetwork.load()
            let x: Tensor
            do {
                let file = try SafeTensorsFile(path: input)
                guard let shape = file.shape(of: "input") else {
                    throw CommandFailure(subject: input, cause: "no tensor named 'input'")
                }
                guard network.accepts(shape) else {
                    let expected = network == .pnet ? "(N, 3, H, W) with H, W >= 12" : "(N, \(network.inputShape.map(String.init).joined(separator: ", ")))"
                    throw CommandFailure(subject: input, cause: "'input' has shape \(shape), expected \(expected)")
                }
                x = Tensor(shape: shape, values: try file.floats("input"))
            } catch let error as SafeTensorsError {
                throw CommandFailure(subject: input, cause: error.detail)
            }
            let y = network.forward(nets)(x)
            do {
                try writeSafeTensors(path: output, tensors: [("logits", y.shape, y.toArray())], metadata: ["fervid.model": network.rawValue])
            } catch {
                throw CommandFailure(subject: output, cause: error.detail)
            }
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
