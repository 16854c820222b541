import Foundation
@testable import PollenCore
import PollenKernels
@testable import PollenStrategy
import PollenWire
import Testing

/// A reply from `node` with arrays `w` (shape [2]) and `b` (shape [1]), `examples` rows and a `loss` metric.
func reply(node: UInt64, w: [Float], b: Float, examples: Int, loss: Double) throws -> Message {
    var instruction = Message(content: RecordDict(), destination: NodeID(node), type: .train)
    instruction.metadata.messageID = MessageID("m\(node)")
    var content = RecordDict()
    content[arrays: "arrays"] = ["w": try Tensor(w, shape: [2]), "b": try Tensor([b], shape: [1])]
    content[metrics: "metrics"] = ["num-examples": .int(Int64(examples)), "loss": .double(loss)]
    return instruction.reply(content: content)
}

func failure(node: UInt64) -> Message {
    Message(content: RecordDict(), destination: NodeID(node), type: .train)
        .reply(error: MessageError(code: .clientAppRaisedException, reason: "node \(node) broke"))
}

@Suite struct FedAvgTests {
    @Test func averagesArraysAndMetricsWeightedByExamples() throws {
        let strategy = try FedAvg()
        let replies = [
            try reply(node: 1, w: [1, 2], b: 0, examples: 10, loss: 1.0),
            try reply(node: 2, w: [3, -2], b: 4, examples: 30, loss: 0.5),
            try reply(node: 3, w: [0, 0], b: 8, examples: 60, loss: 0.2),
        ]
        let outcome = strategy.aggregateTrain(round: 1, replies: replies)
        // By hand: w = (10·[1,2] + 30·[3,-2] + 60·[0,0]) / 100 = [1.0, -0.4]; b = (0 + 120 + 480) / 100 = 6.0;
        // loss = (10·1 + 30·0.5 + 60·0.2) / 100 = 0.37.
        let w = try #require(outcome.arrays?["w"]).scalars(as: Float.self)
        #expect(abs(w[0] - 1.0) < 1e-6 && abs(w[1] + 0.4) < 1e-6)
        #expect(abs(try #require(outcome.arrays?["b"]).scalars(as: Float.self)[0] - 6.0) < 1e-6)
        #expect(outcome.arrays?.keys == ["w", "b"])
        #expect(abs(outcome.metrics!["loss"]!.doubleValue! - 0.37) < 1e-12)
        #expect(outcome.metrics?["num-examples"] == nil)
        #expect(outcome.tally.succeeded == 3)
    }

    /// A model's worth of sums would be a fresh allocation per round; the first reply handed over is used instead.
    @Test func theFirstReplyHandedOverBecomesTheSumsWithoutACopy() throws {
        func handOver() throws -> (Message, UnsafeRawPointer) {
            let w = try Tensor([Float](repeating: 2, count: 1 << 20))
            let address = w.withUnsafeBytes { $0.baseAddress! }
            var content = RecordDict()
            content[arrays: "arrays"] = ["w": w]
            content[metrics: "metrics"] = ["num-examples": 4]
            return (Message(content: content, destination: NodeID(1), type: .train).reply(content: content), address)
        }
        var aggregation = WeightedArrayAverage(weightKey: "num-examples", arrayRecordKey: "arrays")
        let (first, address) = try handOver()
        aggregation.add(consume first)
        let (second, _) = try handOver()
        aggregation.add(consume second)
        let average = try #require(aggregation.takeAverage()?["w"])
        #expect(average.withUnsafeBytes { $0.baseAddress! } == address)
        #expect(try average.scalars(as: Float.self).allSatisfy { $0 == 2 })
    }

    /// The sums start as zeros plus the first weighted reply, bit for bit, as they did when they were a buffer of
    /// zeros: a first reply of -0 averages to +0.
    @Test func aFirstReplyOfNegativeZeroAveragesToPositiveZero() throws {
        let average = try #require(try FedAvg().aggregateTrain(round: 1, replies: [reply(node: 1, w: [-0.0, 1], b: -0.0, examples: 3, loss: 0)]).arrays)
        let w = try average["w"]!.scalars(as: Float.self)
        #expect(w[0] == 0 && w[0].sign == .plus && w[1] == 1)
        #expect(try average["b"]!.scalars(as: Float.self)[0].sign == .plus)
    }

