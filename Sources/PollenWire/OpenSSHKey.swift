public import Crypto
import Foundation

/// OpenSSH's formats for ECDSA keys, as `ssh-keygen -t ecdsa` writes them: the public key line (RFC 5656) and the
/// `openssh-key-v1` private key file. Flower's documentation has sites make their SuperNode keys this way, so a
/// site keeps one key whichever SuperNode it runs.
public enum OpenSSHKey {
    /// The NIST curves OpenSSH names.
    public enum Curve: String, Sendable {
        case p256 = "nistp256", p384 = "nistp384", p521 = "nistp521"

        public var name: String {
            switch self {
            case .p256: "P-256"
            case .p384: "P-384"
            case .p521: "P-521"
            }
        }
    }

    /// The curve and uncompressed point (X9.63) of a public key line `ecdsa-sha2-nistpNNN BASE64 [comment]`.
    public static func publicPoint(line: String) throws(NodeIdentityError) -> (curve: Curve, bytes: [UInt8]) {
        let fields = line.split(whereSeparator: \.isWhitespace)
        guard fields.count >= 2, let blob = Data(base64Encoded: String(fields[1])) else {
            throw NodeIdentityError("the OpenSSH public key line is not 'ecdsa-sha2-nistpNNN BASE64 [comment]'")
        }
        var reader = WireReader([UInt8](blob))
        return try reader.publicKey()
    }

    /// The P-384 key in an unencrypted OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    public static func p384PrivateKey(pem: String) throws(NodeIdentityError) -> P384.Signing.PrivateKey {
        let body = pem.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard let decoded = Data(base64Encoded: body) else { throw NodeIdentityError("the OpenSSH private key is not base64") }
        var reader = WireReader([UInt8](decoded))
        guard reader.take(15).map(Array.init) == Array("openssh-key-v1\0".utf8) else { throw NodeIdentityError("the file is not an OpenSSH private key (openssh-key-v1)") }
        let cipher = String(decoding: try reader.string(), as: UTF8.self)
        guard cipher == "none" else {
            throw NodeIdentityError("the OpenSSH private key is encrypted (\(cipher)); remove its passphrase with ssh-keygen -p -N \"\" -f FILE")
        }
        _ = try reader.string()  // KDF name
        _ = try reader.string()  // KDF options
        guard try reader.uint32() == 1 else { throw NodeIdentityError("the OpenSSH file holds more than one key") }
        _ = try reader.string()  // the public key, repeated in the private section
        var secret = WireReader(try reader.string())
        guard try secret.uint32() == (try secret.uint32()) else { throw NodeIdentityError("the OpenSSH private key is damaged (its check words differ)") }
        let point = try secret.publicKey()
        guard point.curve == .p384 else {
            throw NodeIdentityError("the key is on \(point.curve.name); a Pollen SuperNode signs with P-384 (ssh-keygen -t ecdsa -b 384)")
        }
        // An SSH mpint: big-endian, with a leading zero byte when the top bit is set.
        let scalar = Array(try secret.string().drop { $0 == 0 })
        guard scalar.count <= 48 else { throw NodeIdentityError("the OpenSSH private key's scalar is longer than P-384's") }
        let key: P384.Signing.PrivateKey
        do { key = try P384.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 0, count: 48 - scalar.count) + scalar) } catch {
            throw NodeIdentityError("the OpenSSH private key's scalar is not a P-384 key")
        }
        guard Array(key.publicKey.x963Representation) == point.bytes else {
            throw NodeIdentityError("the OpenSSH private key does not match the public key stored with it")
        }
        return key
    }

    /// Reads SSH wire fields: big-endian `uint32`s and strings prefixed by their length.
    private struct WireReader {
        private let bytes: [UInt8]
        private var offset = 0

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, bytes.count - offset >= count else { return nil }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func uint32() throws(NodeIdentityError) -> UInt32 {
            guard let field = take(4) else { throw NodeIdentityError("the OpenSSH key ends inside a field") }
            return field.reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func string() throws(NodeIdentityError) -> [UInt8] {
            guard let field = take(Int(try uint32())) else { throw NodeIdentityError("the OpenSSH key ends inside a field") }
            return Array(field)
        }

        /// `string "ecdsa-sha2-nistpNNN"`, `string "nistpNNN"`, `string Q`.
        mutating func publicKey() throws(NodeIdentityError) -> (curve: Curve, bytes: [UInt8]) {
            let type = String(decoding: try string(), as: UTF8.self)
            guard type.hasPrefix("ecdsa-sha2-"), let curve = Curve(rawValue: String(type.dropFirst(11))),
                  String(decoding: try string(), as: UTF8.self) == curve.rawValue
            else {
                throw NodeIdentityError("the OpenSSH key is '\(type)'; node keys are ECDSA on a NIST curve (ssh-keygen -t ecdsa -b 384)")
            }
            return (curve, try string())
        }
    }
}
