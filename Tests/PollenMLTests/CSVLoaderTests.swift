import Foundation
import PollenML
import Testing

/// Writes `text` to a fresh temporary file and returns its path.
func temporaryFile(_ text: String, name: String = "data.csv") throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pollen-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent(name).path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

@Suite struct CSVLoaderTests {
    @Test func loadsFeaturesLabelsAndGroups() throws {
        let path = try temporaryFile("site,a,b,label\nx,1,2,yes\ny,3,4.5,no\nx,\"5\",6,yes\n")
        let data = try CSVLoader(labelColumn: "label", groupColumn: "site").load(path: path)
        #expect(data.rowCount == 3)
        #expect(data.featureNames == ["a", "b"])
        #expect(data.features == [1, 2, 3, 4.5, 5, 6])
        #expect(data.classNames == ["no", "yes"])
        #expect(data.labels == [1, 0, 1])
        #expect(data.groups == ["x", "y", "x"])
    }

    @Test func numericLabelsSortNumerically() throws {
        let data = try CSVLoader(labelColumn: "y").parse("a,y\n1,10\n2,9\n3,2\n", fileName: "t.csv")
        #expect(data.classNames == ["2", "9", "10"])
        #expect(data.labels == [2, 1, 0])
    }

    @Test func aMissingFileNamesThePath() {
        let error = #expect(throws: MLError.self) { try CSVLoader(labelColumn: "y").load(path: "/nonexistent/data.csv") }
        #expect(error?.code == .unreadableFile)
        #expect(error?.message.contains("/nonexistent/data.csv") == true)
    }

    @Test func aMissingLabelColumnListsTheColumns() {
        let error = #expect(throws: MLError.self) { try CSVLoader(labelColumn: "target").parse("a,b\n1,2\n", fileName: "f.csv") }
        #expect(error?.code == .missingColumn)
        #expect(error?.message.contains("'target'") == true)
        #expect(error?.message.contains("a, b") == true)
    }

    @Test func aNonNumericCellNamesFileRowAndColumn() {
        let error = #expect(throws: MLError.self) {
            try CSVLoader(labelColumn: "y").parse("a,b,y\n1,2,0\n3,abc,1\n", fileName: "f.csv")
        }
        #expect(error?.code == .invalidCell)
        #expect(error?.message.contains("'f.csv', row 3, column 2 ('b')") == true)
        #expect(error?.message.contains("'abc'") == true)
    }

    @Test func anEmptyCellIsReported() {
        let error = #expect(throws: MLError.self) { try CSVLoader(labelColumn: "y").parse("a,y\n,1\n2,0\n", fileName: "f.csv") }
        #expect(error?.message.contains("row 2, column 1 ('a') is empty") == true)
    }

    @Test func aRaggedRowNamesTheRow() {
        let error = #expect(throws: MLError.self) {
            try CSVLoader(labelColumn: "y").parse("a,b,y\n1,2,0\n3,1\n", fileName: "f.csv")
        }
        #expect(error?.code == .raggedRow)
        #expect(error?.message.contains("row 3: 2 cells, but the header has 3 columns") == true)
    }

    @Test func emptyFilesAreReported() throws {
        let empty = #expect(throws: MLError.self) { try CSVLoader(labelColumn: "y").load(path: try temporaryFile("")) }
        #expect(empty?.code == .emptyFile)
        let headerOnly = #expect(throws: MLError.self) { try CSVLoader(labelColumn: "y").parse("a,y\n", fileName: "h.csv") }
        #expect(headerOnly?.message.contains("no data rows") == true)
    }

    @Test func ambiguousHeadersAndLabelsAreReported() {
        let twice = #expect(throws: MLError.self) { try CSVLoader(labelColumn: "y").parse("a,a,y\n1,2,0\n3,4,1\n", fileName: "f.csv") }
        #expect(twice?.message.contains("column 'a' twice") == true)
        let spellings = #expect(throws: MLError.self) { try CSVLoader(labelColumn: "y").parse("a,y\n1,1\n2,1.0\n3,0\n", fileName: "f.csv") }
        #expect(spellings?.message.contains("two ways") == true)
    }

    @Test func aSingleClassIsReported() {
        let error = #expect(throws: MLError.self) { try CSVLoader(labelColumn: "y").parse("a,y\n1,0\n2,0\n", fileName: "f.csv") }
        #expect(error?.message.contains("at least two classes") == true)
    }
}

@Suite struct NPYLoaderTests {
    @Test func loadsADatasetFromTwoFiles() throws {
        let features = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [3, 2])
        let labels = try Tensor([0, 1, 1] as [Int64])
        let featuresPath = try temporaryFile("", name: "x.npy")
        let labelsPath = try temporaryFile("", name: "y.npy")
        try NPYFormat.write(features, to: featuresPath)
        try NPYFormat.write(labels, to: labelsPath)
        let data = try NPYLoader.load(featuresPath: featuresPath, labelsPath: labelsPath)
        #expect(data.rowCount == 3)
        #expect(data.featureCount == 2)
        #expect(data.labels == [0, 1, 1])
    }
}

import PollenCore
