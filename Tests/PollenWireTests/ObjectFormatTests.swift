import NIOCore
import PollenCore
@testable import PollenWire
import SwiftProtobuf
import Testing

@Suite struct ObjectFormatTests {
    /// The worked example of Flower's protocol notes, confirmed on the wire: a float32 zeros(8) array.
    @Test func matchesFlowersIDsForTheWorkedExample() throws {
        let tensor = try Tensor([Float](repeating: 0, count: 8), shape: [8])
        var content = RecordDict()
        content[arrays: "arrays"] = ["0": tensor]
        content[config: "config"] = ["server-round": 1]
        let encoded = try MessageCodec.encode(Message(content: content, destination: NodeID(123), type: .train))
        let ids = Set(encoded.objects.map(\.id.rawValue))
        #expect(ids.contains("a8f3b74d1fbda28da8c713092433b1eee4706d67ab53465695fc29a9263268fa")) // ArrayChunk
        #expect(ids.contains("07668819c855e68aa3117271324d962fa8e96201bdc7e930f07fdf119730f02f")) // Array
        #expect(ids.contains("e13ee2f2d66d834cc15108899e45decea50750032dec16c9c4a58c239d2b2790")) // ArrayRecord
        #expect(ids.contains("534ed7c522c7960a100d68971eb2984da96ba0725bb72c758b7dcda398047232")) // ConfigRecord
        #expect(ids.contains("6d9df8315ba5676cad36e293d4a6e8c91a3206aaf4d1621487a69b617ccc1180")) // RecordDict
    }
}

@Suite struct ObjectValidationTests {
    static let good = FlowerObject(type: .configRecord, children: [], body: [1, 2, 3])

    @Test func bytesThatDoNotHashToTheirIDAreRejected() {
        var bytes = Array(Self.good.bytes)
        bytes[bytes.count - 1] ^= 0xFF
        let error = #expect(throws: WireError.self) { try FlowerObject(validating: ByteBuffer(bytes: bytes), expectedID: Self.good.id) }
        #expect(error?.code == .invalidObject)
        #expect(error?.message.contains("hash") == true)
    }

    @Test(arguments: [
        "ConfigRecord 3\0abc", "Nonsense  3\0abc", "ConfigRecord  4\0abc", "ConfigRecord xyz 3\0abc", "no zero byte",
        "ConfigRecord  -1\0",
    ])
    func malformedHeadsAreRejected(text: String) {
        #expect(throws: WireError.self) { try FlowerObject(validating: ByteBuffer(string: text)) }
    }

    @Test func aWellFormedObjectParses() throws {
        let parsed = try FlowerObject(validating: Self.good.buffer, expectedID: Self.good.id)
        #expect(parsed == Self.good)
        #expect(Array(parsed.body) == [1, 2, 3])
    }

    @Test func anObjectKeepsTheBufferItArrivedInUnlessItIsAFractionOfIt() throws {
        let chunk = FlowerObject(type: .arrayChunk, children: [], body: [UInt8](repeating: 7, count: 1 << 20))
        // A body of one object and a little more: the object is read where it lies.
        var body = ByteBuffer(bytes: [1, 2, 3])
        body.writeImmutableBuffer(chunk.buffer)
        let inBody = try FlowerObject(stored: body.getSlice(at: 3, length: chunk.buffer.readableBytes)!, id: chunk.id)
        #expect(inBody == chunk && inBody.buffer.storageCapacity == body.storageCapacity)
        // A small object in a large buffer is copied out, so that keeping it does not keep the buffer.
        let large = ByteBuffer(bytes: Array(Self.good.bytes) + [UInt8](repeating: 0, count: 1 << 20))
        let small = try FlowerObject(stored: large.getSlice(at: 0, length: Self.good.buffer.readableBytes)!, id: Self.good.id)
        #expect(small == Self.good && small.buffer.storageCapacity < 4_096)
    }

