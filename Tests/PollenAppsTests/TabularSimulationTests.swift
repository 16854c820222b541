import PollenApps
import PollenCore
import PollenML
import PollenSimulation
import PollenStrategy
import Synchronization
import Testing

/// Runs the tabular app in simulation on `dataset` and returns the outcome with the central baseline.
func simulateTabular(
    dataset: BundledDataset, runConfig: UserConfig, nodes: Int, alpha: Double
) async throws -> (outcome: TabularRunOutcome, federated: Evaluation, central: Evaluation) {
    let config = try TabularAppConfig(runConfig: runConfig)
    let data = try dataset.load()
    let split = try FederatedSplit(
        dataset: data, partitioner: .dirichlet(count: nodes, alpha: alpha), testFraction: 0.2, localTestFraction: 0.2, seed: config.seed
    )
    let captured = Mutex<TabularRunOutcome?>(nil)
    let simulation = try Simulation(
        clientApp: TabularClientApp.make(data: split.dataProvider),
        options: SimulationOptions(nodeCount: nodes, seed: config.seed, runConfig: runConfig)
    )
    try await simulation.run(TabularServerApp(config: config, centralTest: split.testSet).serverApp { outcome in
        captured.withLock { $0 = outcome }
    })
    let outcome = try #require(captured.withLock { $0 })
    let test = outcome.standardizer!.transform(split.testSet)
    let federated = try Training.evaluate(outcome.network, parameters: outcome.finalParameters(), on: test)
    let central = try CentralBaseline.evaluate(config: config, train: split.pooledTrain, test: split.testSet).evaluation
    return (outcome, federated, central)
}

@Suite struct TabularSimulationTests {
    /// The embedded default: breast cancer, 10 hospitals, Dirichlet 0.5, logistic regression, 20 rounds.
    @Test func breastCancerFederatedIsWithinTwoPointsOfCentral() async throws {
        let run = try await simulateTabular(dataset: .breastCancer, runConfig: [:], nodes: 10, alpha: 0.5)
        #expect(run.outcome.result.rounds.count == 20)
        #expect(run.central.accuracy > 0.95)
        #expect(run.federated.accuracy >= run.central.accuracy - 0.02)
        #expect(run.federated.rocAUC! > 0.98)
    }

    @Test func digitsSoftmaxFederatedIsWithinFourPointsOfCentral() async throws {
        let run = try await simulateTabular(
            dataset: .digits, runConfig: ["model": "softmax", "local-epochs": 5], nodes: 20, alpha: 0.3
        )
        #expect(run.central.accuracy > 0.95)
        #expect(run.federated.accuracy >= run.central.accuracy - 0.04)
    }

    @Test func theSameSeedGivesBitIdenticalArrays() async throws {
        let config: UserConfig = ["num-server-rounds": 5, "model": "mlp", "hidden-layers": "16"]
        let first = try await simulateTabular(dataset: .digits, runConfig: config, nodes: 12, alpha: 0.5)
        let second = try await simulateTabular(dataset: .digits, runConfig: config, nodes: 12, alpha: 0.5)
        #expect(first.outcome.result.arrays == second.outcome.result.arrays)
        let other = try await simulateTabular(dataset: .digits, runConfig: config.merging(["seed": 7]) { $1 }, nodes: 12, alpha: 0.5)
        #expect(first.outcome.result.arrays != other.outcome.result.arrays)
    }

    @Test func theFeatureSurveyEqualsThePooledStatistics() async throws {
        let run = try await simulateTabular(dataset: .breastCancer, runConfig: ["num-server-rounds": 1], nodes: 5, alpha: 1)
        let data = try BundledDataset.breastCancer.load()
        let split = try FederatedSplit(dataset: data, partitioner: .dirichlet(count: 5, alpha: 1), testFraction: 0.2, localTestFraction: 0.2, seed: 42)
        let pooled = Standardizer(fitting: split.pooledTrain)
        for j in 0..<30 {
            #expect(abs(run.outcome.standardizer!.means[j] - pooled.means[j]) < 1e-9 * max(1, abs(pooled.means[j])))
        }
        #expect(run.outcome.classCounts.reduce(0, +) == split.pooledTrain.rowCount)
    }

    @Test func badRunConfigNamesTheKey() {
        let error = #expect(throws: AppConfigError.self) { try TabularAppConfig(runConfig: ["learning-rate": "fast"]) }
        #expect(error?.key == "learning-rate")
        #expect(throws: AppConfigError.self) { try TabularAppConfig(runConfig: ["model": "forest"]) }
        #expect(throws: AppConfigError.self) { try TabularAppConfig(runConfig: ["fraction-train": 2.0]) }
    }
}
