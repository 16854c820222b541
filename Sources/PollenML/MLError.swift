/// The error thrown by `PollenML`: a code a caller can match, and a message that names the file, row and column
/// at fault and, where there is one, the fix.
public struct MLError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; an open set.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A data file could not be read (missing, unreadable, not UTF-8).
        public static let unreadableFile = Code("unreadable file")
        /// A data file has no rows, or no data rows after its header.
        public static let emptyFile = Code("empty file")
        /// A named column is not in the file's header.
        public static let missingColumn = Code("missing column")
        /// A cell is empty or not a number where a number is required.
        public static let invalidCell = Code("invalid cell")
        /// A row has a different number of cells than the header.
        public static let raggedRow = Code("ragged row")
        /// An `.npy` file holds an array of the wrong shape or type for a data set.
        public static let invalidNPY = Code("invalid npy")
        /// Model parameters do not match the model's layout.
        public static let parameterMismatch = Code("parameter mismatch")
        /// An argument is out of range (a partition count, a fraction, a learning rate, ...).
        public static let invalidArgument = Code("invalid argument")
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong, where, and the fix.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
