import Foundation
import SyncCore
import SyncModel
import Testing

@testable import SyncStore

/// A register migrated from another system: the import says when each contact was last active.
@Test(arguments: [ImportFileReader.Format.csv, .jsonLines])
func anImportedLastActivityTimeDecidesWhetherAMigratedContactIsInactive(format: ImportFileReader.Format) throws {
    let fixture = try StoreFixture()
    let now = fixture.clock.now
    let longAgo = now.addingTimeInterval(-30 * 30 * 86_400).formatted(.iso8601)
    let lately = now.addingTimeInterval(-30 * 86_400).formatted(.iso8601)
    let file =
        switch format {
        case .csv:
            """
            email,lifecycleStage,newsletter,consentedAt,lastActivityAt
            dormant@example.fi,lead,granted,\(longAgo),\(longAgo)
            active@example.fi,lead,granted,\(longAgo),\(lately)
            unknown@example.fi,lead,,,
            """
        case .jsonLines:
            """
            {"email": "dormant@example.fi", "lifecycleStage": "lead", "newsletter": "granted", "consentedAt": "\(longAgo)", "lastActivityAt": "\(longAgo)"}
            {"email": "active@example.fi", "lifecycleStage": "lead", "newsletter": "granted", "consentedAt": "\(longAgo)", "lastActivityAt": "\(lately)"}
            {"email": "unknown@example.fi", "lifecycleStage": "lead"}
            """
        }
    let batch = try ImportFileReader(purposes: Purpose.standard).read(Data(file.utf8), format: format)
    #expect(batch.rejections.isEmpty, "\(batch.rejections)")
    _ = try fixture.store.importContacts(batch, actor: "test")
    let cutoff = now.addingTimeInterval(-24 * 30 * 86_400)
    #expect(try fixture.store.retentionCandidates(inactiveSince: cutoff).map(\.normalized) == ["dormant@example.fi"])
    // An older file does not move a contact's activity back.
    let older = try ImportFileReader(purposes: Purpose.standard).read(
        Data("email,lastActivityAt\nactive@example.fi,\(longAgo)\n".utf8), format: .csv)
    _ = try fixture.store.importContacts(older, actor: "test")
    #expect(try fixture.store.retentionCandidates(inactiveSince: cutoff).map(\.normalized) == ["dormant@example.fi"])
}

/// Retention reruns once took an existing request id for a new subject and erased nothing.
@Test func aRequestIdAlreadyNamingAnotherSubjectsErasureIsRefused() throws {
    let fixture = try StoreFixture()
    let first = try fixture.store.recordErasureRequest(email: email("one@example.fi"), requestId: "r-1", reason: nil)
    #expect(
        try fixture.store.recordErasureRequest(email: email("one@example.fi"), requestId: "r-1", reason: nil) == first)
    #expect(throws: StoreError.self) {
        try fixture.store.recordErasureRequest(email: email("two@example.fi"), requestId: "r-1", reason: nil)
    }
}
