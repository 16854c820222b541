public import PollenCore

/// A federated learning strategy in the shape of Flower's Message API: it configures each round's training and
/// evaluation messages and aggregates the replies.
///
/// Aggregation streams: a strategy hands the grid an empty aggregation, the grid folds replies into it as they
/// arrive (in parallel batches, merged in order), and the strategy turns the result into the round's outcome.
/// `aggregateTrain(round:replies:)` does the same over a list, as Flower's `aggregate_train` does.
public protocol Strategy: Sendable {
    /// The fold over training replies.
    associatedtype TrainAggregation: ReplyAggregation
    /// The fold over evaluation replies.
    associatedtype EvaluateAggregation: ReplyAggregation

    /// The training messages of round `round` (1-based), carrying the global `arrays` and `config`.
    func configureTrain(round: Int, arrays: ArrayRecord, config: ConfigRecord, grid: any Grid) async throws -> [Message]

    /// An empty fold over the training replies of round `round`, which sent `arrays`.
    func makeTrainAggregation(round: Int, arrays: ArrayRecord?) -> TrainAggregation

    /// The new global arrays and training metrics from the folded replies of round `round`; the aggregation is
    /// handed over, so that its buffers can become the new arrays without a copy.
    func finishTrain(round: Int, aggregation: consuming TrainAggregation) -> TrainOutcome

    /// The evaluation messages of round `round`; empty when federated evaluation is off.
    func configureEvaluate(round: Int, arrays: ArrayRecord, config: ConfigRecord, grid: any Grid) async throws -> [Message]

    /// An empty fold over the evaluation replies of round `round`.
    func makeEvaluateAggregation(round: Int) -> EvaluateAggregation

    /// The evaluation metrics from the folded replies of round `round`.
    func finishEvaluate(round: Int, aggregation: EvaluateAggregation) -> EvaluateOutcome
}

extension Strategy {
    /// Aggregates a list of training replies (Flower's `aggregate_train`); `arrays` are the arrays the round
    /// sent, if the caller knows them.
    public func aggregateTrain(round: Int, replies: [Message], arrays: ArrayRecord? = nil) -> TrainOutcome {
        var aggregation = makeTrainAggregation(round: round, arrays: arrays)
        for reply in replies { aggregation.add(reply) }
        return finishTrain(round: round, aggregation: consume aggregation)
    }

    /// Aggregates a list of evaluation replies (Flower's `aggregate_evaluate`).
    public func aggregateEvaluate(round: Int, replies: [Message]) -> EvaluateOutcome {
        var aggregation = makeEvaluateAggregation(round: round)
        for reply in replies { aggregation.add(reply) }
        return finishEvaluate(round: round, aggregation: aggregation)
    }
}

/// How the replies of a round went: how many came back, how many failed, and why the first failures did.
public struct ReplyTally: Sendable, Hashable {
    /// Replies that carried usable content.
    public var succeeded: Int = 0
    /// Replies that carried a `MessageError` or content the strategy could not use.
    public var failed: Int = 0
    /// The reasons of the first failures, for the round's report.
    public var failureReasons: [String] = []

    /// How many failure reasons are kept: enough to diagnose, bounded for a round of 100,000 nodes.
    public static let keptReasons = 5

    public init() {}

    /// Counts one failure with its reason.
    public mutating func recordFailure(_ reason: String) {
        failed += 1
        if failureReasons.count < Self.keptReasons { failureReasons.append(reason) }
    }

    /// Adds `later`'s counts to these.
    public mutating func merge(_ later: ReplyTally) {
        succeeded += later.succeeded
        failed += later.failed
        failureReasons += later.failureReasons.prefix(Self.keptReasons - failureReasons.count)
    }

    /// The failed share of all replies (0 when there were none).
    public var failureFraction: Double {
        let total = succeeded + failed
        return total == 0 ? 0 : Double(failed) / Double(total)
    }
}

/// The result of a training round.
public struct TrainOutcome: Sendable {
    /// The new global arrays, or `nil` when the round produced none (no usable reply, or too many failures).
    public var arrays: ArrayRecord?
    /// The aggregated training metrics, if any.
    public var metrics: MetricRecord?
    /// How the replies went.
    public var tally: ReplyTally
    /// Why the round kept the previous arrays, when it did.
    public var skippedReason: String?

    public init(arrays: ArrayRecord?, metrics: MetricRecord?, tally: ReplyTally, skippedReason: String? = nil) {
        self.arrays = arrays
        self.metrics = metrics
        self.tally = tally
        self.skippedReason = skippedReason
    }
}

/// The result of a federated evaluation round.
public struct EvaluateOutcome: Sendable {
    /// The aggregated evaluation metrics, if any.
    public var metrics: MetricRecord?
    /// How the replies went.
    public var tally: ReplyTally

    public init(metrics: MetricRecord?, tally: ReplyTally) {
        self.metrics = metrics
        self.tally = tally
    }
}
