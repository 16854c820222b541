import Dispatch
import Foundation

/// Runs `body` until it returns or the process receives SIGTERM or SIGINT, which cancel it (graceful shutdown:
/// the body sees cancellation and finishes its work in flight).
enum Daemon {
    static func runUntilSignalled(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let task = Task { try await body() }
        let sources = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try await task.value
        } catch is CancellationError {
            // Shutdown requested.
        }
    }

    /// Flushes a line to standard output at once, so a parent process reading it sees readiness promptly.
    static func announce(_ line: String) {
        print(line)
        fflush(nil)
    }

    /// Standard error, for warnings a person must see.
    static func warn(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
