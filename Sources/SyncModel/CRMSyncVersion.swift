/// crmsync's version, written in this one place (`crmsync --version` prints it with the HubSpot API version in use).
public enum CRMSyncVersion {
    public static let current = "0.9.0"
}
