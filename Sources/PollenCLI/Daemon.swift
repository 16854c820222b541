import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// What the daemons share: their lifecycle and how they speak to the person running them.
enum Daemon {
    /// Runs `services` in one `ServiceGroup` until they end. SIGTERM or SIGINT starts a graceful shutdown (each
    /// service stops taking new work and finishes what it has in hand), which becomes cancellation after
    /// `gracePeriodSeconds`, and an exit 10 s later if something ignores the cancellation.
    static func run(_ services: [any Service], gracePeriodSeconds: Double, logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(gracePeriodSeconds * 1_000))
        // Work that ignores cancellation must not keep a stopped daemon alive: after this, the process ends.
        configuration.maximumCancellationDuration = .seconds(10)
        try await ServiceGroup(configuration: configuration).run()
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
