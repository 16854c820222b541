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
        #expect(try signature.verify(now: start + NodeSigner.reuseSeconds + 2).canonical == Array(signer.key.publicKey.pemRepresentation.utf8))
    }
}

@Suite struct VerifiedSignaturesTests {
    @Test func checksASignatureOnceAndItsTimeOnEveryRequest() throws {
        let verified = VerifiedSignatures()
        let key = P384.Signing.PrivateKey()
        let signedAt = Date()
        let signature = try NodeSignature.sign(with: key, at: signedAt)
        let canonical = Array(key.publicKey.pemRepresentation.utf8)
        #expect(try verified.signer(of: signature, now: signedAt) == canonical)
        #expect(try verified.signer(of: signature, now: signedAt + 1) == canonical)
        #expect(verified.count == 1)
        // Remembered, and still refused once too old.
        #expect { try verified.signer(of: signature, now: signedAt + NodeSignature.maximumAge + 1) } throws: {
            ($0 as? NodeIdentityError)?.description.contains("s old") == true
        }
        // Another key's signature of the same time is refused, and not remembered.
        var forged = signature
        forged.publicKey = Array(P384.Signing.PrivateKey().publicKey.pemRepresentation.utf8)
        for _ in 0..<2 {
            #expect(throws: NodeIdentityError("the signature does not match the public key")) { try verified.signer(of: forged, now: signedAt) }
        }
        #expect(verified.count == 1)
        // A key written with a final line break, as Flower's SuperNode writes it, is the same signer.
        var withLineBreak = signature
        withLineBreak.publicKey += Array("\n".utf8)
        #expect(try verified.signer(of: withLineBreak, now: signedAt) == canonical)
    }

    @Test func remembersAtMostItsCapacity() throws {
        let verified = VerifiedSignatures(capacity: 3)
        let key = P384.Signing.PrivateKey()
        let start = Date()
        for second in 0..<3 {
            _ = try verified.signer(of: try NodeSignature.sign(with: key, at: start + Double(second)), now: start + 3)
        }
        #expect(verified.count == 3)
        // Full, and none expired: all go, then the new one is remembered.
        _ = try verified.signer(of: try NodeSignature.sign(with: key, at: start + 3), now: start + 3)
        #expect(verified.count == 1)
        // Full again later, when the signatures of seconds 3 and 4 have expired and the one of second 5 has not:
        // only the expired ones go.
        for second in 4..<6 { _ = try verified.signer(of: try NodeSignature.sign(with: key, at: start + Double(second)), now: start + 6) }
        #expect(verified.count == 3)
        let late = start + 4.5 + NodeSignature.maximumAge
        _ = try verified.signer(of: try NodeSignature.sign(with: key, at: late), now: late)
        #expect(verified.count == 2)
    }
}
