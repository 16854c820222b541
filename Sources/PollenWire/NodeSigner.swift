public import Crypto
public import Foundation
import Synchronization

/// Signs a node's Fleet requests, reusing a signature for `reuseSeconds` before signing the time again: a
/// P-384 signature costs the node a millisecond, and the SuperLink remembers the ones it has checked
/// (`VerifiedSignatures`), so a round of a hundred object pulls and pushes costs each side a few signatures.
///
/// A reused signature is no weaker than a fresh one: it covers only its timestamp (Flower 1.42's scheme), and a
/// SuperLink accepts any timestamp of the last 305 s.
public final class NodeSigner: Sendable {
    /// How long one signature is used, in seconds: far inside every SuperLink's window, Flower's included.
    public static let reuseSeconds = 10.0
    /// The node's identity key.
    public let key: P384.Signing.PrivateKey
    private let current = Mutex<(signedAt: Date, headers: [(name: String, value: String)])?>(nil)

    public init(key: P384.Signing.PrivateKey) {
        self.key = key
    }

    /// The signature headers for a request sent at `now`.
    public func headers(now: Date = Date()) throws -> [(name: String, value: String)] {
        if let reused = current.withLock({ $0 }), reused.signedAt <= now, now.timeIntervalSince(reused.signedAt) < Self.reuseSeconds {
            return reused.headers
        }
        let headers = try NodeSignature.sign(with: key, at: now).headers
        current.withLock { $0 = (now, headers) }
        return headers
    }
}
