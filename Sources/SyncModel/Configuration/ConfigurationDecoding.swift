import Foundation
import Synchronization

/// Collects the problems found while decoding a configuration, so that one pass reports all of them.
final class ConfigurationProblemLog: Sendable {
    private let problems = Mutex<[ConfigurationProblem]>([])

    func record(_ problem: String, at codingPath: [any CodingKey]) {
        let entry = ConfigurationProblem(path: Self.render(codingPath), problem: problem)
        problems.withLock { $0.append(entry) }
    }

    var all: [ConfigurationProblem] { problems.withLock { $0 } }

    static func render(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return path.isEmpty ? "(top level)" : path
    }
}

extension CodingUserInfoKey {
    static let configurationProblems = CodingUserInfoKey(rawValue: "crmsync.configurationProblems")!
}

struct AnyCodingKey: CodingKey, Hashable {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

/// Reads one JSON object of a configuration leniently: every key has a default, a bad value is recorded
/// with its path and replaced by the default, and unknown keys are reported (typos must not pass silently).
struct ConfigurationObject {
    let container: KeyedDecodingContainer<AnyCodingKey>?
    let codingPath: [any CodingKey]
    let log: ConfigurationProblemLog

    init(_ decoder: any Decoder, knownKeys: [String]) {
        guard let log = decoder.userInfo[.configurationProblems] as? ConfigurationProblemLog else {
            preconditionFailure("configuration types decode only through SyncConfiguration.decode(_:file:)")
        }
        self.log = log
        self.codingPath = decoder.codingPath
        do {
            let container = try decoder.container(keyedBy: AnyCodingKey.self)
            self.container = container
            for key in container.allKeys where !knownKeys.contains(key.stringValue) {
                let hint = Self.closest(to: key.stringValue, in: knownKeys).map { " (did you mean \"\($0)\"?)" } ?? ""
                log.record(
                    "unknown key\(hint); expected one of \(knownKeys.joined(separator: ", "))",
                    at: codingPath + [key])
            }
        } catch {
            log.record("must be an object, found \(Self.describeValue(in: decoder))", at: decoder.codingPath)
            self.container = nil
        }
    }

    /// The value at `key`, or `fallback` when absent, null, of the wrong type, or rejected by `check`
    /// (which returns the problem text, or nil when the value is fine).
    func value<T: Decodable>(_ key: String, default fallback: T, check: (T) -> String? = { _ in nil }) -> T {
        guard let container else { return fallback }
        let codingKey = AnyCodingKey(stringValue: key)
        guard container.contains(codingKey), (try? container.decodeNil(forKey: codingKey)) == false else {
            return fallback
        }
        do {
            let decoded = try container.decode(T.self, forKey: codingKey)
            if let problem = check(decoded) {
                log.record(problem, at: codingPath + [codingKey])
                return fallback
            }
            return decoded
        } catch let error as DecodingError {
            record(error, at: codingPath + [codingKey], expected: T.self)
            return fallback
        } catch {
            log.record("\(error)", at: codingPath + [codingKey])
            return fallback
        }
    }

    /// Whether the object has a non-null value at `key`.
    func has(_ key: String) -> Bool {
        let codingKey = AnyCodingKey(stringValue: key)
        return container?.contains(codingKey) == true && (try? container?.decodeNil(forKey: codingKey)) == false
    }

    /// Records a problem found by a cross-field check.
    func problem(_ text: String, at key: String? = nil) {
        log.record(text, at: codingPath + (key.map { [AnyCodingKey(stringValue: $0)] } ?? []))
    }

    private func record(_ error: DecodingError, at path: [any CodingKey], expected: Any.Type) {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let found = container.map {
                Self.describeValue(at: AnyCodingKey(stringValue: path.last!.stringValue), in: $0)
            }
            let at = context.codingPath.count > path.count ? context.codingPath : path
            log.record("expected \(Self.describeType(expected)), found \(found ?? "another type")", at: at)
        case .dataCorrupted(let context):
            log.record(context.debugDescription, at: context.codingPath.isEmpty ? path : context.codingPath)
        case .keyNotFound(let key, let context):
            log.record("is required", at: context.codingPath + [key])
        @unknown default:
            log.record("is invalid", at: path)
        }
    }

    static func describeType(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Double.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [String].Type: "an array of strings"
        default: "an object"
        }
    }

    static func describeValue(at key: AnyCodingKey, in container: KeyedDecodingContainer<AnyCodingKey>) -> String {
        if let number = try? container.decode(Double.self, forKey: key) { return "\(Self.format(number))" }
        if let text = try? container.decode(String.self, forKey: key) { return "a string \"\(text.prefix(40))\"" }
        if (try? container.decode(Bool.self, forKey: key)) != nil { return "a boolean" }
        if (try? container.nestedUnkeyedContainer(forKey: key)) != nil { return "an array" }
        if (try? container.nestedContainer(keyedBy: AnyCodingKey.self, forKey: key)) != nil { return "an object" }
        return "another type"
    }

    static func describeValue(in decoder: any Decoder) -> String {
        guard let single = try? decoder.singleValueContainer() else { return "an array" }
        if let number = try? single.decode(Double.self) { return Self.format(number) }
        if (try? single.decode(String.self)) != nil { return "a string" }
        if (try? single.decode(Bool.self)) != nil { return "a boolean" }
        if single.decodeNil() { return "null" }
        return "an array"
    }

    static func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? "\(Int(number))" : "\(number)"
    }

    static func closest(to key: String, in known: [String]) -> String? {
        known.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
            .filter { $0.1 <= max(2, key.count / 3) }
            .min { $0.1 < $1.1 }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}

/// Range checks phrased the same everywhere: `must be 1...250, found 0`.
func within<T: Comparable>(_ range: ClosedRange<T>) -> (T) -> String? {
    { range.contains($0) ? nil : "must be \(range.lowerBound)...\(range.upperBound), found \($0)" }
}

func oneOf(_ allowed: [String]) -> (String) -> String? {
    { allowed.contains($0) ? nil : "must be one of \(allowed.joined(separator: ", ")), found \"\($0)\"" }
}

/// A closed set of words in `sync.json`; a wrong word is reported with the words allowed.
public protocol ConfigurationChoice: RawRepresentable<String>, CaseIterable, Decodable {}

extension ConfigurationChoice {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: raw) else {
            let allowed = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "must be one of \(allowed), found \"\(raw.prefix(40))\""))
        }
        self = value
    }
}

extension ConflictPolicy: ConfigurationChoice {}
extension ChangeOrigin: ConfigurationChoice {}
extension LegalBasis: ConfigurationChoice {}
extension ArchivedContactPolicy: ConfigurationChoice {}
extension CRMAPIVersion: ConfigurationChoice {}
