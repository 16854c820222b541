/// Runs `body` on every item, at most `limit` at a time, and returns the results in completion order (objects sent
/// or fetched a few at a time, so a large model keeps the connection busy without holding every chunk in flight).
///
/// Each result is moved out of its child task: the caller holds the only copy, so a result it hands on (a reply to
/// aggregate) can be changed in place without being copied.
public func concurrentMap<Item: Sendable, Output: Sendable>(
    _ items: [Item], atMost limit: Int, _ body: @escaping @Sendable (Item) async throws -> Output
) async throws -> [Output] {
    try await withThrowingTaskGroup(of: ResultBox<Output>.self) { group in
        var outputs = [Output]()
        outputs.reserveCapacity(items.count)
        var inFlight = 0
        for item in items {
            if inFlight == limit, let box = try await group.next() {
                outputs.append(box.take())
                inFlight -= 1
            }
            group.addTask { ResultBox(try await body(item)) }
            inFlight += 1
        }
        for try await box in group { outputs.append(box.take()) }
        return outputs
    }
}

/// A child task's result, which the parent takes out. A task group keeps each finished task's result until the
/// task is freed, some time after the parent has read it; a result returned directly would have a second owner
/// until then.
private final class ResultBox<Value: Sendable>: @unchecked Sendable {
    // Written once, by the child task that makes the box; read once, by the parent, after the group hands it over.
    private var value: Value?

    init(_ value: Value) { self.value = value }

    /// The value, which the box no longer holds.
    func take() -> Value {
        let taken = value!
        value = nil
        return taken
    }
}
