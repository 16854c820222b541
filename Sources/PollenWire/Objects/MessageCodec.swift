public import PollenCore
import Foundation
import NIOCore
import PollenKernels
import SwiftProtobuf

/// A message turned into Flower's content-addressed objects.
public struct EncodedMessage: Sendable {
    /// The message, with its id set: the id of its `Message` object.
    public var message: PollenCore.Message
    /// The objects, children before parents, each once.
    public var objects: [FlowerObject]
    /// The object graph, rooted at the message.
    public var tree: ObjectTree

    /// The message's id and root object id.
    public var root: ObjectID { tree.id }
}

/// Turns messages into Flower 1.42's object graph and back, byte for byte as Flower does, so that the same
/// message has the same ids in Pollen and Flower and either side can skip the objects the other already has.
///
/// A message's `Message` object holds its metadata (with an empty `message_id`) and, for a failed reply, its error;
/// its child is a `RecordDict` object naming each record's object; an `ArrayRecord` names `Array` objects; an
/// `Array` lists its data's chunks (`.npy` bytes cut every `chunkBytes`, identical chunks stored once).
public enum MessageCodec {
    /// Flower's `FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE` default: 5 MiB.
    public static let defaultChunkBytes = 5 * 1_024 * 1_024

    /// Encodes `message`; its `metadata.messageID` is ignored and set to the root's id in the result.
    ///
    /// - Parameter onEveryCore: copy and hash an array's chunks on every core. This shortens the encoding of a
    ///   100 MB model from about 65 to 35 ms on two cores; it gains nothing when other work already keeps every core
    ///   busy (a SuperNode encoding its reply while another shares its cores, in the transfer benchmark).
    public static func encode(_ message: PollenCore.Message, chunkBytes: Int = defaultChunkBytes, onEveryCore: Bool = false) throws -> EncodedMessage {
        try encode([message], chunkBytes: chunkBytes, onEveryCore: onEveryCore)[0]
    }

    /// Encodes `messages` together: a content equal to an earlier message's (a strategy sends every node the same
    /// model) is encoded and hashed once, and each result lists only the objects no earlier result listed.
    public static func encode(
        _ messages: [PollenCore.Message], chunkBytes: Int = defaultChunkBytes, onEveryCore: Bool = false
    ) throws -> [EncodedMessage] {
        precondition(chunkBytes > 0, "chunkBytes must be positive")
        var builder = Builder(chunkBytes: chunkBytes, onEveryCore: onEveryCore)
        var contents = [(content: RecordDict, tree: ObjectTree)]()
        return try messages.map { message in
            let firstObject = builder.objects.count
            var children = [ObjectTree]()
            var metadata = message.metadata.proto
            metadata.messageID = ""
            var body = Flwr_Proto_Message()
            body.metadata = metadata
            switch message.body {
            case .content(let content):
                if let known = contents.first(where: { $0.content == content && sameScalarBits($0.content, content) }) {
                    children.append(known.tree)
                } else {
                    let tree = builder.add(content)
                    contents.append((content, tree))
                    children.append(tree)
                }
            case .error(let error):
                body.error = error.proto
            }
            let object = FlowerObject(type: .message, children: children.map(\.id), body: try body.serializedBytes() as [UInt8])
            let tree = builder.append(object, children: children)
            var stamped = message
            stamped.metadata.messageID = MessageID(tree.id.rawValue)
            return EncodedMessage(message: stamped, objects: Array(builder.objects[firstObject...]), tree: tree)
        }
    }

    /// Whether the metric and config records of `a` and `b`, which are equal, hold the same bits: `==` takes 0.0 for
    /// -0.0, and a message must not be sent another's sign of zero.
    private static func sameScalarBits(_ a: RecordDict, _ b: RecordDict) -> Bool {
        func bits(_ record: some SwiftProtobuf.Message) -> [UInt8]? { try? record.serializedBytes() }
        return zip(a, b).allSatisfy { left, right in
            switch (left.value, right.value) {
            case (.metrics(let x), .metrics(let y)): bits(x.proto).map { $0 == bits(y.proto) } ?? false
            case (.config(let x), .config(let y)): bits(x.proto).map { $0 == bits(y.proto) } ?? false
            default: true
            }
        }
    }

