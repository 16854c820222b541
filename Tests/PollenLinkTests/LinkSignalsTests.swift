import Foundation
import PollenCore
@testable import PollenLink
import Testing

/// The marks behind long polling, for nodes and runs that come and go.
@Suite struct LinkSignalsTests {
    @Test func keysNobodyWaitsForAreForgottenAndNoWaitMissesASignal() async throws {
        let signals = LinkSignals(pruningThreshold: 8)
        let watched = LinkSignals.Key.run(RunID(1))
        let seen = await signals.generation(watched)
        // A node id per registration, for weeks: the marks stay bounded.
        for node in 1...1_000 { await signals.signal(.node(NodeID(UInt64(node)))) }
        #expect(await signals.rememberedKeys <= 8)
        // The watched run was never signalled, but forgetting moved its mark: a wait from before ends at once.
        let start = Date()
        await signals.wait(watched, after: seen, upTo: 60)
        #expect(Date().timeIntervalSince(start) < 10, "a wait from before a pruning must end at once, not at the 20 s cap")

        // A key someone waits for is kept through prunings, and its signal still wakes the waiter.
        let now = await signals.generation(watched)
        let waiter = Task { await signals.wait(watched, after: now, upTo: 60) }
        try await Task.sleep(for: .milliseconds(100))
        for node in 1_001...1_100 { await signals.signal(.node(NodeID(UInt64(node)))) }
        let woken = Date()
        await signals.signal(watched)
        await waiter.value
        #expect(Date().timeIntervalSince(woken) < 10, "the signal must wake the waiter before the 20 s cap")
    }
}
