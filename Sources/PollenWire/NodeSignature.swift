public import Crypto
public import Foundation

/// The signature headers every Fleet request carries (Flower 1.42's SuperNode authentication): the node's public
/// key, a timestamp, and an ECDSA-SHA256 signature of the timestamp by the node's private key.
///
/// Only the timestamp is signed, not the body; TLS protects the body. A SuperLink accepts a timestamp between 5 s
/// in the future and 305 s in the past (Flower's window), which bounds replay.
public struct NodeSignature: Sendable, Hashable {
    /// `flwr-public-key`: base64 of the PEM SubjectPublicKeyInfo bytes.
    public static let publicKeyHeader = "flwr-public-key"
    /// `flwr-timestamp`: ISO 8601 in UTC with microseconds (`2026-11-22T17:22:59.979491+00:00`).
    public static let timestampHeader = "flwr-timestamp"
    /// `flwr-signature`: base64 of the DER ECDSA signature of the timestamp's ASCII bytes.
    public static let signatureHeader = "flwr-signature"

    /// How far in the future a timestamp may lie, in seconds (clock skew).
    public static let maximumFutureSkew = 5.0
    /// How old a timestamp may be, in seconds.
    public static let maximumAge = 305.0

    /// The PEM public key bytes, as registered.
    public var publicKey: [UInt8]
    public var timestamp: String
    public var signature: [UInt8]

    /// The three header values.
    public var headers: [(name: String, value: String)] {
        [
            (Self.publicKeyHeader, Data(publicKey).base64EncodedString()),
            (Self.timestampHeader, timestamp),
            (Self.signatureHeader, Data(signature).base64EncodedString()),
        ]
    }

    /// Signs the current time with a node's P-384 key, as a Flower SuperNode does.
    public static func sign(with key: P384.Signing.PrivateKey, at date: Date = Date()) throws -> NodeSignature {
        let timestamp = Self.format(date)
        let signature = try key.signature(for: SHA256.hash(data: Array(timestamp.utf8)))
        return NodeSignature(publicKey: Array(key.publicKey.pemRepresentation.utf8), timestamp: timestamp, signature: Array(signature.derRepresentation))
    }

    /// Reads the headers; `nil` when any is missing or not base64.
    public init?(publicKey: String?, timestamp: String?, signature: String?) {
        guard let publicKey, let timestamp, let signature,
              let key = Data(base64Encoded: publicKey), let signed = Data(base64Encoded: signature)
        else { return nil }
        self.init(publicKey: [UInt8](key), timestamp: timestamp, signature: [UInt8](signed))
    }

    public init(publicKey: [UInt8], timestamp: String, signature: [UInt8]) {
        self.publicKey = publicKey
        self.timestamp = timestamp
        self.signature = signature
    }

    /// The key that made the signature, once the timestamp is within the window around `now` and the signature
    /// matches it; throws why not. Keys on P-256, P-384 and P-521 are accepted, as Flower accepts any NIST curve.
    public func verify(now: Date = Date()) throws(NodeIdentityError) -> NodePublicKey {
        if let problem = checkTimestamp(now: now) { throw NodeIdentityError(problem) }
        return try signingKey()
    }

    /// Why the timestamp is unreadable or outside the window around `now`, or `nil` when it is within it.
    func checkTimestamp(now: Date) -> String? {
        guard let signedAt = Self.parse(timestamp) else { return "the timestamp '\(timestamp)' is not ISO 8601" }
        let age = now.timeIntervalSince(signedAt)
        guard age > -Self.maximumFutureSkew, age < Self.maximumAge else {
            return "the timestamp is \(Int(age)) s old; it must be within \(Int(Self.maximumAge)) s (check the node's clock)"
        }
        return nil
    }

    /// The key that signed, once the signature matches it and the timestamp; throws why not.
    func signingKey() throws(NodeIdentityError) -> NodePublicKey {
        let key = try NodePublicKey(text: publicKey)
        guard key.isValidSignature(signature, of: Array(timestamp.utf8)) else {
            throw NodeIdentityError("the signature does not match the public key")
        }
        return key
    }

    /// Python's `datetime.now(UTC).isoformat()`: microseconds, `+00:00`.
    static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        let micros = Int(((seconds - Double(whole)) * 1_000_000).rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00",
            parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, micros
        )
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.ffffff](+HH:MM|-HH:MM|Z)`.
    static func parse(_ text: String) -> Date? {
        let scanner = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= scanner.count else { return nil }
            return Int(String(decoding: scanner[range], as: UTF8.self))
        }
        guard scanner.count >= 20, scanner[4] == UInt8(ascii: "-"), scanner[7] == UInt8(ascii: "-"), scanner[10] == UInt8(ascii: "T"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if scanner[index] == UInt8(ascii: ".") {
            let start = index + 1
            index = start
            while index < scanner.count, (48...57).contains(scanner[index]) { index += 1 }
            guard index > start, let digits = Double("0." + String(decoding: scanner[start..<index], as: UTF8.self)) else { return nil }
            fraction = digits
        }
        var offset = 0
        if index < scanner.count, scanner[index] == UInt8(ascii: "Z") {
            index += 1
        } else if index + 6 == scanner.count, let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)) {
            let sign = scanner[index] == UInt8(ascii: "-") ? -1 : 1
            offset = sign * (hours * 3_600 + minutes * 60)
            index += 6
        } else {
            return nil
        }
        guard index == scanner.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        return Date(timeIntervalSince1970: Double(epoch - offset) + fraction)
    }
}

#if canImport(Glibc)
import Glibc
#endif
