public import PollenCore
import Foundation

/// How a SuperLink-side grid stamps the instructions it sends and waits for the replies to the instructions it sent: it takes what has arrived
/// until every instruction has its reply or `timeoutSeconds` have passed, when each missing reply becomes a failure
/// saying so. Replies come back in the instructions' order.
public enum ReplyCollector {
    /// The longest a single `take` waits for replies to arrive, in seconds.
    public static let longestTakeSeconds = 1.0

    /// Collects the replies to `instructions`; `take(pending, wait)` returns the replies to those still pending, each
    /// with the instruction it answers, as soon as there are some or after waiting up to `wait` seconds.
    public static func collect(
        _ instructions: [MessageID], run: RunID, timeoutSeconds: Double,
        take: ([MessageID], Double) async throws -> [(instruction: MessageID, reply: Message)]
    ) async throws -> [Message] {
        var pending = instructions
        let order = Dictionary(uniqueKeysWithValues: instructions.enumerated().map { ($1, $0) })
        var replies = [(Int, Message)]()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while !pending.isEmpty {
            try Task.checkCancellation()
            let wait = min(longestTakeSeconds, max(deadline.timeIntervalSinceNow, 0))
            for (instruction, reply) in try await take(pending, wait) where pending.contains(instruction) {
                pending.removeAll { $0 == instruction }
                replies.append((order[instruction] ?? 0, reply))
            }
            guard !pending.isEmpty else { break }
            guard Date() < deadline else {
                replies += pending.map { (order[$0] ?? 0, timeoutReply(to: $0, run: run, timeoutSeconds: timeoutSeconds)) }
                break
            }
        }
        return replies.sorted { $0.0 < $1.0 }.map(\.1)
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
