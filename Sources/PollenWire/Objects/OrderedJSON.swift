/// A small JSON reader that keeps object keys in their order, for the bodies of Flower's `RecordDict`,
/// `ArrayRecord` and `Array` objects (Foundation's reader returns unordered dictionaries).
enum OrderedJSON: Equatable {
    case object([(String, OrderedJSON)])
    case array([OrderedJSON])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    static func == (lhs: OrderedJSON, rhs: OrderedJSON) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)): a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// Parses `bytes`, which must hold exactly one JSON value.
    static func parse(_ bytes: some Collection<UInt8>) throws(WireError) -> OrderedJSON {
        var reader = Reader(bytes: Array(bytes))
        let value = try reader.value()
        reader.skipWhitespace()
        guard reader.position == reader.bytes.count else { throw reader.error("trailing bytes") }
        return value
    }

    /// The entries of an object whose values are all strings.
    var stringEntries: [(String, String)]? {
        guard case .object(let entries) = self else { return nil }
        var result = [(String, String)]()
        for (key, value) in entries {
            guard case .string(let text) = value else { return nil }
            result.append((key, text))
        }
        return result
    }

    subscript(key: String) -> OrderedJSON? {
        guard case .object(let entries) = self else { return nil }
        return entries.first { $0.0 == key }?.1
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0
        var depth = 0

        func error(_ problem: String) -> WireError {
            WireError(code: .invalidObject, message: "malformed JSON at byte \(position): \(problem)")
        }

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(WireError) {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))'") }
            position += 1
        }

        mutating func value() throws(WireError) -> OrderedJSON {
            skipWhitespace()
            guard position < bytes.count else { throw error("unexpected end") }
            depth += 1
            defer { depth -= 1 }
            // Flower's bodies nest two levels; a deep document is an attack, not data.
            guard depth < 32 else { throw error("nested too deeply") }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var entries = [(String, OrderedJSON)]()
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(entries) }
                while true {
                    skipWhitespace()
                    let key = try string()
                    try expect(UInt8(ascii: ":"))
                    entries.append((key, try value()))
                    skipWhitespace()
                    guard position < bytes.count else { throw error("unterminated object") }
                    if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(entries) }
                    try expect(UInt8(ascii: ","))
                }
            case UInt8(ascii: "["):
                position += 1
                var items = [OrderedJSON]()
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                while true {
                    items.append(try value())
                    skipWhitespace()
                    guard position < bytes.count else { throw error("unterminated array") }
                    if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                    try expect(UInt8(ascii: ","))
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                for (word, result) in [("true", OrderedJSON.bool(true)), ("false", .bool(false)), ("null", .null)] {
                    let utf8 = Array(word.utf8)
                    if bytes.count - position >= utf8.count, Array(bytes[position..<(position + utf8.count)]) == utf8 {
                        position += utf8.count
                        return result
                    }
                }
                throw error("unknown literal")
            default:
                let start = position
                while position < bytes.count, "+-0123456789.eE".utf8.contains(bytes[position]) { position += 1 }
                guard let number = Double(String(decoding: bytes[start..<position], as: UTF8.self)) else { throw error("bad number") }
                return .number(number)
            }
        }

        mutating func string() throws(WireError) -> String {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a string") }
            position += 1
            var units = [UInt16]()
            var raw = [UInt8]()
            func flushRaw() {
                units.append(contentsOf: String(decoding: raw, as: UTF8.self).utf16)
                raw.removeAll()
            }
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    flushRaw()
                    return String(decoding: units, as: UTF16.self)
                case UInt8(ascii: "\\"):
                    flushRaw()
                    guard position < bytes.count else { throw error("unterminated escape") }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "n"): units.append(0x0A)
                    case UInt8(ascii: "r"): units.append(0x0D)
                    case UInt8(ascii: "t"): units.append(0x09)
                    case UInt8(ascii: "b"): units.append(0x08)
                    case UInt8(ascii: "f"): units.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard bytes.count - position >= 4,
                              let unit = UInt16(String(decoding: bytes[position..<(position + 4)], as: UTF8.self), radix: 16)
                        else { throw error("bad \\u escape") }
                        units.append(unit)
                        position += 4
                    default: units.append(UInt16(escape))
                    }
                default:
                    raw.append(byte)
                }
            }
            throw error("unterminated string")
        }
    }
}
