import Foundation

/// Loads a labelled data set from a CSV file with a header row.
///
/// The label column is named; every other column is a numeric feature unless it is the group column or listed
/// in `excludedColumns`. Labels may be numbers or names; their distinct values, sorted, become classes
/// `0..<classCount`. Fields may be quoted (RFC 4180). Every error names the file, the row (its line number) and
/// the column.
public struct CSVLoader: Sendable {
    /// The column holding each row's class.
    public var labelColumn: String
    /// A column to keep as each row's group (for partitioning by site), not as a feature.
    public var groupColumn: String?
    /// Columns to ignore (identifiers, free text).
    public var excludedColumns: Set<String>

    public init(labelColumn: String, groupColumn: String? = nil, excludedColumns: Set<String> = []) {
        self.labelColumn = labelColumn
        self.groupColumn = groupColumn
        self.excludedColumns = excludedColumns
    }

    /// Reads and parses the file at `path`.
    public func load(path: String) throws -> Dataset {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw MLError(
                code: .unreadableFile,
                message: exists
                    ? "cannot read '\(path)': permission denied or not a regular file"
                    : "cannot read '\(path)': no such file; check the path (relative paths start at \(FileManager.default.currentDirectoryPath))"
            )
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MLError(code: .unreadableFile, message: "cannot read '\(path)': it is not UTF-8 text; save it as UTF-8 CSV")
        }
        return try parse(text, fileName: path)
    }

    /// Parses CSV `text`; `fileName` names the source in errors.
    public func parse(_ text: String, fileName: String) throws -> Dataset {
        let rows = try CSVRows.split(text, fileName: fileName)
        guard let header = rows.first else {
            throw MLError(code: .emptyFile, message: "'\(fileName)' is empty; a header row and data rows are needed")
        }
        guard rows.count > 1 else {
            throw MLError(code: .emptyFile, message: "'\(fileName)' has a header row but no data rows")
        }
        let names = header.cells.map { $0.trimmingCharacters(in: .whitespaces) }
        var seenNames = Set<String>()
        for name in names where !seenNames.insert(name).inserted {
            throw MLError(code: .invalidCell, message: "'\(fileName)': the header names column '\(name)' twice; rename one")
        }
        func column(_ name: String, role: String) throws -> Int {
            guard let index = names.firstIndex(of: name) else {
                throw MLError(
                    code: .missingColumn,
                    message: "'\(fileName)' has no \(role) column '\(name)'; its columns are: \(names.joined(separator: ", "))"
                )
            }
            return index
        }
        let labelIndex = try column(labelColumn, role: "label")
        let groupIndex = try groupColumn.map { try column($0, role: "group") }
        for excluded in excludedColumns { _ = try column(excluded, role: "excluded") }
        let featureIndices = names.indices.filter {
            $0 != labelIndex && $0 != groupIndex && !excludedColumns.contains(names[$0])
        }
        guard !featureIndices.isEmpty else {
            throw MLError(code: .missingColumn, message: "'\(fileName)' has no feature columns besides the label '\(labelColumn)'")
        }

        var features = [Float]()
        features.reserveCapacity((rows.count - 1) * featureIndices.count)
        var rawLabels = [String]()
        var groups = [String]()
        for row in rows.dropFirst() {
            guard row.cells.count == names.count else {
                throw MLError(
                    code: .raggedRow,
                    message: "'\(fileName)', row \(row.line): \(row.cells.count) cells, but the header has \(names.count) columns"
                )
            }
            for index in featureIndices {
                let cell = row.cells[index].trimmingCharacters(in: .whitespaces)
                guard let value = Float(cell), value.isFinite else {
                    let what = cell.isEmpty ? "is empty" : "holds '\(cell)', which is not a finite number"
                    throw MLError(
                        code: .invalidCell,
                        message: "'\(fileName)', row \(row.line), column \(index + 1) ('\(names[index])') \(what); "
                            + "fill or drop missing values, or exclude the column"
                    )
                }
                features.append(value)
            }
            let label = row.cells[labelIndex].trimmingCharacters(in: .whitespaces)
            guard !label.isEmpty else {
                throw MLError(
                    code: .invalidCell,
                    message: "'\(fileName)', row \(row.line), column \(labelIndex + 1) ('\(labelColumn)'): the label is empty"
                )
            }
            rawLabels.append(label)
            if let groupIndex { groups.append(row.cells[groupIndex].trimmingCharacters(in: .whitespaces)) }
        }

        let classNames = try CSVLoader.sortedClassNames(Set(rawLabels), fileName: fileName, column: labelColumn)
        guard classNames.count >= 2 else {
            throw MLError(
                code: .invalidCell,
                message: "'\(fileName)': the label column '\(labelColumn)' has a single value '\(classNames.first ?? "")'; "
                    + "classification needs at least two classes"
            )
        }
        let classIndex = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, Int32($0)) })
        return try Dataset(
            features: features, labels: rawLabels.map { classIndex[$0]! }, featureCount: featureIndices.count,
            classCount: classNames.count, featureNames: featureIndices.map { names[$0] }, classNames: classNames,
            groups: groups
        )
    }

    /// Class names in numeric order when every label is a finite number (so `"10"` follows `"9"`), text order
    /// otherwise. Two spellings of one number (`"1"` and `"1.0"`) would make two classes, so they are an error.
    static func sortedClassNames(_ labels: Set<String>, fileName: String, column: String) throws -> [String] {
        let numbers = labels.compactMap { label in Double(label).flatMap { $0.isFinite ? ($0, label) : nil } }
        guard numbers.count == labels.count else { return labels.sorted() }
        let sorted = numbers.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        for (first, second) in zip(sorted, sorted.dropFirst()) where first.0 == second.0 {
            throw MLError(
                code: .invalidCell,
                message: "'\(fileName)': the label column '\(column)' writes one class two ways ('\(first.1)' and '\(second.1)'); use one spelling"
            )
        }
        return sorted.map(\.1)
    }
}

/// Splits CSV text into rows of cells, remembering each row's line number.
enum CSVRows {
    struct Row {
        var line: Int
        var cells: [String]
    }

    static func split(_ text: String, fileName: String) throws -> [Row] {
        var rows = [Row]()
        var cells = [String]()
        var cell = [UInt8]()
        var inQuotes = false
        var line = 1
        var rowStart = 1
        var rowHasContent = false
        let bytes = Array(text.utf8)
        var i = 0

        func finishCell() {
            cells.append(String(decoding: cell, as: UTF8.self))
            cell.removeAll(keepingCapacity: true)
        }
        func finishRow() {
            finishCell()
            // Blank lines carry no data; skipping them keeps line numbers exact for the rows that follow.
            if rowHasContent || cells.count > 1 { rows.append(Row(line: rowStart, cells: cells)) }
            cells.removeAll(keepingCapacity: true)
            rowHasContent = false
        }

        while i < bytes.count {
            let byte = bytes[i]
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        cell.append(byte)
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    cell.append(byte)
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""):
                    inQuotes = true
                    rowHasContent = true
                case UInt8(ascii: ","):
                    finishCell()
                case UInt8(ascii: "\n"):
                    finishRow()
                    line += 1
                    rowStart = line
                case UInt8(ascii: "\r"):
                    break
                default:
                    cell.append(byte)
                    if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") { rowHasContent = true }
                }
            }
            i += 1
        }
        if inQuotes {
            throw MLError(code: .invalidCell, message: "'\(fileName)', row \(rowStart): a quoted field is never closed")
        }
        if rowHasContent || !cells.isEmpty || !cell.isEmpty { finishRow() }
        return rows
    }
}
