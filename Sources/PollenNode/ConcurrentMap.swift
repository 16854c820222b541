/// Runs `body` on every item, at most `limit` at a time, and returns the results in completion order (objects sent
/// or fetched a few at a time, so a large model keeps the connection busy without holding every chunk in flight).
public func concurrentMap<Item: Sendable, Output: Sendable>(
    _ items: [Item], atMost limit: Int, _ body: @escaping @Sendable (Item) async throws -> Output
) async throws -> [Output] {
    try await withThrowingTaskGroup(of: Output.self) { group in
        var outputs = [Output]()
        outputs.reserveCapacity(items.count)
        var inFlight = 0
        for item in items {
            if inFlight == limit, let output = try await group.next() {
                outputs.append(output)
                inFlight -= 1
            }
            group.addTask { try await body(item) }
            inFlight += 1
        }
        for try await output in group { outputs.append(output) }
        return outputs
    }
}
