import Foundation
import Testing

@testable import SyncModel

private let reader = ImportFileReader(purposes: Purpose.standard)

@Test func csvReaderHandlesQuotesCRLFAndLineNumbers() {
    let text = "\u{FEFF}a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",z\n\n last,row\n"
    let records = Array(CSVReader(bytes: Array(text.utf8)))
    #expect(records.map(\.line) == [1, 2, 3, 6])
    #expect(records[1].fields == ["x, y", "say \"hi\""])
    #expect(records[2].fields == ["multi\nline", "z"])
    #expect(records[3].fields == [" last", "row"])
}

@Test func unterminatedQuoteIsReportedAtItsLine() throws {
    let batch = try reader.read(Data("email,firstName\na@b.fi,\"Aino\nb@c.fi,Eino\n".utf8), format: .csv)
    #expect(batch.records.isEmpty)
    #expect(
        batch.rejections == [
            ImportRejection(line: 2, reason: "a quoted field is not closed before the end of the file")
        ])
}

@Test func mixedRowsAreSplitWithLineNumbersAndReasons() throws {
    let csv = """
        Email,First Name,phone,newsletter,lifecycle_stage,consentedAt
        aino@example.fi,Aino,+358 40 123 4567,yes,lead,2025-06-02T10:11:12Z
        not-an-email,Eino,,,,
        eino@example.fi,Eino,call me,,,
        "helmi@example.fi","Helmi, Jr.",,maybe,,
        AINO@example.fi,Aino again,,,,
        onni@example.fi,Onni,,withdrawn,customer,
        short@example.fi,Short
        """
    let batch = try reader.read(Data(csv.utf8), format: .csv)
    #expect(batch.records.map(\.line) == [2, 7])
    #expect(batch.records[0].fields[.phone] == "+358 40 123 4567")
    #expect(batch.records[0].consents[.newsletter] == .granted)
    #expect(batch.records[0].consentedAt == Date(millisecondsSince1970: 1_748_859_072_000))
    #expect(batch.records[1].consents[.newsletter] == .withdrawn)
    #expect(batch.rejections.map(\.line) == [3, 4, 5, 6, 8])
    #expect(batch.rejections[0].reason == "email must contain exactly one @")
    #expect(batch.rejections[1].reason.hasPrefix("phone must be"))
    #expect(batch.rejections[2].reason == "newsletter must be granted, withdrawn or unknown")
    #expect(batch.rejections[3].reason == "same email as line 2; each person once per file")
    #expect(batch.rejections[4].reason == "has 2 columns, the header has 6")
    // Reasons never echo the rejected values.
    #expect(!batch.rejections.contains { $0.reason.contains("not-an-email") || $0.reason.contains("call me") })
}

@Test func unknownColumnRefusesTheWholeFile() {
    #expect(throws: ImportFileError.self) {
        try reader.read(Data("email,favourite colour\na@b.fi,red\n".utf8), format: .csv)
    }
    #expect(throws: ImportFileError.self) { try reader.read(Data("firstName\nAino\n".utf8), format: .csv) }
    #expect(throws: ImportFileError.self) { try reader.read(Data("".utf8), format: .csv) }
}

@Test func jsonLinesWithNestedConsentsAndBadLines() throws {
    let text = """
        {"email": "aino@example.fi", "firstName": "Aino", "consents": {"newsletter": "granted", "blog": false}}
        {"email": "eino@example.fi", "shoeSize": 44}

        not json
        {"email": "helmi@example.fi", "optedOutOfAll": true}
        """
    let batch = try reader.read(Data(text.utf8), format: .jsonLines)
    #expect(batch.records.map(\.line) == [1, 5])
    #expect(batch.records[0].consents == [.newsletter: .granted, .blog: .withdrawn])
    #expect(batch.records[1].optedOutOfAll)
    #expect(batch.rejections.map(\.line) == [2, 4])
    #expect(ImportFileReader.Format(path: "x.NDJSON") == .jsonLines)
}

@Test func syntheticRegisterIsDeterministicAndValid() throws {
    var first = SyntheticRegister(seed: 7)
    var second = SyntheticRegister(seed: 7)
    let csv = first.csv(count: 500)
    #expect(csv == second.csv(count: 500))
    let batch = try reader.read(Data(csv.utf8), format: .csv)
    #expect(batch.records.count == 500)
    #expect(batch.rejections.isEmpty)
}
