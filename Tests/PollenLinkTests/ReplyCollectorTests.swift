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
