/// What a message asks a node to do (Flower's `message_type`): an open set of names.
///
/// Flower's three are static members; an app can define its own (`MessageType("query.stats")`). Flower names an
/// app's extra handler of a built-in type `"train.<name>"`; a `ClientApp` matches types exactly.
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

    public var description: String { rawValue }
}
