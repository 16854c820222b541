public import PollenApps
public import PollenML
public import PollenStrategy
import Pollen
import Foundation
import Synchronization

/// The result of `pollen simulate`: the federated run, the final model's test quality, and the central baseline.
public struct SimulationReport: Sendable {
    /// The run's outcome: rounds, final arrays, model shape, feature statistics.
    public var outcome: TabularRunOutcome
    /// The final federated model on the global test split.
    public var federated: Evaluation
    /// The centrally trained model on the same test split.
    public var central: Evaluation
    /// Training rows per node.
    public var nodeTrainSizes: [Int]
    /// The data set's name, rows and classes, for the report.
    public var datasetSummary: String
    /// Wall-clock seconds of the federated run.
    public var seconds: Double
}

/// Builds and runs a tabular simulation from settings: what `pollen simulate` does, callable from tests.
public enum SimulationRunner {
    /// Loads the data, splits it, runs the federation and the central baseline.
    ///
    /// - Parameters:
    ///   - onRound: called after every round.
    ///   - onProgress: called as a round's messages are handled (handled, total).
    public static func run(
        settings: SimulationSettings,
        onRound: @escaping @Sendable (RoundReport) -> Void = { _ in },
        onProgress: (@Sendable (Int, Int) -> Void)? = nil
    ) async throws -> SimulationReport {
        let config = try settings.appConfig()
        let plan = try settings.plan()
        let dataset = try plan.loadDataset()
        let split = try FederatedSplit(
            dataset: dataset, partitioner: plan.partitioner, testFraction: plan.testFraction,
            localTestFraction: plan.localTestFraction, seed: config.seed
        )
        let needed = max(config.minAvailableNodes, config.minTrainNodes, config.fractionEvaluate > 0 ? config.minEvaluateNodes : 0)
        guard split.nodeCount >= needed else {
            throw CLIError(
                "the simulation has \(split.nodeCount) nodes, but FedAvg waits for \(needed) (min-available-nodes, min-train-nodes, "
                    + "min-evaluate-nodes); use more nodes or lower them, e.g. --run-config min-available-nodes=\(split.nodeCount)"
            )
        }
        let clientApp = TabularClientApp.make(data: split.dataProvider)
        let testSet = split.testSet
        let outcome = Mutex<TabularRunOutcome?>(nil)
        let serverApp = TabularServerApp(config: config, centralTest: testSet, onRound: onRound)
            .serverApp { result in outcome.withLock { $0 = result } }
        let simulation = try Simulation(
            clientApp: clientApp,
            options: SimulationOptions(
                nodeCount: split.nodeCount, seed: config.seed, failureRate: plan.failureRate, timeoutRate: plan.timeoutRate,
                runConfig: settings.runConfig, onProgress: onProgress
            )
        )
        let started = Date()
        try await simulation.run(serverApp)
        let seconds = Date().timeIntervalSince(started)
        guard let result = outcome.withLock({ $0 }) else {
            throw CLIError("the ServerApp finished without a result")
        }
        let finalParameters = try result.finalParameters()
        let federatedTest = result.standardizer?.transform(testSet) ?? testSet
        let federated = try Training.evaluate(result.network, parameters: finalParameters, on: federatedTest)
        let central = try CentralBaseline.evaluate(config: config, train: split.pooledTrain, test: testSet).evaluation
        return SimulationReport(
            outcome: result, federated: federated, central: central, nodeTrainSizes: split.nodeTrainRows.map(\.count),
            datasetSummary: "\(plan.dataset): \(dataset.rowCount) rows, \(dataset.featureCount) features, \(dataset.classCount) classes",
            seconds: seconds
        )
    }
}