    @Test func aMissingOrMistypedChildIsAnError() throws {
        let content: RecordDict = ["config": .config(["a": 1])]
        let encoded = try MessageCodec.encode(Message(content: content, destination: NodeID(5), type: .train))
        var objects = Dictionary(uniqueKeysWithValues: encoded.objects.map { ($0.id, $0) })
        let missing = encoded.objects.first { $0.type == .configRecord }!.id
        objects[missing] = nil
        let error = #expect(throws: WireError.self) { try MessageCodec.decode(root: encoded.root) { objects[$0] } }
        #expect(error?.code == .missingObject)
        let recordDict = encoded.objects.first { $0.type == .recordDict }!.id
        let wrongType = #expect(throws: WireError.self) { try MessageCodec.decode(root: recordDict) { objects[$0] } }
        #expect(wrongType?.code == .invalidObject)
    }

    @Test func aChunkListLargerThanItsShapeIsRefused() throws {
        let chunk = FlowerObject(type: .arrayChunk, children: [], body: [UInt8](repeating: 0, count: 1_024))
        let body = PythonJSON.arrayBodyForTests(indices: [Int](repeating: 0, count: 1_000))
        let array = FlowerObject(type: .array, children: [chunk.id], body: body)
        let record = FlowerObject(type: .arrayRecord, children: [array.id], body: Array("{\"a\": \"\(array.id)\"}".utf8))
        let dict = FlowerObject(type: .recordDict, children: [record.id], body: Array("{\"arrays\": \"\(record.id)\"}".utf8))
        var metadata = Flwr_Proto_Message()
        metadata.metadata.runID = 1
        let message = FlowerObject(type: .message, children: [dict.id], body: try metadata.serializedBytes() as [UInt8])
        let objects = Dictionary(uniqueKeysWithValues: [chunk, array, record, dict, message].map { ($0.id, $0) })
        let error = #expect(throws: WireError.self) { try MessageCodec.decode(root: message.id) { objects[$0] } }
        #expect(error?.message.contains("more chunk data") == true)
    }

    @Test func pollenMessagesRoundTrip() throws {
        var content = RecordDict()
        content[arrays: "arrays"] = ["w": try Tensor((0..<1_000).map(Float.init), shape: [10, 100])]
        content[metrics: "metrics"] = ["num-examples": 7, "loss": 0.25]
        let original = Message(content: content, destination: NodeID(99), type: .evaluate, groupID: "2")
        // Chunks of 1 KiB cut the array's 4,128 bytes into five objects.
        let encoded = try MessageCodec.encode(original, chunkBytes: 1_024)
        #expect(encoded.objects.filter { $0.type == .arrayChunk }.count == 5)
        #expect(encoded.tree.postOrder == encoded.objects.map(\.id))
        let lookup = Dictionary(uniqueKeysWithValues: encoded.objects.map { ($0.id, $0) })
        let decoded = try MessageCodec.decode(root: encoded.root) { lookup[$0] }
        #expect(decoded.content == content)
        #expect(decoded.metadata.destination == NodeID(99))
        #expect(try ObjectTree(proto: encoded.tree.proto) == encoded.tree)
    }

    /// A decoded array stays in the chunks it came in; chunks that split an element are copied into one buffer.
    @Test func decodedArraysAreReadFromTheirChunks() throws {
        let values = (0..<3_000).map { Float($0) - 0.25 }
        var content = RecordDict()
        content[arrays: "arrays"] = ["w": try Tensor(values, shape: [3_000])]
        let message = Message(content: content, destination: NodeID(2), type: .train)
        for (chunkBytes, inPieces) in [(1_024, true), (1_022, false)] {
            let encoded = try MessageCodec.encode(message, chunkBytes: chunkBytes)
            let lookup = Dictionary(uniqueKeysWithValues: encoded.objects.map { ($0.id, $0) })
            let decoded = try #require(try MessageCodec.decode(root: encoded.root) { lookup[$0] }.content?[arrays: "arrays"]?["w"])
            #expect(decoded.isHeldInPieces == inPieces, "chunks of \(chunkBytes) bytes")
            #expect(decoded == content[arrays: "arrays"]?["w"])
            // Re-encoding it from its pieces makes the same objects.
            var again = RecordDict()
            again[arrays: "arrays"] = ["w": decoded]
            #expect(try MessageCodec.encode(Message(content: again, destination: NodeID(2), type: .train), chunkBytes: chunkBytes).objects == encoded.objects)
            #expect(try decoded.scalars(as: Float.self) == values)
        }
    }
}

