import ArgumentParser
import Foundation
import SyncCore
import SyncEngine
import SyncModel
import SyncStore

struct ContactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contact", abstract: "Look up contacts in the store.", subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one contact, its consents and suppressions.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "The contact's email.") var email: String
        @Option(help: "Output format: text or json.") var format: OutputFormat = .text

        func run() throws {
            let context = try CommandContext(global)
            let address = try context.email(email)
            let store = try context.openStore()
            let export = try context.perform { try store.export(email: address) }
            switch format {
            case .json: print(JSONOutput.render(export))
            case .text: print(SubjectText.render(export))
            }
        }
    }
}

struct ConsentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent", abstract: "Record a consent decision for one purpose.",
        subcommands: [Grant.self, Withdraw.self])

    struct Decision: ParsableArguments {
        @OptionGroup var global: GlobalOptions
        @Option(help: "The contact's email.") var email: String
        @Option(help: "The purpose: newsletter, marketingEmail, eventInvitations, blog or a configured one.")
        var purpose: String
        @Option(help: "Where the decision was made (web form, email, phone, event, ...).") var source: String
        @Option(help: "Lawful basis, e.g. CONSENT_WITH_NOTICE.") var legalBasis: String?
        @Option(help: "Free-text explanation kept with the evidence.") var explanation: String?

        func record(_ state: ConsentState, liftingOptOut: Bool = false) throws {
            let context = try CommandContext(global)
            let address = try context.email(email)
            let purpose = try context.purpose(self.purpose)
            let basis = try legalBasis.map { raw in
                guard let basis = LegalBasis(looseName: raw) else {
                    throw CommandContext.fail(
                        .invalidInput,
                        "--legal-basis: must be one of \(LegalBasis.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return basis
            }
            guard !source.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw CommandContext.fail(.invalidInput, "--source: must not be empty")
            }
            let store = try context.openStore()
            let outcome = try context.perform {
                try store.recordConsent(
                    email: address, purpose: purpose, state: state, source: source, legalBasis: basis,
                    explanation: explanation, liftingOptOut: liftingOptOut, actor: context.actor)
            }
            print(
                outcome == .changed ? "\(purpose): \(state.rawValue) recorded" : "\(purpose): already \(state.rawValue)"
            )
        }
    }

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that the person granted consent.")
        @OptionGroup var decision: Decision
        @Flag(help: "Record this grant as the explicit re-consent that lifts an opt-out of all marketing.")
        var liftOptOut = false
        func run() throws { try decision.record(.granted, liftingOptOut: liftOptOut) }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that the person withdrew consent.")
        @OptionGroup var decision: Decision
        func run() throws { try decision.record(.withdrawn) }
    }
}

struct SuppressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suppress",
        abstract: "Record an opt-out of all marketing (objection to direct marketing, 'markkinointikielto').")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The contact's email.") var email: String
    @Option(help: "Why, without personal data (e.g. 'requested by email').") var reason: String

    func run() throws {
        let context = try CommandContext(global)
        let address = try context.email(email)
        let store = try context.openStore()
        let outcome = try context.perform {
            try store.setSuppression(.optedOutOfAll, active: true, email: address, reason: reason, actor: context.actor)
        }
        print(outcome == .changed ? "opted out of all marketing" : "already opted out of all marketing")
    }
}

struct RestrictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restrict", abstract: "Restrict processing of a contact (right to restriction), or lift it.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The contact's email.") var email: String
    @Option(help: "Why, without personal data.") var reason: String = "restriction requested"
    @Flag(help: "Lift the restriction instead.") var lift = false

    func run() throws {
        let context = try CommandContext(global)
        let address = try context.email(email)
        let store = try context.openStore()
        let outcome = try context.perform {
            try store.setSuppression(
                .processingRestricted, active: !lift, email: address, reason: reason, actor: context.actor)
        }
        let state = lift ? "lifted" : "restricted"
        print(outcome == .changed ? "processing \(state)" : "processing already \(state)")
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Everything the store holds about one subject, as JSON (rights of access and portability).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The subject's email.") var email: String
    @Option(help: "Write to this file instead of standard output.") var output: String?
    @Option(help: "Output format: json (default) or text.") var format: OutputFormat = .json

    func run() throws {
        let context = try CommandContext(global)
        let address = try context.email(email)
        let store = try context.openStore()
        let export = try context.perform { try store.export(email: address) }
        let text = format == .json ? String(decoding: try export.jsonData(), as: UTF8.self) : SubjectText.render(export)
        if let output {
            try CommandContext.writePrivate(text + "\n", to: output)
            print("wrote \(output)")
        } else {
            print(text)
        }
    }
}

/// The human form of a subject's data.
enum SubjectText {
    static func render(_ export: SubjectExport) -> String {
        var lines = ["contact \(export.contact.id)" + (export.contact.crmId.map { " (CRM \($0))" } ?? "")]
        for field in ContactField.allCases {
            guard let value = export.contact.fields[field.rawValue] else { continue }
            // A value a CRM user could have typed: bidi controls and line breaks shown, never obeyed.
            lines.append(
                "  \(field.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(ReportText.neutralized(value))"
            )
        }
        lines.append("consents")
        if export.consents.isEmpty { lines.append("  (none recorded)") }
        for consent in export.consents {
            lines.append(
                "  \(consent.purpose.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(consent.state.rawValue)"
                    + " since \(consent.occurredAt.formatted(.iso8601)) via \(ReportText.neutralized(consent.source))"
                    + " (\(consent.origin.rawValue))"
            )
        }
        lines.append("suppressions")
        if export.suppressions.isEmpty { lines.append("  (none)") }
        for suppression in export.suppressions {
            lines.append(
                "  \(suppression.kind.rawValue): \(suppression.isActive ? "active" : "lifted") since "
                    + "\(suppression.changedAt.formatted(.iso8601))"
                    + (suppression.reason.map { " (\(ReportText.neutralized($0)))" } ?? ""))
        }
        lines.append(
            "\(export.consentHistory.count) consent decision(s) in history, \(export.auditLog.count) audit entries")
        return lines.joined(separator: "\n")
    }
}