    /// Replies decoded from their chunks are folded from there, unaligned and split across cores, to the bits the
    /// same replies held whole give.
    @Test func repliesReadFromTheirChunksAverageAsWholeReplies() throws {
        // 2.5 million elements: large enough to be folded on every core, the runs crossing chunk boundaries.
        let count = 5 << 19
        func update(node: UInt64, examples: Int) throws -> Message {
            var generator = SeededGenerator(seed: node)
            var content = RecordDict()
            content[arrays: "arrays"] = [
                "w": try Tensor((0..<count).map { _ in Float.random(in: -1...1, using: &generator) }),
                "b": try Tensor([Float(node)]),
            ]
            content[metrics: "metrics"] = ["num-examples": .int(Int64(examples))]
            return Message(content: RecordDict(), destination: NodeID(node), type: .train).reply(content: content)
        }
        func decoded(_ reply: Message) throws -> Message {
            let encoded = try MessageCodec.encode(reply, chunkBytes: 1 << 20)
            let lookup = Dictionary(uniqueKeysWithValues: encoded.objects.map { ($0.id, $0) })
            return try MessageCodec.decode(root: encoded.root) { lookup[$0] }
        }
        let replies = try [(1, 3), (2, 5), (3, 1)].map { try update(node: $0, examples: $1) }
        let fromChunks = try replies.map(decoded)
        #expect(fromChunks.allSatisfy { $0.content?[arrays: "arrays"]?["w"]?.isHeldInPieces == true })
        let strategy = try FedAvg()
        let expected = try #require(strategy.aggregateTrain(round: 1, replies: replies).arrays)
        #expect(strategy.aggregateTrain(round: 1, replies: fromChunks).arrays == expected)
    }

    /// A round's aggregation prepares the two buffers of each large array its pool has none for (this round's sums,
    /// the next round's), and none once the pool keeps them.
    @Test func anAggregationPreparesTheBuffersItsPoolLacks() async throws {
        // Kept for an hour: a test held up by others running meanwhile must not see them swept.
        let pool = MappingPool(idleSeconds: 3_600)
        let large = 22 << 20
        let arrays: ArrayRecord = [
            "w": try Tensor(zeros: .float32, shape: [large / 4]), "b": try Tensor(zeros: .float32, shape: [10]),
        ]
        #expect(WeightedArrayAverage.buffersToPrepare(for: arrays, pool: pool) == [large])
        pool.prepare(count: 2, forBytes: large)
        // Being prepared counts: the next round's aggregation prepares nothing more, ready or not.
        #expect(WeightedArrayAverage.buffersToPrepare(for: arrays, pool: pool).isEmpty)
        for _ in 0..<1_000 where pool.fittingCount(forBytes: large) < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(WeightedArrayAverage.buffersToPrepare(for: arrays, pool: pool).isEmpty)
        for _ in 0..<2 { if let taken = pool.take(length: large) { munmap(taken.start, taken.length) } }
    }

    @Test func foldingInBatchesEqualsFoldingInOrder() throws {
        let strategy = try FedAvg()
        let replies = try (1...9).map { try reply(node: $0, w: [Float($0), 1 / Float($0)], b: Float($0 * $0), examples: Int($0) * 7, loss: Double($0)) }
        let sequential = strategy.aggregateTrain(round: 1, replies: replies)
        var first = strategy.makeTrainAggregation(round: 1, arrays: nil)
        var second = strategy.makeTrainAggregation(round: 1, arrays: nil)
        var third = strategy.makeTrainAggregation(round: 1, arrays: nil)
        for r in replies[0..<2] { first.add(r) }
        for r in replies[2..<7] { second.add(r) }
        for r in replies[7...] { third.add(r) }
        first.merge(second)
        first.merge(third)
        let batched = strategy.finishTrain(round: 1, aggregation: first)
        let a = try sequential.arrays!["w"]!.scalars(as: Float.self)
        let b = try batched.arrays!["w"]!.scalars(as: Float.self)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(batched.tally.succeeded == 9)
    }

