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
/// least 3/4 of its length, so that a small tensor never pins a large mapping. Tensor storage uses `shared`; other
/// instances exist for tests.
package final class MappingPool: Sendable {
    /// The pool tensor storage takes from and gives to.
    package static let shared = MappingPool()

    /// The most mappings kept.
    static let maximumEntries = 4
    /// The most bytes kept.
    static let maximumBytes = 1 << 30
    /// How long a mapping is kept without being taken: 5 s for `shared`.
    let idleSeconds: Double

    /// A kept mapping: its address, its length, and when it was freed (`DispatchTime` nanoseconds).
    private struct Entry {
        var address: UInt
        var length: Int
        var freedAt: UInt64
    }

    private struct State {
        var entries: [Entry] = []
        /// The lengths of mappings being prepared (`prepare`) and not yet kept.
        var preparing: [Int] = []
        /// Whether a task that unmaps idle mappings is scheduled.
        var sweepScheduled = false
        var bytes: Int { entries.reduce(0) { $0 + $1.length } }
    }

    private let state = Mutex(State())
    /// The fewest bytes of a tensor that gets a mapping (and so one from the pool).
    package static let smallestMappedTensor = TensorStorage.mappedThreshold

    package init(idleSeconds: Double = 5) {
        self.idleSeconds = idleSeconds
    }

    /// Whether a kept mapping of `entryLength` bytes may serve a request for `length`: at least as long, at most a
    /// third longer.
    private static func fits(_ entryLength: Int, _ length: Int) -> Bool { entryLength >= length && entryLength <= length + length / 3 }

    /// How many kept mappings, and mappings being prepared, would serve a tensor of `byteCount` bytes (none for a
    /// tensor too small for a mapping).
    package func fittingCount(forBytes byteCount: Int) -> Int {
        guard byteCount >= Self.smallestMappedTensor else { return 0 }
        let length = TensorStorage.mappedLength(forBytes: byteCount)
        return state.withLock { state in
            state.entries.count { Self.fits($0.length, length) } + state.preparing.count { Self.fits($0, length) }
        }
    }

    /// Maps `count` mappings for tensors of `byteCount` bytes, faults in their pages and keeps them, on a thread of
    /// their own: buffers a process knows it is about to need, made ready while it waits for something else (a
    /// ServerApp waiting for its first round's replies). Nothing for a tensor too small for a mapping.
    package func prepare(count: Int, forBytes byteCount: Int) {
        guard byteCount >= Self.smallestMappedTensor, count > 0 else { return }
        let length = TensorStorage.mappedLength(forBytes: byteCount)
        // Counted as fitting from now on, so that a second caller meanwhile does not prepare them again.
        state.withLock { $0.preparing += Array(repeating: length, count: count) }
        Thread.detachNewThread { [self] in
            for _ in 0..<count {
                let start = TensorStorage.mapHugePages(length)
                if let start {
                    // One write per small page makes the kernel back the whole mapping; it stays all zeros.
                    for offset in stride(from: 0, to: length, by: 4_096) { start.storeBytes(of: 0, toByteOffset: offset, as: UInt8.self) }
                }
                state.withLock { $0.preparing.remove(at: $0.preparing.firstIndex(of: length)!) }
                if let start { give(start, length: length) }
            }
        }
    }

    /// A kept mapping of at least `length` bytes and at most a third more, taken out of the pool; the smallest such.
    func take(length: Int) -> (start: UnsafeMutableRawPointer, length: Int)? {
        let taken = state.withLock { state -> Entry? in
            let fitting = state.entries.indices.filter { Self.fits(state.entries[$0].length, length) }
            guard let best = fitting.min(by: { state.entries[$0].length < state.entries[$1].length }) else { return nil }
            return state.entries.remove(at: best)
        }
        guard let taken, let start = UnsafeMutableRawPointer(bitPattern: taken.address) else { return nil }
        return (start, taken.length)
    }

    /// Keeps the mapping at `start`, or unmaps it when it does not fit; the oldest mappings make room for it.
    func give(_ start: UnsafeMutableRawPointer, length: Int) {
        guard length <= Self.maximumBytes else {
            munmap(start, length)
            return
        }
        let entry = Entry(address: UInt(bitPattern: start), length: length, freedAt: DispatchTime.now().uptimeNanoseconds)
        let (evicted, sweep) = state.withLock { state -> ([Entry], Bool) in
            state.entries.append(entry)
            var evicted = [Entry]()
            while state.entries.count > Self.maximumEntries || state.bytes > Self.maximumBytes {
                evicted.append(state.entries.removeFirst())
            }
            let sweep = !state.sweepScheduled
            state.sweepScheduled = true
            return (evicted, sweep)
        }
        Self.unmap(evicted)
        if sweep { scheduleSweep() }
    }

    /// Unmaps the mappings kept for `idleSeconds` or longer; returns how many remain.
    @discardableResult
    func sweep(now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int {
        let idleNanoseconds = UInt64(idleSeconds * 1e9)
        let (expired, remaining) = state.withLock { state -> ([Entry], Int) in
            let expired = state.entries.filter { now >= $0.freedAt + idleNanoseconds }
            state.entries.removeAll { now >= $0.freedAt + idleNanoseconds }
            if state.entries.isEmpty { state.sweepScheduled = false }
            return (expired, state.entries.count)
        }
        Self.unmap(expired)
        return remaining
    }

    /// Sweeps every `idleSeconds` until the pool is empty.
    private func scheduleSweep() {
        Task.detached(priority: .background) { [self] in
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