extension PythonJSON {
    /// A float32 [4] array body whose chunk list is `indices`.
    static func arrayBodyForTests(indices: [Int]) -> [UInt8] {
        arrayBody(dtype: "float32", shape: [4], stype: "numpy.ndarray", chunkIndices: indices)
    }
}

@Suite struct BatchEncodingTests {
    /// A strategy sends every node the same model: encoding the messages together builds the content once, and
    /// every message still gets the objects and ids it gets alone.
    @Test func sharedContentIsEncodedOnceWithTheSameIDs() throws {
        let model = try Tensor((0..<(3 << 20)).map { Float($0) }, shape: [3 << 20]) // 12 MiB: three chunks
        var content = RecordDict()
        content[arrays: "arrays"] = ["w": model]
        let messages = [NodeID(1), NodeID(2)].map { Message(content: content, destination: $0, type: .train) }
        let together = try MessageCodec.encode(messages, chunkBytes: 5 << 20)
        let alone = try messages.map { try MessageCodec.encode($0, chunkBytes: 5 << 20) }
        #expect(together.map(\.tree) == alone.map(\.tree))
        #expect(Set(together[0].objects.map(\.id)) == Set(alone[0].objects.map(\.id)))
        #expect(together[1].objects.map(\.type) == [.message])
        let objects = Dictionary((together[0].objects + together[1].objects).map { ($0.id, $0) }) { first, _ in first }
        #expect(try MessageCodec.decode(root: together[1].root) { objects[$0] }.content == content)
    }

    /// Contents that differ only in the sign of a zero are equal by `==` but not the same message: each node gets
    /// its own value, bit for bit.
    @Test func aNegativeZeroIsNotTakenForAnotherMessagesZero() throws {
        let values: [(config: Double, metric: Double)] = [(0.0, 1), (-0.0, 1), (1, 0.0), (1, -0.0)]
        let messages = values.enumerated().map { node, value in
            var content = RecordDict()
            content[config: "config"] = ["learning-rate": .double(value.config)]
            content[metrics: "metrics"] = ["loss": .double(value.metric)]
            return Message(content: content, destination: NodeID(UInt64(node + 1)), type: .train)
        }
        let encoded = try MessageCodec.encode(messages)
        let objects = Dictionary(encoded.flatMap(\.objects).map { ($0.id, $0) }) { first, _ in first }
        for (message, value) in zip(encoded, values) {
            let content = try #require(try MessageCodec.decode(root: message.root) { objects[$0] }.content)
            #expect(content[config: "config"]?["learning-rate"]?.doubleValue?.sign == value.config.sign)
            #expect(content[metrics: "metrics"]?["loss"]?.doubleValue?.sign == value.metric.sign)
        }
    }

