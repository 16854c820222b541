public import PollenCore
import Foundation
import PollenWire
import SwiftProtobuf

/// The files through which a SuperNode and its isolated ClientApp process exchange one message: the
/// instruction with the node's context in, the reply with the updated context out.
///
/// A file holds a message and a context as Flower's `Message` (content inline) and `Context` protobufs: the
/// message's length as 8 little-endian bytes, the message, then the context.
public enum ClientAppExchange {
    /// Writes `message` and `context` to `path`, readable by its owner only.
    public static func write(_ message: PollenCore.Message, context: Context, to path: String) throws {
        let messageBytes: [UInt8] = try proto(of: message).serializedBytes()
        let contextBytes: [UInt8] = try proto(of: context).serializedBytes()
        var bytes = [UInt8]()
        bytes.reserveCapacity(8 + messageBytes.count + contextBytes.count)
        withUnsafeBytes(of: UInt64(messageBytes.count).littleEndian) { bytes += $0 }
        bytes += messageBytes
        bytes += contextBytes
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw WireError(code: .invalidMessage, message: "cannot write the ClientApp exchange file '\(path)'")
        }
    }

    /// Reads the message and context `write` put in `path`.
    public static func read(from path: String) throws -> (message: PollenCore.Message, context: Context) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WireError(code: .invalidMessage, message: "cannot read the ClientApp exchange file '\(path)': it is missing, or larger than the memory this process may use")
        }
        guard data.count >= 8 else {
            throw WireError(code: .invalidMessage, message: "the ClientApp exchange file '\(path)' is truncated")
        }
        let declared = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard declared <= UInt64(data.count - 8) else {
            throw WireError(code: .invalidMessage, message: "the ClientApp exchange file '\(path)' is truncated")
        }
        let length = Int(declared)
        let messageProto = try Flwr_Proto_Message(serializedBytes: data[8..<(8 + length)])
        let contextProto = try Flwr_Proto_Context(serializedBytes: data[(8 + length)...])
        let message = PollenCore.Message(
            metadata: PollenCore.Message.Metadata(proto: messageProto.metadata),
            body: messageProto.hasError ? .error(MessageError(proto: messageProto.error)) : .content(try RecordDict(proto: messageProto.content))
        )
        let context = Context(
            runID: RunID(contextProto.runID), nodeID: NodeID(contextProto.nodeID),
            nodeConfig: UserConfigProto.decode(contextProto.nodeConfig), runConfig: UserConfigProto.decode(contextProto.runConfig),
            state: try RecordDict(proto: contextProto.state)
        )
        return (message, context)
    }

    private static func proto(of message: PollenCore.Message) -> Flwr_Proto_Message {
        .with {
            $0.metadata = message.metadata.proto
            switch message.body {
            case .content(let content): $0.content = content.proto
            case .error(let error): $0.error = error.proto
            }
        }
    }

    private static func proto(of context: Context) -> Flwr_Proto_Context {
        .with {
            $0.runID = context.runID.rawValue
            $0.nodeID = context.nodeID.rawValue
            $0.nodeConfig = UserConfigProto.encode(context.nodeConfig)
            $0.runConfig = UserConfigProto.encode(context.runConfig)
            $0.state = context.state.proto
        }
    }
}
