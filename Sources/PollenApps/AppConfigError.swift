/// The error thrown when a run or node configuration is invalid: it names the key, what it holds, and what it
/// should hold.
public struct AppConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The offending key.
    public var key: String
    /// What is wrong and the fix.
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "config key '\(key)': \(message)" }
}
