public import PollenCore
import Foundation
import PollenWire
import SwiftProtobuf

/// The files through which a SuperNode and its isolated ClientApp process exchange one message: the
/// instruction with the node's context in, the reply with the updated context out.
///
/// A file holds the message and the context as Flower's `Message` (content inline) and `Context` protobufs whose
/// arrays carry no data, followed by every array's raw elements in the order the protobufs list them:
/// `[message length: UInt64 LE][context length: UInt64 LE][Message][Context][array elements…]`. Arrays go from
/// tensor storage to the file and from the file into tensor storage with one copy each, and nothing else of
/// their size is built on either side.
public enum ClientAppExchange {
    /// Writes `message` and `context` to `path`, readable by its owner only.
    public static func write(_ message: PollenCore.Message, context: Context, to path: String) throws {
        var tensors = [Tensor]()
        let messageBytes: [UInt8] = try skeleton(of: message, collecting: &tensors).serializedBytes()
        let contextBytes: [UInt8] = try skeleton(of: context, collecting: &tensors).serializedBytes()
        // Flower's `Array` holds 32-bit dimensions.
        if let tensor = tensors.first(where: { $0.shape.contains { Int32(exactly: $0) == nil } }) {
            throw failure("an array of shape \(tensor.shape) has a dimension beyond Flower's 32-bit limit")
        }
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw failure("cannot write the ClientApp exchange file '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(file) }
        var header = [UInt8]()
        withUnsafeBytes(of: UInt64(messageBytes.count).littleEndian) { header += $0 }
        withUnsafeBytes(of: UInt64(contextBytes.count).littleEndian) { header += $0 }
        for part in [header, messageBytes, contextBytes] {
            try part.withUnsafeBytes { try writeAll($0, to: file, path: path) }
        }
        for tensor in tensors {
            try tensor.withUnsafeBytes { try writeAll($0, to: file, path: path) }
        }
    }

    /// Reads the message and context `write` put in `path`.
    public static func read(from path: String) throws -> (message: PollenCore.Message, context: Context) {
        // Never a link, and never a FIFO a child left behind to block the SuperNode's read.
        let file = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard file >= 0 else { throw failure("cannot read the ClientApp exchange file '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(file) }
        var status = stat()
        guard fstat(file, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw failure("the ClientApp exchange file '\(path)' is not a regular file")
        }
        var reader = Reader(file: file, path: path)
        let header = try reader.bytes(16)
        let lengths = (0..<2).map { part in (0..<8).reduce(UInt64(0)) { $0 | UInt64(header[part * 8 + $1]) << (8 * UInt64($1)) } }
        guard lengths.allSatisfy({ $0 <= UInt64(reader.remaining) }), lengths[0] + lengths[1] <= UInt64(reader.remaining) else {
            throw failure("the ClientApp exchange file '\(path)' is truncated")
        }
        let messageProto = try Flwr_Proto_Message(serializedBytes: try reader.bytes(Int(lengths[0])))
        let contextProto = try Flwr_Proto_Context(serializedBytes: try reader.bytes(Int(lengths[1])))
        let body: PollenCore.Message.Body = messageProto.hasError
            ? .error(MessageError(proto: messageProto.error)) : .content(try records(messageProto.content, from: &reader))
        let message = PollenCore.Message(metadata: PollenCore.Message.Metadata(proto: messageProto.metadata), body: body)
        let context = Context(
            runID: RunID(contextProto.runID), nodeID: NodeID(contextProto.nodeID),
            nodeConfig: UserConfigProto.decode(contextProto.nodeConfig), runConfig: UserConfigProto.decode(contextProto.runConfig),
            state: try records(contextProto.state, from: &reader)
        )
        guard reader.remaining == 0 else { throw failure("the ClientApp exchange file '\(path)' has \(reader.remaining) bytes after its last array") }
        return (message, context)
    }

    private static func skeleton(of message: PollenCore.Message, collecting tensors: inout [Tensor]) -> Flwr_Proto_Message {
        var proto = Flwr_Proto_Message()
        proto.metadata = message.metadata.proto
        switch message.body {
        case .content(let content): proto.content = skeleton(of: content, collecting: &tensors)
        case .error(let error): proto.error = error.proto
        }
        return proto
    }

    private static func skeleton(of context: Context, collecting tensors: inout [Tensor]) -> Flwr_Proto_Context {
        var proto = Flwr_Proto_Context()
        proto.runID = context.runID.rawValue
        proto.nodeID = context.nodeID.rawValue
        proto.nodeConfig = UserConfigProto.encode(context.nodeConfig)
        proto.runConfig = UserConfigProto.encode(context.runConfig)
        proto.state = skeleton(of: context.state, collecting: &tensors)
        return proto
    }

    /// `records` as Flower's inline `RecordDict`, each array with its dtype and shape but no data; the arrays go to
    /// `tensors`, in order.
    private static func skeleton(of records: RecordDict, collecting tensors: inout [Tensor]) -> Flwr_Proto_RecordDict {
        var proto = Flwr_Proto_RecordDict()
        proto.items = records.map { entry in
            var item = Flwr_Proto_RecordDict.Item()
            item.key = entry.key
            switch entry.value {
            case .arrays(let record):
                var arrays = Flwr_Proto_ArrayRecord()
                arrays.items = record.map { array in
                    tensors.append(array.value)
                    var item = Flwr_Proto_ArrayRecord.Item()
                    item.key = array.key
                    item.value.dtype = array.value.dtype.name
                    item.value.shape = array.value.shape.map { Int32(clamping: $0) }
                    return item
                }
                item.arrayRecord = arrays
            case .metrics(let record): item.metricRecord = record.proto
            case .config(let record): item.configRecord = record.proto
            }
            return item
        }
        return proto
    }

    /// The records of a skeleton, their arrays read from `reader` straight into tensor storage.
    private static func records(_ proto: Flwr_Proto_RecordDict, from reader: inout Reader) throws -> RecordDict {
        RecordDict(try proto.items.map { item -> (String, RecordDict.Record) in
            switch item.value {
            case .arrayRecord(let record):
                return (item.key, .arrays(ArrayRecord(try record.items.map { array in
                    guard let dtype = DType(named: array.value.dtype) else {
                        throw failure("array '\(array.key)' in '\(reader.path)' has an unknown dtype '\(array.value.dtype)'")
                    }
                    let shape = array.value.shape.map(Int.init)
                    guard try Tensor.byteCount(dtype: dtype, shape: shape) <= reader.remaining else {
                        throw failure("the ClientApp exchange file '\(reader.path)' is truncated at array '\(array.key)'")
                    }
                    return (array.key, try Tensor(dtype: dtype, shape: shape) { try reader.fill($0) })
                })))
            case .metricRecord(let record): return (item.key, .metrics(try MetricRecord(proto: record)))
            case .configRecord(let record): return (item.key, .config(try ConfigRecord(proto: record)))
            case nil: throw failure("record '\(item.key)' in '\(reader.path)' is empty")
            }
        })
    }

    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to file: Int32, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(file, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw failure("cannot write the ClientApp exchange file '\(path)': \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    private static func failure(_ message: String) -> WireError { WireError(code: .invalidMessage, message: message) }

    /// Reads an exchange file front to back, knowing how much is left.
    private struct Reader {
        let file: Int32
        let path: String
        private(set) var remaining: Int

        init(file: Int32, path: String) {
            self.file = file
            self.path = path
            var status = stat()
            remaining = fstat(file, &status) == 0 ? Int(status.st_size) : 0
        }

        mutating func bytes(_ count: Int) throws -> [UInt8] {
            try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                try fill(UnsafeMutableRawBufferPointer(buffer))
                initialized = count
            }
        }

        mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
            guard buffer.count <= remaining else { throw ClientAppExchange.failure("the ClientApp exchange file '\(path)' is truncated") }
            var offset = 0
            while offset < buffer.count {
                let read = Foundation.read(file, buffer.baseAddress! + offset, buffer.count - offset)
                if read < 0, errno == EINTR { continue }
                guard read > 0 else { throw ClientAppExchange.failure("the ClientApp exchange file '\(path)' is truncated") }
                offset += read
            }
            remaining -= buffer.count
        }
    }
}
