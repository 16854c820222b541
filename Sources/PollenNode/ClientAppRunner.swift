public import PollenCore

/// What runs a SuperNode's ClientApp on a message: in the daemon's own process (a `ClientApp`), or isolated in a
/// process of its own (`IsolatedClientApp`).
public protocol ClientAppRunner: Sendable {
    /// Runs the app on `message` and returns the reply, a failure reply when the app fails in any way;
    /// `context.state` carries the app's state to the next message of the run. The runner owns `message`, so it
    /// can let its arrays go before the reply's arrive.
    func handle(_ message: consuming Message, context: inout Context) async -> Message
}

extension ClientApp: ClientAppRunner {}
