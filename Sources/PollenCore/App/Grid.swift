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
        // Taken out of the list one by one, so that each reply is handed over with no other copy alive.
        var replies = try await sendAndReceive(messages, timeoutSeconds: timeoutSeconds)
        replies.reverse()
        while let reply = replies.popLast() { result.add(consume reply) }
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
    ///
    /// The reply is handed over (`consuming`): a grid keeps no other copy of it, so an aggregation may keep the
    /// reply's arrays, or write over them, without copying them.
    mutating func add(_ reply: consuming Message)

    /// Folds in `later`, an aggregation of replies that come after every reply folded into this one.
    mutating func merge(_ later: Self)
}
