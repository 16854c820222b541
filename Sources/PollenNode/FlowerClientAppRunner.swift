public import PollenCore
public import PollenWire

/// Runs one message of a run of a researcher's Flower App Bundle with the bundle's own (Python) ClientApp, on a
/// node whose custodian allowed it (`pollen supernode --flower-clientapp`).
public protocol FlowerClientAppRunner: Sendable {
    /// The reply to `message` (a failure reply when the app fails in any way), the app running with `context` (the
    /// node's, with `context.state` carried to the run's next message) from `bundle`, the run `run` names.
    func handle(_ message: consuming Message, context: inout Context, run: Flwr_Proto_Run, bundle: [UInt8]) async -> Message
}
