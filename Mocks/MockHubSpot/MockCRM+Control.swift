import Foundation

extension MockCRM {
    /// `POST /__mock/reset`: empty CRM, configuration as at start, journal and statistics cleared.
    func reset() -> MockReply {
        contacts = [:]
        orderedIds = []
        emailIndex = [:]
        aliases = [:]
        blocklist = []
        subscribers = [:]
        configuration = initialConfiguration
        limits.reset()
        limitClockOffset = 0
        faults.configure(configuration.faults)
        journal = []
        stats = TrafficStats()
        return .json(200, ["status": "reset"])
    }

    /// `POST /__mock/seed`: `{"generate": N, "seed": S}` or `{"contacts": [{flat properties,
    /// "subscriptions": {"7": "SUBSCRIBED"}, "optedOutOfAll": true}]}`. Bypasses the blocklist and the
    /// limits; `"lastModified"` (ISO 8601) gives every seeded record that one `lastmodifieddate`.
    func seed(_ body: Data) -> MockReply {
        guard case .success(let object) = RequestJSON.object(body) else {
            return .validation("seed needs a JSON object")
        }
        var pinned: Date?
        if let raw = object["lastModified"] as? String {
            guard let date = HubSpotWire.parseTimestamp(raw) else {
                return .validation("lastModified must be ISO 8601")
            }
            pinned = date
        }
        var ids: [String] = []
        if let count = object["generate"] as? Int {
            guard (0...1_000_000).contains(count) else { return .validation("generate must be 0...1000000") }
            ids = generate(count, seed: UInt64((object["seed"] as? Int) ?? 1))
        } else if let people = object["contacts"] as? [[String: Any]] {
            for person in people {
                var properties: [String: String?] = [:]
                for (key, value) in person where key != "subscriptions" && key != "optedOutOfAll" {
                    guard Self.writableProperties.contains(key) else { return .validation("unknown property \(key)") }
                    properties[key] = (value as? String) ?? (value as? NSNumber)?.stringValue
                }
                if let email = properties["email"] ?? nil {
                    properties["email"] = email.lowercased()
                    if emailIndex[email.lowercased()] != nil { return .validation("email already seeded") }
                }
                let record = insertContact(properties, source: "seed")
                if let email = record.email {
                    var subscriber = subscribers[email] ?? SubscriberRecord()
                    for (id, state) in (person["subscriptions"] as? [String: String]) ?? [:] {
                        guard let subscriptionId = Int(id) else { continue }
                        subscriber.statuses[subscriptionId] = .init(
                            state: state, timestamp: now, legalBasis: "CONSENT_WITH_NOTICE", legalBasisExplanation: nil,
                            source: "seed")
                    }
                    if (person["optedOutOfAll"] as? Bool) == true {
                        subscriber.optedOutOfAll = true
                        subscriber.optedOutAt = now
                    }
                    subscribers[email] = subscriber
                    var updated = contacts[record.id]!
                    syncOptOutProperty(&updated)
                    contacts[record.id] = updated
                }
                ids.append(record.id)
            }
        } else {
            return .validation("seed needs \"generate\" or \"contacts\"")
        }
        if let pinned {
            for id in ids {
                contacts[id]?.touch(at: pinned)
                contacts[id]?.indexedVersion = nil
                contacts[id]?.indexDueAt = .distantPast
            }
        }
        return .json(200, ["ids": ids, "count": ids.count])
    }

    /// N fictional contacts, the same for the same seed.
    func generate(_ count: Int, seed: UInt64) -> [String] {
        var generator = SeededGenerator(seed: seed)
        let first = ["Aino", "Eino", "Helmi", "Onni", "Lilja", "Leevi", "Saara", "Elias", "Venla", "Toivo"]
        let last = ["Laine", "Korhonen", "Virtanen", "Nieminen", "Heikkinen", "Koskinen", "Salo", "Lehtonen"]
        let cities = ["Helsinki", "Oulu", "Tampere", "Turku", "Kuopio"]
        let stages = ["subscriber", "lead", "marketingqualifiedlead", "customer"]
        var ids: [String] = []
        ids.reserveCapacity(count)
        let start = nextId
        for index in 0..<count {
            let firstName = first[Int(generator.next() % UInt64(first.count))]
            let lastName = last[Int(generator.next() % UInt64(last.count))]
            let email = "\(firstName).\(lastName).\(start + Int64(index))@example.com".lowercased()
            let record = insertContact(
                [
                    "email": email, "firstname": firstName, "lastname": lastName,
                    "city": cities[Int(generator.next() % UInt64(cities.count))],
                    "lifecyclestage": stages[Int(generator.next() % UInt64(stages.count))],
                ], source: "seed")
            ids.append(record.id)
        }
        return ids
    }

    /// `POST /__mock/tamper {"id": "...", "properties": {...}}`: changes values without moving
    /// `lastmodifieddate` or the history, as data changed behind the change feed's back would look.
    func tamper(_ body: Data) -> MockReply {
        guard case .success(let object) = RequestJSON.object(body), let id = object["id"] as? String,
            let properties = object["properties"] as? [String: String], var record = contacts[id]
        else { return .validation("tamper needs an existing id and properties") }
        for (name, value) in properties { record.properties[name] = value.isEmpty ? nil : value }
        contacts[id] = record
        return .json(200, ["id": id])
    }

    /// `POST /__mock/advance {"ms": 10000}`: moves the rate limits' clock forward (windows, daily budget).
    func advance(_ body: Data) -> MockReply {
        guard case .success(let object) = RequestJSON.object(body), let ms = object["ms"] as? Int, ms >= 0 else {
            return .validation("advance needs {\"ms\": N} with N >= 0")
        }
        limitClockOffset += Double(ms) / 1000
        return .json(200, ["offsetMs": Int(limitClockOffset * 1000)])
    }

    /// `PUT /__mock/config`: any subset of keys; faults restart from their seed.
    func configure(_ body: Data) -> MockReply {
        do {
            configuration = try MockConfiguration.merging(body, into: configuration)
        } catch let error as ReplyError {
            return error.reply
        } catch {
            return .validation("config is not valid: \(error)")
        }
        faults.configure(configuration.faults)
        return .encoded(200, configuration)
    }

    /// `GET /__mock/config`: the configuration in force, every key.
    func configurationReply() -> MockReply { .encoded(200, configuration) }

    /// `GET /__mock/journal[?since=N]`: every API request with its status.
    func journalReply(_ query: Query) -> MockReply {
        let since = Int(query["since"] ?? "0") ?? 0
        return .encoded(200, Array(journal.dropFirst(max(0, since))))
    }

    /// `GET /__mock/stats`.
    func statsReply() -> MockReply {
        .encoded(
            200,
            MockStats(
                total: stats.total, byEndpoint: stats.byEndpoint, tooManyRequests: stats.tooManyRequests,
                faults: stats.faults, peakRequestsPerSecond: stats.peakPerSecond, dailyUsed: limits.dailyUsed,
                contacts: contacts.values.filter { !$0.archived }.count, blocklisted: blocklist.count))
    }
}
