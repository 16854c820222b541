public import Foundation
import Synchronization

/// The node signatures a SuperLink has found valid, so that a node reusing its signed headers for a while
/// (`NodeSignature.reuseSeconds`) costs one ECDSA verification, not one a request: at a millisecond each, checking
/// every pull and push of a 100 MB model's chunks was a twentieth of the SuperLink's work.
///
/// A signature covers only its timestamp, so whether it matches its key never changes; the timestamp's window is
/// checked on every request, remembered or not. Entries go once their timestamp is too old to pass.
public final class VerifiedSignatures: Sendable {
    /// How many signatures are remembered at most; past it, the expired ones go, and if none has, all of them.
    public let capacity: Int
    /// Each remembered signature's expiry and its key's canonical bytes.
    private let verified = Mutex<[NodeSignature: (expires: Date, signer: [UInt8])]>([:])

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// The canonical bytes (`NodePublicKey.canonical`) of the key that made `signature`: `signature.verify(now:)`,
    /// looking the signature up before checking it.
    public func signer(of signature: NodeSignature, now: Date = Date()) throws(NodeIdentityError) -> [UInt8] {
        if let problem = signature.checkTimestamp(now: now) { throw NodeIdentityError(problem) }
        if let known = verified.withLock({ $0[signature]?.signer }) { return known }
        let signer = try signature.signingKey().canonical
        let expires = (NodeSignature.parse(signature.timestamp) ?? now) + NodeSignature.maximumAge
        verified.withLock { verified in
            if verified.count >= capacity {
                verified = verified.filter { $0.value.expires > now }
                if verified.count >= capacity { verified.removeAll() }
            }
            verified[signature] = (expires, signer)
        }
        return signer
    }

    /// The number of signatures remembered, for tests.
    public var count: Int { verified.withLock { $0.count } }
}
