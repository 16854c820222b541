/// The error thrown by `PollenCore`: a code a caller can match, and a message a person can act on.
///
/// Codes are an open set of static members, so adding one breaks no caller's `switch`.
public struct CoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A tensor's bytes do not match its dtype and shape, or a typed view asked for another dtype.
        public static let invalidTensor = Code("invalid tensor")
        /// A file could not be read.
        public static let unreadableFile = Code("unreadable file")
        /// A message is malformed: no content where content is required, or a reply to the wrong message.
        public static let invalidMessage = Code("invalid message")
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong and, where there is one, the fix.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
