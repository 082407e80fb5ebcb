import Analysis
import ArgumentParser
import CNN
import Foundation
import Models

/// `fervid models`: what a model is (architecture, parameters, input, labels), running a
/// checkpoint on a tensor file (the Swift side of `make test-reference`) and timing it
/// (`models bench`, ModelsBenchCommand.swift).
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Describe and run classifier models.",
        subcommands: [Info.self, Run.self, ModelsBench.self])

    /// Reads a DBA-Net description from a built-in name or a checkpoint path.
    static func describe(_ nameOrPath: String) throws -> (metadata: DBANetMetadata, model: DBANet, checkpoint: String?) {
        if let metadata = DBANetMetadata.builtIn(nameOrPath) {
            return (metadata, DBANet(metadata), nil)
        }
        guard let path = locate(nameOrPath) else {
            throw CommandFailure(subject: nameOrPath, cause: "neither a model file nor a built-in name (\(DBANetMetadata.builtInNames.count) names: `fervid models info` lists them)")
        }
        let (model, metadata) = try load(path)
        return (metadata, model, path)
    }

    /// A path as given, or a model name found where `analyze --model` looks (`models/NAME.safetensors`).
    static func locate(_ nameOrPath: String) -> String? {
        if FileManager.default.fileExists(atPath: nameOrPath) { return nameOrPath }
        return try? ModelLocator.resolve(nameOrPath)
    }

    static func load(_ path: String) throws -> (DBANet, DBANetMetadata) {
        do {
            return try DBANet.load(contentsOf: path)
        } catch let error as CustomStringConvertible & Error {
            // The engine's and the model's errors already read "<path>: <cause>".
            let text = error.description
            let prefix = path + ": "
            throw CommandFailure(subject: path, cause: text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
        }
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
                for name in DBANetMetadata.builtInNames {
                    let count = DBANet(DBANetMetadata.builtIn(name)!).parameterCount
                    print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + grouped(count).leftPadded(13))
                }
                return
            }
            if DBANetMetadata.builtIn(model) == nil, let path = ModelsCommand.locate(model),
               let file = try? SafeTensorsFile(path: path), let arch = file.metadata["fervid.arch"], arch != "dbanet" {
                ModelsCommand.describeShipped(file, path: path, arch: arch)
                return
            }
            let (m, net, checkpoint) = try ModelsCommand.describe(model)
            print("name:         \(m.name)")
            print("architecture: DBA-Net, backbone \(m.backbone.rawValue), strategy \(m.strategy.rawValue)")
            print("parameters:   \(grouped(net.parameterCount))")
            print("input:        \(m.inputSize.height)x\(m.inputSize.width) RGB in [0, 1], (x - mean) / std, "
                  + "mean \(m.mean.map { "\($0)" }.joined(separator: ",")), std \(m.std.map { "\($0)" }.joined(separator: ","))")
            print("labels:       \(m.labels.joined(separator: ", "))")
            if let checkpoint {
                print("weights:      \(checkpoint) (\(net.tensorSpecs.count) tensors, all present with the expected shapes)")
            } else {
                print("weights:      none (architecture only; train with tools/reference/train.py)")
            }
        }
    }

    /// The shipped models (mini-Xception, MTCNN): what their converter wrote into the metadata,
    /// and the parameter count of the file's tensors.
    static func describeShipped(_ file: SafeTensorsFile, path: String, arch: String) {
        let m = file.metadata
        let parameters = file.names.reduce(0) { $0 + (file.shape(of: $1) ?? []).reduce(1, *) }
        print("name:         \((path as NSString).lastPathComponent)")
        print("architecture: \(arch)\(m["fervid.networks"].map { " (\($0))" } ?? "")")
        print("parameters:   \(grouped(parameters)) (\(file.names.count) tensors)")
        let colour = m["fervid.colour"] ?? "?", size = m["fervid.input_size"] ?? "?"
        print("input:        \(size) \(colour), \(m["fervid.normalisation"] ?? "")")
        print("labels:       \((m["fervid.labels"] ?? "").split(separator: ",").joined(separator: ", "))")
        if let source = m["fervid.source"] { print("source:       \(source)") }
        if let licence = m["fervid.licence"] { print("licence:      \(licence)") }
        print("weights:      \(path)")
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

        func run() throws {
            if let network = MTCNNNetwork(rawValue: checkpoint) {
                try runMTCNN(network)
                return
            }
            // mini-Xception (the shipped model) or DBA-Net, by the file's fervid.arch.
            let isMiniXception = (try? SafeTensorsFile(path: checkpoint))?.metadata["fervid.arch"] == "mini-xception"
            let labels: [String]
            let forward: (Tensor) -> (logits: [Float], probabilities: [Float])
            let channels: Int
            if isMiniXception {
                let model: MiniXception
                do {
                    model = try MiniXception(path: checkpoint)
                } catch {
                    throw CommandFailure(subject: checkpoint, cause: "\(error)")
                }
                labels = MiniXception.labels
                channels = 1
                forward = { x in (model.logits(x).toArray(), model(x).toArray()) }
            } else {
                let (model, metadata) = try ModelsCommand.load(checkpoint)
                labels = metadata.labels
                channels = 3
                forward = { x in (model(x).toArray(), model.probabilities(x).toArray()) }
            }
            let x: Tensor
            do {
                let file = try SafeTensorsFile(path: input)
                guard let shape = file.shape(of: "input") else {
                    throw CommandFailure(subject: input, cause: "no tensor named 'input'")
                }
                let sizeOK = isMiniXception ? shape.count == 4 && shape[2] == MiniXception.inputSize && shape[3] == MiniXception.inputSize
                                            : shape.count == 4 && shape[2] >= 32 && shape[3] >= 32
                guard shape.count == 4, shape[0] > 0, shape[1] == channels, sizeOK else {
                    let expected = isMiniXception ? "(N, 1, 64, 64)" : "(N, 3, H, W) with H, W >= 32"
                    throw CommandFailure(subject: input, cause: "'input' has shape \(shape), expected \(expected)")
                }
                x = Tensor(shape: shape, values: try file.floats("input"))
            } catch let error as SafeTensorsError {
                throw CommandFailure(subject: input, cause: error.detail)
            }
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

/// 49193015 -> "49,193,015".
private func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(d)
    }
    return out
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
