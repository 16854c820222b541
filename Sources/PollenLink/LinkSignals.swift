public import PollenCore
import Foundation

/// Wake-ups for requests that wait for something to arrive (long polling): a node waiting for its next
/// instruction, a node waiting for an object its ServerApp is still uploading, a ServerApp waiting for replies.
///
/// Whoever stores something signals its key; waiters wake at once instead of polling. Signals only shorten waits:
/// every wait has a limit and looks at the state again when it ends, so a missed or lost signal (this lives in
/// memory, across a restart included) costs latency, never a message.
public actor LinkSignals {
    /// What a waiter waits for.
    public enum Key: Hashable, Sendable {
        /// An instruction for this node.
        case node(NodeID)
        /// Anything new in this run: a reply, an object.
        case run(RunID)
    }

    /// The longest wait a request may ask for, in seconds: well under a client's request timeout (30 s).
    public static let maximumWaitSeconds = 20.0

    private var generations: [Key: UInt64] = [:]
    private var waiters: [Key: [UInt64: CheckedContinuation<Void, Never>]] = [:]
    private var nextWaiter: UInt64 = 0

    public init() {}

    /// How many times `key` was signalled: read before looking at the state, and handed to `wait`, so that a
    /// signal between the look and the wait is not missed.
    public func generation(_ key: Key) -> UInt64 { generations[key, default: 0] }

    /// Wakes everyone waiting for `key`.
    public func signal(_ key: Key) {
        generations[key, default: 0] &+= 1
        for waiter in waiters.removeValue(forKey: key)?.values ?? [:].values { waiter.resume() }
    }

    /// Wakes everyone waiting for any of `keys`.
    public func signal(_ keys: some Sequence<Key>) {
        for key in keys { signal(key) }
    }

    /// Returns once `key` is signalled after `generation`, after `seconds`, or on cancellation, whichever is first.
    public func wait(_ key: Key, after generation: UInt64, upTo seconds: Double) async {
        guard generations[key, default: 0] == generation, seconds > 0, !Task.isCancelled else { return }
        let id = nextWaiter
        nextWaiter += 1
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .seconds(min(seconds, Self.maximumWaitSeconds)))
            await self?.wake(key, id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in waiters[key, default: [:]][id] = continuation }
        } onCancel: {
            Task { await self.wake(key, id) }
        }
        timer.cancel()
    }

    private func wake(_ key: Key, _ id: UInt64) {
        guard let waiter = waiters[key]?.removeValue(forKey: id) else { return }
        if waiters[key]?.isEmpty == true { waiters[key] = nil }
        waiter.resume()
    }

    /// Runs `attempt` until it finds something (`isEmpty` false) or `seconds` have passed, trying again each time
    /// `key` is signalled; returns the last attempt's answer.
    public nonisolated func longPoll<Output: Sendable>(
        _ key: Key, seconds: Double, isEmpty: (Output) -> Bool, attempt: () async throws -> Output
    ) async throws -> Output {
        let deadline = Date().addingTimeInterval(min(seconds, Self.maximumWaitSeconds))
        while true {
            let seen = await generation(key)
            let output = try await attempt()
            let left = deadline.timeIntervalSinceNow
            guard isEmpty(output), left > 0, !Task.isCancelled else { return output }
            await wait(key, after: seen, upTo: left)
        }
    }
}
