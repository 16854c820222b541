public import PollenCore
import Foundation

/// Runs the ClientApp in a process of its own for every message, so that an app that crashes, hangs or runs out
/// of memory costs one failed reply, never the SuperNode (Flower's `--isolation subprocess`).
///
/// The SuperNode writes the instruction and the node's context to a file in a private temporary folder, starts
/// `executable arguments --input IN --output OUT [--memory-limit-mb N] [--scratch FILE]`, and reads the reply and the
/// updated context back. The scratch file, in shared memory and kept for the run's next message, is where the
/// child makes its reply's large arrays (`ScratchArena`); like the exchange files, it is outside the memory limit,
/// which counts the child's own data segment. The files are kept and overwritten from one message to the next (`ExchangeSlots`); the ClientApp maps
/// the instruction's arrays rather than reading them. The child only reads and writes those files: it opens no
/// port and talks to no SuperLink. A child that outlives `timeLimitSeconds` is killed; one that exits abnormally
/// becomes a failure reply naming the signal or status and the last lines it printed.
public struct IsolatedClientApp: ClientAppRunner {
    /// The program to start: the `pollen` executable.
    public var executable: String
    /// Its arguments before the exchange files: `["clientapp"]`.
    public var arguments: [String]
    /// Seconds a ClientApp may take on one message.
    public var timeLimitSeconds: Double
    /// The most memory (data segment) the ClientApp process may use, in MiB; `nil` for no limit.
    public var memoryLimitMegabytes: Int?
    /// The exchange files, shared by every copy of this value.
    private let slots: ExchangeSlots

    public init(executable: String, arguments: [String], timeLimitSeconds: Double, memoryLimitMegabytes: Int? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.timeLimitSeconds = timeLimitSeconds
        self.memoryLimitMegabytes = memoryLimitMegabytes
        slots = ExchangeSlots()
    }

    public func handle(_ message: consuming Message, context: inout Context) async -> Message {
        // What the reply answers, and for whom; the instruction's arrays are let go once written for the child.
        let question = Message(metadata: message.metadata, body: .content(RecordDict()))
        var instruction: Message? = consume message
        do {
            let (reply, state) = try await slots.withSlot { [context] slot in
                try await run(&instruction, answering: question, context: context, in: slot)
            }
            context.state = state
            return reply
        } catch {
            return question.reply(error: MessageError(code: .clientAppRaisedException, reason: "\(error)"))
        }
    }

    /// Removes the exchange files kept between messages; call it when the node stops.
    public func removeExchangeFiles() { slots.removeAll() }

    /// The child's side: answers the instruction in `input` with `app`, writing the reply to `output`; large arrays
    /// are made in `scratch` (`ScratchArena`) when there is one.
    public static func serve(input: String, output: String, scratch: String? = nil, app: ClientApp) async throws {
        if let scratch { try ScratchArena.install(path: scratch) }
        // The instruction's arrays stay in the SuperNode's file: mapped, not read into fresh memory.
        var (message, context) = try ClientAppExchange.read(from: input, mapping: true)
        let reply = await app.handle(message, context: &context)
        try ClientAppExchange.write(reply, context: context, to: output)
    }

    /// The reply to `question` and the updated state; `instruction` is written for the child, then let go.
    private func run(
        _ instruction: inout Message?, answering question: Message, context: Context, in slot: ExchangeSlots.Slot
    ) async throws -> (Message, RecordDict) {
        let files = FileManager.default
        let (input, output, log) = (slot.input, slot.output, slot.log)
        let scratch = slots.scratch(in: slot, run: question.metadata.runID, byteCount: Self.scratchBytes(for: instruction!))
        try ClientAppExchange.write(instruction.take()!, context: context, to: input)
        // Last message's reply must not pass for this one's: a child that writes none leaves an empty header.
        try ClientAppExchange.invalidate(output)
        guard files.createFile(atPath: log, contents: nil) else { throw IsolationError("cannot create '\(log)'") }
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? logHandle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + ["--input", input, "--output", output]
            + (memoryLimitMegabytes.map { ["--memory-limit-mb", String($0)] } ?? [])
            + (scratch.map { ["--scratch", $0] } ?? [])
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = logHandle
        process.standardError = logHandle
        let timedOut: Bool
        do {
            timedOut = try await ChildProcess.run(process, timeLimitSeconds: timeLimitSeconds)
        } catch let error as ChildProcess.LaunchError {
            throw IsolationError("cannot start the ClientApp process '\(executable)': \(error.underlying)")
        }
        if timedOut {
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
        // Only the reply's body comes from the child; what it answers, and for whom, is the instruction's.
        switch reply.body {
        case .content(let content): return (question.reply(content: content), updated.state)
        case .error(let error): return (question.reply(error: error), updated.state)
        }
    }

    /// The scratch memory a ClientApp gets for its reply: room for arrays as large as the instruction's (a model
    /// in, a model of the same shape out), each starting on its own page.
    static func scratchBytes(for instruction: Message) -> Int {
        var bytes = 0
        for (_, record) in instruction.content?.arrayRecords ?? [] {
            for (_, tensor) in record { bytes += (tensor.byteCount + 4_095) / 4_096 * 4_096 }
        }
        return bytes
    }

    /// The largest reply read back from a child (16 GiB), so that a runaway child cannot make its SuperNode read
    /// without end.
    static let maximumReplyBytes = 16 << 30

    /// The last lines a child printed to the file at `path` (from its last 4 KiB), for a failure reason: ": a | b",
    /// or nothing.
    package static func lastLines(of path: String) -> String {
        // Never a link, and never a FIFO a child left to block the SuperNode's read.
        let file = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard file >= 0 else { return "" }
        var status = stat()
        guard fstat(file, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            close(file)
            return ""
        }
        let handle = FileHandle(fileDescriptor: file, closeOnDealloc: true)
        let end = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: end > 4_096 ? end - 4_096 : 0)
        guard let data = try? handle.readToEnd() else { return "" }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(5)
        return lines.isEmpty ? "" : ": " + lines.joined(separator: " | ")
    }
}

/// Why an isolated ClientApp produced no reply.
struct IsolationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
