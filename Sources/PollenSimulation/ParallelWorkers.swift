import PollenKernels

/// Runs a fixed number of tasks that each pull work items by index until none is left.
enum ParallelWorkers {
    /// The number of active cores.
    static var coreCount: Int { ParallelFor.workerCount }

    /// Calls `body` once for every index in `0..<count`, on up to `workers` concurrent tasks; returns the
    /// results in index order, whatever order they finished in.
    static func map<Result: Sendable>(
        count: Int, workers: Int, _ body: @escaping @Sendable (Int) async throws -> Result
    ) async throws -> [Result] {
        let next = Counter()
        return try await withThrowingTaskGroup(of: [(Int, Result)].self) { group in
            for _ in 0..<min(workers, count) {
                group.addTask {
                    var done = [(Int, Result)]()
                    while let index = next.take(below: count) {
                        try Task.checkCancellation()
                        done.append((index, try await body(index)))
                    }
                    return done
                }
            }
            var results = [Result?](repeating: nil, count: count)
            for try await batch in group {
                for (index, result) in batch { results[index] = result }
            }
            return results.map { $0! }
        }
    }
}

/// A shared counter handing out successive indices.
private final class Counter: Sendable {
    private let value = Mutex(0)

    func take(below limit: Int) -> Int? {
        value.withLock { value in
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}

import Synchronization