    /// Decodes the message rooted at `root`, reading objects from `object`.
    ///
    /// - Throws: `WireError.missingObject` for an object `object` does not have, `WireError.invalidObject` for an
    ///   object of the wrong type or a body that does not parse, and `WireError.invalidMessage` for content the
    ///   mapping rejects.
    public static func decode(root: ObjectID, object: (ObjectID) throws -> FlowerObject?) throws -> PollenCore.Message {
        try withoutActuallyEscaping(object) { object in try decode(root: root, reader: Reader(lookup: object)) }
    }

    private static func decode(root: ObjectID, reader: Reader) throws -> PollenCore.Message {
        let messageObject = try reader.object(root, as: .message)
        let proto: Flwr_Proto_Message
        do {
            proto = try Flwr_Proto_Message(serializedBytes: Array(messageObject.body))
        } catch {
            throw WireError(code: .invalidObject, message: "message \(root) has a body that is not a protobuf Message")
        }
        var metadata = PollenCore.Message.Metadata(proto: proto.metadata)
        metadata.messageID = MessageID(root.rawValue)
        if proto.hasError {
            guard messageObject.children.isEmpty else {
                throw WireError(code: .invalidMessage, message: "message \(root) carries both an error and content")
            }
            return PollenCore.Message(metadata: metadata, body: .error(MessageError(proto: proto.error)))
        }
        guard messageObject.children.count == 1 else {
            throw WireError(code: .invalidMessage, message: "message \(root) has \(messageObject.children.count) content objects; it needs one")
        }
        return PollenCore.Message(metadata: metadata, body: .content(try reader.recordDict(messageObject.children[0])))
    }

    /// Builds objects depth-first, keeping each once in post-order.
    private struct Builder {
        let chunkBytes: Int
        let onEveryCore: Bool
        var objects = [FlowerObject]()
        var seen = Set<ObjectID>()

        mutating func append(_ object: FlowerObject, children: [ObjectTree]) -> ObjectTree {
            if seen.insert(object.id).inserted { objects.append(object) }
            var unique = [ObjectTree]()
            var ids = Set<ObjectID>()
            for child in children where ids.insert(child.id).inserted { unique.append(child) }
            return ObjectTree(id: object.id, children: unique)
        }

        mutating func add(_ content: RecordDict) -> ObjectTree {
            var children = [ObjectTree]()
            var references = [(String, String)]()
            for (name, record) in content {
                let child: ObjectTree
                switch record {
                case .arrays(let arrays): child = add(arrays)
                case .metrics(let metrics):
                    // Serialising a message built in memory cannot fail.
                    let body: [UInt8] = try! metrics.proto.serializedBytes()
                    child = append(FlowerObject(type: .metricRecord, children: [], body: body), children: [])
                case .config(let config):
                    let body: [UInt8] = try! config.proto.serializedBytes()
                    child = append(FlowerObject(type: .configRecord, children: [], body: body), children: [])
                }
                children.append(child)
                references.append((name, child.id.rawValue))
            }
            let object = FlowerObject(type: .recordDict, children: children.map(\.id), body: PythonJSON.object(references))
            return append(object, children: children)
        }

        mutating func add(_ arrays: ArrayRecord) -> ObjectTree {
            var children = [ObjectTree]()
            var references = [(String, String)]()
            for (name, tensor) in arrays {
                let child = add(tensor)
                children.append(child)
                references.append((name, child.id.rawValue))
            }
            let object = FlowerObject(type: .arrayRecord, children: children.map(\.id), body: PythonJSON.object(references))
            return append(object, children: children)
        }

