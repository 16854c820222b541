import Crypto
import Foundation
import PollenWire
import Testing

/// Node keys in the forms sites hand over: one key made by `ssh-keygen -t ecdsa -b 384 -N "" -C site-a` (as
/// Flower's documentation has sites make theirs), its OpenSSH public key line, and the PEM of that public key
/// (`ssh-keygen -e -m PKCS8`).
@Suite struct NodeKeyTests {
    static let openSSHPrivateKey = """
        -----BEGIN OPENSSH PRIVATE KEY-----
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAiAAAABNlY2RzYS
        1zaGEyLW5pc3RwMzg0AAAACG5pc3RwMzg0AAAAYQR3gUm33KEp63eKh2QGo2KyJEYrhOL/
        +eQbtuRO2XsVTjSL+o4W4PUeqBJtSflCkT7YX6Zshu17wiZgM822pWZp8eG3iuC4Ey20PR
        vWL+RBTFxrrD0W9Ts7wsezzwnbw4QAAADQ4VgztOFYM7QAAAATZWNkc2Etc2hhMi1uaXN0
        cDM4NAAAAAhuaXN0cDM4NAAAAGEEd4FJt9yhKet3iodkBqNisiRGK4Ti//nkG7bkTtl7FU
        40i/qOFuD1HqgSbUn5QpE+2F+mbIbte8ImYDPNtqVmafHht4rguBMttD0b1i/kQUxca6w9
        FvU7O8LHs88J28OEAAAAMD2JtHfWp74sW96l44Seb2gcGkPjra6a0hapGjEgI2VCZBD77U
        H2ww099RorC+dW9QAAAAZzaXRlLWEBAg==
        -----END OPENSSH PRIVATE KEY-----

        """
    static let openSSHPublicKey = """
        ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBHeBSbfcoSnrd4qHZAajYrIkRiuE4v/55Bu25E7ZexVONIv6jhbg9R6oEm1J+UKRPthfpmyG7XvCJmAzzbalZmnx4beK4LgTLbQ9G9Yv5EFMXGusPRb1OzvCx7PPCdvDhA== site-a

        """
    static let pemPublicKey = """
        -----BEGIN PUBLIC KEY-----
        MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEd4FJt9yhKet3iodkBqNisiRGK4Ti//nk
        G7bkTtl7FU40i/qOFuD1HqgSbUn5QpE+2F+mbIbte8ImYDPNtqVmafHht4rguBMt
        tD0b1i/kQUxca6w9FvU7O8LHs88J28OE
        -----END PUBLIC KEY-----

        """

    @Test func everyFormOfOneKeyHasTheSameCanonicalBytes() throws {
        let fromOpenSSH = try NodePublicKey(text: Array(Self.openSSHPublicKey.utf8)).canonical
        let fromPEM = try NodePublicKey(text: Array(Self.pemPublicKey.utf8)).canonical
        let privateKey = try OpenSSHKey.p384PrivateKey(pem: Self.openSSHPrivateKey)
        #expect(fromOpenSSH == fromPEM)
        #expect(fromPEM == Array(privateKey.publicKey.pemRepresentation.utf8))
        // The private key read from OpenSSH signs what its public key verifies, as a node's headers are checked.
        let signature = try NodeSignature.sign(with: privateKey)
        #expect(try signature.verify().canonical == fromOpenSSH)
    }

    @Test func keysItCannotUseAreRefusedWithTheReason() throws {
        func refusal(_ text: String) -> String {
            do { _ = try NodePublicKey(text: Array(text.utf8)); return "accepted" } catch { return error.description }
        }
        #expect(refusal("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7n0dmIv2m5W0WOWJ5LC3e1VgFzyMVvHzEUaIkSmGi3 x").contains("ssh-ed25519"))
        #expect(refusal("hello").contains("neither PEM"))
        #expect(refusal("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----").contains("not its private key"))
        #expect(refusal(Self.openSSHPublicKey.replacingOccurrences(of: "AAAAE2", with: "AAAAE3")).contains("OpenSSH"))
        // The point cut short.
        let blob = try #require(Data(base64Encoded: String(Self.openSSHPublicKey.split(separator: " ")[1])))
        #expect(refusal("ecdsa-sha2-nistp384 " + blob.dropLast(10).base64EncodedString()).contains("ends inside a field"))

        // The same file naming a cipher where it names none (bytes 15–22: the cipher's length and name).
        let body = Self.openSSHPrivateKey.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        var bytes = [UInt8](try #require(Data(base64Encoded: body)))
        bytes.replaceSubrange(15..<23, with: [0, 0, 0, 10] + Array("aes256-ctr".utf8))
        let encrypted = "-----BEGIN OPENSSH PRIVATE KEY-----\n\(Data(bytes).base64EncodedString())\n-----END OPENSSH PRIVATE KEY-----\n"
        #expect(throws: NodeIdentityError("the OpenSSH private key is encrypted (aes256-ctr); remove its passphrase with ssh-keygen -p -N \"\" -f FILE")) {
            try OpenSSHKey.p384PrivateKey(pem: encrypted)
        }
    }
}
