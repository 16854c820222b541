/// What a ServerApp talks to: the set of connected nodes and a way to send them messages (Flower's `Grid`).
///
/// Simulation implements it in memory; deployment over the SuperLink's app runtime API.
public protocol Grid: Sendable {
    /// The run this grid serves.
    var runID: RunID { get }

    /// The ids of the nodes connected now.
    func nodeIDs() async throws -> [NodeID]

    /// Sends `messages` and returns the replies that arrive within `timeoutSeconds`, in the messages' order.
    func sendAndReceive(_ messages: [Message], timeoutSeconds: Double) async throws -> [Message]

    /// Sends `messages` and folds every reply into `aggregation` as it arrives, so that no round needs to hold
    /// every reply at once.
    ///
    /// Implementations must be deterministic: the result may depend on the messages' order but not on timing.
    func sendAndAggregate<Aggregation: ReplyAggregation>(
        _ messages: [Message], into aggregation: Aggregation, timeoutSeconds: Double
    ) async throws -> Aggregation
}

extension Grid {
    /// Collects every reply, then folds them in the messages' order.
    public func sendAndAggregate<Aggregation: ReplyAggregation>(
        _ messages: [Message], into aggregation: Aggregation, timeoutSeconds: Double
    ) async throws -> Aggregation {
        var result = aggregation
        for reply in try await sendAndReceive(messages, timeoutSeconds: timeoutSeconds) {
            result.add(reply)
        }
        return result
    }
}

/// A fold over replies that can be split and merged, so replies are aggregated as they arrive and in parallel.
///
/// A grid copies an empty aggregation for each batch of replies, folds the batch in order with `add`, and joins
/// the batches in order with `merge`. An empty aggregation must therefore be cheap to copy: allocate on the
/// first `add`.
public protocol ReplyAggregation: Sendable {
    /// Folds in one reply, counting it as a failure if it carries a `MessageError`.
    mutating func add(_ reply: Message)

    /// Folds in `later`, an aggregation of replies that come after every reply folded into this one.
    mutating func merge(_ later: Self)
}
