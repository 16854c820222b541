public import Crypto
public import Foundation

/// A SuperNode's public key: ECDSA on P-256, P-384 or P-521, the NIST curves Flower accepts.
///
/// It reads the forms an operator or a node hands over: PEM SubjectPublicKeyInfo (what a node's `flwr-public-key`
/// header carries, and what `pollen supernode --print-public-key` prints) and an OpenSSH public key line (what
/// Flower's documentation has sites make with `ssh-keygen -t ecdsa -b 384` and register with
/// `flwr supernode register`). Every text of one key has the same `canonical` bytes, which is what a SuperLink
/// stores and compares: Flower's SuperNode writes its PEM with a final line break, swift-crypto without one.
public struct NodePublicKey: Sendable {
    /// The key as swift-crypto writes it: PEM SubjectPublicKeyInfo, no final line break.
    public let canonical: [UInt8]
    private let verifier: @Sendable (_ signature: [UInt8], _ digest: SHA256.Digest) -> Bool

    /// Reads a PEM or OpenSSH public key; throws `NodeIdentityError` naming what the text is not.
    public init(text: [UInt8]) throws(NodeIdentityError) {
        guard let string = String(bytes: text, encoding: .utf8) else { throw NodeIdentityError("the public key is not text (PEM or OpenSSH)") }
        let trimmed = string.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("-----") {
            self.init(try Self.pemKey(trimmed))
        } else if trimmed.hasPrefix("ssh-") || trimmed.hasPrefix("ecdsa-") {
            self.init(try Self.openSSHKey(trimmed))
        } else {
            throw NodeIdentityError("the public key is neither PEM (-----BEGIN PUBLIC KEY-----) nor an OpenSSH line (ecdsa-sha2-nistp384 …)")
        }
    }

    /// Whether `signature` (DER ECDSA) signs `message` with SHA-256, as Flower's nodes sign their timestamps.
    public func isValidSignature(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        verifier(signature, SHA256.hash(data: message))
    }

    private enum Key {
        case p256(P256.Signing.PublicKey), p384(P384.Signing.PublicKey), p521(P521.Signing.PublicKey)
    }

    private static func openSSHKey(_ line: String) throws(NodeIdentityError) -> Key {
        let point = try OpenSSHKey.publicPoint(line: line)
        do {
            switch point.curve {
            case .p256: return .p256(try P256.Signing.PublicKey(x963Representation: point.bytes))
            case .p384: return .p384(try P384.Signing.PublicKey(x963Representation: point.bytes))
            case .p521: return .p521(try P521.Signing.PublicKey(x963Representation: point.bytes))
            }
        } catch {
            throw NodeIdentityError("the OpenSSH public key's point is not on \(point.curve.name)")
        }
    }

    private static func pemKey(_ pem: String) throws(NodeIdentityError) -> Key {
        guard pem.hasPrefix("-----BEGIN PUBLIC KEY-----") else {
            throw NodeIdentityError("the PEM is not a public key (-----BEGIN PUBLIC KEY-----); give the node's public key, not its private key")
        }
        if let key = try? P384.Signing.PublicKey(pemRepresentation: pem) { return .p384(key) }
        if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) { return .p256(key) }
        if let key = try? P521.Signing.PublicKey(pemRepresentation: pem) { return .p521(key) }
        throw NodeIdentityError("the public key is not a PEM EC key on P-256, P-384 or P-521")
    }

    private init(_ key: Key) {
        switch key {
        case .p256(let key):
            canonical = Array(key.pemRepresentation.utf8)
            verifier = { signature, digest in
                (try? P256.Signing.ECDSASignature(derRepresentation: signature)).map { key.isValidSignature($0, for: digest) } ?? false
            }
        case .p384(let key):
            canonical = Array(key.pemRepresentation.utf8)
            verifier = { signature, digest in
                (try? P384.Signing.ECDSASignature(derRepresentation: signature)).map { key.isValidSignature($0, for: digest) } ?? false
            }
        case .p521(let key):
            canonical = Array(key.pemRepresentation.utf8)
            verifier = { signature, digest in
                (try? P521.Signing.ECDSASignature(derRepresentation: signature)).map { key.isValidSignature($0, for: digest) } ?? false
            }
        }
    }
}

/// Why a node's key cannot be read, or its signature is refused.
public struct NodeIdentityError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
