import Foundation

/// Flower's `flwr-serverapp` (Flower 1.42), which runs the ServerApp of a Flower App Bundle submitted with
/// `flwr run`: the SuperLink starts it for such a run as Flower's SuperExec would, against its app runtime API, and
/// it installs the bundle, runs the researcher's Python ServerApp and reports how the run ended.
///
/// That is the researcher's code running as the SuperLink's user, which can read what that user reads (the
/// database, the TLS key): an operator turns it on explicitly (`--flower-serverapp`), preferably for a SuperLink
/// whose user holds nothing else. The process gets a short list of environment variables, not the daemon's.
struct FlowerServerApp: Sendable {
    /// The `flwr-serverapp` script.
    let executable: String

    /// The `flwr-serverapp` at `path` (`--flower-serverapp`).
    ///
    /// - Throws: `CLIError` when `path` is not an executable file.
    init(path: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CLIError("--flower-serverapp '\(path)' is not an executable file; pass the flwr-serverapp of a Flower 1.42 install")
        }
        executable = path
    }

    /// The `publisher/name` and version the bundle at `path` declares, read by Flower's own code with the Python
    /// that runs `flwr-serverapp`, as Flower's SuperLink reads them when a run is submitted; what Python reports on
    /// standard error goes to `errorPath`.
    func metadata(ofBundleAt path: String, errorPath: String) async throws -> (id: String, version: String) {
        let printed = try await FlowerPython(script: executable).evaluate(
            "import sys; from flwr.cli.config_utils import get_fab_metadata; print(*get_fab_metadata(open(sys.argv[1], 'rb').read()), sep='\\n')",
            arguments: [path], errorPath: errorPath, what: "reading the publisher, name and version of the run's Flower App Bundle"
        )
        let lines = printed.split(separator: "\n").map(String.init)
        guard lines.count == 2 else { throw CLIError("the run's Flower App Bundle declares no publisher, name and version Flower can read: \(printed)") }
        return (lines[0], lines[1])
    }
}
