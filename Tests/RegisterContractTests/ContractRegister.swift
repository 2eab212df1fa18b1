import Foundation
import Logging
import PostgresRegister
import SyncCore
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// The adapters the register contract runs on. Every test of the suite takes each of them: PostgreSQL when a test
/// server is configured (``TestPostgres``).
enum Adapter: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqliteInMemory
    case sqliteFile
    case postgres

    static var allCases: [Adapter] {
        TestPostgres.isConfigured ? [.sqliteInMemory, .sqliteFile, .postgres] : [.sqliteInMemory, .sqliteFile]
    }

    var testDescription: String { rawValue }

    /// A new, empty register of this adapter on `clock`.
    func make(clock: ManualClock) throws -> ContractRegister {
        switch self {
        case .sqliteInMemory:
            return SQLiteContractRegister(store: try SyncStore.inMemory(clock: clock), folder: nil)
        case .sqliteFile:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "crmsync-contract-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let store = try SyncStore(path: folder.appendingPathComponent("register.sqlite").path, clock: clock)
            return SQLiteContractRegister(store: store, folder: folder)
        case .postgres:
            let database = try TestPostgres.newDatabase()
            return SQLiteContractRegister(
                store: try SyncStore.postgres(database, clock: clock), folder: nil, database: database.database)
        }
    }
}

/// One register under the contract: the port, and the one edit command the contract needs to set a scene (a local
/// edit, as `crmsync consent` records it: it moves the contact's version).
protocol ContractRegister: Sendable {
    var port: any RegisterPort { get }
    func grant(_ email: EmailAddress, _ purpose: Purpose) async throws
    /// Records an acquisition of the writer lease by `holder` (as a run on another host takes it over from one
    /// that lost it without knowing), returning its fencing token.
    func acquireLease(holder: String) async throws -> LeaseToken
    /// The register as the run holding `token` writes to it.
    func fenced(by token: LeaseToken) -> any RegisterPort
    /// The same register opened again, as the next process opens it (nil for one in memory, which no other opens).
    func reopened(clock: ManualClock) throws -> ContractRegister?
    func close()
}

/// A register of the store's own (``SyncStore``) on any of its databases.
struct SQLiteContractRegister: ContractRegister {
    let store: SyncStore
    let folder: URL?
    /// The test server's database it is in, dropped when it closes.
    var database: String? = nil

    var port: any RegisterPort { store }

    func grant(_ email: EmailAddress, _ purpose: Purpose) async throws {
        _ = try store.recordConsent(
            email: email, purpose: purpose, state: .granted, source: "contract", actor: "contract")
    }

    func acquireLease(holder: String) async throws -> LeaseToken {
        try store.recordLease(WriterLease.name, holder: holder)
    }

    func fenced(by token: LeaseToken) -> any RegisterPort { store.fenced(by: token) }

    func reopened(clock: ManualClock) throws -> ContractRegister? {
        if let database {
            var location = try TestPostgres.server()
            location.database = database
            return SQLiteContractRegister(store: try SyncStore.postgres(location, clock: clock), folder: nil)
        }
        guard let path = store.path else { return nil }
        return SQLiteContractRegister(store: try SyncStore(path: path, clock: clock), folder: nil)
    }

    func close() {
        if let folder { try? FileManager.default.removeItem(at: folder) }
        if let database {
            try? store.close()
            try? TestPostgres.drop(database)
        }
    }
}

/// A register with `count` contacts created by a sync (linked to records `crm-0`…), each at version 0.
struct Scene {
    let clock = ManualClock()
    let register: ContractRegister
    var port: any RegisterPort { register.port }

    init(_ adapter: Adapter) throws {
        register = try adapter.make(clock: clock)
    }

    static func address(_ index: Int) -> EmailAddress { try! EmailAddress("person\(index)@example.fi") }

    /// The update a sync writes for a contact it creates from the CRM record `crm-<index>`.
    func creation(_ index: Int, firstName: String = "Created") -> LocalSyncUpdate {
        var contact = Contact(
            crmId: "crm-\(index)", email: Self.address(index), createdAt: clock.now, origin: .crm)
        contact.firstName = firstName
        var update = LocalSyncUpdate(contactId: contact.id)
        update.contact = contact
        update.crmId = .some("crm-\(index)")
        update.base = [.field(.firstName): firstName]
        return update
    }

    /// The update a sync writes for a CRM edit of the contact's first name, planned from its version in `state`.
    static func renaming(_ state: LocalContactState, to firstName: String) -> LocalSyncUpdate {
        var contact = state.contact
        contact.firstName = firstName
        var update = LocalSyncUpdate(contactId: contact.id)
        update.contact = contact
        update.expectedLocalVersion = state.localVersion
        return update
    }

    @discardableResult
    func create(_ indices: Range<Int>) async throws -> [LocalContactState] {
        let result = try await port.applySyncUpdates(indices.map { creation($0) }, actor: "contract")
        #expect(result.outcomes.values.allSatisfy { $0 == .applied })
        return try await state(indices)
    }

    func state(_ indices: Range<Int>) async throws -> [LocalContactState] {
        try await port.localStates(crmIds: [], emails: indices.map(Self.address)).sorted {
            $0.contact.email.normalized < $1.contact.email.normalized
        }
    }

    func state(_ index: Int) async throws -> LocalContactState? {
        try await port.localStates(crmIds: [], emails: [Self.address(index)]).first
    }

    /// A subject created by a sync, whose erasure request `r1` is recorded and carried out locally (its CRM deletes
    /// still to send).
    func erasedSubject() async throws -> EmailAddress {
        try await create(0..<1)
        _ = try await port.recordErasureRequest(email: Self.address(0), requestId: "r1", reason: nil)
        try await port.eraseLocally(requestId: "r1")
        return Self.address(0)
    }

    func close() { register.close() }
}
