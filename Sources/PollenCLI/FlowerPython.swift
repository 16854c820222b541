import Foundation
import PollenNode

/// The Python of a Flower 1.42 install, found through one of its scripts (`flwr-serverapp`, `flwr-clientapp`):
/// what the daemons ask Flower's own code about a Flower App Bundle, rather than reading its zip themselves.
struct FlowerPython: Sendable {
    /// The interpreter on the script's `#!` line.
    let interpreter: String

    /// The Python that runs `script`.
    ///
    /// - Throws: `CLIError` when `script` cannot be read or names no interpreter.
    init(script: String) throws {
        guard let handle = FileHandle(forReadingAtPath: script) else { throw CLIError("cannot read '\(script)'") }
        defer { try? handle.close() }
        let head = String(decoding: handle.readData(ofLength: 512), as: UTF8.self)
        guard head.hasPrefix("#!"), let line = head.dropFirst(2).split(separator: "\n").first, let interpreter = line.split(separator: " ").first else {
            throw CLIError("'\(script)' is not a Flower script (it has no #! line naming its Python)")
        }
        self.interpreter = String(interpreter)
    }

    /// What `code` (run with `arguments`) prints, its output and errors going through `outputPath`; `what` says
    /// what was asked, for the error when Python fails.
    func evaluate(_ code: String, arguments: [String], outputPath: String, what: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter)
        process.arguments = ["-c", code] + arguments
        guard FileManager.default.createFile(atPath: outputPath, contents: nil, attributes: [.posixPermissions: 0o600]),
              let output = FileHandle(forWritingAtPath: outputPath)
        else {
            throw CLIError("cannot create '\(outputPath)'")
        }
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let timedOut = try await ChildProcess.run(process, timeLimitSeconds: 60)
        let printed = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard !timedOut, process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw CLIError("\(what) failed: \(printed.split(separator: "\n").suffix(3).joined(separator: " | "))")
        }
        return printed
    }

    /// The arguments of Flower's app processes (`flwr-serverapp`, `flwr-clientapp`): the runtime API on the loopback
    /// `port`, the token in `tokenFile` (not on the command line, which other users can list), and an end with this
    /// process.
    static func appArguments(runtimePort port: Int, tokenFile: String) -> [String] {
        [
            "--runtime-api-address", "127.0.0.1:\(port)", "--token-file", tokenFile, "--insecure",
            "--parent-pid", String(ProcessInfo.processInfo.processIdentifier),
        ]
    }
}
