public import PollenCore
import Foundation
import PollenWire
import SwiftProtobuf

/// The files through which a SuperNode and its isolated ClientApp process exchange one message: the
/// instruction with the node's context in, the reply with the updated context out.
///
/// A file holds the message and the context as Flower's `Message` (content inline) and `Context` protobufs whose
/// arrays carry no data, followed by every array's raw elements in the order the protobufs list them, each
/// starting at a multiple of 64 bytes (zero padding before it):
/// `[message length: UInt64 LE][context length: UInt64 LE][Message][Context]([padding][array elements])…`.
/// Arrays go from tensor storage to the file with one copy. They come back either with one copy into tensor
/// storage (`read(from:)`) or with none, as views of the file mapped into memory (`read(from:mapping:)`), which
/// is how the ClientApp process reads its instruction.
public enum ClientAppExchange {
    /// Where every array starts: a multiple of this many bytes from the start of the file, so that a mapped
    /// array is as aligned as tensor storage.
    static let arrayAlignment = 64

    /// Writes `message` and `context` to `path`, readable by its owner only, over what the file held before (its
    /// pages are reused, then it is cut to the new length).
    public static func write(_ message: PollenCore.Message, context: Context, to path: String) throws {
        var tensors = [Tensor]()
        let messageBytes: [UInt8] = try skeleton(of: message, collecting: &tensors).serializedBytes()
        let contextBytes: [UInt8] = try skeleton(of: context, collecting: &tensors).serializedBytes()
        // Flower's `Array` holds 32-bit dimensions.
        if let tensor = tensors.first(where: { $0.shape.contains { Int32(exactly: $0) == nil } }) {
            throw failure("an array of shape \(tensor.shape) has a dimension beyond Flower's 32-bit limit")
        }
        let file = try openForWriting(path)
        defer { close(file) }
        var header = [UInt8]()
        withUnsafeBytes(of: UInt64(messageBytes.count).littleEndian) { header += $0 }
        withUnsafeBytes(of: UInt64(contextBytes.count).littleEndian) { header += $0 }
        var offset = 0
        for part in [header, messageBytes, contextBytes] {
            try part.withUnsafeBytes { try writeAll($0, to: file, path: path) }
            offset += part.count
        }
        let zeros = [UInt8](repeating: 0, count: arrayAlignment)
        for tensor in tensors {
            let gap = padding(before: offset)
            try zeros.withUnsafeBytes { try writeAll(UnsafeRawBufferPointer(rebasing: $0[..<gap]), to: file, path: path) }
            // A tensor decoded from chunks is written from them, not first copied into one buffer.
            try tensor.withUnsafePieces { pieces in
                for piece in pieces { try writeAll(piece, to: file, path: path) }
            }
            offset += gap + tensor.byteCount
        }
        guard ftruncate(file, off_t(offset)) == 0 else {
            throw failure("cannot write the ClientApp exchange file '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    /// Makes whatever `path` holds unreadable as an exchange (its header says "no message"), keeping its pages for
    /// the next `write`; a missing file stays missing.
    public static func invalidate(_ path: String) throws {
        guard access(path, F_OK) == 0 else { return }
        let file = try openForWriting(path)
        defer { close(file) }
        let empty = [UInt8](repeating: 0, count: 16)
        try empty.withUnsafeBytes { try writeAll($0, to: file, path: path) }
    }

    /// Reads the message and context `write` put in `path`, copying every array into tensor storage.
    public static func read(from path: String) throws -> (message: PollenCore.Message, context: Context) {
        try read(from: path, mapping: false)
    }

    /// Reads the message and context `write` put in `path`; with `mapping`, the arrays are views of the file mapped
    /// copy-on-write rather than copies, so the file must not shrink until they are gone.
    public static func read(from path: String, mapping: Bool) throws -> (message: PollenCore.Message, context: Context) {
        // Never a link, and never a FIFO a child left behind to block the SuperNode's read.
        let file = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard file >= 0 else { throw failure("cannot read the ClientApp exchange file '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(file) }
        var status = stat()
        guard fstat(file, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw failure("the ClientApp exchange file '\(path)' is not a regular file")
        }
        var reader = try Reader(file: file, path: path, mapping: mapping)
        let header = try reader.bytes(16)
        let lengths = (0..<2).map { part in (0..<8).reduce(UInt64(0)) { $0 | UInt64(header[part * 8 + $1]) << (8 * UInt64($1)) } }
        guard lengths.allSatisfy({ $0 <= UInt64(reader.remaining) }), lengths[0] + lengths[1] <= UInt64(reader.remaining) else {
            throw failure("the ClientApp exchange file '\(path)' is truncated")
        }
        // Every message has metadata: an empty one is a reset file (`invalidate`) the ClientApp did not write.
        guard lengths[0] > 0 else { throw failure("the ClientApp exchange file '\(path)' holds no message: the ClientApp wrote no reply") }
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
                    return (array.key, try reader.tensor(dtype: dtype, shape: array.value.shape.map(Int.init), name: array.key))
                })))
            case .metricRecord(let record): return (item.key, .metrics(try MetricRecord(proto: record)))
            case .configRecord(let record): return (item.key, .config(try ConfigRecord(proto: record)))
            case nil: throw failure("record '\(item.key)' in '\(reader.path)' is empty")
            }
        })
    }

    /// Opens `path` for writing, created readable by its owner only if missing. Whatever else a child may have
    /// left there (a FIFO that would block the open, a link, a folder, a second name of another file) is removed
    /// and a new file made in its place.
    private static func openForWriting(_ path: String) throws -> Int32 {
        let flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW
        var file = open(path, flags | O_CREAT | O_NONBLOCK, 0o600)
        if file >= 0 {
            var status = stat()
            if fstat(file, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_nlink == 1 {
                _ = fcntl(file, F_SETFL, fcntl(file, F_GETFL) & ~O_NONBLOCK)
                return file
            }
            close(file)
        }
        try? FileManager.default.removeItem(atPath: path)
        file = open(path, flags | O_CREAT | O_EXCL, 0o600)
        guard file >= 0 else { throw failure("cannot write the ClientApp exchange file '\(path)': \(String(cString: strerror(errno)))") }
        return file
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

    /// The zero bytes that bring `offset` to the next multiple of `arrayAlignment`.
    static func padding(before offset: Int) -> Int { (arrayAlignment - offset % arrayAlignment) % arrayAlignment }

    /// Reads an exchange file front to back, knowing how much is left; arrays are copied out or, with a mapping,
    /// viewed in place.
    private struct Reader {
        let file: Int32
        let path: String
        private let size: Int
        private let mapping: FileMapping?
        private var offset = 0
        var remaining: Int { size - offset }

        init(file: Int32, path: String, mapping: Bool) throws {
            self.file = file
            self.path = path
            var status = stat()
            size = fstat(file, &status) == 0 ? Int(status.st_size) : 0
            self.mapping = mapping ? try FileMapping(descriptor: file, count: size, path: path) : nil
        }

        mutating func bytes(_ count: Int) throws -> [UInt8] {
            try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                try fill(UnsafeMutableRawBufferPointer(buffer))
                initialized = count
            }
        }

        /// The next array: past its padding, `dtype` elements of `shape`.
        mutating func tensor(dtype: DType, shape: [Int], name: String) throws -> Tensor {
            let start = offset + ClientAppExchange.padding(before: offset)
            guard start <= size, try Tensor.byteCount(dtype: dtype, shape: shape) <= size - start else {
                throw ClientAppExchange.failure("the ClientApp exchange file '\(path)' is truncated at array '\(name)'")
            }
            offset = start
            if let mapping {
                let tensor = try Tensor(dtype: dtype, shape: shape, viewing: mapping, offset: start)
                offset += tensor.byteCount
                return tensor
            }
            return try Tensor(dtype: dtype, shape: shape) { try fill($0) }
        }

        mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
            guard buffer.count <= remaining else { throw ClientAppExchange.failure("the ClientApp exchange file '\(path)' is truncated") }
            var done = 0
            while done < buffer.count {
                let read = pread(file, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if read < 0, errno == EINTR { continue }
                guard read > 0 else { throw ClientAppExchange.failure("the ClientApp exchange file '\(path)' is truncated") }
                done += read
            }
            offset += buffer.count
        }
    }
}
