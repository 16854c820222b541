/// What a message asks a node to do (Flower's `message_type`): an open set of names.
///
/// Flower's three are static members; an app can define its own (`MessageType("query.stats")`), and Flower
/// addresses an app-defined handler of a built-in type as `"train.<name>"`.
public struct MessageType: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    /// Train the model in the message on local data and reply with the update.
    public static let train = MessageType("train")
    /// Evaluate the model in the message on local data and reply with metrics.
    public static let evaluate = MessageType("evaluate")
    /// Answer a question about local data (for example federated statistics).
    public static let query = MessageType("query")

    /// The built-in category this type belongs to: `"train.custom"` belongs to `train`.
    public var category: MessageType {
        guard let dot = rawValue.firstIndex(of: ".") else { return self }
        return MessageType(String(rawValue[..<dot]))
    }

    public var description: String { rawValue }
}
