import Foundation
import PollenCore
@testable import PollenNode
import PollenWire
import Testing

/// The isolation boundary itself, with stand-in child programs that crash, hang or fail: each is one failure
/// reply naming what happened, and the caller carries on.
@Suite struct IsolatedClientAppTests {
    static let instruction = Message(content: ["config": .config(["k": 1])], destination: NodeID(3), type: .train)

    func reply(from script: String, timeLimit: Double = 30) async -> Message {
        // `sh -c SCRIPT sh --input IN --output OUT`: the script sees the exchange files as $2 and $4.
        let app = IsolatedClientApp(executable: "/bin/sh", arguments: ["-c", script, "sh"], timeLimitSeconds: timeLimit)
        var context = Context(runID: RunID(1), nodeID: NodeID(3))
        return await app.handle(Self.instruction, context: &context)
    }

    @Test func aChildKilledByASignalIsAFailedReply() async {
        let reply = await reply(from: "echo about to fail >&2; kill -SEGV $$")
        #expect(reply.error?.code == .clientAppRaisedException)
        #expect(reply.error?.reason.contains("crashed with signal 11") == true, "\(reply.error?.reason ?? "")")
        #expect(reply.error?.reason.contains("about to fail") == true)
    }

    @Test func aChildPastItsTimeLimitIsStoppedWithWhatItStarted() async {
        // The child starts a process that would leave a mark a minute later, and records its pid; both must be
        // killed, not waited for.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("left-behind-\(UUID().uuidString)").path
        let (mark, pidFile) = (folder + ".mark", folder + ".pid")
        defer { for path in [mark, pidFile] { try? FileManager.default.removeItem(atPath: path) } }
        let reply = await reply(from: "(sleep 60; touch '\(mark)') & echo $! > '\(pidFile)'; wait", timeLimit: 1)
        #expect(reply.error?.reason.contains("time limit of 1.0 s") == true, "\(reply.error?.reason ?? "")")
        #expect(!FileManager.default.fileExists(atPath: mark), "a process the ClientApp started outlived it")
        // On a machine loaded enough to stop the shell before it wrote the pid, there is no pid to look for.
        if let recorded = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(recorded.trimmingCharacters(in: .whitespacesAndNewlines)) {
            #expect(await Self.ends(pid), "the process the ClientApp started (pid \(pid)) still runs")
        }
    }

