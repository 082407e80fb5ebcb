import ArgumentParser
import CNN
import Foundation
import Models

/// `fervid models`: what a model is (architecture, parameters, input, labels) and running a
/// checkpoint on a tensor file (the Swift side of `make test-reference`).
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Describe and run classifier models.",
        subcommands: [Info.self, Run.self])

    /// Reads a DBA-Net description from a built-in name or a checkpoint path.
    static func describe(_ nameOrPath: String) throws -> (metadata: DBANetMetadata, model: DBANet, checkpoint: String?) {
        if let metadata = DBANetMetadata.builtIn(nameOrPath) {
            return (metadata, DBANet(metadata), nil)
        }
        guard FileManager.default.fileExists(atPath: nameOrPath) else {
            throw CommandFailure(subject: nameOrPath, cause: "neither a model file nor a built-in name (\(DBANetMetadata.builtInNames.count) names: `fervid models info` lists them)")
        }
        let (model, metadata) = try load(nameOrPath)
        return (metadata, model, nameOrPath)
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

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a checkpoint on a tensor file: `input` (N, 3, H, W) in, `logits` and `probabilities` out.")

        @Argument(help: "A DBA-Net .safetensors checkpoint.")
        var checkpoint: String

        @Option(help: "safetensors file with a float tensor `input` of shape (N, 3, H, W), already normalized.")
        var input: String

        @Option(help: "safetensors file to write `logits` and `probabilities` (N, K) to.")
        var output: String

        func run() throws {
            let (model, metadata) = try ModelsCommand.load(checkpoint)
            let x: Tensor
            do {
                let file = try SafeTensorsFile(path: input)
                guard let shape = file.shape(of: "input") else {
                    throw CommandFailure(subject: input, cause: "no tensor named 'input'")
                }
                guard shape.count == 4, shape[0] > 0, shape[1] == 3, shape[2] >= 32, shape[3] >= 32 else {
                    throw CommandFailure(subject: input, cause: "'input' has shape \(shape), expected (N, 3, H, W) with H, W >= 32")
                }
                x = Tensor(shape: shape, values: try file.floats("input"))
            } catch let error as SafeTensorsError {
                throw CommandFailure(subject: input, cause: error.detail)
            }
            let logits = model(x).toArray()
            let probabilities = model.probabilities(x).toArray()
            let shape = [x.shape[0], metadata.labels.count]
            do {
                try writeSafeTensors(path: output, tensors: [("logits", shape, logits), ("probabilities", shape, probabilities)],
                                     metadata: ["fervid.labels": metadata.labels.joined(separator: ",")])
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