    @Test func failuresAreCountedAndToleratedUpToTheFraction() throws {
        let tolerant = try FedAvg(acceptedFailureFraction: 0.5)
        let replies = [try reply(node: 1, w: [1, 1], b: 1, examples: 5, loss: 0), failure(node: 2)]
        let outcome = tolerant.aggregateTrain(round: 1, replies: replies)
        #expect(outcome.arrays != nil)
        #expect(outcome.tally.failed == 1)
        #expect(outcome.tally.failureReasons == ["node 2: node 2 broke"])

        let strict = try FedAvg(acceptedFailureFraction: 0.25)
        let skipped = strict.aggregateTrain(round: 1, replies: replies)
        #expect(skipped.arrays == nil)
        #expect(skipped.skippedReason?.contains("1 of 2 replies failed") == true)
    }

    @Test func inconsistentRepliesCountAsFailures() throws {
        var noWeight = try reply(node: 3, w: [1, 1], b: 1, examples: 5, loss: 0)
        noWeight.body = .content(["arrays": .arrays(noWeight.content![arrays: "arrays"]!)])
        var otherShape = try reply(node: 4, w: [1, 1], b: 1, examples: 5, loss: 0)
        otherShape.body = .content([
            "arrays": .arrays(["w": try Tensor([1, 2, 3] as [Float]), "b": try Tensor([1] as [Float])]),
            "metrics": .metrics(["num-examples": 5]),
        ])
        let outcome = try FedAvg(acceptedFailureFraction: 1)
            .aggregateTrain(round: 1, replies: [try reply(node: 1, w: [2, 2], b: 2, examples: 5, loss: 0), noWeight, otherShape])
        #expect(outcome.tally.succeeded == 1)
        #expect(outcome.tally.failed == 2)
        #expect(try outcome.arrays!["w"]!.scalars(as: Float.self) == [2, 2])
    }

    @Test func batchingCannotChangeWhichRepliesCount() throws {
        let strategy = try FedAvg(acceptedFailureFraction: 1)
        let sent: ArrayRecord = ["w": try Tensor([0, 0] as [Float]), "b": try Tensor([0] as [Float])]
        var wrong = try reply(node: 9, w: [1, 1], b: 1, examples: 5, loss: 0)
        wrong.body = .content([
            "arrays": .arrays(["w": try Tensor([1, 2, 3] as [Float]), "b": try Tensor([1] as [Float])]),
            "metrics": .metrics(["num-examples": 5]),
        ])
        let good = try (1...3).map { try reply(node: $0, w: [Float($0), 0], b: 0, examples: 10, loss: 0) }
        // A batch that starts with the malformed reply must still keep the good ones after it.
        var first = strategy.makeTrainAggregation(round: 1, arrays: sent)
        first.add(good[0])
        var second = strategy.makeTrainAggregation(round: 1, arrays: sent)
        second.add(wrong)
        second.add(good[1])
        second.add(good[2])
        first.merge(second)
        let batched = strategy.finishTrain(round: 1, aggregation: first)
        let sequential = strategy.aggregateTrain(round: 1, replies: [good[0], wrong, good[1], good[2]], arrays: sent)
        #expect(batched.tally.succeeded == 3 && batched.tally.failed == 1)
        #expect(try batched.arrays!["w"]!.scalars(as: Float.self) == sequential.arrays!["w"]!.scalars(as: Float.self))
        #expect(try batched.arrays!["w"]!.scalars(as: Float.self) == [2, 0])
    }

    @Test func metricsOfDifferentShapesAreLeftOutNotCrashed() throws {
        var first = try reply(node: 1, w: [1, 1], b: 1, examples: 5, loss: 0.5)
        first.body = .content(first.content!.merging(["extra": .metrics(["acc": .doubleList([1, 2, 3])])]))
        var second = try reply(node: 2, w: [1, 1], b: 1, examples: 5, loss: 0.5)
        second.body = .content(second.content!.merging(["extra": .metrics(["acc": .double(1)])]))
        let outcome = try FedAvg().aggregateTrain(round: 1, replies: [first, second])
        #expect(outcome.tally.succeeded == 2)
        #expect(outcome.metrics?["acc"] == nil)
        #expect(outcome.metrics?["loss"]?.doubleValue == 0.5)
    }

