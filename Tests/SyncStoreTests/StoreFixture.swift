import Foundation
import SyncCore
import SyncModel
import SyncStore
import SyncTesting

/// A store in a fresh temporary file with a manual clock; removed when the fixture goes away.
final class StoreFixture {
    let folder: URL
    let clock = ManualClock()
    let store: SyncStore

    var path: String { folder.appendingPathComponent("crmsync.sqlite").path }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        store = try SyncStore(path: folder.appendingPathComponent("crmsync.sqlite").path, clock: clock)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    func reopen() throws -> SyncStore { try SyncStore(path: path, clock: clock) }

    func importCSV(_ csv: String, allOrNothing: Bool = false) throws -> ImportSummary {
        let batch = try ImportFileReader(purposes: Purpose.standard).read(Data(csv.utf8), format: .csv)
        return try store.importContacts(batch, allOrNothing: allOrNothing, actor: "test")
    }
}

func email(_ raw: String) -> EmailAddress { try! EmailAddress(raw) }
