import Foundation
import Synchronization

/// Large tensor mappings that were freed moments ago, kept so that the next tensor of about the same size reuses
/// their pages instead of faulting in and clearing new ones.
///
/// A federated round frees and allocates the same model-sized buffers over and over: a decoded reply, the running
/// sum, the next model. Unmapping gives their pages back to the kernel, and the next mapping faults in fresh pages
/// that the kernel must clear: about 20 ms per 100 MB on bare metal, and up to 250 ms on a virtual machine whose
/// host reclaims the guest's free memory (free page reporting, as on this project's Firecracker VM), where a page
/// freed a moment ago must come back from the host.
///
/// The pool holds at most `maximumEntries` mappings and `maximumBytes` bytes, and unmaps a mapping nobody took
/// within `idleSeconds`, so an idle daemon gives the memory back. A mapping is handed out only for a request of at
/// least 3/4 of its length, so that a small tensor never pins a large mapping.
enum MappingPool {
    /// The most mappings kept.
    static let maximumEntries = 4
    /// The most bytes kept.
    static let maximumBytes = 1 << 30
    /// How long a mapping is kept without being taken.
    static let idleSeconds = 5.0

    /// A kept mapping: its address, its length, and when it was freed (`DispatchTime` nanoseconds).
    private struct Entry {
        var address: UInt
        var length: Int
        var freedAt: UInt64
    }

    private struct State {
        var entries: [Entry] = []
        /// Whether a task that unmaps idle mappings is scheduled.
        var sweepScheduled = false
        var bytes: Int { entries.reduce(0) { $0 + $1.length } }
    }

    private static let state = Mutex(State())

    /// A kept mapping of at least `length` bytes and at most a third more, taken out of the pool; the smallest such.
    static func take(length: Int) -> (start: UnsafeMutableRawPointer, length: Int)? {
        let taken = state.withLock { state -> Entry? in
            let fitting = state.entries.indices.filter {
                state.entries[$0].length >= length && state.entries[$0].length <= length + length / 3
            }
            guard let best = fitting.min(by: { state.entries[$0].length < state.entries[$1].length }) else { return nil }
            return state.entries.remove(at: best)
        }
        guard let taken, let start = UnsafeMutableRawPointer(bitPattern: taken.address) else { return nil }
        return (start, taken.length)
    }

    /// Keeps the mapping at `start`, or unmaps it when it does not fit; the oldest mappings make room for it.
    static func give(_ start: UnsafeMutableRawPointer, length: Int) {
        guard length <= maximumBytes else {
            munmap(start, length)
            return
        }
        let entry = Entry(address: UInt(bitPattern: start), length: length, freedAt: DispatchTime.now().uptimeNanoseconds)
        let (evicted, sweep) = state.withLock { state -> ([Entry], Bool) in
            state.entries.append(entry)
            var evicted = [Entry]()
            while state.entries.count > maximumEntries || state.bytes > maximumBytes {
                evicted.append(state.entries.removeFirst())
            }
            let sweep = !state.sweepScheduled
            state.sweepScheduled = true
            return (evicted, sweep)
        }
        unmap(evicted)
        if sweep { scheduleSweep() }
    }

    /// Unmaps the mappings kept for `idleSeconds` or longer; returns how many remain.
    @discardableResult
    static func sweep(now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int {
        let idleNanoseconds = UInt64(idleSeconds * 1e9)
        let (expired, remaining) = state.withLock { state -> ([Entry], Int) in
            let expired = state.entries.filter { now >= $0.freedAt + idleNanoseconds }
            state.entries.removeAll { now >= $0.freedAt + idleNanoseconds }
            if state.entries.isEmpty { state.sweepScheduled = false }
            return (expired, state.entries.count)
        }
        unmap(expired)
        return remaining
    }

    /// Sweeps every `idleSeconds` until the pool is empty.
    private static func scheduleSweep() {
        Task.detached(priority: .background) {
            while true {
                try? await Task.sleep(for: .seconds(idleSeconds))
                if sweep() == 0 { return }
            }
        }
    }

    private static func unmap(_ entries: [Entry]) {
        for entry in entries {
            if let start = UnsafeMutableRawPointer(bitPattern: entry.address) { munmap(start, entry.length) }
        }
    }
}