    /// Whether `pid` ends within a few seconds: no such process, or one that died and waits to be reaped.
    static func ends(_ pid: pid_t) async -> Bool {
        for _ in 0..<100 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let afterName = stat.range(of: ") ", options: .backwards) else { return true }
            let state = stat[afterName.upperBound...].prefix(1)
            if state == "Z" || state == "X" { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func aChildThatExitsWithoutAReplyIsAFailedReply() async {
        let failed = await reply(from: "exit 3")
        #expect(failed.error?.reason.contains("exited with status 3") == true, "\(failed.error?.reason ?? "")")
        let silent = await reply(from: "exit 0")
        #expect(silent.error?.reason.contains("exchange file") == true, "\(silent.error?.reason ?? "")")
    }

    @Test func aMissingProgramIsAFailedReply() async {
        let app = IsolatedClientApp(executable: "/nonexistent/pollen", arguments: ["clientapp"], timeLimitSeconds: 5)
        var context = Context(runID: RunID(1), nodeID: NodeID(3))
        let reply = await app.handle(Self.instruction, context: &context)
        #expect(reply.error?.reason.contains("cannot start the ClientApp process") == true, "\(reply.error?.reason ?? "")")
    }

    @Test(arguments: [false, true]) func theExchangeCarriesTheMessageAndContextBothWays(mapping: Bool) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("exchange-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A larger exchange first: writing over it must leave nothing of it behind.
        var large = RecordDict()
        large[arrays: "arrays"] = ["w": try Tensor([Float](repeating: 2, count: 5_000))]
        try ClientAppExchange.write(Message(content: large, destination: NodeID(4), type: .train), context: Context(runID: RunID(9), nodeID: NodeID(4)), to: path)
        var content = RecordDict()
        // Odd sizes, so that the second array starts unaligned unless padded.
        content[arrays: "arrays"] = ["w": try Tensor([Float](repeating: 0.5, count: 10)), "b": try Tensor([Double](repeating: 1.5, count: 3))]
        let context = Context(runID: RunID(9), nodeID: NodeID(4), nodeConfig: ["data-path": "/data.csv"], runConfig: ["app": "x"], state: content)
        try ClientAppExchange.write(Message(content: content, destination: NodeID(4), type: .train), context: context, to: path)
        let (message, read) = try ClientAppExchange.read(from: path, mapping: mapping)
        #expect(message.content == content)
        #expect(read.state == content && read.nodeConfig == context.nodeConfig && read.runConfig == context.runConfig && read.nodeID == NodeID(4))
        for (_, tensor) in message.content?[arrays: "arrays"] ?? [:] {
            #expect(tensor.withUnsafeBytes { Int(bitPattern: $0.baseAddress) } % 64 == 0, "an array is not 64-byte aligned")
        }
        // Writing a mapped array changes this process's copy, never the file.
        var written = try #require(message.content?[arrays: "arrays"]?["w"])
        try written.withUnsafeMutableBufferPointer(as: Float.self) { $0[0] = 7 }
        #expect(try written.scalars(as: Float.self)[0] == 7)
        #expect(try ClientAppExchange.read(from: path).message.content == content)
    }

    /// An array still in the chunks it was decoded from goes to the file from them, and reads back whole.
    @Test func anArrayHeldInChunksIsWrittenFromThem() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("exchange-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var content = RecordDict()
        content[arrays: "arrays"] = ["w": try Tensor((0..<5_000).map { Float($0) / 3 })]
        let encoded = try MessageCodec.encode(Message(content: content, destination: NodeID(4), type: .train), chunkBytes: 4_096)
        let lookup = Dictionary(uniqueKeysWithValues: encoded.objects.map { ($0.id, $0) })
        let decoded = try MessageCodec.decode(root: encoded.root) { lookup[$0] }
        #expect(decoded.content?[arrays: "arrays"]?["w"]?.isHeldInPieces == true)
        try ClientAppExchange.write(decoded, context: Context(runID: RunID(9), nodeID: NodeID(4)), to: path)
        #expect(try ClientAppExchange.read(from: path).message.content == content)
    }

    /// The replies to two messages in a row from a child that runs `first` for the first and `second` for the second
    /// (each a shell command seeing the exchange files as $2 and $4); the exchange files are kept between them.
    func twoReplies(first: String, second: String) async -> (Message, Message) {
        let mark = FileManager.default.temporaryDirectory.appendingPathComponent("answered-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: mark) }
        let script = "if [ -e '\(mark)' ]; then \(second); else touch '\(mark)'; \(first); fi"
        let app = IsolatedClientApp(executable: "/bin/sh", arguments: ["-c", script, "sh"], timeLimitSeconds: 30)
        defer { app.removeExchangeFiles() }
        var context = Context(runID: RunID(1), nodeID: NodeID(3))
        return (await app.handle(Self.instruction, context: &context), await app.handle(Self.instruction, context: &context))
    }

    @Test func aChildThatWritesNoReplyNeverGetsLastMessagesReply() async throws {
        // The first child answers with its instruction (a valid exchange), the second writes nothing: the first
        // reply must not pass for the second.
        let (first, second) = await twoReplies(first: "cp \"$2\" \"$4\"", second: "exit 0")
        #expect(first.content == Self.instruction.content, "\(first.error?.reason ?? "")")
        #expect(second.error?.reason.contains("wrote no reply") == true, "\(second.error?.reason ?? "a stale reply")")
    }

    @Test(.timeLimit(.minutes(1))) func whateverAChildLeavesInItsFilesCannotBlockTheNextMessage() async throws {
        // The first child answers, then leaves a FIFO where the node writes next (opening it would block) and exits
        // well; the second message must still run.
        let answer = "cp \"$2\" \"$4\""
        let (first, second) = await twoReplies(first: "\(answer); rm \"$2\"; mkfifo \"$2\"", second: answer)
        for reply in [first, second] {
            #expect(reply.content == Self.instruction.content, "\(reply.error?.reason ?? "")")
        }
    }

    @Test func aChildGetsAScratchFileWhenItsInstructionCarriesArrays() async throws {
        guard access("/dev/shm", W_OK) == 0 else {
            print("skipped: no /dev/shm here, so ClientApps get no scratch file")
            return
        }
        // Answers only if given `--scratch FILE` with room for the instruction's 3 pages of arrays.
        let script = "[ \"$5\" = --scratch ] && [ \"$(stat -c %s \"$6\")\" = 12288 ] && cp \"$2\" \"$4\""
        let app = IsolatedClientApp(executable: "/bin/sh", arguments: ["-c", script, "sh"], timeLimitSeconds: 30)
        defer { app.removeExchangeFiles() }
        let arrays: ArrayRecord = ["a": try Tensor([Float](repeating: 1, count: 1_500)), "b": try Tensor([Float](repeating: 2, count: 10))]
        let instruction = Message(content: ["arrays": .arrays(arrays)], destination: NodeID(3), type: .train)
        var context = Context(runID: RunID(1), nodeID: NodeID(3))
        let reply = await app.handle(instruction, context: &context)
        #expect(reply.content == instruction.content, "\(reply.error?.reason ?? "")")
    }

    @Test func aSlotsScratchFileHoldsOneRunAtATimeAndGoesWithTheSlots() async throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("slots-\(UUID().uuidString)").path
        let shared = FileManager.default.temporaryDirectory.appendingPathComponent("shared-\(UUID().uuidString)").path
        for folder in [parent, shared] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false) }
        defer { for folder in [parent, shared] { try? FileManager.default.removeItem(atPath: folder) } }
        let slots = ExchangeSlots(parent: parent, scratchParent: shared, idleSeconds: 60)
        let first = try await slots.withSlot { slot in
            let path = try #require(slots.scratch(in: slot, run: RunID(1), byteCount: 8_192))
            #expect(path.hasPrefix(shared))
            #expect((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == 8_192)
            try Data("run 1".utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        try await slots.withSlot { slot in
            // The run's next message finds its pages; another run's gets a new, empty file and the first is gone.
            #expect(slots.scratch(in: slot, run: RunID(1), byteCount: 8_192) == first)
            #expect(try Data(contentsOf: URL(fileURLWithPath: first)).prefix(5) == Data("run 1".utf8))
            let other = try #require(slots.scratch(in: slot, run: RunID(2), byteCount: 4_096))
            #expect(other != first)
            #expect(!FileManager.default.fileExists(atPath: first))
            #expect(try Data(contentsOf: URL(fileURLWithPath: other)) == Data(count: 4_096))
        }
        slots.removeAll()
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared).isEmpty)
    }

