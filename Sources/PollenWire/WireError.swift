/// The error thrown by `PollenWire`: a peer sent bytes that do not decode into Pollen's types.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; an open set.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A protobuf message is malformed or holds a value Pollen cannot represent.
        public static let invalidMessage = Code("invalid message")
        /// An object's bytes do not follow Flower's object format, or do not hash to its id.
        public static let invalidObject = Code("invalid object")
        /// An object a message refers to is missing.
        public static let missingObject = Code("missing object")
        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
