/// The error thrown by `PollenStrategy`: a code a caller can match, and a message a person can act on.
public struct StrategyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; an open set.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// Fewer nodes connected than the strategy needs, within the time allowed.
        public static let notEnoughNodes = Code("not enough nodes")
        /// A strategy setting is out of range.
        public static let invalidConfiguration = Code("invalid configuration")
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
