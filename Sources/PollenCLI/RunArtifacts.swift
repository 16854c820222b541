import Foundation
import PollenCore
import PollenApps
import PollenML
import PollenStrategy

/// Writes a simulation's artifacts into `runs/<run-id>/`: the resolved configuration, per-round metrics as JSON
/// and CSV, a learning-curve chart, a summary, and the final model's arrays as `.npy` files.
enum RunArtifacts {
    /// Creates a fresh run folder under `root` and writes every artifact; returns the folder's path.
    static func write(report: SimulationReport, settings: SimulationSettings, root: String) throws -> String {
        let directory = try makeRunDirectory(root: root)
        try write(text: configTOML(settings), to: "\(directory)/pollen.toml")
        let rows = report.outcome.result.rounds.map(MetricsRow.init)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(rows).write(to: URL(fileURLWithPath: "\(directory)/metrics.json"))
        try write(text: csv(rows), to: "\(directory)/metrics.csv")
        try encoder.encode(Summary(report)).write(to: URL(fileURLWithPath: "\(directory)/summary.json"))
        try write(text: chart(report).svg(), to: "\(directory)/learning-curve.svg")
        let modelDirectory = "\(directory)/model"
        try FileManager.default.createDirectory(atPath: modelDirectory, withIntermediateDirectories: true)
        for (name, tensor) in report.outcome.result.arrays {
            try NPYFormat.write(tensor, to: "\(modelDirectory)/\(name).npy")
        }
        return directory
    }

