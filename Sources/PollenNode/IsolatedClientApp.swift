public import PollenCore
import Foundation
import Synchronization

/// Runs the ClientApp in a process of its own for every message, so that an app that crashes, hangs or runs out
/// of memory costs one failed reply, never the SuperNode (Flower's `--isolation subprocess`).
///
/// The SuperNode writes the instruction and the node's context to a file in a private temporary folder, starts
/// `executable arguments --input IN --output OUT [--memory-limit-mb N]`, and reads the reply and the updated context
/// back. The child only reads and writes those files: it opens no port and talks to no SuperLink. A child that
/// outlives `timeLimitSeconds` is killed; one that exits abnormally becomes a failure reply naming the signal or
/// status and the last lines it printed.
public struct IsolatedClientApp: ClientAppRunner {
    /// The program to start: the `pollen` executable.
    public var executable: String
    /// Its arguments before the exchange files: `["clientapp"]`.
    public var arguments: [String]
    /// Seconds a ClientApp may take on one message.
    public var timeLimitSeconds: Double
    /// The most memory (data segment) the ClientApp process may use, in MiB; `nil` for no limit.
    public var memoryLimitMegabytes: Int?

    public init(executable: String, arguments: [String], timeLimitSeconds: Double, memoryLimitMegabytes: Int? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.timeLimitSeconds = timeLimitSeconds
        self.memoryLimitMegabytes = memoryLimitMegabytes
    }

    public func handle(_ message: Message, context: inout Context) async -> Message {
        do {
            return try await run(message, context: &context)
        } catch {
            return message.reply(error: MessageError(code: .clientAppRaisedException, reason: "\(error)"))
        }
    }

    /// The child's side: answers the instruction in `input` with `app`, writing the reply to `output`.
    public static func serve(input: String, output: String, app: ClientApp) async throws {
        var (message, context) = try ClientAppExchange.read(from: input)
        let reply = await app.handle(message, context: &context)
        try ClientAppExchange.write(reply, context: context, to: output)
    }

    private func run(_ message: Message, context: inout Context) async throws -> Message {
        let files = FileManager.default
        let folder = files.temporaryDirectory.appendingPathComponent("pollen-clientapp-\(UUID().uuidString)").path
        try files.createDirectory(atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? files.removeItem(atPath: folder) }
        let (input, output, log) = ("\(folder)/in", "\(folder)/out", "\(folder)/log")
        try ClientAppExchange.write(message, context: context, to: input)
        guard files.createFile(atPath: log, contents: nil) else { throw IsolationError("cannot create '\(log)'") }
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? logHandle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + ["--input", input, "--output", output]
            + (memoryLimitMegabytes.map { ["--memory-limit-mb", String($0)] } ?? [])
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = logHandle
        process.standardError = logHandle
        let child = ChildProcess()
        try await withTaskCancellationHandler {
            let watchdog = Task { [timeLimitSeconds] in
                try await Task.sleep(for: .seconds(timeLimitSeconds))
                child.kill(timedOut: true)
            }
            defer { watchdog.cancel() }
            let launched: Result<Void, any Error> = await withCheckedContinuation { exited in
                process.terminationHandler = { _ in
                    child.exited()
                    exited.resume(returning: .success(()))
                }
                do {
                    try process.run()
                    child.started(process.processIdentifier)
                } catch {
                    exited.resume(returning: .failure(error))
                }
            }
            if case .failure(let error) = launched {
                throw IsolationError("cannot start the ClientApp process '\(executable)': \(error)")
            }
            try Task.checkCancellation()
        } onCancel: {
            child.kill(timedOut: false)
        }

        if child.timedOut {
            throw IsolationError("the ClientApp took longer than its time limit of \(timeLimitSeconds) s and was stopped")
        }
        let printed = Self.lastLines(of: log)
        let memory = memoryLimitMegabytes.map { " (its memory limit is \($0) MiB)" } ?? ""
        guard process.terminationReason == .exit else {
            throw IsolationError("the ClientApp process crashed with signal \(process.terminationStatus)\(memory)\(printed)")
        }
        guard process.terminationStatus == 0 else {
            throw IsolationError("the ClientApp process exited with status \(process.terminationStatus)\(memory)\(printed)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        guard size <= Self.maximumReplyBytes else {
            throw IsolationError("the ClientApp process wrote a reply of \(size) bytes, more than the \(Self.maximumReplyBytes) allowed")
        }
        let (reply, updated) = try ClientAppExchange.read(from: output)
        context.state = updated.state
        // Only the reply's body comes from the child; what it answers, and for whom, is the instruction's.
        switch reply.body {
        case .content(let content): return message.reply(content: content)
        case .error(let error): return message.reply(error: error)
        }
    }

    /// The largest reply read back from a child: protobuf's own limit.
    static let maximumReplyBytes = 2 << 30

    /// The last lines the child printed (from its last 4 KiB), for a failure reason.
    private static func lastLines(of path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let end = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: end > 4_096 ? end - 4_096 : 0)
        guard let data = try? handle.readToEnd() else { return "" }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(5)
        return lines.isEmpty ? "" : ": " + lines.joined(separator: " | ")
    }
}

/// The child's process id while it runs, shared with the watchdog and the cancellation handler, so that neither
/// signals a process id the system may have given to another process after the child exited.
final class ChildProcess: Sendable {
    private let state = Mutex<(pid: pid_t, timedOut: Bool, finished: Bool, cancelled: Bool)>((0, false, false, false))

    func started(_ pid: pid_t) {
        let cancelled = state.withLock { state in
            if !state.finished { state.pid = pid }
            return state.cancelled
        }
        // Cancelled before it started: stop it now.
        if cancelled { kill(timedOut: false) }
    }
    func exited() { state.withLock { $0.pid = 0; $0.finished = true } }
    var timedOut: Bool { state.withLock { $0.timedOut } }

    /// Kills the child if it still runs, with every process it started (a ClientApp that forked a helper must not
    /// leave it running, nor keep the child's exit from being noticed).
    func kill(timedOut: Bool) {
        state.withLock { state in
            if !timedOut { state.cancelled = true }
            guard state.pid > 0 else { return }
            state.timedOut = timedOut
            // Stopped first, so that it cannot start another process between the look for its descendants and
            // the kill.
            _ = Foundation.kill(state.pid, SIGSTOP)
            for pid in Self.descendants(of: state.pid) + [state.pid] { _ = Foundation.kill(pid, SIGKILL) }
        }
    }

    /// The processes below `root`, from `/proc` (empty where there is no `/proc`).
    private static func descendants(of root: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var children = [pid_t: [pid_t]]()
        for entry in entries {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let afterName = stat.range(of: ") ", options: .backwards)
            else { continue }
            // After "pid (name) ": the state, then the parent's pid.
            let fields = stat[afterName.upperBound...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { children[parent, default: []].append(pid) }
        }
        var found = [pid_t]()
        var queue = children[root] ?? []
        while let pid = queue.popLast() {
            found.append(pid)
            queue += children[pid] ?? []
        }
        return found
    }
}

/// Why an isolated ClientApp produced no reply.
struct IsolationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
