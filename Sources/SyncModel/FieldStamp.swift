import Foundation

/// Which side of the sync made a change.
public enum ChangeOrigin: String, Codable, Sendable, Hashable, CaseIterable {
    case local
    case crm
}

/// When a field was last modified and by which side: what field-level conflict resolution compares.
public struct FieldStamp: Codable, Sendable, Hashable {
    public var at: Date
    public var origin: ChangeOrigin

    public init(at: Date, origin: ChangeOrigin) {
        self.at = at
        self.origin = origin
    }
}