    /// `root/<yyyyMMdd-HHmmss>-<4 hex digits>`, created; the random suffix keeps two runs in one second apart.
    private static func makeRunDirectory(root: String) throws -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let suffix = String(format: "%04x", UInt16.random(in: 0...UInt16.max))
        let directory = "\(root)/\(formatter.string(from: Date()))-\(suffix)"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create the run folder '\(directory)': \(error.localizedDescription); choose another with --output")
        }
        return directory
    }

    private static func write(text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// One round's metrics, as stored in `metrics.json` and `metrics.csv`.
    struct MetricsRow: Codable {
        var round: Int
        var trainLoss: Double?
        var evalLoss: Double?
        var evalAccuracy: Double?
        var testLoss: Double?
        var testAccuracy: Double?
        var testAUC: Double?
        var trainReplies: Int
        var trainFailures: Int
        var seconds: Double

        init(_ report: RoundReport) {
            round = report.round
            trainLoss = report.train.metrics?[TabularMetrics.trainLoss]?.doubleValue
            evalLoss = report.evaluate?.metrics?[TabularMetrics.evalLoss]?.doubleValue
            evalAccuracy = report.evaluate?.metrics?[TabularMetrics.evalAccuracy]?.doubleValue
            testLoss = report.centralMetrics?[TabularMetrics.evalLoss]?.doubleValue
            testAccuracy = report.centralMetrics?[TabularMetrics.evalAccuracy]?.doubleValue
            testAUC = report.centralMetrics?[TabularMetrics.evalAUC]?.doubleValue
            trainReplies = report.train.tally.succeeded
            trainFailures = report.train.tally.failed
            seconds = report.seconds
        }

        enum CodingKeys: String, CodingKey {
            case round, seconds
            case trainLoss = "train-loss", evalLoss = "eval-loss", evalAccuracy = "eval-accuracy"
            case testLoss = "test-loss", testAccuracy = "test-accuracy", testAUC = "test-auc"
            case trainReplies = "train-replies", trainFailures = "train-failures"
        }
    }

    /// The final comparison, as stored in `summary.json`.
    struct Summary: Codable {
        var dataset: String
        var nodes: Int
        var rounds: Int
        var federatedTestAccuracy: Double
        var federatedTestLoss: Double
        var federatedTestAUC: Double?
        var centralTestAccuracy: Double
        var centralTestLoss: Double
        var centralTestAUC: Double?
        var seconds: Double

        init(_ report: SimulationReport) {
            dataset = report.datasetSummary
            nodes = report.nodeTrainSizes.count
            rounds = report.outcome.result.rounds.count
            federatedTestAccuracy = report.federated.accuracy
            federatedTestLoss = report.federated.loss
            federatedTestAUC = report.federated.rocAUC
            centralTestAccuracy = report.central.accuracy
            centralTestLoss = report.central.loss
            centralTestAUC = report.central.rocAUC
            seconds = report.seconds
        }
    }

    private static func csv(_ rows: [MetricsRow]) -> String {
        func cell(_ value: Double?) -> String { value.map { String($0) } ?? "" }
        var text = "round,train-loss,eval-loss,eval-accuracy,test-loss,test-accuracy,test-auc,train-replies,train-failures,seconds\n"
        for row in rows {
            text += [
                String(row.round), cell(row.trainLoss), cell(row.evalLoss), cell(row.evalAccuracy), cell(row.testLoss),
                cell(row.testAccuracy), cell(row.testAUC), String(row.trainReplies), String(row.trainFailures), String(row.seconds),
            ].joined(separator: ",") + "\n"
        }
        return text
    }

    private static func chart(_ report: SimulationReport) -> LearningCurveChart {
        let rounds = report.outcome.result.rounds
        func points(_ value: (RoundReport) -> Double?) -> [(round: Int, value: Double)] {
            rounds.compactMap { report in value(report).map { (report.round, $0) } }
        }
        return LearningCurveChart(
            title: "Pollen FedAvg on \(report.datasetSummary), \(report.nodeTrainSizes.count) nodes",
            series: [
                .init(name: "test accuracy (global split)", color: "#1f77b4", dashed: false, onLossAxis: false,
                      points: points { $0.centralMetrics?[TabularMetrics.evalAccuracy]?.doubleValue }),
                .init(name: "eval accuracy (nodes)", color: "#2ca02c", dashed: false, onLossAxis: false,
                      points: points { $0.evaluate?.metrics?[TabularMetrics.evalAccuracy]?.doubleValue }),
                .init(name: "central model accuracy", color: "#7f7f7f", dashed: true, onLossAxis: false,
                      points: rounds.isEmpty ? [] : [(rounds.first!.round, report.central.accuracy), (rounds.last!.round, report.central.accuracy)]),
                .init(name: "train loss (nodes)", color: "#d62728", dashed: false, onLossAxis: true,
                      points: points { $0.train.metrics?[TabularMetrics.trainLoss]?.doubleValue }),
                .init(name: "eval loss (nodes)", color: "#ff7f0e", dashed: true, onLossAxis: true,
                      points: points { $0.evaluate?.metrics?[TabularMetrics.evalLoss]?.doubleValue }),
            ]
        )
    }

    /// The resolved settings as a `pollen.toml`, so `--config runs/<id>/pollen.toml` repeats the run.
    private static func configTOML(_ settings: SimulationSettings) -> String {
        func line(_ key: String, _ value: ConfigValue) -> String {
            switch value {
            case .string(let text): "\(key) = \"\(text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
            case .intList(let values): "\(key) = [\(values.map(String.init).joined(separator: ", "))]"
            case .doubleList(let values): "\(key) = [\(values.map { String($0) }.joined(separator: ", "))]"
            default: "\(key) = \(value)"
            }
        }
        var text = "# The resolved configuration of this run: `pollen simulate --config <this file>` repeats it.\n\n[app]\nname = \"tabular\"\n\n[app.config]\n"
        text += settings.runConfig.sorted { $0.key < $1.key }.map { line($0.key, $0.value) }.joined(separator: "\n")
        text += "\n\n[simulation]\n"
        text += settings.simulation.sorted { $0.key < $1.key }.map { line($0.key, $0.value) }.joined(separator: "\n")
        return text + "\n"
    }
}
