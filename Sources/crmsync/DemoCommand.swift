import ArgumentParser
import Foundation
import SyncModel
import SyncStore

/// The main job on the embedded defaults, as far as crmsync goes today: a fresh store in a temporary
/// folder, a synthetic register imported with some bad rows, the register's own edits, and an export.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the main job on embedded defaults in a temporary folder (no account, no setup).")

    @Option(help: "How many synthetic contacts to import.") var contacts: Int = 1_000
    @Flag(help: "Show personal data in the output instead of masking it.") var showPII = false

    func run() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmsync-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SyncStore(path: folder.appendingPathComponent("crmsync.sqlite").path)
        let configuration = SyncConfiguration()

        print("1. A synthetic register of \(contacts) people, plus three rows a real file would have:")
        var register = SyntheticRegister(seed: 2026)
        var csv = register.csv(count: contacts)
        csv += "not-an-email,Broken,Row,,,,,,,,,granted,,,,web form\n"
        csv += csv.split(separator: "\n")[1] + "\n"  // the first person again
        csv +=
            "late.comer@example.fi,Late,Comer,+358 40 123 4567,Oulu,Finland,CTO,Kide Robotics,Food,lead,event,maybe,,,,event\n"
        let reader = ImportFileReader(purposes: configuration.allPurposes)
        let batch = try reader.read(Data(csv.utf8), format: .csv)
        let first = try store.importContacts(batch, actor: "demo")
        print(ImportCommand.text(first, file: "register.csv"))

        print("\n2. The same file again changes nothing:")
        print(ImportCommand.text(try store.importContacts(batch, actor: "demo"), file: "register.csv"))

        let subject = batch.records[0].email
        let shown = showPII ? subject.normalized : subject.masked
        print("\n3. \(shown) withdraws the newsletter by email and objects to direct marketing:")
        _ = try store.recordConsent(
            email: subject, purpose: .newsletter, state: .withdrawn, source: "email", actor: "demo")
        _ = try store.setSuppression(
            .optedOutOfAll, active: true, email: subject, reason: "objection by email", actor: "demo")
        let export = try store.export(email: subject)
        print(showPII ? SubjectText.render(export) : SubjectText.render(export.masked()))

        print(
            "\n4. Their export (right of access) holds \(export.consentHistory.count) consent decision(s), "
                + "\(export.suppressions.count) suppression(s) and \(export.auditLog.count) audit entries.")
        print("\nThe two-way sync with the CRM arrives with the SyncEngine issue; this demo will then run it.")
    }
}

extension SubjectExport {
    /// The same export with names and contact details masked, for output nobody asked PII of.
    func masked() -> SubjectExport {
        var copy = self
        for (name, value) in contact.fields {
            guard let field = ContactField(rawValue: name), field.isPersonal else { continue }
            copy.contact.fields[name] =
                field == .email ? PersonalData.mask(email: value) : PersonalData.mask(name: value)
        }
        return copy
    }
}
