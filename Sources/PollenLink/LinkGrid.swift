public import PollenCore
public import PollenStore
import PollenWire
import Foundation

/// The `Grid` of a ServerApp running beside the SuperLink: messages go into the link state and object store,
/// where SuperNodes pull them, and replies come back the same way.
///
/// It looks for replies each time the Fleet API signals the run (a reply or an object arrived), and at least every
/// `pollSeconds`; an instruction whose node goes offline or whose TTL runs out comes back as a failure reply made
/// by the link state, so a round never waits on a node that is gone.
public struct LinkGrid: Grid {
    public let runID: RunID
    let state: any LinkState
    let objects: any ObjectStore
    /// The Fleet API's signals: nodes are woken for their instructions, and this grid for their replies.
    let signals: LinkSignals
    /// The longest wait between looks for replies, in seconds.
    let pollSeconds: Double

    public init(runID: RunID, state: any LinkState, objects: any ObjectStore, signals: LinkSignals, pollSeconds: Double = 0.5) {
        self.runID = runID
        self.state = state
        self.objects = objects
        self.signals = signals
        self.pollSeconds = pollSeconds
    }

    public func nodeIDs() async throws -> [NodeID] {
        try await state.onlineNodes(now: Date().timeIntervalSince1970)
    }

    public func sendAndReceive(_ messages: [Message], timeoutSeconds: Double) async throws -> [Message] {
        var replies = [Message]()
        try await exchange(messages, timeoutSeconds: timeoutSeconds) { replies.append($0) }
        return replies
    }

    /// Folds each reply into the aggregation as soon as it and the replies before it have come, so a round holds
    /// no more replies at once than their order makes it.
    public func sendAndAggregate<Aggregation: ReplyAggregation>(
        _ messages: [Message], into aggregation: Aggregation, timeoutSeconds: Double
    ) async throws -> Aggregation {
        var result = aggregation
        try await exchange(messages, timeoutSeconds: timeoutSeconds) { (reply: consuming Message) in result.add(consume reply) }
        return result
    }

    /// Sends `messages` and hands their replies to `deliver` in their order (`ReplyCollector`).
    private func exchange(_ messages: [Message], timeoutSeconds: Double, deliver: (consuming Message) throws -> Void) async throws {
        var pending = [MessageID]()
        let stamped = ReplyCollector.instructions(messages, run: runID, timeoutSeconds: timeoutSeconds)
        // Every node of the run waits for this encoding: use every core (for about 35 ms per 100 MB, shared with
        // the Fleet API and any other run this SuperLink serves).
        for encoded in try MessageCodec.encode(stamped, onEveryCore: true) {
            _ = try await objects.preregister(runID: runID, tree: encoded.tree)
            for object in encoded.objects { _ = try await objects.put(object) }
            try await state.storeInstruction(LinkMessage(metadata: encoded.message.metadata, tree: encoded.tree))
            await signals.signal(.node(encoded.message.metadata.destination))
            pending.append(encoded.message.metadata.messageID)
        }
        // The deadline for a reply's objects is the round's.
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        try await ReplyCollector.collect(pending, run: runID, timeoutSeconds: timeoutSeconds, take: { pending, wait in
            let replies = try await signals.longPoll(.run(runID), seconds: min(wait, pollSeconds), isEmpty: \.isEmpty) {
                if let run = try await state.run(runID), run.status.isFinished {
                    throw LinkGridError(message: "run \(runID) is \(run.status): \(run.status.details)")
                }
                return try await state.takeReplies(to: pending, run: runID, now: Date().timeIntervalSince1970)
            }
            var taken = [(instruction: MessageID, reply: Message)]()
            for reply in replies {
                guard let instruction = reply.metadata.replyTo else { continue }
                taken.append((instruction, await message(from: reply, deadline: deadline)))
            }
            return taken
        }, deliver: deliver)
    }

    /// The full reply, or a failure reply saying why it could not be read: one node's bad reply never fails a round.
    private func message(from reply: LinkMessage, deadline: Date) async -> Message {
        do {
            return try await read(reply, deadline: deadline)
        } catch {
            if let tree = reply.tree { try? await objects.delete(tree.id) }
            return Message(metadata: reply.metadata, body: .error(MessageError(
                code: .clientAppRaisedException, reason: "the node's reply could not be read: \(error)"
            )))
        }
    }

    /// The full reply: its content read back from the object store once every object has arrived.
    private func read(_ reply: LinkMessage, deadline: Date) async throws -> Message {
        if let error = reply.error {
            return Message(metadata: reply.metadata, body: .error(error))
        }
        guard let tree = reply.tree else {
            return Message(metadata: reply.metadata, body: .error(MessageError(code: .unknown, reason: "the reply has no content")))
        }
        // The node pushes its objects right after the reply; wait for the last of them.
        while true {
            try Task.checkCancellation()
            let seen = await signals.generation(.run(runID))
            guard try await !objects.hasBytes(of: tree.postOrder) else { break }
            guard Date() < deadline else {
                throw LinkGridError(message: "the reply's objects did not all arrive in time")
            }
            // A node that died between pushing its reply and its objects will never send them (looked at again after
            // the node is seen offline: it may have pushed its last object just before deactivating).
            let sender = try await state.node(reply.metadata.source, now: Date().timeIntervalSince1970)
            if sender?.status != .online {
                guard try await objects.hasBytes(of: tree.postOrder) else {
                    throw LinkGridError(message: "node \(reply.metadata.source) went offline before pushing all of its reply's objects")
                }
                break
            }
            await signals.wait(.run(runID), after: seen, upTo: min(pollSeconds, max(deadline.timeIntervalSinceNow, 0)))
        }
        let objects = self.objects
        var fetched = [ObjectID: FlowerObject]()
        for id in tree.postOrder {
            if case .available(let object) = try await objects.get(id) { fetched[id] = object }
        }
        let decoded = try MessageCodec.decode(root: tree.id) { fetched[$0] }
        try await objects.delete(tree.id)
        // The metadata the link state checked (sender, run, instruction) is the truth; the objects must agree.
        guard decoded.metadata.source == reply.metadata.source, decoded.metadata.runID == reply.metadata.runID,
              decoded.metadata.replyTo == reply.metadata.replyTo
        else {
            throw LinkGridError(message: "its objects name another sender, run or instruction than its metadata")
        }
        return decoded
    }
}

/// A failure of the SuperLink-side grid: the run it serves stopped, or a reply contradicts itself.
public struct LinkGridError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
