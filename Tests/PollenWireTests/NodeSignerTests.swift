import Crypto
import Foundation
import PollenWire
import Testing

@Suite struct NodeSignerTests {
    @Test func reusesASignatureForAWhileThenSignsAgain() throws {
        let signer = NodeSigner(key: P384.Signing.PrivateKey())
        let start = Date()
        let first = try signer.headers(now: start)
        #expect(try signer.headers(now: start + NodeSigner.reuseSeconds / 2).map(\.value) == first.map(\.value))
        let later = try signer.headers(now: start + NodeSigner.reuseSeconds + 1)
        #expect(later.map(\.value) != first.map(\.value))
        // A clock set back gets a fresh signature, not one from its future.
        #expect(try signer.headers(now: start - 60).map(\.value) != later.map(\.value))
        // Whatever is reused is a valid signature.
        let signature = try #require(NodeSignature(publicKey: later[0].value, timestamp: later[1].value, signature: later[2].value))
        #expect(signature.verify(now: start + NodeSigner.reuseSeconds + 2) == nil)
    }
}

@Suite struct VerifiedSignaturesTests {
    @Test func checksASignatureOnceAndItsTimeOnEveryRequest() throws {
        let verified = VerifiedSignatures()
        let key = P384.Signing.PrivateKey()
        let signedAt = Date()
        let signature = try NodeSignature.sign(with: key, at: signedAt)
        #expect(verified.verify(signature, now: signedAt) == nil)
        #expect(verified.verify(signature, now: signedAt + 1) == nil)
        #expect(verified.count == 1)
        // Remembered, and still refused once too old.
        let stale = try #require(verified.verify(signature, now: signedAt + NodeSignature.maximumAge + 1))
        #expect(stale.contains("s old"))
        // Another key's signature of the same time is refused, and not remembered.
        var forged = signature
        forged.publicKey = Array(P384.Signing.PrivateKey().publicKey.pemRepresentation.utf8)
        #expect(verified.verify(forged, now: signedAt) == "the signature does not match the public key")
        #expect(verified.verify(forged, now: signedAt) == "the signature does not match the public key")
        #expect(verified.count == 1)
    }

    @Test func remembersAtMostItsCapacity() throws {
        let verified = VerifiedSignatures(capacity: 3)
        let key = P384.Signing.PrivateKey()
        let start = Date()
        for second in 0..<3 {
            #expect(verified.verify(try NodeSignature.sign(with: key, at: start + Double(second)), now: start + 3) == nil)
        }
        #expect(verified.count == 3)
        // Full, and none expired: all go, then the new one is remembered.
        #expect(verified.verify(try NodeSignature.sign(with: key, at: start + 3), now: start + 3) == nil)
        #expect(verified.count == 1)
        // Full again later, when the signatures of seconds 3 and 4 have expired and the one of second 5 has not:
        // only the expired ones go.
        for second in 4..<6 { _ = verified.verify(try NodeSignature.sign(with: key, at: start + Double(second)), now: start + 6) }
        #expect(verified.count == 3)
        let late = start + 4.5 + NodeSignature.maximumAge
        #expect(verified.verify(try NodeSignature.sign(with: key, at: late), now: late) == nil)
        #expect(verified.count == 2)
    }
}