        mutating func add(_ tensor: Tensor) -> ObjectTree {
            // The `.npy` bytes (header, then the tensor's bytes) are cut into chunks without being assembled first:
            // each chunk copies its range straight from the header and the tensor, on every core if asked.
            let header = NPYFormat.header(for: tensor)
            let total = header.count + tensor.byteCount
            let chunkCount = (total + chunkBytes - 1) / chunkBytes
            let repeats = repeatsOfThePrevious(tensor, headerCount: header.count, total: total, chunkCount: chunkCount)
            // The other chunks are built a batch at a time (one per core, or one), so that chunks repeated further
            // apart are let go at once instead of held until the last is built.
            let batchSize = onEveryCore ? ParallelFor.workerCount : 1
            let toBuild = (0..<chunkCount).filter { !repeats[$0] }
            var chunkIDs = [ObjectID?](repeating: nil, count: chunkCount)
            var chunkTrees = [ObjectTree]()
            var treeIDs = Set<ObjectID>()
            var first = 0
            while first < toBuild.count {
                let batchIndices = Array(toBuild[first..<min(first + batchSize, toBuild.count)])
                let batch = [FlowerObject](unsafeUninitializedCapacity: batchIndices.count) { chunks, initialized in
                    ParallelFor.run(count: batchIndices.count, minChunk: 1) { offsets in
                        for offset in offsets {
                            let start = batchIndices[offset] * chunkBytes
                            let end = min(start + chunkBytes, total)
                            (chunks.baseAddress! + offset).initialize(to: Self.chunk(header: header, tensor: tensor, start: start, end: end))
                        }
                    }
                    initialized = batchIndices.count
                }
                for (index, chunk) in zip(batchIndices, batch) {
                    let tree = append(chunk, children: [])
                    chunkIDs[index] = tree.id
                    if treeIDs.insert(tree.id).inserted { chunkTrees.append(tree) }
                }
                first += batchIndices.count
            }
            var uniqueIDs = [ObjectID]()
            var positions = [ObjectID: Int]()
            var indices = [Int]()
            for index in 0..<chunkCount {
                // A repeat is its previous chunk, which was built or is itself a repeat of a built one.
                if repeats[index] { chunkIDs[index] = chunkIDs[index - 1] }
                let id = chunkIDs[index]!
                if positions[id] == nil {
                    positions[id] = uniqueIDs.count
                    uniqueIDs.append(id)
                }
                indices.append(positions[id]!)
            }
            let body = PythonJSON.arrayBody(dtype: tensor.dtype.name, shape: tensor.shape, stype: Tensor.numpyStype, chunkIndices: indices)
            return append(FlowerObject(type: .array, children: uniqueIDs, body: body), children: chunkTrees)
        }

        /// Which chunks repeat the chunk before them byte for byte (a layer of zeros, a block of one value): such a
        /// chunk is that chunk's object, neither copied nor hashed. Comparing bytes costs a fraction of hashing
        /// them and stops at the first difference, so chunks that differ pay next to nothing for the check.
        private func repeatsOfThePrevious(_ tensor: Tensor, headerCount: Int, total: Int, chunkCount: Int) -> [Bool] {
            var repeats = [Bool](repeating: false, count: chunkCount)
            guard chunkCount > 1 else { return repeats }
            let chunkBytes = chunkBytes
            repeats.withUnsafeMutableBufferPointer { repeats in
                ParallelFor.run(count: chunkCount - 1, minChunk: onEveryCore ? 1 : chunkCount) { pairs in
                    for previous in pairs {
                        let start = previous * chunkBytes
                        let length = min(chunkBytes, total - start - chunkBytes)
                        // Only chunks of data alike in length: the first holds the header.
                        guard start >= headerCount, length == chunkBytes else { continue }
                        repeats[previous + 1] = tensor.hasEqualBytes(at: start - headerCount, start + chunkBytes - headerCount, count: length)
                    }
                }
            }
            return repeats
        }

