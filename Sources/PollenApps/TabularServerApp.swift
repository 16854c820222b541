public import PollenCore
public import PollenML
public import PollenStrategy

/// What a run of the tabular app produced.
public struct TabularRunOutcome: Sendable {
    /// The model's shape, learned from the feature survey.
    public var network: NeuralNetwork
    /// The federation's feature statistics, when features were standardised.
    public var standardizer: Standardizer?
    /// Rows per class across the federation, from the survey.
    public var classCounts: [Int]
    /// The rounds and final arrays.
    public var result: StrategyResult

    /// The final global model's parameters, flat.
    public func finalParameters() throws -> [Float] { try network.parameters(from: result.arrays) }
}

/// The ServerApp of the built-in tabular app: a feature survey (`query` round) that fixes the model's shape and
/// the standardisation, then FedAvg with the settings of a `TabularAppConfig`.
public struct TabularServerApp: Sendable {
    /// The app's settings.
    public var config: TabularAppConfig
    /// Data for ServerApp-side ("central") evaluation after every round; in simulation, the global test split.
    public var centralTest: Dataset?
    /// Called after every round.
    public var onRound: @Sendable (RoundReport) -> Void

    public init(config: TabularAppConfig, centralTest: Dataset? = nil, onRound: @escaping @Sendable (RoundReport) -> Void = { _ in }) {
        self.config = config
        self.centralTest = centralTest
        self.onRound = onRound
    }

    /// The `ServerApp` running this app; `onFinish` receives the outcome.
    public func serverApp(onFinish: @escaping @Sendable (TabularRunOutcome) -> Void) -> ServerApp {
        ServerApp { grid, context in
            onFinish(try await run(grid: grid, context: context))
        }
    }

    /// Runs the survey and every round on `grid`.
    public func run(grid: any Grid, context: Context) async throws -> TabularRunOutcome {
        let survey = try await surveyFeatures(grid: grid)
        guard let sums = survey.sums, sums.count > 0 else {
            throw StrategyError(
                code: .notEnoughNodes,
                message: "no node answered the feature survey with data: \(survey.tally.failureReasons.joined(separator: "; "))"
            )
        }
        let network = try NeuralNetwork(kind: config.model, featureCount: sums.sum.count, classCount: max(survey.classCounts.count, 2))
        let standardizer = config.standardize ? Standardizer(sums: sums) : nil

        var messageConfig = ConfigRecord(config.runConfig.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        messageConfig["num-classes"] = .int(Int64(network.classCount))
        if let standardizer {
            messageConfig["feature-mean"] = .doubleList(standardizer.means)
            messageConfig["feature-std"] = .doubleList(standardizer.standardDeviations)
        }
        let strategy = try FedAvg(
            fractionTrain: config.fractionTrain, fractionEvaluate: config.fractionEvaluate,
            minTrainNodes: config.minTrainNodes, minEvaluateNodes: config.minEvaluateNodes,
            minAvailableNodes: config.minAvailableNodes, acceptedFailureFraction: config.acceptedFailureFraction,
            seed: config.seed
        )
        let centralTest = centralTest.map { standardizer?.transform($0) ?? $0 }
        var evaluate: (@Sendable (Int, ArrayRecord) async throws -> MetricRecord?)?
        if let centralTest {
            evaluate = { _, arrays in
                try Training.evaluate(network, parameters: network.parameters(from: arrays), on: centralTest).metricRecord
            }
        }
        let result = try await strategy.start(
            grid: grid, initialArrays: network.arrayRecord(from: network.initialParameters(seed: config.seed)),
            options: RunOptions(rounds: config.rounds, trainConfig: messageConfig, evaluateConfig: messageConfig),
            evaluate: evaluate, onRound: onRound
        )
        return TabularRunOutcome(network: network, standardizer: standardizer, classCounts: survey.classCounts, result: result)
    }

    private func surveyFeatures(grid: any Grid) async throws -> FeatureSurvey {
        let nodes = try await NodeSampling.waitForNodes(grid: grid, minimum: config.minAvailableNodes, timeoutSeconds: 3600)
        var content = RecordDict()
        content[config: "config"] = ["query": "feature-survey"]
        let messages = nodes.map { Message(content: content, destination: $0, type: .query, groupID: "survey") }
        return try await grid.sendAndAggregate(messages, into: FeatureSurvey(), timeoutSeconds: 3600)
    }
}
