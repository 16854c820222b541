import Foundation
import PollenWire

/// A Fleet or Control API failure as the protocol reports it: an HTTP status and Flower's error code, with a
/// detail for the peer's operator. Sent as JSON `{"code": …, "detail": …}`.
public struct FleetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The HTTP status.
    public var status: Int
    /// Flower's numeric error code (its `ApiErrorCode` catalogue), or 0.
    public var code: Int
    /// What went wrong, and the fix.
    public var detail: String

    public init(status: Int, code: Int, detail: String) {
        self.status = status
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(status) (\(code)): \(detail)" }

    /// The JSON body.
    public var json: String { "{\"code\": \(code), \"detail\": \(QuotedString.quoted(detail))}" }

    // Flower 1.42's codes where it has one (PROTOCOL.md §2.1).
    static func unsupportedMediaType(_ got: String?) -> FleetError {
        FleetError(status: 415, code: 1002, detail: "content-type must be application/protobuf, got \(got ?? "none")")
    }
    /// The body of `route` could not be decoded; `error` (the parser's) says where.
    static func invalidProtobuf(_ route: String, _ error: any Error) -> FleetError {
        let why = (error as? WireError)?.message ?? "\(error)"
        return FleetError(status: 400, code: 1003, detail: "the body of \(route) is not a valid protobuf \(route) request: \(why)")
    }
    static func unauthenticated(_ why: String) -> FleetError {
        FleetError(status: 401, code: 0, detail: "Invalid SuperNode authentication: \(why)")
    }
    static func forbidden(_ why: String) -> FleetError { FleetError(status: 403, code: 0, detail: why) }
    static let publicKeyInUse = FleetError(status: 412, code: 23, detail: "this public key is already registered")
    static let registrationDisabled = FleetError(
        status: 412, code: 2001, detail: "this SuperLink accepts only nodes an operator registered (--require-known-nodes)"
    )
    static func invalidHeartbeatInterval(_ value: Double) -> FleetError {
        FleetError(status: 400, code: 2003, detail: "heartbeat interval \(value) s is outside [10, 1800] s")
    }
    static func activationFailed(_ why: String) -> FleetError { FleetError(status: 412, code: 2004, detail: why) }
    static func runNotRunning(_ run: String) -> FleetError {
        FleetError(status: 403, code: 2007, detail: "run \(run) is not running")
    }
    static func notFound(_ what: String) -> FleetError { FleetError(status: 404, code: 0, detail: what) }
    static func badRequest(_ why: String) -> FleetError { FleetError(status: 400, code: 0, detail: why) }
    static func tooLarge(_ limit: Int) -> FleetError {
        FleetError(status: 413, code: 0, detail: "the request body exceeds \(limit) bytes; send large arrays as objects of at most 5 MiB")
    }
}
