import Foundation
import SyncModel

/// What the register and the CRM last agreed about one purpose: the state, and the time each side gave its
/// statement of it then (HubSpot's time of the status, the register's time of its decision).
///
/// The times tell a side that has not moved since from one that decided again. HubSpot's time for a status is when
/// it was written, also when crmsync wrote it: the status of a grant crmsync pushed is dated after the register's
/// decision, and a withdrawal recorded since on a host clock running slow would lose to it by time. A status that
/// still carries the agreed time is not a new decision, so the side that did move wins (``ConsentRules``, row 6).
public struct ConsentBase: Sendable, Hashable {
    public var state: ConsentState
    /// HubSpot's time for the agreed status, in milliseconds (nil: not known, as in bases written before 2026-12).
    public var crmAtMilliseconds: Int64?
    /// The register's time for its agreed decision, in milliseconds (nil: not known).
    public var registerAtMilliseconds: Int64?

    public init(_ state: ConsentState, crmAt: Date? = nil, registerAt: Date? = nil) {
        self.state = state
        crmAtMilliseconds = crmAt?.millisecondsSince1970
        registerAtMilliseconds = registerAt?.millisecondsSince1970
    }

    /// Reads the stored form: `granted`, or `granted;crm=<ms>;register=<ms>` with either time left out.
    public init?(stored: String?) {
        guard let stored else { return nil }
        var parts = stored.split(separator: ";", omittingEmptySubsequences: false).makeIterator()
        guard let first = parts.next(), let state = ConsentState(rawValue: String(first)) else { return nil }
        self.state = state
        while let part = parts.next() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let ms = Int64(pair[1]) else { return nil }
            switch pair[0] {
            case "crm": crmAtMilliseconds = ms
            case "register": registerAtMilliseconds = ms
            default: return nil
            }
        }
    }

    public var stored: String {
        var text = state.rawValue
        if let crmAtMilliseconds { text += ";crm=\(crmAtMilliseconds)" }
        if let registerAtMilliseconds { text += ";register=\(registerAtMilliseconds)" }
        return text
    }

    /// Whether HubSpot's statement is the agreed one, unmoved: the same state at the agreed time.
    public func holds(crm: StatedDecision?) -> Bool {
        guard let crm, let agreedAt = crmAtMilliseconds, let at = crm.at else { return false }
        return crm.state == state && at.millisecondsSince1970 == agreedAt
    }

    /// Whether the register's decision is the agreed one, unmoved: the same state at the agreed time.
    public func holds(register: StatedDecision?) -> Bool {
        guard let register, let agreedAt = registerAtMilliseconds, let at = register.at else { return false }
        return register.state == state && at.millisecondsSince1970 == agreedAt
    }
}

extension Dictionary where Key == SyncKey, Value == String? {
    /// The agreed state of `purpose` this base holds, or nil (never agreed).
    public func consentBase(_ purpose: Purpose) -> ConsentBase? {
        guard case .some(.some(let stored)) = self[.consent(purpose)] else { return nil }
        return ConsentBase(stored: stored)
    }
}
