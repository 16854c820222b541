/// A unit of work or its reply between a ServerApp and a ClientApp (Flower's `Message`).
///
/// A message carries either content (a `RecordDict`) or, for a failed reply, a `MessageError`.
public struct Message: Sendable {
    /// Flower's default time to live: 12 hours (`flwr.app.constants.DEFAULT_TTL`).
    public static let defaultTTLSeconds: Double = 43_200

    /// Addressing and bookkeeping.
    public var metadata: Metadata
    /// The content or the failure.
    public var body: Body

    /// The content or the failure of a message.
    public enum Body: Sendable {
        case content(RecordDict)
        case error(MessageError)
    }

    /// The content, or `nil` for a failed reply.
    public var content: RecordDict? {
        if case .content(let content) = body { content } else { nil }
    }

    /// The failure, or `nil` for a message with content.
    /// Takes the content out of this message, leaving it empty: a content that was this message's only copy is then
    /// the caller's only copy, free to change without being copied.
    public mutating func takeContent() -> RecordDict? {
        guard case .content(let content) = body else { return nil }
        body = .content(RecordDict())
        return content
    }

    public var error: MessageError? {
        if case .error(let error) = body { error } else { nil }
    }

    /// Whether this message carries a failure (Flower's `has_error()`).
    public var hasError: Bool { error != nil }

    /// A message with explicit metadata and body, as a transport rebuilds it.
    public init(metadata: Metadata, body: Body) {
        self.metadata = metadata
        self.body = body
    }

    /// An instruction from the ServerApp to the node `destination` (Flower's `Message(content, dst_node_id, ...)`).
    ///
    /// The grid that sends it fills in the run, the message id and the creation time.
    public init(
        content: RecordDict,
        destination: NodeID,
        type: MessageType,
        groupID: String = "",
        ttlSeconds: Double = Message.defaultTTLSeconds
    ) {
        metadata = Metadata(
            runID: RunID(0), messageID: MessageID(""), source: .superLink, destination: destination,
            replyTo: nil, groupID: groupID, ttlSeconds: ttlSeconds, type: type, createdAt: 0
        )
        body = .content(content)
    }

    /// The reply to this message carrying `content` (Flower's `Message(content, reply_to=message)`).
    public func reply(content: RecordDict) -> Message {
        Message(metadata: replyMetadata(), body: .content(content))
    }

    /// The reply to this message carrying `error` in place of content.
    public func reply(error: MessageError) -> Message {
        Message(metadata: replyMetadata(), body: .error(error))
    }

    private func replyMetadata() -> Metadata {
        Metadata(
            runID: metadata.runID, messageID: MessageID(""), source: metadata.destination,
            destination: metadata.source, replyTo: metadata.messageID, groupID: metadata.groupID,
            ttlSeconds: metadata.ttlSeconds, type: metadata.type, createdAt: 0,
            sourceTaskID: metadata.destinationTaskID, destinationTaskID: metadata.sourceTaskID
        )
    }
}

extension Message {
    /// A message's addressing and bookkeeping (Flower's `Metadata`).
    public struct Metadata: Sendable, Hashable {
        /// The run the message belongs to.
        public var runID: RunID
        /// The message's id, assigned when it is sent.
        public var messageID: MessageID
        /// The sending node (`NodeID.superLink` for instructions).
        public var source: NodeID
        /// The receiving node.
        public var destination: NodeID
        /// The id of the message this one replies to, or `nil` for an instruction.
        public var replyTo: MessageID?
        /// A group (typically the round) the message belongs to.
        public var groupID: String
        /// Seconds after `createdAt` when the message expires.
        public var ttlSeconds: Double
        /// What the message asks for.
        public var type: MessageType
        /// Seconds since 1970 when the message was created.
        public var createdAt: Double
        /// The task (app process) that sent the message, where the runtime tracks one (Flower's `src_task_id`).
        public var sourceTaskID: UInt64?
        /// The task the message is for (Flower's `dst_task_id`).
        public var destinationTaskID: UInt64?

        public init(
            runID: RunID, messageID: MessageID, source: NodeID, destination: NodeID, replyTo: MessageID?,
            groupID: String, ttlSeconds: Double, type: MessageType, createdAt: Double,
            sourceTaskID: UInt64? = nil, destinationTaskID: UInt64? = nil
        ) {
            self.runID = runID
            self.messageID = messageID
            self.source = source
            self.destination = destination
            self.replyTo = replyTo
            self.groupID = groupID
            self.ttlSeconds = ttlSeconds
            self.type = type
            self.createdAt = createdAt
            self.sourceTaskID = sourceTaskID
            self.destinationTaskID = destinationTaskID
        }
    }
}
