public import PollenCore
import Foundation

/// How a SuperLink-side grid stamps the instructions it sends and waits for the replies to the instructions it sent: it takes what has arrived
/// until every instruction has its reply or `timeoutSeconds` have passed, when each missing reply becomes a failure
/// saying so. Replies come back in the instructions' order, each as soon as it and every reply before it are in,
/// so that a grid folds them into an aggregation while it waits for the rest (and holds no more of them than the
/// order makes it).
public enum ReplyCollector {
    /// The longest a single `take` waits for replies to arrive, in seconds.
    public static let longestTakeSeconds = 1.0

    /// Collects the replies to `instructions`; `take(pending, wait)` returns the replies to those still pending, each
    /// with the instruction it answers, as soon as there are some or after waiting up to `wait` seconds.
    public static func collect(
        _ instructions: [MessageID], run: RunID, timeoutSeconds: Double,
        take: ([MessageID], Double) async throws -> [(instruction: MessageID, reply: Message)]
    ) async throws -> [Message] {
        var replies = [Message]()
        try await collect(instructions, run: run, timeoutSeconds: timeoutSeconds, take: take) { replies.append($0) }
        return replies
    }

    /// `collect`, handing each reply to `deliver` in the instructions' order as soon as it and every reply before
    /// it have come.
    public static func collect(
        _ instructions: [MessageID], run: RunID, timeoutSeconds: Double,
        take: ([MessageID], Double) async throws -> [(instruction: MessageID, reply: Message)],
        deliver: (consuming Message) throws -> Void
    ) async throws {
        var pending = Set(instructions)
        let order = Dictionary(uniqueKeysWithValues: instructions.enumerated().map { ($1, $0) })
        // Replies that came before one they follow, by place.
        var early = [Int: Message]()
        var next = 0
        func arrived(_ instruction: MessageID, _ reply: consuming Message) throws {
            guard pending.remove(instruction) != nil, let place = order[instruction] else { return }
            early[place] = consume reply
            while let reply = early.removeValue(forKey: next) {
                try deliver(consume reply)
                next += 1
            }
        }
        // Each reply is taken out of the list before it is handed on, so that `deliver` receives its only copy.
        func arrivedAll(_ list: inout [(instruction: MessageID, reply: Message)]) throws {
            list.reverse()
            while let (instruction, reply) = list.popLast() { try arrived(instruction, consume reply) }
        }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while !pending.isEmpty {
            try Task.checkCancellation()
            let wait = min(longestTakeSeconds, max(deadline.timeIntervalSinceNow, 0))
            var arrivals = try await take(instructions.filter(pending.contains), wait)
            try arrivedAll(&arrivals)
            guard !pending.isEmpty else { break }
            guard Date() < deadline else {
                // Folding what came may itself have taken the rest of the time: what is in by now still counts.
                var arrivals = try await take(instructions.filter(pending.contains), 0)
                try arrivedAll(&arrivals)
                for instruction in instructions where pending.contains(instruction) {
                    try arrived(instruction, timeoutReply(to: instruction, run: run, timeoutSeconds: timeoutSeconds))
                }
                break
            }
        }
    }

    /// `messages` as instructions of `run`, from the SuperLink, created now, living no longer than the
    /// `timeoutSeconds` their sender waits for replies: an instruction nobody waits for any more is not delivered.
    public static func instructions(_ messages: [Message], run: RunID, timeoutSeconds: Double) -> [Message] {
        let now = Date().timeIntervalSince1970
        return messages.map { message in
            var message = message
            message.metadata.runID = run
            message.metadata.source = .superLink
            message.metadata.createdAt = now
            message.metadata.ttlSeconds = min(message.metadata.ttlSeconds, max(timeoutSeconds, 1))
            return message
        }
    }

    /// The failure reply standing in for a reply to `instruction` that did not come within `timeoutSeconds`.
    static func timeoutReply(to instruction: MessageID, run: RunID, timeoutSeconds: Double) -> Message {
        let error = MessageError(code: .replyMessageUnavailable, reason: "no reply within \(Int(timeoutSeconds)) s")
        var failed = Message(content: RecordDict(), destination: .superLink, type: .train).reply(error: error)
        failed.metadata.replyTo = instruction
        failed.metadata.runID = run
        return failed
    }
}