    @Test func exchangeFilesAreEmptiedWhenIdleAndRemovedAtTheEnd() async throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("slots-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        // A folder a killed SuperNode left (no process has pid 0x7FFFFFFF) goes when the next creates its own; one
        // that others may enter was not made by a SuperNode, and stays.
        let abandoned = "\(parent)/pollen-clientapp-2147483647-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: abandoned, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let foreign = "\(parent)/pollen-clientapp-2147483647-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        let slots = ExchangeSlots(parent: parent, idleSeconds: 0.2)
        let slot = try await slots.withSlot { slot in
            try Data(repeating: 1, count: 4_096).write(to: URL(fileURLWithPath: slot.output))
            return slot
        }
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        #expect(FileManager.default.fileExists(atPath: foreign))
        try FileManager.default.removeItem(atPath: foreign)
        #expect((try FileManager.default.attributesOfItem(atPath: slot.output)[.size] as? Int) == 4_096)
        var size = 4_096
        for _ in 0..<100 where size > 0 {
            try await Task.sleep(for: .milliseconds(50))
            size = try FileManager.default.attributesOfItem(atPath: slot.output)[.size] as? Int ?? -1
        }
        #expect(size == 0, "an idle slot kept its files")
        slots.removeAll()
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).isEmpty)
    }

    @Test func aDamagedExchangeFileIsAnErrorThatSaysSo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("exchange-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var content = RecordDict()
        content[arrays: "arrays"] = ["w": try Tensor([Float](repeating: 0.5, count: 1_000))]
        try ClientAppExchange.write(Message(content: content, destination: NodeID(4), type: .train), context: Context(runID: RunID(9), nodeID: NodeID(4)), to: path)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        func error(reading bytes: Data) -> String {
            try? bytes.write(to: URL(fileURLWithPath: path))
            do { _ = try ClientAppExchange.read(from: path); return "" } catch { return "\(error)" }
        }
        #expect(error(reading: whole.prefix(whole.count - 1)).contains("truncated"))
        #expect(error(reading: whole + Data([0])).contains("1 bytes after its last array"))
        #expect(error(reading: whole.prefix(10)).contains("truncated"))
        // A header that claims more than the file holds.
        var lying = whole
        lying.replaceSubrange(0..<8, with: [UInt8](repeating: 0xFF, count: 8))
        #expect(error(reading: lying).contains("truncated"))
    }
}
