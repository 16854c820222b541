public import PollenCore
import PollenKernels
import Foundation
import Synchronization

/// The `Grid` of a simulation: it hands each message to its virtual node's ClientApp in this process, on a
/// fixed number of workers, and folds the replies as they are produced.
///
/// Determinism: a call's messages are cut into at most `maxBatches` contiguous batches; each batch is handled in
/// message order and folded into its own copy of the empty aggregation, and the batches are merged in order.
/// Which worker ran which batch, and when, changes nothing, so the same seed gives bit-identical results on
/// any number of cores.
///
/// Limits: replies are produced in-process, so `timeoutSeconds` is not enforced (timeouts are injected with
/// `SimulationOptions.timeoutRate`); two messages for the same node in one call may run concurrently, and the
/// node's state then keeps the last writer's changes.
public final class SimulationGrid: Grid {
    /// The most batches a call is cut into: enough to keep 64 cores busy, few enough that holding one partial
    /// aggregation per batch stays cheap.
    static let maxBatches = 64

    public let runID: RunID
    private let clientApp: ClientApp
    private let options: SimulationOptions
    private let nodes: VirtualNodes
    /// Counts calls and messages, for message ids and for failure draws that do not depend on timing.
    private let sendCounter = Mutex<(calls: UInt64, messages: UInt64)>((0, 0))

    init(runID: RunID, clientApp: ClientApp, options: SimulationOptions, nodes: VirtualNodes) {
        self.runID = runID
        self.clientApp = clientApp
        self.options = options
        self.nodes = nodes
    }

    public func nodeIDs() async throws -> [NodeID] { nodes.ids }

    public func sendAndReceive(_ messages: [Message], timeoutSeconds: Double) async throws -> [Message] {
        try await sendAndAggregate(messages, into: ReplyList(), timeoutSeconds: timeoutSeconds).replies
    }

    public func sendAndAggregate<Aggregation: ReplyAggregation>(
        _ messages: [Message], into aggregation: Aggregation, timeoutSeconds: Double
    ) async throws -> Aggregation {
        let stamped = try stamp(messages)
        guard !stamped.messages.isEmpty else { return aggregation }
        let total = stamped.messages.count
        let batchCount = min(total, Self.maxBatches)
        let handled = Mutex(0)
        let partials = try await ParallelWorkers.map(count: batchCount, workers: options.workerCount) { batch in
            var partial = aggregation
            let range = (total * batch / batchCount)..<(total * (batch + 1) / batchCount)
            for position in range {
                partial.add(await self.deliver(stamped.messages[position], call: stamped.call))
            }
            if let onProgress = self.options.onProgress {
                onProgress(handled.withLock { $0 += range.count; return $0 }, total)
            }
            return partial
        }
        var result = partials[0]
        for partial in partials.dropFirst() { result.merge(partial) }
        return result
    }

    /// Gives every message its run, id and creation time, and checks it is addressed to a node of this simulation.
    private func stamp(_ messages: [Message]) throws -> (messages: [Message], call: UInt64) {
        let (call, firstMessage) = sendCounter.withLock { counter in
            defer {
                counter.calls += 1
                counter.messages += UInt64(messages.count)
            }
            return (counter.calls, counter.messages)
        }
        let now = Date().timeIntervalSince1970
        var stamped = messages
        for i in stamped.indices {
            guard nodes.index(of: stamped[i].metadata.destination) != nil else {
                throw SimulationError(
                    code: .unknownNode,
                    message: "a message is addressed to node \(stamped[i].metadata.destination), which this simulation does not have"
                )
            }
            stamped[i].metadata.runID = runID
            stamped[i].metadata.messageID = MessageID(String(firstMessage + UInt64(i), radix: 16))
            stamped[i].metadata.createdAt = now
        }
        return (stamped, call)
    }

    /// Runs `message` on its node and returns the reply, or the injected failure.
    private func deliver(_ message: Message, call: UInt64) async -> Message {
        let index = nodes.index(of: message.metadata.destination)!
        var reply: Message
        var draw = SeededGenerator(seed: options.seed, stream: [0x6661_696C, call, UInt64(index)]) // "fail"
        let roll = draw.nextUnitDouble()
        if roll < options.failureRate {
            reply = message.reply(error: MessageError(code: .clientAppRaisedException, reason: "injected failure of the ClientApp"))
        } else if roll < options.failureRate + options.timeoutRate {
            reply = message.reply(error: MessageError(
                code: .replyMessageUnavailable, reason: "injected timeout: the reply did not arrive in time"
            ))
        } else {
            var context = Context(
                runID: runID, nodeID: message.metadata.destination,
                nodeConfig: options.nodeConfig(index, options.nodeCount), runConfig: options.runConfig,
                state: nodes.state(of: index)
            )
            reply = await clientApp.handle(message, context: &context)
            nodes.setState(context.state, of: index)
        }
        reply.metadata.runID = runID
        reply.metadata.messageID = MessageID(message.metadata.messageID.rawValue + "-reply")
        reply.metadata.createdAt = Date().timeIntervalSince1970
        return reply
    }
}

/// The trivial aggregation: keeps every reply, in order.
struct ReplyList: ReplyAggregation {
    var replies: [Message] = []
    mutating func add(_ reply: consuming Message) { replies.append(reply) }
    mutating func merge(_ later: ReplyList) { replies += later.replies }
}
