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
    private let verified = Mutex<[NodeSignature: Date]>([:])

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// `signature.verify(now:)`, looking the signature up before checking it.
    public func verify(_ signature: NodeSignature, now: Date = Date()) -> String? {
        if let problem = signature.checkTimestamp(now: now) { return problem }
        if verified.withLock({ $0[signature] != nil }) { return nil }
        if let problem = signature.checkSignature() { return problem }
        let expires = (NodeSignature.parse(signature.timestamp) ?? now) + NodeSignature.maximumAge
        verified.withLock { verified in
            if verified.count >= capacity {
                verified = verified.filter { $0.value > now }
                if verified.count >= capacity { verified.removeAll() }
            }
            verified[signature] = expires
        }
        return nil
    }

    /// The number of signatures remembered, for tests.
    public var count: Int { verified.withLock { $0.count } }
}
