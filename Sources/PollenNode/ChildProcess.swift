public import Foundation
import Synchronization

/// The child's process id while it runs, shared with the watchdog and the cancellation handler, so that neither
/// signals a process id the system may have given to another process after the child exited.
public final class ChildProcess: Sendable {
    /// A process that could not be started.
    public struct LaunchError: Error {
        /// Why, as `Process.run()` said.
        public let underlying: any Error
    }

    /// Runs `process` to its end. It is killed, with every process it started, when the calling task is cancelled
    /// (which then throws `CancellationError`) or when it outlives `timeLimitSeconds`; returns whether it did. One
    /// that ended by itself after its time limit, before the watchdog could stop it (on a busy machine), counts as
    /// having outlived it too: the limit does not depend on when the watchdog runs.
    public static func run(_ process: Process, timeLimitSeconds: Double?) async throws -> Bool {
        let child = ChildProcess()
        let clock = ContinuousClock()
        let start = clock.now
        let end = Mutex<ContinuousClock.Instant?>(nil)
        try await withTaskCancellationHandler {
            let watchdog = timeLimitSeconds.map { limit in
                Task {
                    try await Task.sleep(for: .seconds(limit))
                    child.kill(timedOut: true)
                }
            }
            defer { watchdog?.cancel() }
            let launched: Result<Void, any Error> = await withCheckedContinuation { exited in
                process.terminationHandler = { _ in
                    end.withLock { $0 = clock.now }
                    child.exited()
                    exited.resume(returning: .success(()))
                }
                do {
                    try process.run()
                    child.started(process.processIdentifier)
                } catch {
                    exited.resume(returning: .failure(error))
                }
            }
            if case .failure(let error) = launched { throw LaunchError(underlying: error) }
            try Task.checkCancellation()
            if let limit = timeLimitSeconds, let end = end.withLock({ $0 }), end - start > .seconds(limit) { child.outlivedItsLimit() }
        } onCancel: {
            child.kill(timedOut: false)
        }
        return child.timedOut
    }

    private let state = Mutex<(pid: pid_t, timedOut: Bool, finished: Bool, cancelled: Bool)>((0, false, false, false))

    func started(_ pid: pid_t) {
        let cancelled = state.withLock { state in
            if !state.finished { state.pid = pid }
            return state.cancelled
        }
        // Cancelled before it started: stop it now.
        if cancelled { kill(timedOut: false) }
    }
    func exited() { state.withLock { $0.pid = 0; $0.finished = true } }
    private func outlivedItsLimit() { state.withLock { $0.timedOut = true } }
    var timedOut: Bool { state.withLock { $0.timedOut } }

    /// Kills the child if it still runs, with every process it started (a ClientApp that forked a helper must not
    /// leave it running, nor keep the child's exit from being noticed).
    func kill(timedOut: Bool) {
        state.withLock { state in
            if !timedOut { state.cancelled = true }
            guard state.pid > 0 else { return }
            state.timedOut = timedOut
            // Stopped first, so that it cannot start another process between the look for its descendants and
            // the kill.
            _ = Foundation.kill(state.pid, SIGSTOP)
            for pid in Self.descendants(of: state.pid) + [state.pid] { _ = Foundation.kill(pid, SIGKILL) }
        }
    }

    /// The processes below `root`, from `/proc` (empty where there is no `/proc`).
    private static func descendants(of root: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var children = [pid_t: [pid_t]]()
        for entry in entries {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let afterName = stat.range(of: ") ", options: .backwards)
            else { continue }
            // After "pid (name) ": the state, then the parent's pid.
            let fields = stat[afterName.upperBound...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { children[parent, default: []].append(pid) }
        }
        var found = [pid_t]()
        var queue = children[root] ?? []
        while let pid = queue.popLast() {
            found.append(pid)
            queue += children[pid] ?? []
        }
        return found
    }
}

