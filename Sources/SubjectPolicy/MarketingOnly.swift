/// Whether a contact is marketing-only (no customer relationship), by HubSpot's lifecycle stage: the contacts the
/// privacy notice's two-year limit for marketing data erases once they have been inactive that long.
public enum MarketingOnly {
    /// The lifecycle stages of a marketing-only contact: no stage, subscriber, lead, MQL or other.
    public static let lifecycleStages: Set<String> = ["subscriber", "lead", "marketingqualifiedlead", "other"]

    public static func isMarketingOnly(lifecycleStage: String?) -> Bool {
        guard let stage = lifecycleStage?.lowercased(), !stage.isEmpty else { return true }
        return lifecycleStages.contains(stage)
    }
}
