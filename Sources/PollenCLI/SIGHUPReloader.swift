import Logging
import ServiceLifecycle
import UnixSignals

/// Reads a daemon's files again on SIGHUP (`systemctl reload`, `kill -HUP`): a SuperLink's accounts file and its TLS
/// certificate, so that an operator admits an account or installs a renewed certificate without stopping the runs
/// in progress. A file that no longer reads leaves what it gave in place, and the log says why. With nothing to
/// reload, SIGHUP is only logged: it never stops the daemon.
struct SIGHUPReloader: Service {
    /// One thing read again: its name in the log, and the reading, which returns what to log of the result.
    struct Reloadable: Sendable {
        let name: String
        let reload: @Sendable () throws -> Logger.Metadata
    }

    let reloadables: [Reloadable]
    /// SIGHUP, trapped before the daemon starts serving, so that none arriving later ends the process.
    let hangups: UnixSignalsSequence
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            for await _ in hangups { reloadAll() }
        }
    }

    private func reloadAll() {
        guard !reloadables.isEmpty else {
            logger.notice("SIGHUP: nothing to reload (no --accounts file, and TLS is off)")
            return
        }
        for reloadable in reloadables {
            do {
                let result = try reloadable.reload()
                logger.notice("\(reloadable.name) reloaded", metadata: result)
            } catch {
                logger.error("\(reloadable.name) not reloaded; the previous one stays", metadata: ["error": "\(error)"])
            }
        }
    }
}
