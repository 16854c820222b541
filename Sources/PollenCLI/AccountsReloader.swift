import Logging
import PollenLink
import ServiceLifecycle
import UnixSignals

/// Reads the SuperLink's accounts file again on SIGHUP (`systemctl reload`, `kill -HUP`), so that an operator
/// admits or removes an account without stopping the runs in progress. A file that no longer reads leaves the
/// accounts as they were, and the log says why. Without an accounts file, SIGHUP only says there is nothing to
/// reload: it never stops the SuperLink.
struct AccountsReloader: Service {
    /// The accounts file, `nil` when the SuperLink has none.
    let path: String?
    /// The accounts the SuperLink admits, read from `path`.
    let accounts: ControlAccounts?
    /// SIGHUP, trapped before the SuperLink starts serving, so that none arriving later ends the process.
    let hangups: UnixSignalsSequence
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            for await _ in hangups { reload() }
        }
    }

    private func reload() {
        guard let path, let accounts else {
            logger.notice("SIGHUP: there is no accounts file to reload (start with --accounts FILE)")
            return
        }
        do {
            let read = try AccountsFile.load(path: path)
            accounts.replace(with: read)
            logger.notice("accounts file reloaded", metadata: ["path": "\(path)", "accounts": "\(read.count)"])
        } catch {
            logger.error("accounts file not reloaded; the previous accounts stay", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}
