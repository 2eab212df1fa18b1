import Foundation

/// Reads RFC 4180 CSV (quoted fields, doubled quotes, line breaks inside quotes, CRLF or LF) and
/// keeps the physical line on which each record starts, so rejections name the line a user sees.
public struct CSVReader: Sequence, IteratorProtocol {
    public struct Record: Sendable, Equatable {
        public var line: Int
        public var fields: [String]
    }

    /// Raised for a quote left open at the end of the file.
    public struct UnterminatedQuote: Error, Sendable { public var line: Int }

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    public private(set) var error: UnterminatedQuote?

    public init(bytes: [UInt8]) {
        // Skip a UTF-8 byte-order mark, as spreadsheets write one.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            self.bytes = Array(bytes.dropFirst(3))
        } else {
            self.bytes = bytes
        }
    }

    public mutating func next() -> Record? {
        while index < bytes.count {
            let startLine = line
            var fields: [String] = []
            var field: [UInt8] = []
            var inQuotes = false
            var endOfRecord = false
            while index < bytes.count && !endOfRecord {
                let byte = bytes[index]
                index += 1
                if inQuotes {
                    if byte == UInt8(ascii: "\"") {
                        if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
                            field.append(byte)
                            index += 1
                        } else {
                            inQuotes = false
                        }
                    } else {
                        if byte == UInt8(ascii: "\n") { line += 1 }
                        field.append(byte)
                    }
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""):
                    inQuotes = true
                case UInt8(ascii: ","):
                    fields.append(String(decoding: field, as: UTF8.self))
                    field.removeAll(keepingCapacity: true)
                case UInt8(ascii: "\r"):
                    break
                case UInt8(ascii: "\n"):
                    line += 1
                    endOfRecord = true
                default:
                    field.append(byte)
                }
            }
            if inQuotes {
                error = UnterminatedQuote(line: startLine)
                index = bytes.count
                return nil
            }
            fields.append(String(decoding: field, as: UTF8.self))
            // A blank line is not a record.
            if fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty { continue }
            return Record(line: startLine, fields: fields)
        }
        return nil
    }
}
