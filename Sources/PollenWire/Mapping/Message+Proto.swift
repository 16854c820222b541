public import PollenCore
import SwiftProtobuf

extension PollenCore.Message.Metadata {
    /// Flower's `Metadata`.
    public var proto: Flwr_Proto_Metadata {
        .with {
            $0.runID = runID.rawValue
            $0.messageID = messageID.rawValue
            $0.srcNodeID = source.rawValue
            $0.dstNodeID = destination.rawValue
            $0.replyToMessageID = replyTo?.rawValue ?? ""
            $0.groupID = groupID
            $0.ttl = ttlSeconds
            $0.messageType = type.rawValue
            $0.createdAt = createdAt
            if let sourceTaskID { $0.srcTaskID = sourceTaskID }
            if let destinationTaskID { $0.dstTaskID = destinationTaskID }
        }
    }

    /// The metadata of a Flower `Metadata`.
    public init(proto: Flwr_Proto_Metadata) {
        self.init(
            runID: RunID(proto.runID), messageID: MessageID(proto.messageID), source: NodeID(proto.srcNodeID),
            destination: NodeID(proto.dstNodeID), replyTo: proto.replyToMessageID.isEmpty ? nil : MessageID(proto.replyToMessageID),
            groupID: proto.groupID, ttlSeconds: proto.ttl, type: MessageType(proto.messageType), createdAt: proto.createdAt,
            sourceTaskID: proto.hasSrcTaskID ? proto.srcTaskID : nil,
            destinationTaskID: proto.hasDstTaskID ? proto.dstTaskID : nil
        )
    }
}

extension MessageError {
    /// Flower's `Error`.
    public var proto: Flwr_Proto_Error {
        .with {
            $0.code = code.rawValue
            $0.reason = reason
        }
    }

    /// The error of a Flower `Error`.
    public init(proto: Flwr_Proto_Error) {
        self.init(code: Code(rawValue: proto.code), reason: proto.reason)
    }
}
