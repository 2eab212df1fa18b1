import Foundation

extension MockCRM {
    static let legalBases: Set<String> = [
        "LEGITIMATE_INTEREST_PQL", "LEGITIMATE_INTEREST_CLIENT", "PERFORMANCE_OF_CONTRACT", "CONSENT_WITH_NOTICE",
        "NON_GDPR", "PROCESS_AND_STORE", "LEGITIMATE_INTEREST_OTHER",
    ]

    /// A subscription change moves the contact's `lastmodifieddate` and keeps `hs_email_optout` in step.
    func touchContact(email: String) {
        guard let id = emailIndex[email], var record = contacts[id] else { return }
        syncOptOutProperty(&record)
        record.touch(at: now)
        contacts[id] = record
    }

    /// `GET /communication-preferences/v3/definitions`.
    func definitionsReply(v4Shaped: Bool = false) -> MockReply {
        let created = HubSpotWire.timestamp(Date(timeIntervalSince1970: 1_600_000_000))
        let entries = definitions.map { definition -> [String: Any] in
            [
                "id": v4Shaped ? definition.id as Any : String(definition.id), "name": definition.name,
                "description": definition.description, "purpose": "Marketing", "communicationMethod": "Email",
                "isActive": definition.isActive, "isDefault": false, "isInternal": false, "createdAt": created,
                "updatedAt": created,
            ]
        }
        guard v4Shaped else { return .json(200, ["subscriptionDefinitions": entries]) }
        let now = HubSpotWire.timestamp(self.now)
        return .json(200, ["status": "COMPLETE", "results": entries, "startedAt": now, "completedAt": now])
    }

    /// `GET /communication-preferences/v3/status/email/{email}`.
    func v3Status(_ rawEmail: String) -> MockReply {
        let email = rawEmail.lowercased()
        guard Self.isValidEmail(email) else {
            return .validation("Email address is invalid", code: "INVALID_EMAIL", field: "emailAddress")
        }
        let subscriber = subscribers[email] ?? SubscriberRecord()
        return .json(
            200,
            [
                "recipient": email,
                "subscriptionStatuses": definitions.map { definition -> [String: Any] in
                    let status = subscriber.statuses[definition.id]
                    var entry: [String: Any] = [
                        "id": String(definition.id), "name": definition.name, "description": definition.description,
                        "status": !subscriber.optedOutOfAll && status?.state == "SUBSCRIBED"
                            ? "SUBSCRIBED" : "NOT_SUBSCRIBED",
                        "sourceOfStatus": subscriber.optedOutOfAll ? "PORTAL_WIDE_STATUS" : "SUBSCRIPTION_STATUS",
                    ]
                    if let basis = status?.legalBasis { entry["legalBasis"] = basis }
                    if let explanation = status?.legalBasisExplanation { entry["legalBasisExplanation"] = explanation }
                    return entry
                },
            ])
    }

    /// `POST /communication-preferences/v3/subscribe` and `/unsubscribe`; v3 refuses to re-subscribe an
    /// address that opted out of all email.
    func v3Change(_ body: Data, subscribe: Bool) -> MockReply {
        guard case .success(let object) = RequestJSON.object(body), let raw = object["emailAddress"] as? String,
            let subscriptionId = Int((object["subscriptionId"] as? String) ?? "\(object["subscriptionId"] ?? "")")
        else { return .validation("emailAddress and subscriptionId are required") }
        let email = raw.lowercased()
        guard Self.isValidEmail(email) else {
            return .validation("Email address is invalid", code: "INVALID_EMAIL", field: "emailAddress")
        }
        guard definitions.contains(where: { $0.id == subscriptionId }) else {
            return .notFound("Subscription not found")
        }
        if subscribe && subscribers[email]?.optedOutOfAll == true {
            return .validation("\(email) is already unsubscribed from all email and cannot be resubscribed via v3")
        }
        let state = subscribe ? "SUBSCRIBED" : "UNSUBSCRIBED"
        subscribers[email, default: SubscriberRecord()].statuses[subscriptionId] = .init(
            state: state, timestamp: now, legalBasis: object["legalBasis"] as? String,
            legalBasisExplanation: object["legalBasisExplanation"] as? String, source: "API")
        touchContact(email: email)
        return .json(200, ["id": String(subscriptionId), "status": subscribe ? "SUBSCRIBED" : "NOT_SUBSCRIBED"])
    }

