import Foundation

/// Reads RFC 4180 CSV (quoted fields, doubled quotes, line breaks inside quotes, CRLF or LF) and
/// keeps the physical line on which each record starts, so rejections name the line a user sees.
///
/// The input comes whole or in chunks (``init(chunks:)``): a record may span chunks, and only the chunk being
/// read is held, so a file of any size is read in bounded memory.
public struct CSVReader: Sequence, IteratorProtocol {
    public struct Record: Sendable, Equatable {
        public var line: Int
        public var fields: [String]
    }

    /// Raised for a quote left open at the end of the file.
    public struct UnterminatedQuote: Error, Sendable { public var line: Int }

    private var buffer: [UInt8] = []
    private var index = 0
    private let refill: () -> [UInt8]?
    private var atStart = true
    private var line = 1
    public private(set) var error: UnterminatedQuote?

    public init(bytes: [UInt8]) {
        var whole: [UInt8]? = bytes
        self.init(chunks: {
            defer { whole = nil }
            return whole
        })
    }

    /// Reads the chunks `next` hands out, in order, until it returns nil.
    public init(chunks next: @escaping () -> [UInt8]?) { refill = next }

    /// The next byte, refilling from the source when the chunk is used up; nil at the end.
    private mutating func nextByte() -> UInt8? {
        guard fill() else { return nil }
        defer { index += 1 }
        return buffer[index]
    }

    private mutating func peekByte() -> UInt8? { fill() ? buffer[index] : nil }

    /// Whether a byte is there to read, after taking the next non-empty chunk if need be.
    private mutating func fill() -> Bool {
        while index >= buffer.count {
            guard var chunk = refill() else { return false }
            if atStart {
                // Skip a UTF-8 byte-order mark, as spreadsheets write one (it may come split across chunks).
                while chunk.count < 3, let more = refill() { chunk += more }
                if chunk.starts(with: [0xEF, 0xBB, 0xBF]) { chunk.removeFirst(3) }
                atStart = false
            }
            buffer = chunk
            index = 0
        }
        return true
    }

    public mutating func next() -> Record? {
        while peekByte() != nil {
            let startLine = line
            var fields: [String] = []
            var field: [UInt8] = []
            var inQuotes = false
            var endOfRecord = false
            while !endOfRecord, let byte = nextByte() {
                if inQuotes {
                    if byte == UInt8(ascii: "\"") {
                        if peekByte() == UInt8(ascii: "\"") {
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
                while nextByte() != nil {}
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
