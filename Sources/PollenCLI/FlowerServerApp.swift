import Foundation
import PollenNode

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
    /// that runs `flwr-serverapp` (its `#!` line), as Flower's SuperLink reads them when a run is submitted.
    /// What Python prints goes to `outputPath`.
    func metadata(ofBundleAt path: String, outputPath: String) async throws -> (id: String, version: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python())
        process.arguments = ["-c", "import sys; from flwr.cli.config_utils import get_fab_metadata; print(*get_fab_metadata(open(sys.argv[1], 'rb').read()), sep='\\n')", path]
        guard FileManager.default.createFile(atPath: outputPath, contents: nil), let output = FileHandle(forWritingAtPath: outputPath) else {
            throw CLIError("cannot create '\(outputPath)'")
        }
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let timedOut = try await ChildProcess.run(process, timeLimitSeconds: 60)
        let printed = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let lines = printed.split(separator: "\n").map(String.init)
        guard !timedOut, process.terminationReason == .exit, process.terminationStatus == 0, lines.count == 2 else {
            let tail = lines.suffix(3).joined(separator: " | ")
            throw CLIError("the run's Flower App Bundle does not declare a publisher, name and version Flower can read: \(tail)")
        }
        return (lines[0], lines[1])
    }

    /// The arguments that run a ServerApp against the runtime API on `port`, with the token in `tokenFile`, ending
    /// with this process.
    func arguments(runtimePort port: Int, tokenFile: String) -> [String] {
        [
            "--runtime-api-address", "127.0.0.1:\(port)", "--token-file", tokenFile, "--insecure",
            "--parent-pid", String(ProcessInfo.processInfo.processIdentifier),
        ]
    }

    /// The interpreter on the script's `#!` line.
    private func python() throws -> String {
        guard let handle = FileHandle(forReadingAtPath: executable) else { throw CLIError("cannot read '\(executable)'") }
        defer { try? handle.close() }
        let head = String(decoding: handle.readData(ofLength: 512), as: UTF8.self)
        guard head.hasPrefix("#!"), let line = head.dropFirst(2).split(separator: "\n").first,
              let interpreter = line.split(separator: " ").first
        else {
            throw CLIError("'\(executable)' is not Flower's flwr-serverapp script (it has no #! line naming its Python)")
        }
        return String(interpreter)
    }
}
