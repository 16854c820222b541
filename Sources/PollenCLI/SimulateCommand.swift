public import ArgumentParser
import Foundation
import PollenCore
import PollenStrategy
import PollenApps
import PollenML
import Synchronization

/// `pollen simulate`: runs a federated training in one process, on virtual SuperNodes.
public struct SimulateCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a federated training in simulation: a ServerApp and many virtual SuperNodes in one process.",
        discussion: """
            With no options it runs the embedded default: the breast-cancer set across 10 simulated hospitals \
            (Dirichlet alpha 0.5), logistic regression, FedAvg, 20 rounds. It prints a table per round, compares the \
            federated model with a centrally trained one on the same split, and writes artifacts to runs/<run-id>/.

            Settings are layered: the embedded default, then --config FILE (a pollen.toml with [app.config] and \
            [simulation] tables), then --run-config key=value, then the options below.
            """
    )

    @Option(name: .long, help: "A pollen.toml whose [app.config] and [simulation] tables override the default.")
    var config: String?

    @Option(name: .long, help: "A bundled data set (breast-cancer, digits), a CSV file (with --label), or a features .npy (with --label labels.npy).")
    var dataset: String?

    @Option(name: .long, help: "The label column of a CSV data set, or the labels .npy of an .npy data set.")
    var label: String?

    @Option(name: .long, help: "How rows are divided among nodes: iid, dirichlet or column.")
    var partitioner: String?

    @Option(name: .customLong("alpha"), help: "The Dirichlet concentration of label skew (smaller: more skew).")
    var dirichletAlpha: Double?

    @Option(name: .long, help: "The column naming each row's site, with --partitioner column.")
    var partitionColumn: String?

    @Option(name: .customLong("nodes"), help: "The number of virtual SuperNodes.")
    var nodeCount: Int?

    @Option(name: .long, help: "The number of FedAvg rounds.")
    var rounds: Int?

    @Option(name: .long, help: "The model: logistic, softmax or mlp.")
    var model: String?

    @Option(name: .long, help: "MLP hidden layer widths, comma-separated (e.g. 64,32).")
    var hiddenLayers: String?

    @Option(name: .customLong("lr"), help: "The local learning rate.")
    var learningRate: Double?

    @Option(name: .long, help: "Local epochs per round.")
    var localEpochs: Int?

    @Option(name: .long, help: "The local mini-batch size.")
    var batchSize: Int?

    @Option(name: .long, help: "The share of nodes sampled for training each round.")
    var fractionTrain: Double?

    @Option(name: .long, help: "The optimiser: sgd or adam.")
    var optimizer: String?

    @Option(name: .long, help: "The seed of partitions, initial weights, sampling, shuffles and failures.")
    var seed: Int?

    @Option(name: .long, help: "The share of messages whose ClientApp fails (failure injection).")
    var failureRate: Double?

    @Option(name: .long, help: "The share of messages whose reply times out (failure injection).")
    var timeoutRate: Double?

    @Option(name: .long, help: "The folder for run artifacts; \"\" writes none.")
    var output: String?

    @Option(name: .long, parsing: .singleValue, help: "Override an [app.config] key (repeatable), e.g. --run-config learning-rate=0.05.")
    var runConfig: [String] = []

    public init() {}

    public func run() async throws {
        let settings = try resolveSettings()
        let plan = try settings.plan()
        let config = try settings.appConfig()
        let progress = ProgressLine(totalRounds: config.rounds)

        print(RoundTable.header)
        let report = try await SimulationRunner.run(
            settings: settings,
            onRound: { round in
                progress.roundFinished(round.round)
                print(RoundTable.row(round))
            },
            onProgress: { handled, total in progress.update(handled: handled, total: total) }
        )
        progress.clear()

        let nodes = report.nodeTrainSizes.count
        print("")
        print("Data: \(report.datasetSummary); \(nodes) nodes holding \(report.nodeTrainSizes.min() ?? 0)–\(report.nodeTrainSizes.max() ?? 0) training rows each.")
        print("Federated model (FedAvg, \(report.outcome.result.rounds.count) rounds):  test accuracy \(RoundTable.format(report.federated.accuracy))  loss \(RoundTable.format(report.federated.loss))\(auc(report.federated.rocAUC))")
        print("Central model (all training rows pooled):      test accuracy \(RoundTable.format(report.central.accuracy))  loss \(RoundTable.format(report.central.loss))\(auc(report.central.rocAUC))")
        let gap = (report.federated.accuracy - report.central.accuracy) * 100
        print(String(format: "Federated minus central: %+.2f accuracy points; the run took %.2f s.", gap, report.seconds))
        if !plan.outputDirectory.isEmpty {
            let directory = try RunArtifacts.write(report: report, settings: settings, root: plan.outputDirectory)
            print("Artifacts: \(directory)/ (pollen.toml, metrics.json, metrics.csv, summary.json, learning-curve.svg, model/*.npy)")
        }
    }

    private func auc(_ value: Double?) -> String {
        value.map { "  AUC \(RoundTable.format($0))" } ?? ""
    }

    /// Lays the file, `--run-config` overrides and flags over the embedded default, in that order.
    public func resolveSettings() throws -> SimulationSettings {
        var settings = try SimulationSettings.load(path: config)
        var app = UserConfig()
        for assignment in runConfig {
            let (key, value) = try TOMLConfig.override(assignment)
            app[key] = value
        }
        if let rounds { app["num-server-rounds"] = .int(Int64(rounds)) }
        if let model { app["model"] = .string(model) }
        if let hiddenLayers { app["hidden-layers"] = .string(hiddenLayers) }
        if let learningRate { app["learning-rate"] = .double(learningRate) }
        if let localEpochs { app["local-epochs"] = .int(Int64(localEpochs)) }
        if let batchSize { app["batch-size"] = .int(Int64(batchSize)) }
        if let fractionTrain { app["fraction-train"] = .double(fractionTrain) }
        if let optimizer { app["optimizer"] = .string(optimizer) }
        if let seed { app["seed"] = .int(Int64(seed)) }

        var simulation = UserConfig()
        if let dataset { simulation["dataset"] = .string(dataset) }
        if let label { simulation["label"] = .string(label) }
        if let partitioner { simulation["partitioner"] = .string(partitioner) }
        if let dirichletAlpha { simulation["dirichlet-alpha"] = .double(dirichletAlpha) }
        if let partitionColumn { simulation["partition-column"] = .string(partitionColumn) }
        if let nodeCount { simulation["num-supernodes"] = .int(Int64(nodeCount)) }
        if let failureRate { simulation["failure-rate"] = .double(failureRate) }
        if let timeoutRate { simulation["timeout-rate"] = .double(timeoutRate) }
        if let output { simulation["output"] = .string(output) }
        try settings.apply(app: app, simulation: simulation, source: "the command line")
        return settings
    }
}

/// A one-line progress indicator on standard error, redrawn in place; silent when standard error is not a
/// terminal, so logs and pipes get only the round table.
final class ProgressLine: Sendable {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let totalRounds: Int
    private let round = Mutex(1)

    init(totalRounds: Int) { self.totalRounds = totalRounds }

    func update(handled: Int, total: Int) {
        guard isTerminal else { return }
        let current = round.withLock { $0 }
        FileHandle.standardError.write(Data("\r\u{1B}[Kround \(current)/\(totalRounds): \(handled)/\(total) messages handled".utf8))
    }

    func roundFinished(_ finished: Int) {
        round.withLock { $0 = finished + 1 }
        clear()
    }

    func clear() {
        guard isTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
