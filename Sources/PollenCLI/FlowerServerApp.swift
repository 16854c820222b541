import Foundation

/// Flower's `flwr-serverapp` (Flower 1.42), which runs the ServerApp of a Flower App Bundle submitted with
/// `flwr run`: the SuperLink starts it for such a run as Flower's SuperExec would, against its app runtime API, and
/// it installs the bundle, runs the researcher's Python ServerApp and reports how the run ended.
struct FlowerServerApp: Sendable {
    /// The `flwr-serverapp` script.
    let executable: String

    /// `explicit` (`--flower-serverapp`), or `flwr-serverapp` found on `PATH`; `nil` when there is none, so that
    /// runs of Flower App Bundles are refused.
    ///
    /// - Throws: `CLIError` when `explicit` is not an executable file.
    static func locate(_ explicit: String?) throws -> FlowerServerApp? {
        if let explicit {
            guard FileManager.default.isExecutableFile(atPath: explicit) else {
                throw CLIError("--flower-serverapp '\(explicit)' is not an executable file; pass the flwr-serverapp of a Flower 1.42 install")
            }
            return FlowerServerApp(executable: explicit)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").map { "\($0)/flwr-serverapp" }.first(where: FileManager.default.isExecutableFile(atPath:))
            .map(FlowerServerApp.init(executable:))
    }

    /// The `publisher/name` and version the bundle at `path` declares, read by Flower's own code with the Python
    /// that runs `flwr-serverapp`, as Flower's SuperLink reads them when a run is submitted; Python's output goes
    /// through `outputPath`.
    func metadata(ofBundleAt path: String, outputPath: String) async throws -> (id: String, version: String) {
        let printed = try await FlowerPython(script: executable).evaluate(
            "import sys; from flwr.cli.config_utils import get_fab_metadata; print(*get_fab_metadata(open(sys.argv[1], 'rb').read()), sep='\\n')",
            arguments: [path], outputPath: outputPath, what: "reading the publisher, name and version of the run's Flower App Bundle"
        )
        let lines = printed.split(separator: "\n").map(String.init)
        guard lines.count == 2 else { throw CLIError("the run's Flower App Bundle declares no publisher, name and version Flower can read: \(printed)") }
        return (lines[0], lines[1])
    }
}
