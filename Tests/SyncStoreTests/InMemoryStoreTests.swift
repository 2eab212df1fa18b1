import Foundation
import SyncCore
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// The store in memory runs the same schema and rules as the file: what the model checker's fast runs rely on.
@Suite struct InMemoryStoreTests {
    @Test func aStoreInMemoryIsMigratedAndHasNoPath() throws {
        let store = try SyncStore.inMemory(clock: ManualClock())
        #expect(store.path == nil)
        #expect(try store.isUpToDate())
    }

    @Test func itsPageImageShowsPlaintextUntilTheSubjectIsErased() throws {
        let store = try SyncStore.inMemory(clock: ManualClock())
        let batch = try ImportFileReader(purposes: Purpose.standard).read(
            Data("email,firstName,newsletter\nvery.unique.person@example.fi,Zebulon,granted\n".utf8), format: .csv)
        _ = try store.importContacts(batch, actor: "test")
        let subject = try EmailAddress("very.unique.person@example.fi")
        #expect(try store.pageImage().range(of: Data("Zebulon".utf8)) != nil)
        #expect(try store.eraseLocally(email: subject, requestId: "req-1", actor: "t"))
        let image = try store.pageImage()
        #expect(image.range(of: Data("very.unique.person".utf8)) == nil)
        #expect(image.range(of: Data("Zebulon".utf8)) == nil)
    }

    @Test func twoStoresInMemoryShareNothing() throws {
        let first = try SyncStore.inMemory(clock: ManualClock())
        let second = try SyncStore.inMemory(clock: ManualClock())
        let batch = try ImportFileReader(purposes: Purpose.standard).read(
            Data("email\nsomeone@example.fi\n".utf8), format: .csv)
        _ = try first.importContacts(batch, actor: "test")
        #expect(try first.contact(email: EmailAddress("someone@example.fi")) != nil)
        #expect(try second.contact(email: EmailAddress("someone@example.fi")) == nil)
    }
}
