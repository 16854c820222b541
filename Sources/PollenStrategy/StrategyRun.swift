public import PollenCore
import Foundation

/// What happened in one round of a strategy's run.
public struct RoundReport: Sendable {
    /// The round, from 1.
    public var round: Int
    /// The training outcome (its arrays are the new global model, or `nil` if the round kept the old one).
    public var train: TrainOutcome
    /// The federated evaluation outcome, or `nil` when no evaluation messages were sent.
    public var evaluate: EvaluateOutcome?
    /// The ServerApp-side evaluation of the new global model, if an evaluation function was given.
    public var centralMetrics: MetricRecord?
    /// Wall-clock seconds the round took.
    public var seconds: Double
}

/// The outcome of a whole run (Flower's `Result`).
public struct StrategyResult: Sendable {
    /// The final global arrays.
    public var arrays: ArrayRecord
    /// The ServerApp-side evaluation of the initial arrays (round 0), if an evaluation function was given.
    public var initialCentralMetrics: MetricRecord?
    /// Every round's report, in order, without the round's arrays (`train.arrays` is `nil`; `train.skippedReason`
    /// says whether the round kept the previous ones): a long run would otherwise hold every round's model. `onRound`
    /// sees each report with its arrays.
    public var rounds: [RoundReport]
}

/// The options of a strategy's run loop (the parameters of Flower's `Strategy.start`).
public struct RunOptions: Sendable {
    /// The number of rounds.
    public var rounds: Int
    /// Seconds to wait for a round's replies.
    public var timeoutSeconds: Double
    /// Settings sent with every training message (the strategy adds `server-round`).
    public var trainConfig: ConfigRecord
    /// Settings sent with every evaluation message.
    public var evaluateConfig: ConfigRecord

    public init(rounds: Int, timeoutSeconds: Double = 3600, trainConfig: ConfigRecord = [:], evaluateConfig: ConfigRecord = [:]) {
        self.rounds = rounds
        self.timeoutSeconds = timeoutSeconds
        self.trainConfig = trainConfig
        self.evaluateConfig = evaluateConfig
    }
}

extension Strategy {
    /// Runs `options.rounds` rounds of training and evaluation on `grid` (Flower's `Strategy.start`).
    ///
    /// Each round sends the training messages and folds the replies into a new global model, then sends the
    /// evaluation messages, then calls `evaluate` (central evaluation on the ServerApp) if given. `onRound` sees
    /// each round's report as soon as the round ends.
    ///
    /// - Parameters:
    ///   - evaluate: central evaluation, called with round 0 and the initial arrays, then after every round.
    ///   - onRound: called after every round, for progress and logging.
    public func start(
        grid: any Grid,
        initialArrays: ArrayRecord,
        options: RunOptions,
        evaluate: (@Sendable (Int, ArrayRecord) async throws -> MetricRecord?)? = nil,
        onRound: @Sendable (RoundReport) -> Void = { _ in }
    ) async throws -> StrategyResult {
        guard options.rounds >= 0 else {
            throw StrategyError(code: .invalidConfiguration, message: "the number of rounds must be at least 0, got \(options.rounds)")
        }
        var arrays = initialArrays
        let initialMetrics = try await evaluate?(0, arrays)
        var reports = [RoundReport]()
        for round in stride(from: 1, through: options.rounds, by: 1) {
            try Task.checkCancellation()
            let started = Date()
            let trainMessages = try await configureTrain(round: round, arrays: arrays, config: options.trainConfig, grid: grid)
            let trainAggregation = try await grid.sendAndAggregate(
                trainMessages, into: makeTrainAggregation(round: round, arrays: arrays), timeoutSeconds: options.timeoutSeconds
            )
            let train = finishTrain(round: round, aggregation: consume trainAggregation)
            if let updated = train.arrays { arrays = updated }

            var evaluation: EvaluateOutcome?
            let evaluateMessages = try await configureEvaluate(round: round, arrays: arrays, config: options.evaluateConfig, grid: grid)
            if !evaluateMessages.isEmpty {
                let evaluateAggregation = try await grid.sendAndAggregate(
                    evaluateMessages, into: makeEvaluateAggregation(round: round), timeoutSeconds: options.timeoutSeconds
                )
                evaluation = finishEvaluate(round: round, aggregation: evaluateAggregation)
            }
            let central = try await evaluate?(round, arrays)
            let report = RoundReport(
                round: round, train: train, evaluate: evaluation, centralMetrics: central,
                seconds: Date().timeIntervalSince(started)
            )
            onRound(report)
            var kept = report
            kept.train.arrays = nil
            reports.append(kept)
        }
        return StrategyResult(arrays: arrays, initialCentralMetrics: initialMetrics, rounds: reports)
    }
}
