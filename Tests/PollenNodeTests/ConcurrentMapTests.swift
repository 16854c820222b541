import PollenNode
import Testing

/// `concurrentMap` runs every item, a few at a time, and returns every result.
///
/// That each result leaves its child task (the caller then holds the only copy) shows only in release builds,
/// where a finished task outlives the map: the transfer benchmark's first fold is made in place (`bench/transfer`).
@Suite struct ConcurrentMapTests {
    final class Boxed: Sendable {
        let value: Int
        init(_ value: Int) { self.value = value }
    }

    @Test func everyItemIsMappedOnceAtMostLimitAtATime() async throws {
        let running = Running()
        let results = try await concurrentMap(Array(0..<20), atMost: 3) { value in
            await running.enter()
            try await Task.sleep(for: .milliseconds(1))
            await running.leave()
            return Boxed(value * 2)
        }
        #expect(results.map(\.value).sorted() == Array(0..<20).map { $0 * 2 })
        #expect((2...3).contains(await running.most))
    }

    actor Running {
        var now = 0
        var most = 0
        func enter() { now += 1; most = max(most, now) }
        func leave() { now -= 1 }
    }
}
