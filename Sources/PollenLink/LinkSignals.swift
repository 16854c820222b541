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

    /// Each signalled key's mark: the value of `clock` when it was last signalled.
    private var generations: [Key: UInt64] = [:]
    /// Counts up at every signal and every pruning, so that no mark is ever handed out twice.
    private var clock: UInt64 = 0
    /// The mark of every key not in `generations`: the clock at the last pruning.
    private var floor: UInt64 = 0
    /// How many keys `generations` may hold before the keys nobody waits for are dropped.
    private var pruningThreshold: Int
    private var waiters: [Key: [UInt64: CheckedContinuation<Void, Never>]] = [:]
    private var nextWaiter: UInt64 = 0

    /// - Parameter pruningThreshold: how many signalled keys (nodes and runs, which come and go) are remembered
    ///   before those nobody waits for are forgotten; at least twice as many are kept after each pruning.
    public init(pruningThreshold: Int = 4_096) {
        self.pruningThreshold = pruningThreshold
    }

    /// `key`'s mark, which changes whenever it is signalled: read before looking at the state, and handed to `wait`,
    /// so that a signal between the look and the wait is not missed. Forgetting keys moves every forgotten key's
    /// mark, so a wait that began before is ended early (one more look at the state), never missed.
    public func generation(_ key: Key) -> UInt64 { generations[key] ?? floor }

    /// How many keys are remembered (for tests).
    var rememberedKeys: Int { generations.count }

    /// Wakes everyone waiting for `key`.
    public func signal(_ key: Key) {
        clock += 1
        generations[key] = clock
        for waiter in waiters.removeValue(forKey: key)?.values ?? [:].values { waiter.resume() }
        if generations.count > pruningThreshold { prune() }
    }

    /// Forgets the keys nobody waits for: a SuperLink sees new node ids at every registration and new run ids at
    /// every run.
    private func prune() {
        generations = generations.filter { waiters[$0.key] != nil }
        clock += 1
        floor = clock
        pruningThreshold = max(pruningThreshold, 2 * generations.count)
    }

    /// Wakes everyone waiting for any of `keys`.
    public func signal(_ keys: some Sequence<Key>) {
        for key in keys { signal(key) }
    }

    /// Returns once `key` is signalled after `generation`, after `seconds`, or on cancellation, whichever is first.
    public func wait(_ key: Key, after generation: UInt64, upTo seconds: Double) async {
        guard self.generation(key) == generation, seconds > 0, !Task.isCancelled else { return }
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
