import Foundation
import PollenApps
import PollenKernels
import PollenML
import Testing

/// The Python ClientApp a Pollen SuperLink serves Flower SuperNodes (`Sources/PollenLink/FlowerApp/client_app.py`)
/// against Pollen's own tabular training, as an oracle: on one site's CSV, the same held-out rows, and after local
/// training from the same model with the same seed, node and round, the same parameters up to float32 rounding and
/// the same evaluation. Run with Flower's Python from `scripts/flower-venv`.
@Suite(.enabled(if: FlowerPython.path != nil, "Flower 1.42 could not be installed (scripts/flower-venv failed); the Python ClientApp's oracle is skipped"))
struct FlowerClientAppTests {
    @Test(arguments: [
        (ModelKind.logisticRegression, OptimizerKind.sgd(momentum: 0), "sgd"),
        (ModelKind.mlp(hidden: [8, 4]), OptimizerKind.adam, "adam"),
        (ModelKind.mlp(hidden: [6]), OptimizerKind.sgd(momentum: 0.9), "sgd"),
    ])
    func trainsAndEvaluatesAsPollensClientAppDoes(model: ModelKind, optimizer: OptimizerKind, optimizerName: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-flower-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // One site: every third row of the bundled breast-cancer set.
        let source = try String(
            contentsOf: FlowerPython.repositoryRoot.appendingPathComponent("Sources/PollenApps/Datasets/breast_cancer.csv"), encoding: .utf8
        )
        let lines = source.split(separator: "\n")
        let site = directory.appendingPathComponent("site.csv")
        try ([lines[0]] + lines.dropFirst().enumerated().filter { $0.offset % 3 == 1 }.map(\.element)).joined(separator: "\n")
            .write(to: site, atomically: true, encoding: .utf8)

        // Pollen: what `TabularClientApp` does with a train and an evaluate message.
        let data = try CSVLoader(labelColumn: "diagnosis").load(path: site.path)
        let split = try TrainTestSplit.split(rows: Array(0..<data.rowCount), labels: data.labels, testFraction: 0.2, seed: 0)
        let standardizer = Standardizer(fitting: data.subset(split.train))
        let train = standardizer.transform(data.subset(split.train)), test = standardizer.transform(data.subset(split.test))
        let network = try NeuralNetwork(kind: model, featureCount: data.featureCount, classCount: 2)
        let initial = network.initialParameters(seed: 5).enumerated().map { $0.element + Float($0.offset % 7) * 0.01 }
        var parameters = initial
        let (node, round, seed): (UInt64, Int, UInt64) = (12_345_678_901_234_567_890, 3, 42)
        var generator = SeededGenerator(seed: seed, stream: [node, UInt64(round)])
        let options = TrainingOptions(epochs: 2, batchSize: 16, learningRate: 0.05, optimizer: optimizer)
        let summary = try Training.train(network, parameters: &parameters, on: train, options: options, generator: &generator)
        let evaluation = try Training.evaluate(network, parameters: parameters, on: test)

        // Python: the same steps through the ClientApp's functions.
        let layers = network.layers.map { layer in
            [Array(initial[layer.weightOffset..<layer.biasOffset]), Array(initial[layer.biasOffset..<(layer.biasOffset + layer.outputs)])]
        }
        let input: [String: Any] = [
            "csv": site.path, "mean": standardizer.means, "std": standardizer.standardDeviations,
            "shapes": network.layers.map { [$0.outputs, $0.inputs] }, "layers": layers, "node": node, "round": round, "seed": seed,
            "config": [
                "local-epochs": 2, "batch-size": 16, "learning-rate": 0.05, "optimizer": optimizerName,
                "momentum": { if case .sgd(let momentum) = optimizer { momentum } else { 0 } }(),
            ] as [String: Any],
        ]
        try JSONSerialization.data(withJSONObject: input).write(to: directory.appendingPathComponent("input.json"))
        let output = try FlowerPython.run(Self.oracle, arguments: [directory.appendingPathComponent("input.json").path])
        let python = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")

        #expect(python["test"] as? [Int] == split.test, "the held-out rows differ")
        let trained = try #require(python["parameters"] as? [Double])
        try #require(trained.count == parameters.count)
        let largest = zip(trained, parameters).map { abs($0 - Double($1)) }.max() ?? 0
        #expect(largest < 1e-4, "parameters differ by up to \(largest)")
        #expect(abs((python["loss"] as? Double ?? .nan) - summary.meanLoss) < 1e-4)
        let metrics = try #require(python["metrics"] as? [String: Double])
        // (Foundation's JSON reader may miss a double's last bit.)
        #expect(abs((metrics["eval-accuracy"] ?? .nan) - evaluation.accuracy) < 1e-12)
        #expect(abs((metrics["eval-loss"] ?? .nan) - evaluation.loss) < 1e-4)
        #expect(abs((metrics["eval-auc"] ?? .nan) - (evaluation.rocAUC ?? .nan)) < 1e-6)
        #expect(metrics["num-examples"] == Double(evaluation.exampleCount))
    }

    /// Reads the input, runs the ClientApp's data, training and evaluation functions, prints what they made.
    static let oracle = """
        import json, sys
        import numpy as np
        sys.path.insert(0, sys.argv[2])
        import client_app as c
        spec = json.load(open(sys.argv[1]))
        features, labels = c.read_csv(spec["csv"], "diagnosis")
        train, test = c.split_rows(labels, 0.2, 0)
        x = c.standardize(features[train], spec["mean"], spec["std"])
        layers = [[np.asarray(w, dtype=np.float32).reshape(shape), np.asarray(b, dtype=np.float32)] for (w, b), shape in zip(spec["layers"], spec["shapes"])]
        loss = c.train_layers(layers, x, labels[train], spec["config"], c.SeededGenerator(spec["seed"], [spec["node"], spec["round"]]))
        metrics = c.evaluate_layers(layers, c.standardize(features[test], spec["mean"], spec["std"]), labels[test])
        flat = [float(v) for layer in layers for array in layer for v in array.ravel()]
        print(json.dumps({"test": test, "parameters": flat, "loss": loss, "metrics": metrics}))
        """
}

/// Flower's Python, from the venv `scripts/flower-venv` makes; `nil` when it cannot be made.
enum FlowerPython {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let path: String? = {
        let found = try? capture(repositoryRoot.appendingPathComponent("scripts/flower-venv").path, [])
        return found.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }()

    /// Runs the Python `script` with `arguments` and then the ClientApp's folder; what it printed.
    static func run(_ script: String, arguments: [String]) throws -> String {
        try capture(path!, ["-c", script] + arguments + [repositoryRoot.appendingPathComponent("Sources/PollenLink/FlowerApp").path])
    }

    /// What `executable` printed, or a failure with what it complained.
    private static func capture(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile(), complaints = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FlowerPythonError(description: "\(executable) failed: \(String(decoding: complaints, as: UTF8.self))")
        }
        return String(decoding: printed, as: UTF8.self)
    }

    struct FlowerPythonError: Error, CustomStringConvertible {
        let description: String
    }
}