        /// The chunk holding bytes `start..<end` of the `.npy` bytes `header` followed by `tensor`'s bytes.
        private static func chunk(header: [UInt8], tensor: Tensor, start: Int, end: Int) -> FlowerObject {
            FlowerObject(type: .arrayChunk, children: [], bodyCount: end - start) { body in
                var written = 0
                if start < header.count {
                    let fromHeader = header[start..<min(end, header.count)]
                    _ = UnsafeMutableBufferPointer(rebasing: body[0...]).initialize(from: fromHeader)
                    written = fromHeader.count
                }
                let dataStart = max(start - header.count, 0)
                let dataEnd = end - header.count
                if dataEnd > dataStart {
                    tensor.copyBytes(in: dataStart..<dataEnd, to: UnsafeMutableRawPointer(body.baseAddress! + written))
                }
            }
        }
    }

    /// Reads objects by id, checking each one's type and that parents name only their declared children.
    private struct Reader {
        let lookup: (ObjectID) throws -> FlowerObject?

        func object(_ id: ObjectID, as type: ObjectType) throws -> FlowerObject {
            guard let object = try lookup(id) else {
                throw WireError(code: .missingObject, message: "object \(id) (\(type.rawValue)) is missing")
            }
            guard object.type == type else {
                throw WireError(code: .invalidObject, message: "object \(id) is a \(object.type.rawValue) where a \(type.rawValue) belongs")
            }
            return object
        }

        func references(of parent: FlowerObject) throws -> [(String, ObjectID)] {
            guard let entries = try OrderedJSON.parse(parent.body).stringEntries else {
                throw WireError(code: .invalidObject, message: "\(parent.type.rawValue) \(parent.id) does not name its children")
            }
            let declared = Set(parent.children)
            return try entries.map { name, id in
                guard declared.contains(ObjectID(id)) else {
                    throw WireError(code: .invalidObject, message: "\(parent.type.rawValue) \(parent.id) names '\(name)' as \(id), not one of its children")
                }
                return (name, ObjectID(id))
            }
        }

        func recordDict(_ id: ObjectID) throws -> RecordDict {
            let object = try object(id, as: .recordDict)
            return RecordDict(try references(of: object).map { name, childID -> (String, RecordDict.Record) in
                guard let child = try lookup(childID) else {
                    throw WireError(code: .missingObject, message: "record '\(name)' (\(childID)) is missing")
                }
                switch child.type {
                case .arrayRecord:
                    return (name, .arrays(ArrayRecord(try references(of: child).map { ($0, try tensor($1)) })))
                case .metricRecord:
                    return (name, .metrics(try MetricRecord(proto: Flwr_Proto_MetricRecord(serializedBytes: Array(child.body)))))
                case .configRecord:
                    return (name, .config(try ConfigRecord(proto: Flwr_Proto_ConfigRecord(serializedBytes: Array(child.body)))))
                default:
                    throw WireError(code: .invalidObject, message: "record '\(name)' is a \(child.type.rawValue)")
                }
            })
        }

