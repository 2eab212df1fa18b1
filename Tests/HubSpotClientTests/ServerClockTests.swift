import Foundation
import HubSpotClient
import SyncCore
import SyncModel
import Testing

@Test func theClientReadsHubSpotsClockFromTheDateHeader() async throws {
    let fixture = try await MockedClient.start(seed: 1)
    fixture.clock.advance(by: .seconds(600))
    let before = Date()
    _ = try await fixture.client.contactProperties()
    let after = Date()
    await fixture.stop()
    let reading = try #require(fixture.client.serverClock)
    #expect(reading.receivedAt == fixture.clock.now)
    // The mock's own clock is the wall clock, the client's a manual one far from it: the reading is the header's.
    // Hummingbird refreshes its `Date` once a second from a task that a loaded machine may starve for seconds,
    // so the bound is generous; the manual clock is months away.
    #expect(
        reading.serverDate >= before.addingTimeInterval(-120) && reading.serverDate <= after.addingTimeInterval(5),
        "\(reading.serverDate.timeIntervalSince(before)) s after the request started")
}

struct ClockCase: Sendable, CustomTestStringConvertible {
    /// Local minus HubSpot's true time, in seconds.
    var skew: Double
    /// Seconds between sending the request and receiving the answer.
    var roundTrip = 0.05
    var agrees: Bool
    var testDescription: String { "local clock \(skew) s off, round trip \(roundTrip) s" }
}

@Test(arguments: [
    ClockCase(skew: 0, agrees: true), ClockCase(skew: 0.9, agrees: true), ClockCase(skew: 600, agrees: false),
    ClockCase(skew: -600, agrees: false), ClockCase(skew: -1.5, agrees: false),
    ClockCase(skew: 0, roundTrip: 5, agrees: true), ClockCase(skew: 600, roundTrip: 5, agrees: false),
])
func hubSpotsTimeComesFromTheHeaderWhenTheLocalClockDisagrees(_ row: ClockCase) {
    let crmNow = Date(millisecondsSince1970: 1_780_000_000_250)  // HubSpot's true time when it answered
    let header = Date(millisecondsSince1970: 1_780_000_000_000)  // its Date header: whole seconds
    let sent = crmNow.addingTimeInterval(row.skew - row.roundTrip / 2)
    let received = crmNow.addingTimeInterval(row.skew + row.roundTrip / 2)
    let reading = ServerClockReading(serverDate: header, sentAt: sent, receivedAt: received)
    #expect(reading.agrees(atLocal: received) == row.agrees)
    // HubSpot's true time 30 s later lies in the range.
    let range = reading.crmTimeRange(atLocal: received.addingTimeInterval(30))
    #expect(range.contains(crmNow.addingTimeInterval(30 + row.roundTrip / 2)))
    #expect(abs(reading.skew - row.skew - 0.25 - row.roundTrip / 2) < 0.001)
}

/// HubSpot's times are whole milliseconds. Foundation's ISO parser put 2,240 of 20,000 of them a hair below their
/// millisecond, so they truncated to the one before and no longer equalled the same time stored or marked.
@Test func parsedHubSpotTimesAreTheirExactMillisecond() throws {
    let start = try #require(HubSpotTime.parse("2026-12-01T08:00:00Z")).millisecondsSince1970
    for step in 0..<20_000 {
        let (seconds, milliseconds) = step.quotientAndRemainder(dividingBy: 1000)
        let text =
            "2026-12-01T08:\(twoDigits(seconds / 60)):\(twoDigits(seconds % 60))."
            + String(String(milliseconds + 1000).dropFirst()) + "Z"
        #expect(HubSpotTime.parse(text)?.millisecondsSince1970 == start + Int64(step), "\(text)")
    }
}

private func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
