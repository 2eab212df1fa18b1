import Foundation

/// Turns a CSV (with a header row) or JSON Lines file of contacts into validated ``ImportRecord``s.
///
/// Columns: every ``ContactField`` (loosely spelt: `first_name`, `First Name`), one column per purpose
/// (`newsletter`, `marketingEmail`, … or `consent.<purpose>`), and optionally `consentSource`,
/// `legalBasis`, `consentedAt` (ISO 8601), `optedOutOfAll` and `lastActivityAt` (ISO 8601: when the subject
/// was last active, e.g. in the system a register is migrated from). An unknown column fails the whole file.
public struct ImportFileReader: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case csv
        case jsonLines = "jsonl"

        /// By file extension: `.jsonl`/`.ndjson` are JSON Lines, anything else CSV.
        public init(path: String) {
            let lower = path.lowercased()
            self = lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") ? .jsonLines : .csv
        }
    }

    public var purposes: [Purpose]

    public init(purposes: [Purpose]) { self.purposes = purposes }

    private enum Column: Equatable {
        case field(ContactField)
        case consent(Purpose)
        case consentSource, legalBasis, consentedAt, optedOutOfAll, lastActivityAt
    }

    public func read(_ data: Data, format: Format) throws(ImportFileError) -> ImportBatch {
        var whole: [UInt8]? = Array(data)
        var batch = ImportBatch(records: [], rejections: [])
        do {
            try read(
                chunks: {
                    defer { whole = nil }
                    return whole
                }, format: format, batchSize: .max
            ) { part in
                batch.records += part.records
                batch.rejections += part.rejections
            }
        } catch let error as ImportFileError {
            throw error
        } catch {
            throw ImportFileError("\(error)")
        }
        return batch
    }

    /// Reads a file handed out in chunks (`chunks` returns nil at the end) and gives `each` its rows in batches
    /// of at most `batchSize` valid records, with the rows rejected meanwhile: only one batch and the chunk being
    /// read are held, plus a 16-byte key per address to find a person twice in the file. Throws
    /// ``ImportFileError`` for a file refused whole (before any batch, for a bad header), or what `each` throws.
    public func read(
        chunks: @escaping () -> [UInt8]?, format: Format, batchSize: Int, each: (ImportBatch) throws -> Void
    ) throws {
        try withoutActuallyEscaping(each) { each in
            var collector = Collector(batchSize: batchSize, each: each)
            switch format {
            case .csv: try readCSV(CSVReader(chunks: chunks), into: &collector)
            case .jsonLines: try readJSONLines(LineReader(chunks: chunks), into: &collector)
            }
            try collector.flush()
        }
    }

    private func column(named raw: String) -> Column? {
        let name = raw.trimmingCharacters(in: .whitespaces)
        let folded = name.lowercased().filter { $0.isLetter || $0.isNumber }
        switch folded {
        case "consentsource": return .consentSource
        case "legalbasis": return .legalBasis
        case "consentedat", "consentat": return .consentedAt
        case "optedoutofall", "optedout", "markkinointikielto": return .optedOutOfAll
        case "lastactivityat", "lastactivity": return .lastActivityAt
        default: break
        }
        if let field = ContactField(looseName: name) { return .field(field) }
        let purposeName = name.hasPrefix("consent.") ? String(name.dropFirst("consent.".count)) : name
        let purposeKey = purposeName.lowercased().filter { $0.isLetter || $0.isNumber }
        if let purpose = purposes.first(where: {
            $0.rawValue.lowercased().filter { $0.isLetter || $0.isNumber } == purposeKey
        }) {
            return .consent(purpose)
        }
        return nil
    }

    private var knownColumnsHint: String {
        "expected contact fields (\(ContactField.allCases.map(\.rawValue).joined(separator: ", "))), purposes ("
            + purposes.map(\.rawValue).joined(separator: ", ")
            + "), consentSource, legalBasis, consentedAt, optedOutOfAll, lastActivityAt"
    }

    private func readCSV(_ reader: CSVReader, into collector: inout Collector) throws {
        var reader = reader
        guard let header = reader.next() else { throw ImportFileError("the file is empty: a header row is required") }
        var columns: [Column] = []
        for (position, name) in header.fields.enumerated() {
            guard let column = column(named: name) else {
                throw ImportFileError(
                    "line 1: column \(position + 1) \"\(name.prefix(40))\" is unknown; \(knownColumnsHint)")
            }
            if columns.contains(column) {
                throw ImportFileError("line 1: column \(position + 1) \"\(name.prefix(40))\" appears twice")
            }
            columns.append(column)
        }
        guard columns.contains(.field(.email)) else { throw ImportFileError("line 1: an email column is required") }
        while let record = reader.next() {
            guard record.fields.count == columns.count else {
                collector.reject(
                    line: record.line, "has \(record.fields.count) columns, the header has \(columns.count)")
                continue
            }
            var cells: [(Column, String)] = []
            for (column, value) in zip(columns, record.fields) { cells.append((column, value)) }
            try collector.add(line: record.line, cells: cells)
        }
        if let error = reader.error {
            collector.reject(line: error.line, "a quoted field is not closed before the end of the file")
        }
    }

    private func readJSONLines(_ reader: LineReader, into collector: inout Collector) throws {
        var reader = reader
        var lineNumber = 0
        while let lineBytes = reader.next() {
            lineNumber += 1
            if lineBytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(lineBytes)) as? [String: Any] else {
                collector.reject(line: lineNumber, "is not a JSON object")
                continue
            }
            var cells: [(Column, String)] = []
            var problem: String?
            for (key, value) in object.sorted(by: { $0.key < $1.key }) {
                if key == "consents", let nested = value as? [String: Any] {
                    for (purposeName, state) in nested.sorted(by: { $0.key < $1.key }) {
                        guard case .consent(let purpose)? = column(named: purposeName) else {
                            problem = "consents.\(purposeName.prefix(40)) is not a configured purpose"
                            break
                        }
                        cells.append((.consent(purpose), Self.text(of: state)))
                    }
                    continue
                }
                guard let column = column(named: key) else {
                    problem = "key \"\(key.prefix(40))\" is unknown; \(knownColumnsHint)"
                    break
                }
                cells.append((column, Self.text(of: value)))
            }
            if let problem {
                collector.reject(line: lineNumber, problem)
            } else {
                try collector.add(line: lineNumber, cells: cells)
            }
        }
    }

    private static func text(of value: Any) -> String {
        switch value {
        case let text as String: text
        case let flag as Bool: flag ? "true" : "false"
        case let number as NSNumber: number.stringValue
        case is NSNull: ""
        default: "\(value)"
        }
    }

    /// Validates rows one by one, remembering the first line of every email (by a 128-bit key of the address, not
    /// the address) to reject duplicates, and hands out full batches.
    private struct Collector {
        let batchSize: Int
        let each: (ImportBatch) throws -> Void
        var records: [ImportRecord] = []
        var rejections: [ImportRejection] = []
        var firstLineOfEmail: [AddressKey: Int] = [:]

        /// Two differently seeded hashes of the normalised address: a false "same email" needs both to collide.
        struct AddressKey: Hashable {
            var first: Int
            var second: Int

            init(_ email: EmailAddress) {
                var one = Hasher()
                one.combine(email.normalized)
                var two = Hasher()
                two.combine(0x5EED)
                two.combine(email.normalized)
                first = one.finalize()
                second = two.finalize()
            }
        }

        mutating func flush() throws {
            guard !records.isEmpty || !rejections.isEmpty else { return }
            try each(ImportBatch(records: records, rejections: rejections))
            records.removeAll(keepingCapacity: true)
            rejections.removeAll()
        }

        mutating func reject(line: Int, _ reason: String) {
            rejections.append(ImportRejection(line: line, reason: reason))
        }

        mutating func add(line: Int, cells: [(Column, String)]) throws {
            addRecord(line: line, cells: cells)
            if records.count >= batchSize { try flush() }
        }

        private mutating func addRecord(line: Int, cells: [(Column, String)]) {
            var email: EmailAddress?
            var fields: [ContactField: String] = [:]
            var consents: [Purpose: ConsentState] = [:]
            var source = "import"
            var legalBasis: LegalBasis?
            var consentedAt: Date?
            var lastActivityAt: Date?
            var optedOut = false
            var problems: [String] = []
            for (column, raw) in cells {
                let value = raw.trimmedWhitespace
                switch column {
                case .field(.email):
                    do throws(ValidationError) { email = try EmailAddress(value) } catch {
                        problems.append(error.description)
                    }
                case .field(let field):
                    do throws(ValidationError) {
                        if let valid = try ContactValidator.validate(value, for: field) { fields[field] = valid }
                    } catch { problems.append(error.description) }
                case .consent(let purpose):
                    guard !value.isEmpty else { continue }
                    if let state = ConsentState(looseName: value) {
                        consents[purpose] = state
                    } else {
                        problems.append("\(purpose) must be granted, withdrawn or unknown")
                    }
                case .consentSource:
                    if !value.isEmpty { source = String(value.prefix(128)) }
                case .legalBasis:
                    guard !value.isEmpty else { continue }
                    if let basis = LegalBasis(looseName: value) {
                        legalBasis = basis
                    } else {
                        problems.append(
                            "legalBasis must be one of \(LegalBasis.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                case .consentedAt:
                    guard !value.isEmpty else { continue }
                    if let date = Self.parseDate(value) {
                        consentedAt = date
                    } else {
                        problems.append("consentedAt must be an ISO 8601 time such as 2025-06-02T10:11:12Z")
                    }
                case .lastActivityAt:
                    guard !value.isEmpty else { continue }
                    if let date = Self.parseDate(value) {
                        lastActivityAt = date
                    } else {
                        problems.append("lastActivityAt must be an ISO 8601 time such as 2025-06-02T10:11:12Z")
                    }
                case .optedOutOfAll:
                    guard !value.isEmpty else { continue }
                    switch value.lowercased() {
                    case "true", "yes", "1", "y": optedOut = true
                    case "false", "no", "0", "n": optedOut = false
                    default: problems.append("optedOutOfAll must be true or false")
                    }
                }
            }
            if email == nil && problems.isEmpty { problems.append("email is required") }
            guard let email, problems.isEmpty else {
                reject(line: line, problems.joined(separator: "; "))
                return
            }
            let key = AddressKey(email)
            if let first = firstLineOfEmail[key] {
                reject(line: line, "same email as line \(first); each person once per file")
                return
            }
            firstLineOfEmail[key] = line
            records.append(
                ImportRecord(
                    line: line, email: email, fields: fields, consents: consents, consentSource: source,
                    legalBasis: legalBasis, consentedAt: consentedAt, optedOutOfAll: optedOut,
                    lastActivityAt: lastActivityAt))
        }

        static func parseDate(_ text: String) -> Date? {
            Date(iso8601: text) ?? Date(iso8601: text + "T00:00:00Z")
        }
    }
}

/// Lines of a file handed out in chunks (a line may span chunks), without their line break.
struct LineReader {
    private let refill: () -> [UInt8]?
    private var buffer: [UInt8] = []
    private var index = 0
    private var ended = false

    init(chunks: @escaping () -> [UInt8]?) { refill = chunks }

    mutating func next() -> ArraySlice<UInt8>? {
        var line: [UInt8] = []
        while true {
            if index >= buffer.count {
                guard !ended, let chunk = refill() else {
                    ended = true
                    return line.isEmpty ? nil : line[...]
                }
                buffer = chunk
                index = 0
                continue
            }
            if let end = buffer[index...].firstIndex(of: UInt8(ascii: "\n")) {
                line += buffer[index..<end]
                index = end + 1
                return line[...]
            }
            line += buffer[index...]
            index = buffer.count
        }
    }
}
