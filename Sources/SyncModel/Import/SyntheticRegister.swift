import Foundation

/// Fictional but realistic register rows for demos and benchmarks: deterministic for a seed, so two runs
/// produce the same people. The names and companies are invented; no real person is in them.
public struct SyntheticRegister: Sendable {
    public static let csvHeader =
        "email,firstName,lastName,phone,city,country,jobTitle,company,industry,lifecycleStage,source,newsletter,marketingEmail,eventInvitations,blog,consentSource"

    private var state: UInt64

    public init(seed: UInt64) { state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }

    private static let firstNames = [
        "Aino", "Eino", "Helmi", "Väinö", "Aada", "Onni", "Lilja", "Leevi", "Saara", "Oliver",
        "Emma", "Elias", "Venla", "Toivo", "Iida", "Niilo",
    ]
    private static let lastNames = [
        "Laine", "Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Heikkinen", "Koskinen",
        "Järvinen", "Lehtonen", "Salo",
    ]
    private static let cities = ["Helsinki", "Oulu", "Tampere", "Turku", "Jyväskylä", "Kuopio", "Ylämylly"]
    private static let companies = [
        "Pohjola Pack Oy", "Saimaa Automation", "Kide Robotics", "Lapin Linjat",
        "Aalto Packaging", "Kuura Systems",
    ]
    private static let industries = ["Packaging", "Food", "Automation", "Logistics", "Pharma"]
    private static let titles = ["Production Manager", "CTO", "Engineer", "Buyer", "Line Lead", "CEO"]
    private static let stages = ["subscriber", "lead", "marketingqualifiedlead", "customer", "opportunity"]
    private static let sources = ["web form", "email", "phone", "social media", "event", "public source"]

    private mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        var mixed = state
        mixed = (mixed ^ (mixed >> 33)) &* 0xff51_afd7_ed55_8ccd
        return mixed ^ (mixed >> 33)
    }

    private mutating func pick(_ values: [String]) -> String { values[Int(next() % UInt64(values.count))] }

    private mutating func consent() -> String {
        switch next() % 10 {
        case 0...4: "granted"
        case 5...6: "withdrawn"
        default: ""
        }
    }

    /// One CSV row for person number `index` (unique email per index).
    public mutating func csvRow(index: Int) -> String {
        let first = pick(Self.firstNames)
        let last = pick(Self.lastNames)
        let local = "\(first).\(last)".lowercased()
            .replacingOccurrences(of: "ä", with: "a").replacingOccurrences(of: "ö", with: "o")
        let company = pick(Self.companies)
        let phone = "+358 40 \(100 + next() % 900) \(1000 + next() % 9000)"
        let fields = [
            "\(local).\(index)@example.fi", first, last, phone, pick(Self.cities), "Finland", pick(Self.titles),
            "\"\(company)\"", pick(Self.industries), pick(Self.stages), pick(Self.sources), consent(), consent(),
            consent(), consent(), "web form",
        ]
        return fields.joined(separator: ",")
    }

    /// A whole CSV file of `count` people, header included.
    public mutating func csv(count: Int) -> String {
        var text = Self.csvHeader + "\n"
        text.reserveCapacity(count * 160)
        for index in 0..<count {
            text += csvRow(index: index)
            text += "\n"
        }
        return text
    }
}
