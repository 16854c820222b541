/// JSON exactly as Python's `json.dumps` writes it with default settings (separators `", "` and `": "`,
/// `ensure_ascii=True`), which Flower hashes: the same value must give the same bytes, or the same object would get
/// another id.
enum PythonJSON {
    /// `{"key": "value", ...}` in the given order.
    static func object(_ entries: [(String, String)]) -> [UInt8] {
        var out = "{"
        for (index, (key, value)) in entries.enumerated() {
            if index > 0 { out += ", " }
            out += quoted(key) + ": " + quoted(value)
        }
        return Array((out + "}").utf8)
    }

    /// Flower's `Array` body: `{"dtype": ..., "shape": [...], "stype": ..., "arraychunk_ids": [...]}`.
    static func arrayBody(dtype: String, shape: [Int], stype: String, chunkIndices: [Int]) -> [UInt8] {
        let text = "{\"dtype\": \(quoted(dtype)), \"shape\": [\(shape.map(String.init).joined(separator: ", "))], "
            + "\"stype\": \(quoted(stype)), \"arraychunk_ids\": [\(chunkIndices.map(String.init).joined(separator: ", "))]}"
        return Array(text.utf8)
    }

    /// A JSON string literal with Python's escapes: the short forms, `\u00XX` for other control characters and
    /// `\uXXXX` (surrogate pairs beyond the BMP) for everything outside ASCII.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(unit)!)
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }
}