    /// A chunk that repeats the one before it is recognised by its bytes, not hashed: the array lists exactly the
    /// chunks, ids and order that hashing every chunk of its `.npy` bytes gives, whether it is held whole or in pieces.
    @Test func repeatedChunksGetTheIDsHashingGives() throws {
        // In 512-byte chunks (128 floats, the first after a 128-byte header): chunks 1-3 all 1s, then 2s, then 1s
        // again (a repeat further back), then a run that ends inside the last, shorter chunk.
        let values = [Float](repeating: 1, count: 96 + 3 * 128) + [Float](repeating: 2, count: 128) + [Float](repeating: 1, count: 128)
            + (0..<200).map(Float.init)
        let tensor = try Tensor(values)
        let npy = NPYFormat.encode(tensor)
        var expectedIDs = [ObjectID]()
        var expectedIndices = [Int]()
        for start in stride(from: 0, to: npy.count, by: 512) {
            let id = FlowerObject(type: .arrayChunk, children: [], body: npy[start..<min(start + 512, npy.count)]).id
            if !expectedIDs.contains(id) { expectedIDs.append(id) }
            expectedIndices.append(expectedIDs.firstIndex(of: id)!)
        }
        #expect(expectedIndices == [0, 1, 1, 1, 2, 1, 3, 4])
        var content = RecordDict()
        content[arrays: "arrays"] = ["w": tensor]
        let encoded = try MessageCodec.encode(Message(content: content, destination: NodeID(1), type: .train), chunkBytes: 512)
        let lookup = Dictionary(uniqueKeysWithValues: encoded.objects.map { ($0.id, $0) })
        // The same tensor held in pieces (decoded from chunks of another size) is cut and compared across them.
        let otherCut = try MessageCodec.encode(Message(content: content, destination: NodeID(1), type: .train), chunkBytes: 320)
        let otherLookup = Dictionary(uniqueKeysWithValues: otherCut.objects.map { ($0.id, $0) })
        let pieced = try #require(try MessageCodec.decode(root: otherCut.root) { otherLookup[$0] }.content?[arrays: "arrays"]?["w"])
        #expect(pieced.isHeldInPieces)
        var again = RecordDict()
        again[arrays: "arrays"] = ["w": pieced]
        for (message, oneCore) in [(content, true), (content, false), (again, true), (again, false)] {
            let encoded = try MessageCodec.encode(Message(content: message, destination: NodeID(1), type: .train), chunkBytes: 512, onEveryCore: !oneCore)
            let array = try #require(encoded.objects.first { $0.type == .array })
            #expect(array.children == expectedIDs)
            #expect(array.body.elementsEqual(PythonJSON.arrayBody(dtype: "float32", shape: [values.count], stype: Tensor.numpyStype, chunkIndices: expectedIndices)))
            #expect(encoded.objects.filter { $0.type == .arrayChunk }.map(\.id) == expectedIDs)
        }
        #expect(try MessageCodec.decode(root: encoded.root) { lookup[$0] }.content == content)
    }

    /// Chunks copied and hashed on every core are the objects one core makes, in the same order, and repeated
    /// chunks are still stored once.
    @Test func encodingOnEveryCoreMakesTheSameObjects() throws {
        // 1,000 zeros then 1,000 ones, in 512-byte chunks: the runs of equal chunks are listed, and stored, once.
        let values = [Float](repeating: 0, count: 1_000) + [Float](repeating: 1, count: 1_000) + (0..<37).map(Float.init)
        var content = RecordDict()
        content[arrays: "arrays"] = ["w": try Tensor(values, shape: [values.count]), "b": try Tensor((0..<300).map(Float.init), shape: [300])]
        let message = Message(content: content, destination: NodeID(5), type: .train)
        let oneCore = try MessageCodec.encode(message, chunkBytes: 512)
        let everyCore = try MessageCodec.encode(message, chunkBytes: 512, onEveryCore: true)
        #expect(everyCore.objects == oneCore.objects)
        #expect(everyCore.tree == oneCore.tree)
        let chunks = everyCore.objects.filter { $0.type == .arrayChunk }
        #expect(Set(chunks.map(\.id)).count == chunks.count)
        #expect(chunks.count < (values.count + 300) * 4 / 512)
        let lookup = Dictionary(uniqueKeysWithValues: everyCore.objects.map { ($0.id, $0) })
        #expect(try MessageCodec.decode(root: everyCore.root) { lookup[$0] }.content == content)
    }
}
