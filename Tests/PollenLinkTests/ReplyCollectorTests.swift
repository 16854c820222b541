import PollenCore
import PollenLink
import Testing

/// How SuperLink-side grids gather replies: in the instructions' order, each handed on as soon as it and every
/// reply before it are in, the missing ones as failures once the round's time is up.
@Suite struct ReplyCollectorTests {
    static let instructions = [MessageID("a"), MessageID("b"), MessageID("c")]

    static func reply(to instruction: MessageID, from node: UInt64) -> Message {
        var reply = Message(content: RecordDict(), destination: NodeID(node), type: .train).reply(content: RecordDict())
        reply.metadata.replyTo = instruction
        return reply
    }

    /// Whether `message`'s array "w" can be written without a copy: whether the caller handed over its only copy.
    /// (`#require` is not used here: it keeps a copy of what it checks.)
    static func writableInPlace(_ message: consuming Message) throws -> Bool {
        var owned = consume message
        guard var content = owned.takeContent(), var arrays = content[arrays: "arrays"] else { return false }
        content[arrays: "arrays"] = nil
        guard var tensor = arrays["w"] else { return false }
        arrays["w"] = nil
        let before = tensor.withUnsafeBytes { $0.baseAddress! }
        // Copy-on-write: a tensor someone else also holds is copied before it is written.
        let after = try tensor.withUnsafeMutableBufferPointer(as: Float.self) { UnsafeRawPointer($0.baseAddress!) }
        return before == after
    }

    /// A grid's aggregation may keep or overwrite a reply's arrays (FedAvg sums into the first reply's): the
    /// collector must hand each reply on as its only copy, whether it came alone, with others, or early.
    @Test func eachReplyIsHandedOnAsItsOnlyCopy() async throws {
        func reply(to instruction: MessageID) throws -> (instruction: MessageID, reply: Message) {
            var content = RecordDict()
            content[arrays: "arrays"] = ["w": try Tensor([Float](repeating: 1, count: 1_024))]
            var reply = Message(content: RecordDict(), destination: NodeID(1), type: .train).reply(content: content)
            reply.metadata.replyTo = instruction
            return (instruction, reply)
        }
        let ids = Self.instructions
        var arrivals = [[try reply(to: ids[1])], [try reply(to: ids[0]), try reply(to: ids[2])]]
        var inPlace = [Bool]()
        try await ReplyCollector.collect(ids, run: RunID(1), timeoutSeconds: 60, take: { _, _ in arrivals.removeFirst() }, deliver: { (reply: consuming Message) in
            inPlace.append((try? Self.writableInPlace(consume reply)) ?? false)
        })
        #expect(inPlace == [true, true, true])
    }

    @Test func repliesAreHandedOnInOrderAsSoonAsTheirTurnComes() async throws {
        // "b" comes first, then "a", then "c": "a" and "b" are handed on together after the second take, "c" after
        // the third; nothing waits for the last reply.
        var arrivals = [[(instruction: MessageID, reply: Message)]]([
            [(Self.instructions[1], Self.reply(to: Self.instructions[1], from: 2))],
            [(Self.instructions[0], Self.reply(to: Self.instructions[0], from: 1))],
            [(Self.instructions[2], Self.reply(to: Self.instructions[2], from: 3))],
        ])
        var log = [String]()
        try await ReplyCollector.collect(Self.instructions, run: RunID(1), timeoutSeconds: 60, take: { pending, _ in
            log.append("take \(pending.map(\.rawValue).joined())")
            return arrivals.removeFirst()
        }, deliver: { reply in
            log.append("deliver \(reply.metadata.replyTo?.rawValue ?? "?")")
        })
        #expect(log == ["take abc", "take ac", "deliver a", "deliver b", "take c", "deliver c"])
    }

    @Test func aMissingReplyIsAFailureInItsPlaceAfterTheTimeout() async throws {
        let replies = try await ReplyCollector.collect(Self.instructions, run: RunID(1), timeoutSeconds: 0.05) { pending, wait in
            try await Task.sleep(for: .seconds(wait))
            return pending.contains(Self.instructions[1]) ? [(Self.instructions[1], Self.reply(to: Self.instructions[1], from: 2))] : []
        }
        #expect(replies.map(\.metadata.replyTo) == Self.instructions)
        #expect(replies[1].error == nil)
        #expect(replies[0].error?.code == .replyMessageUnavailable && replies[2].error?.code == .replyMessageUnavailable)
    }
}
