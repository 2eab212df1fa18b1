import Foundation
import PropertyBased
import SyncModel
import Testing

/// The import read as a stream (issue 23): whatever the chunk boundaries and batch size, the rows, their lines and
/// the rejections are those of the file read whole.
@Suite struct StreamingImportTests {
    /// Characters that make CSV hard: separators, quotes, both line breaks, a byte-order mark's bytes, non-ASCII.
    static let cell = Gen.element(of: ["a", "b", ",", "\"", "\n", "\r\n", " ", "ä", "😀", "x@y.fi", ""]).array(of: 0...4)
        .map { $0.compactMap { $0 }.joined() }

    static func quoted(_ field: String) -> String {
        field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }

    static func chunks(of bytes: [UInt8], size: Int) -> () -> [UInt8]? {
        var offset = 0
        return {
            guard offset < bytes.count else { return nil }
            defer { offset += size }
            return Array(bytes[offset..<min(offset + size, bytes.count)])
        }
    }

    @Test func aChunkedCSVReadsAsTheWholeFile() async {
        await propertyCheck(input: Self.cell.array(of: 1...4).array(of: 1...6), Gen.int(in: 1...9), Gen.bool) {
            rows, size, bom in
            let text = rows.map { $0.map(Self.quoted).joined(separator: ",") }.joined(separator: "\n") + "\n"
            let bytes = (bom ? [0xEF, 0xBB, 0xBF] : []) + Array(text.utf8)
            let whole = Array(CSVReader(bytes: bytes))
            let chunked = Array(CSVReader(chunks: Self.chunks(of: bytes, size: size)))
            #expect(chunked == whole)
        }
    }

    @Test func aStreamedImportHasTheRowsAndRejectionsOfTheWholeFile() async {
        let row = zip(Gen.int(in: 0...20), Gen.element(of: ["granted", "withdrawn", "maybe", ""]), Gen.bool)
        await propertyCheck(input: row.array(of: 0...40), Gen.int(in: 1...64), Gen.int(in: 1...7)) {
            rows, chunkSize, batchSize in
            // Addresses repeat (a person twice in the file) and some rows are invalid, across batch boundaries.
            let csv =
                "email,newsletter\n"
                + rows.map { n, word, valid in "\(valid ? "p\(n)@example.fi" : "not-an-address"),\(word ?? "")\n" }
                .joined()
            let reader = ImportFileReader(purposes: Purpose.standard)
            let whole = try? reader.read(Data(csv.utf8), format: .csv)
            var records: [ImportRecord] = []
            var rejections: [ImportRejection] = []
            var largest = 0
            try? reader.read(
                chunks: Self.chunks(of: Array(csv.utf8), size: chunkSize), format: .csv, batchSize: batchSize
            ) { batch in
                largest = max(largest, batch.records.count)
                records += batch.records
                rejections += batch.rejections
            }
            #expect(records == whole?.records)
            #expect(rejections == whole?.rejections)
            #expect(largest <= batchSize)
        }
    }

    @Test func jsonLinesStreamAsTheWholeFile() throws {
        let text = "{\"email\":\"a@example.fi\"}\n\n{\"email\":\"b@example.fi\",\"firstName\":\"Björn\"}\nnot json\n"
        let reader = ImportFileReader(purposes: Purpose.standard)
        let whole = try reader.read(Data(text.utf8), format: .jsonLines)
        for size in 1...9 {
            var records: [ImportRecord] = []
            var rejections: [ImportRejection] = []
            try reader.read(chunks: Self.chunks(of: Array(text.utf8), size: size), format: .jsonLines, batchSize: 1) {
                records += $0.records
                rejections += $0.rejections
            }
            #expect(records == whole.records)
            #expect(rejections == whole.rejections)
            #expect(rejections.map(\.line) == [4])
        }
    }
}