    func emailInputs(_ body: Data) -> Result<[String], ReplyError> {
        switch batchInputs(body) {
        case .failure(let error):
            // Inputs of these endpoints are strings, not objects.
            guard case .success(let object) = RequestJSON.object(body), let inputs = object["inputs"] as? [String]
            else {
                return .failure(error)
            }
            guard inputs.count <= 100 else {
                return .failure(ReplyError(.validation("Too many inputs: \(inputs.count); the limit is 100")))
            }
            return .success(inputs)
        case .success:
            return .failure(ReplyError(.validation("inputs must be an array of email addresses")))
        }
    }

    /// `POST /communication-preferences/v4/statuses/batch/read?channel=EMAIL`.
    func v4BatchRead(_ body: Data) -> MockReply {
        switch emailInputs(body) {
        case .failure(let error): return error.reply
        case .success(let inputs):
            var results: [[String: Any]] = []
            var errors: [[String: Any]] = []
            for raw in inputs {
                let email = raw.lowercased()
                guard Self.isValidEmail(email) else {
                    errors.append(
                        HubSpotWire.batchError(
                            category: "VALIDATION_ERROR", message: "Invalid email address", ids: [raw]))
                    continue
                }
                let subscriber = subscribers[email] ?? SubscriberRecord()
                let statuses = definitions.map { definition -> [String: Any] in
                    let status = subscriber.statuses[definition.id]
                    var entry: [String: Any] = [
                        "subscriberIdString": email, "subscriptionId": definition.id,
                        "subscriptionName": definition.name,
                        "channel": "EMAIL", "status": status?.state ?? "NOT_SPECIFIED", "source": status?.source ?? "",
                    ]
                    if let status { entry["timestamp"] = HubSpotWire.timestamp(status.timestamp) }
                    if let basis = status?.legalBasis { entry["legalBasis"] = basis }
                    if let explanation = status?.legalBasisExplanation { entry["legalBasisExplanation"] = explanation }
                    return entry
                }
                results.append(["subscriberIdString": email, "statuses": statuses])
            }
            return envelope(results: results, errors: errors)
        }
    }

    /// `POST /communication-preferences/v4/statuses/batch/write`: v4 may re-subscribe an opted-out address,
    /// which lifts its opt-out of all email.
    func v4BatchWrite(_ body: Data) -> MockReply {
        switch batchInputs(body) {
        case .failure(let error): return error.reply
        case .success(let (inputs, _)):
            var results: [[String: Any]] = []
            var errors: [[String: Any]] = []
            for input in inputs {
                let raw = input["subscriberIdString"] as? String ?? ""
                let email = raw.lowercased()
                let subscriptionId =
                    (input["subscriptionId"] as? Int) ?? Int((input["subscriptionId"] as? String) ?? "")
                let state = input["statusState"] as? String ?? ""
                let basis = input["legalBasis"] as? String
                var problem: String?
                if !Self.isValidEmail(email) {
                    problem = "Invalid email address"
                } else if subscriptionId == nil || !definitions.contains(where: { $0.id == subscriptionId }) {
                    problem = "Unknown subscriptionId"
                } else if !["SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED"].contains(state) {
                    problem = "statusState must be SUBSCRIBED, UNSUBSCRIBED or NOT_SPECIFIED"
                } else if (input["channel"] as? String) != "EMAIL" {
                    problem = "channel must be EMAIL"
                } else if let basis, !Self.legalBases.contains(basis) {
                    problem = "Unknown legalBasis"
                }
                if let problem {
                    errors.append(HubSpotWire.batchError(category: "VALIDATION_ERROR", message: problem, ids: [raw]))
                    continue
                }
                let now = self.now
                var subscriber = subscribers[email] ?? SubscriberRecord()
                if state == "SUBSCRIBED" && subscriber.optedOutOfAll {
                    subscriber.optedOutOfAll = false
                    subscriber.optedOutAt = nil
                }
                subscriber.statuses[subscriptionId!] = .init(
                    state: state, timestamp: now, legalBasis: basis,
                    legalBasisExplanation: input["legalBasisExplanation"] as? String, source: "API")
                subscribers[email] = subscriber
                touchContact(email: email)
                var entry: [String: Any] = [
                    "subscriberIdString": email, "subscriptionId": subscriptionId!, "channel": "EMAIL", "status": state,
                    "source": "API", "timestamp": HubSpotWire.timestamp(now),
                ]
                if let basis { entry["legalBasis"] = basis }
                results.append(entry)
            }
            return envelope(results: results, errors: errors)
        }
    }

