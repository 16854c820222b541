import Foundation
import PollenNode

/// The Python of a Flower 1.42 install, found through one of its scripts (`flwr-serverapp`, `flwr-clientapp`):
/// what the daemons ask Flower's own code about a Flower App Bundle, rather than reading its zip themselves.
struct FlowerPython: Sendable {
    /// The program to start, and the arguments that come before the code: `python3`, or `/usr/bin/env python3`.
    let command: [String]

    /// The Python that runs `script`: the `python3` or `python` beside it (a virtual environment's), or else the
    /// one its `#!` line names, with that line's arguments.
    ///
    /// - Throws: `CLIError` when neither is there.
    init(script: String) throws {
        let folder = URL(fileURLWithPath: script).deletingLastPathComponent().path
        if let sibling = ["python3", "python"].map({ "\(folder)/\($0)" }).first(where: FileManager.default.isExecutableFile(atPath:)) {
            command = [sibling]
            return
        }
        guard let handle = FileHandle(forReadingAtPath: script) else { throw CLIError("cannot read '\(script)'") }
        defer { try? handle.close() }
        let head = String(decoding: handle.readData(ofLength: 512), as: UTF8.self)
        guard head.hasPrefix("#!"), let line = head.dropFirst(2).split(separator: "\n").first,
              case let words = line.split(separator: " ").map(String.init), words.first?.hasSuffix("/sh") == false, !words.isEmpty
        else {
            throw CLIError("cannot tell which Python runs '\(script)': no python3 beside it and no #! line naming one; pass the script of a Flower 1.42 virtual environment")
        }
        command = words
    }

    /// What `code` (run with `arguments`) prints; what it reports on standard error goes to `errorPath` and, when
    /// Python fails, into the error, with `what` saying what was asked.
    func evaluate(_ code: String, arguments: [String], errorPath: String, what: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst()) + ["-c", code] + arguments
        let output = Pipe()
        guard FileManager.default.createFile(atPath: errorPath, contents: nil, attributes: [.posixPermissions: 0o600]),
              let errors = FileHandle(forWritingAtPath: errorPath)
        else {
            throw CLIError("cannot create '\(errorPath)'")
        }
        defer { try? errors.close() }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        process.environment = Self.environment(home: nil)
        // Read while it runs: a pipe holds 64 KiB, and a child blocked on a full pipe never ends.
        let printed = Task.detached { output.fileHandleForReading.readDataToEndOfFile() }
        let timedOut = try await ChildProcess.run(process, timeLimitSeconds: 60)
        try? output.fileHandleForWriting.close()
        let text = String(decoding: await printed.value, as: UTF8.self)
        guard !timedOut, process.terminationReason == .exit, process.terminationStatus == 0 else {
            let reported = ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "").split(separator: "\n").suffix(3).joined(separator: " | ")
            throw CLIError("\(what) failed (\(timedOut ? "took over 60 s" : "status \(process.terminationStatus)")): \(reported)")
        }
        return text
    }

    /// The environment of a Flower process the daemons start: the few variables Python needs and Flower's own
    /// (`FLWR_*`: its log level, an operator's settings), not the rest of the daemon's (which may name its secrets);
    /// `FLWR_HOME` when given, and no telemetry.
    static func environment(home: String?) -> [String: String] {
        let own = ProcessInfo.processInfo.environment
        var environment = own.filter { ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ"].contains($0.key) || $0.key.hasPrefix("FLWR_") }
        environment["FLWR_TELEMETRY_ENABLED"] = "0"
        if let home { environment["FLWR_HOME"] = home }
        return environment
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
