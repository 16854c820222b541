public import PollenCore

/// Federated Averaging (McMahan et al., 2017), as Flower's `FedAvg`: each round samples a fraction of the
/// connected nodes, sends them the global arrays, and replaces the arrays with the average of the replies'
/// arrays weighted by their `num-examples` metric.
///
/// Failed replies are counted, not thrown: a round aggregates whatever succeeded unless more than
/// `acceptedFailureFraction` of its replies failed, in which case it keeps the previous arrays.
public struct FedAvg: Strategy {
    /// The share of connected nodes sampled for training (0 turns federated training off).
    public var fractionTrain: Double
    /// The share of connected nodes sampled for evaluation (0 turns federated evaluation off).
    public var fractionEvaluate: Double
    /// The fewest nodes a training round samples.
    public var minTrainNodes: Int
    /// The fewest nodes an evaluation round samples.
    public var minEvaluateNodes: Int
    /// The fewest connected nodes before a round starts.
    public var minAvailableNodes: Int
    /// The largest failed share of a round's replies that still lets the round aggregate.
    public var acceptedFailureFraction: Double
    /// The reply metric that weighs each update.
    public var weightedByKey: String
    /// The key of the arrays in messages and replies.
    public var arrayRecordKey: String
    /// The key of the config in messages.
    public var configRecordKey: String
    /// The seed of node sampling.
    public var seed: UInt64

    /// A FedAvg with Flower's defaults, and failures tolerated up to half of a round's replies.
    ///
    /// - Throws: `StrategyError.invalidConfiguration` for fractions outside `[0, 1]` or negative minimums.
    public init(
        fractionTrain: Double = 1, fractionEvaluate: Double = 1, minTrainNodes: Int = 2, minEvaluateNodes: Int = 2,
        minAvailableNodes: Int = 2, acceptedFailureFraction: Double = 0.5, weightedByKey: String = "num-examples",
        arrayRecordKey: String = "arrays", configRecordKey: String = "config", seed: UInt64 = 0
    ) throws {
        for (name, value) in [("fraction-train", fractionTrain), ("fraction-evaluate", fractionEvaluate),
                              ("accepted-failure-fraction", acceptedFailureFraction)] where !(0...1).contains(value) {
            throw StrategyError(code: .invalidConfiguration, message: "\(name) must be between 0 and 1, got \(value)")
        }
        for (name, value) in [("min-train-nodes", minTrainNodes), ("min-evaluate-nodes", minEvaluateNodes),
                              ("min-available-nodes", minAvailableNodes)] where value < 0 {
            throw StrategyError(code: .invalidConfiguration, message: "\(name) must be at least 0, got \(value)")
        }
        self.fractionTrain = fractionTrain
        self.fractionEvaluate = fractionEvaluate
        // As Flower: a fraction of 0 turns the phase off, whatever its minimum.
        self.minTrainNodes = fractionTrain == 0 ? 0 : minTrainNodes
        self.minEvaluateNodes = fractionEvaluate == 0 ? 0 : minEvaluateNodes
        self.minAvailableNodes = minAvailableNodes
        self.acceptedFailureFraction = acceptedFailureFraction
        self.weightedByKey = weightedByKey
        self.arrayRecordKey = arrayRecordKey
        self.configRecordKey = configRecordKey
        self.seed = seed
    }

    public func configureTrain(round: Int, arrays: ArrayRecord, config: ConfigRecord, grid: any Grid) async throws -> [Message] {
        try await messages(
            type: .train, fraction: fractionTrain, minimum: minTrainNodes, round: round, arrays: arrays, config: config, grid: grid
        )
    }

    public func configureEvaluate(round: Int, arrays: ArrayRecord, config: ConfigRecord, grid: any Grid) async throws -> [Message] {
        try await messages(
            type: .evaluate, fraction: fractionEvaluate, minimum: minEvaluateNodes, round: round, arrays: arrays, config: config,
            grid: grid
        )
    }

    public func makeTrainAggregation(round: Int, arrays: ArrayRecord?) -> WeightedArrayAverage {
        WeightedArrayAverage(weightKey: weightedByKey, arrayRecordKey: arrayRecordKey, expected: arrays)
    }

    public func finishTrain(round: Int, aggregation: consuming WeightedArrayAverage) -> TrainOutcome {
        let tally = aggregation.tally
        if tally.succeeded > 0 && tally.failureFraction > acceptedFailureFraction {
            return TrainOutcome(
                arrays: nil, metrics: nil, tally: tally,
                skippedReason: "\(tally.failed) of \(tally.succeeded + tally.failed) replies failed, more than the accepted "
                    + "\(Int(acceptedFailureFraction * 100))%; the round keeps the previous arrays"
            )
        }
        let arrays = aggregation.takeAverage()
        var skippedReason: String?
        if arrays == nil {
            skippedReason = tally.succeeded > 0
                ? "the replies' '\(weightedByKey)' add up to 0; the round keeps the previous arrays"
                : "no usable reply" + (tally.failureReasons.first.map { " (first failure: \($0))" } ?? "")
        }
        return TrainOutcome(arrays: arrays, metrics: aggregation.metrics.average, tally: tally, skippedReason: skippedReason)
    }

    public func makeEvaluateAggregation(round: Int) -> MetricAverageAggregation {
        MetricAverageAggregation(weightKey: weightedByKey)
    }

    public func finishEvaluate(round: Int, aggregation: MetricAverageAggregation) -> EvaluateOutcome {
        EvaluateOutcome(metrics: aggregation.metrics.average, tally: aggregation.tally)
    }

    private func messages(
        type: MessageType, fraction: Double, minimum: Int, round: Int, arrays: ArrayRecord, config: ConfigRecord, grid: any Grid
    ) async throws -> [Message] {
        guard fraction > 0 else { return [] }
        let connected = try await grid.nodeIDs().count
        let sampleSize = max(Int(Double(connected) * fraction), minimum)
        let nodes = try await NodeSampling.sample(
            grid: grid, minimumAvailable: minAvailableNodes, sampleSize: sampleSize, seed: seed,
            stream: [UInt64(round), type == .train ? 0 : 1], timeoutSeconds: 3600
        )
        var roundConfig = config
        roundConfig["server-round"] = .int(Int64(round))
        var content = RecordDict()
        content[arrays: arrayRecordKey] = arrays
        content[config: configRecordKey] = roundConfig
        return nodes.map { Message(content: content, destination: $0, type: type, groupID: String(round)) }
    }
}