    @Test func invalidSettingsNameTheKey() {
        let error = #expect(throws: StrategyError.self) { try FedAvg(fractionTrain: 1.5) }
        #expect(error?.message.contains("fraction-train") == true)
    }
}

/// A grid with fixed node ids that replies to every message with its arrays unchanged and 10 examples.
struct EchoGrid: Grid {
    let runID = RunID(1)
    let ids: [NodeID]
    func nodeIDs() async throws -> [NodeID] { ids }
    func sendAndReceive(_ messages: [Message], timeoutSeconds: Double) async throws -> [Message] {
        messages.map { message in
            var content = RecordDict()
            content[arrays: "arrays"] = message.content![arrays: "arrays"]
            content[metrics: "metrics"] = ["num-examples": 10, "server-round": .int(Int64(message.content![config: "config"]!["server-round"]!.intValue!))]
            return message.reply(content: content)
        }
    }
}

@Suite struct StrategyRunTests {
    @Test func samplesTheConfiguredFractionReproducibly() async throws {
        let grid = EchoGrid(ids: (10..<30).map { NodeID(UInt64($0)) })
        let strategy = try FedAvg(fractionTrain: 0.25, seed: 5)
        let first = try await strategy.configureTrain(round: 3, arrays: [:], config: [:], grid: grid).map(\.metadata.destination)
        let again = try await strategy.configureTrain(round: 3, arrays: [:], config: [:], grid: grid).map(\.metadata.destination)
        let otherRound = try await strategy.configureTrain(round: 4, arrays: [:], config: [:], grid: grid).map(\.metadata.destination)
        #expect(first.count == 5)
        #expect(Set(first).count == 5)
        #expect(first == again)
        #expect(first != otherRound)
    }

    @Test func startRunsEveryRoundAndEvaluatesCentrally() async throws {
        let grid = EchoGrid(ids: [NodeID(5), NodeID(6), NodeID(7)])
        let initial: ArrayRecord = ["w": try Tensor([1, 2] as [Float]), "b": try Tensor([3] as [Float])]
        let rounds = RoundCounter()
        let result = try await FedAvg().start(
            grid: grid, initialArrays: initial, options: RunOptions(rounds: 4),
            evaluate: { round, _ in ["round": .int(Int64(round))] },
            onRound: { rounds.record($0.round, withArrays: $0.train.arrays != nil) }
        )
        #expect(result.rounds.count == 4)
        #expect(rounds.seen == [1, 2, 3, 4])
        // Each round's model is handed to `onRound`, not kept in the result: a long run would hold them all.
        #expect(rounds.withArrays == [1, 2, 3, 4])
        #expect(result.rounds.allSatisfy { $0.train.arrays == nil && $0.train.skippedReason == nil })
        #expect(result.arrays == initial)
        #expect(result.initialCentralMetrics?["round"] == 0)
        #expect(result.rounds[3].centralMetrics?["round"] == 4)
        #expect(result.rounds[2].train.metrics?["server-round"] == 3.0)
        #expect(result.rounds[0].evaluate?.tally.succeeded == 3)
    }

    @Test func tooFewNodesIsAClearError() async throws {
        let grid = EchoGrid(ids: [NodeID(5)])
        let error = await #expect(throws: StrategyError.self) {
            try await NodeSampling.sample(grid: grid, minimumAvailable: 3, sampleSize: 1, seed: 0, stream: [], timeoutSeconds: 0)
        }
        #expect(error?.code == .notEnoughNodes)
    }
}

import Synchronization

final class RoundCounter: Sendable {
    private let rounds = Mutex<(seen: [Int], withArrays: [Int])>(([], []))
    func record(_ round: Int, withArrays: Bool) {
        rounds.withLock { rounds in
            rounds.seen.append(round)
            if withArrays { rounds.withArrays.append(round) }
        }
    }
    var seen: [Int] { rounds.withLock { $0.seen } }
    var withArrays: [Int] { rounds.withLock { $0.withArrays } }
}
