/// A failure carried in place of a reply's content (Flower's `Error`): a numeric code and a reason.
///
/// Failures inside a round travel as data; strategies count them and never throw them.
public struct MessageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The failure class, numbered as Flower numbers it (`flwr.common.constant.ErrorCode`).
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: Int64
        public init(rawValue: Int64) { self.rawValue = rawValue }

        public static let unknown = Code(rawValue: 0)
        public static let loadClientAppException = Code(rawValue: 1)
        public static let clientAppRaisedException = Code(rawValue: 2)
        public static let messageUnavailable = Code(rawValue: 3)
        public static let replyMessageUnavailable = Code(rawValue: 4)
        public static let nodeUnavailable = Code(rawValue: 5)
        public static let modFailedPrecondition = Code(rawValue: 6)
        public static let invalidFAB = Code(rawValue: 7)
        public static let clientAppCrashed = Code(rawValue: 8)
    }

    /// The failure class.
    public var code: Code
    /// What happened, for a person.
    public var reason: String

    public init(code: Code, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "error \(code.rawValue): \(reason)" }
}
