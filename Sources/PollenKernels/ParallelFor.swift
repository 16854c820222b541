import Dispatch

/// A chunked parallel-for over an index range, for CPU-bound kernels.
///
/// The range is split into at most `ParallelFor.workerCount` chunks of at least `minChunk` indices, run with
/// `DispatchQueue.concurrentPerform` (the calling thread takes part). Work smaller than two chunks runs inline,
/// so small calls pay no scheduling cost.
public enum ParallelFor {
    /// The number of chunks a range is split into at most: the number of active cores.
    public static let workerCount: Int = max(1, activeProcessorCount())

    /// Calls `body` on disjoint sub-ranges that together cover `0..<count`.
    ///
    /// - Parameters:
    ///   - count: the number of indices.
    ///   - minChunk: the fewest indices worth handing to a thread of its own.
    ///   - body: the work for one sub-range; it must only write state owned by that sub-range.
    public static func run(count: Int, minChunk: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(workerCount, max(1, count / max(1, minChunk)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            // `concurrentPerform` returns only after every chunk is done, and the contract above makes the chunks
            // write disjoint state, so sharing the non-Sendable closure across its threads is safe.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                body(start..<end)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
private func activeProcessorCount() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#elseif canImport(Darwin)
import Darwin
private func activeProcessorCount() -> Int { Int(sysconf(_SC_NPROCESSORS_ONLN)) }
#else
private func activeProcessorCount() -> Int { 1 }
#endif
