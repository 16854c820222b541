/// The code that runs next to a node's data (Flower's `ClientApp`): one handler per message type.
///
/// A handler gets the message and the node's context, and returns the reply's content; a handler that throws
/// produces a failed reply (`MessageError.Code.clientAppRaisedException`), never a crash of its host.
///
/// ```swift
/// var app = ClientApp()
/// app.on(.train) { message, context in
///     var reply = RecordDict()
///     reply[metrics: "metrics"] = ["num-examples": 100]
///     return reply
/// }
/// ```
public struct ClientApp: Sendable {
    /// Handles one message; `context.state` changes persist on the node.
    public typealias Handler = @Sendable (Message, inout Context) async throws -> RecordDict

    private var handlers: [MessageType: Handler] = [:]

    /// An app with no handlers.
    public init() {}

    /// Registers `handler` for messages of `type`, replacing any earlier one.
    public mutating func on(_ type: MessageType, _ handler: @escaping Handler) {
        handlers[type] = handler
    }

    /// The message types this app handles.
    public var messageTypes: Set<MessageType> { Set(handlers.keys) }

    /// The handler for messages of `type`, if any; lets one app route messages to others.
    public func handler(for type: MessageType) -> Handler? { handlers[type] }

    /// Runs the handler for `message` and returns the reply: its content, or a `MessageError` if there is no
    /// handler for the message's type, the message carries no content, or the handler threw.
    public func handle(_ message: Message, context: inout Context) async -> Message {
        guard let handler = handlers[message.metadata.type] else {
            return message.reply(error: MessageError(
                code: .clientAppRaisedException,
                reason: "this ClientApp has no handler for '\(message.metadata.type)' messages; "
                    + "it handles \(handlers.keys.map(\.rawValue).sorted())"
            ))
        }
        guard message.content != nil else {
            return message.reply(error: MessageError(
                code: .clientAppRaisedException, reason: "an instruction message arrived without content"
            ))
        }
        do {
            return message.reply(content: try await handler(message, &context))
        } catch {
            return message.reply(error: MessageError(code: .clientAppRaisedException, reason: "\(error)"))
        }
    }
}