    /// `POST /communication-preferences/v4/statuses/batch/unsubscribe-all/read?channel=EMAIL`.
    func v4UnsubscribeAllRead(_ body: Data) -> MockReply {
        switch emailInputs(body) {
        case .failure(let error): return error.reply
        case .success(let inputs):
            let results = inputs.map { raw -> [String: Any] in
                let email = raw.lowercased()
                let subscriber = subscribers[email]
                var wide: [[String: Any]] = []
                if subscriber?.optedOutOfAll == true {
                    wide.append([
                        "channel": "EMAIL", "status": "UNSUBSCRIBED", "wideStatusType": "PORTAL_WIDE",
                        "timestamp": HubSpotWire.timestamp(subscriber?.optedOutAt ?? now),
                    ])
                }
                return ["subscriberIdString": email, "wideStatuses": wide]
            }
            return envelope(results: results, errors: [])
        }
    }

    /// `POST /communication-preferences/v4/statuses/batch/unsubscribe-all?channel=EMAIL` and the one-address form.
    func v4UnsubscribeAll(emails: [String]) -> MockReply {
        var results: [[String: Any]] = []
        var errors: [[String: Any]] = []
        let now = self.now
        for raw in emails {
            let email = raw.lowercased()
            guard Self.isValidEmail(email) else {
                errors.append(
                    HubSpotWire.batchError(category: "VALIDATION_ERROR", message: "Invalid email address", ids: [raw]))
                continue
            }
            var subscriber = subscribers[email] ?? SubscriberRecord()
            let changed = !subscriber.optedOutOfAll
            if changed {
                subscriber.optedOutOfAll = true
                subscriber.optedOutAt = now
                for definition in definitions {
                    subscriber.statuses[definition.id] = .init(
                        state: "UNSUBSCRIBED", timestamp: now,
                        legalBasis: subscriber.statuses[definition.id]?.legalBasis,
                        legalBasisExplanation: nil, source: "API")
                }
                subscribers[email] = subscriber
                touchContact(email: email)
            }
            // As HubSpot answers: the subscriber's subscription statuses, not the opt-out's own time (that is
            // what `unsubscribe-all/read` gives).
            results.append([
                "subscriberIdString": email,
                "statuses": definitions.map { definition -> [String: Any] in
                    let status = subscriber.statuses[definition.id]
                    var entry: [String: Any] = [
                        "subscriberIdString": email, "subscriptionId": definition.id,
                        "subscriptionName": definition.name, "channel": "EMAIL", "status": "UNSUBSCRIBED",
                        "source": status?.source ?? "API",
                        "timestamp": HubSpotWire.timestamp(status?.timestamp ?? now),
                        "setStatusSuccessReason": changed ? "UNSUBSCRIBE_FROM_ALL_OCCURRED" : "NO_STATUS_CHANGE",
                    ]
                    if let basis = status?.legalBasis { entry["legalBasis"] = basis }
                    return entry
                },
            ])
        }
        return envelope(results: results, errors: errors)
    }

    func v4UnsubscribeAllBatch(_ body: Data) -> MockReply {
        switch emailInputs(body) {
        case .failure(let error): return error.reply
        case .success(let inputs): return v4UnsubscribeAll(emails: inputs)
        }
    }
}