        func tensor(_ id: ObjectID) throws -> Tensor {
            let object = try object(id, as: .array)
            let json = try OrderedJSON.parse(object.body)
            guard case .string(let dtype) = json["dtype"], case .string(let stype) = json["stype"],
                  case .array(let shapeValues) = json["shape"], case .array(let indexValues) = json["arraychunk_ids"]
            else {
                throw WireError(code: .invalidObject, message: "array \(id) lacks dtype, shape, stype or arraychunk_ids")
            }
            guard let known = DType(named: dtype) else {
                throw WireError(code: .invalidObject, message: "array \(id) has dtype '\(dtype)', which Pollen does not read")
            }
            // The data cannot exceed the array's bytes plus an .npy header (at most 64 KiB), however the chunk list
            // repeats itself: stop a hostile list before it allocates.
            let shapeSizes = try shapeValues.map { value -> Int in
                guard case .number(let number) = value, let extent = Int(exactly: number) else {
                    throw WireError(code: .invalidObject, message: "array \(id) has a shape entry \(value) that is not a size")
                }
                return extent
            }
            guard stype == Tensor.numpyStype else {
                throw WireError(code: .invalidMessage, message: "array \(id) has stype '\(stype)'; Pollen reads '\(Tensor.numpyStype)'")
            }
            // The data cannot exceed the array's bytes plus an .npy header, however the chunk list repeats itself:
            // stop a hostile list before it allocates.
            let (limit, overflow) = try Tensor.byteCount(dtype: known, shape: shapeSizes).addingReportingOverflow(NPYFormat.maximumHeaderBytes)
            guard !overflow else { throw WireError(code: .invalidObject, message: "array \(id) has a shape too large to hold") }
            var chunks = [ByteBufferView]()
            var total = 0
            for value in indexValues {
                guard case .number(let number) = value, let index = Int(exactly: number), object.children.indices.contains(index) else {
                    throw WireError(code: .invalidObject, message: "array \(id) lists chunk \(value), which it does not have")
                }
                let chunk = try self.object(object.children[index], as: .arrayChunk).body
                chunks.append(chunk)
                total += chunk.count
                guard total <= limit else {
                    throw WireError(code: .invalidObject, message: "array \(id) lists more chunk data than its shape holds")
                }
            }
            // The header may span chunks; the data is then copied once, from the chunks into the tensor.
            var prefix = [UInt8]()
            for chunk in chunks where prefix.count < NPYFormat.maximumHeaderBytes {
                prefix += chunk.prefix(NPYFormat.maximumHeaderBytes - prefix.count)
            }
            let header = try NPYFormat.header(prefix, fileName: "array \(id)")
            guard header.dtype == known, header.shape == shapeSizes else {
                throw WireError(
                    code: .invalidMessage,
                    message: "array \(id) says \(dtype) \(shapeSizes), but its data holds \(header.dtype) \(header.shape)"
                )
            }
            guard total - header.dataOffset == header.dataByteCount else {
                throw WireError(
                    code: .invalidMessage,
                    message: "array \(id): \(header.dtype) \(header.shape) needs \(header.dataByteCount) bytes, its chunks hold \(total - header.dataOffset)"
                )
            }
            // The data stays in the chunks it came in, read where it is (`Tensor.withUnsafePieces`) unless a reader
            // asks for it in one buffer. A peer whose chunks split an element gets the data copied into one here.
            var pieces = [ByteBufferView]()
            var skipped = header.dataOffset
            for chunk in chunks {
                let part = chunk.dropFirst(skipped)
                skipped = max(skipped - chunk.count, 0)
                if !part.isEmpty { pieces.append(part) }
            }
            if pieces.allSatisfy({ $0.count % header.dtype.byteWidth == 0 }) {
                return try Tensor(dtype: header.dtype, shape: header.shape, pieces: ChunkPieces.hold(pieces))
            }
            return try Tensor(dtype: header.dtype, shape: header.shape) { destination in
                var skip = header.dataOffset
                var written = 0
                for chunk in chunks {
                    let part = chunk.dropFirst(skip)
                    skip = max(skip - chunk.count, 0)
                    part.withUnsafeBytes { source in
                        UnsafeMutableRawBufferPointer(rebasing: destination[written..<(written + source.count)]).copyMemory(from: source)
                    }
                    written += part.count
                }
            }
        }
    }
}

/// Keeps the chunks a tensor's pieces point into alive: each slice holds its object's bytes, which are never
/// written, so the elements stay at the address taken when the pieces were made.
private final class ChunkPieces: Sendable {
    let slices: [ByteBufferView]

    private init(_ slices: [ByteBufferView]) { self.slices = slices }

    /// The pieces of `slices`, owned by one of these.
    static func hold(_ slices: [ByteBufferView]) -> TensorPieces {
        let owner = ChunkPieces(slices)
        return TensorPieces(owner.slices.map { slice in slice.withUnsafeBytes { $0 } }, owner: owner)
    }
}
