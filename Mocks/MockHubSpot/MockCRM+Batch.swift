import Foundation

extension MockCRM {
    /// The batch envelope: `200`/`201` when every input succeeded, `207` with `errors` otherwise.
    func envelope(results: [[String: Any]], errors: [[String: Any]], successStatus: Int = 200) -> MockReply {
        let now = HubSpotWire.timestamp(self.now)
        var body: [String: Any] = ["status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now]
        if !errors.isEmpty {
            body["numErrors"] = errors.count
            body["errors"] = errors
        }
        return .json(errors.isEmpty ? successStatus : 207, body)
    }

    func batchInputs(_ body: Data, maximum: Int = 100) -> Result<([[String: Any]], [String: Any]), ReplyError> {
        switch RequestJSON.object(body) {
        case .failure(let error): return .failure(error)
        case .success(let object):
            guard let inputs = object["inputs"] as? [[String: Any]] else {
                return .failure(ReplyError(.validation("inputs is required and must be an array of objects")))
            }
            guard inputs.count <= maximum else {
                return .failure(
                    ReplyError(
                        .validation(
                            "Too many inputs: \(inputs.count); the limit is \(maximum)", code: "TOO_MANY_INPUTS",
                            field: "inputs")))
            }
            return .success((inputs, object))
        }
    }

    /// `POST .../batch/read`: merged ids return the survivor; unknown ids are errors (207).
    func batchRead(_ body: Data) -> MockReply {
        let withHistory =
            ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["propertiesWithHistory"] as? [String]
            ?? []
        switch batchInputs(body, maximum: withHistory.isEmpty ? 100 : 50) {
        case .failure(let error): return error.reply
        case .success(let (inputs, object)):
            let byEmail = (object["idProperty"] as? String) == "email"
            let properties = object["properties"] as? [String]
            var results: [[String: Any]] = []
            var missing: [String] = []
            var seen: Set<String> = []
            for input in inputs {
                guard let key = input["id"] as? String else { continue }
                guard let record = resolve(key, byEmail: byEmail) else {
                    missing.append(key)
                    continue
                }
                if seen.insert(record.id).inserted {
                    results.append(record.json(properties: properties, withHistory: withHistory))
                }
            }
            let errors =
                missing.isEmpty
                ? []
                : [
                    HubSpotWire.batchError(
                        category: "OBJECT_NOT_FOUND",
                        message:
                            "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
                        ids: missing)
                ]
            return envelope(results: results, errors: errors)
        }
    }

    /// `POST .../batch/create`: all-or-nothing (one 409 or 400) unless every input carries an
    /// `objectWriteTraceId`, in which case failures are per input (207).
    func batchCreate(_ body: Data, generation: MockAPIGeneration = .legacy) -> MockReply {
        switch batchInputs(body) {
        case .failure(let error): return error.reply
        case .success(let (inputs, _)):
            let traced = inputs.allSatisfy { $0["objectWriteTraceId"] is String }
            let perInput = configuration.requiredPropertyFailure == .perInput
            var planned: [(properties: [String: String?], trace: String?)] = []
            var errors: [[String: Any]] = []
            var emailsInBatch: Set<String> = []
            for input in inputs {
                let trace = input["objectWriteTraceId"] as? String
                let problem: (status: Int, category: String, message: String)?
                switch Self.validate(input["properties"]) {
                case .failure(let failure):
                    problem = (400, "VALIDATION_ERROR", failure.message)
                case .success(let properties):
                    let email = properties["email"] ?? nil
                    if let email, let existing = emailIndex[email] {
                        problem = (409, "CONFLICT", "Contact already exists. Existing ID: \(existing)")
                    } else if let email, blocklist.contains(email) {
                        problem = (400, "VALIDATION_ERROR", "Email address is blocklisted after a GDPR delete")
                    } else if let email, !emailsInBatch.insert(email).inserted {
                        problem = (400, "VALIDATION_ERROR", "Duplicate email in batch")
                    } else if let missing = missingRequiredProperties(after: properties, on: generation) {
                        guard perInput else {
                            return Self.requiredPropertyReply(code: missing.code, properties: missing.properties)
                        }
                        errors.append(
                            Self.requiredPropertyBatchError(
                                code: missing.code, properties: missing.properties, ids: [], traceId: trace))
                        continue
                    } else {
                        problem = nil
                        planned.append((properties, trace))
                    }
                }
                if let problem {
                    guard traced else {
                        return problem.status == 409
                            ? .error(409, "CONFLICT", problem.message) : .validation(problem.message)
                    }
                    errors.append(
                        HubSpotWire.batchError(category: problem.category, message: problem.message, traceId: trace))
                }
            }
            var results: [[String: Any]] = []
            for (properties, trace) in planned {
                var json = insertContact(properties).json(properties: nil, withHistory: [])
                if let trace { json["objectWriteTraceId"] = trace }
                results.append(json)
            }
            return envelope(results: results, errors: errors, successStatus: 201)
        }
    }

    /// `POST .../batch/update`: unknown ids and invalid values fail their input only (207).
    func batchUpdate(_ body: Data, generation: MockAPIGeneration = .legacy) -> MockReply {
        switch batchInputs(body) {
        case .failure(let error): return error.reply
        case .success(let (inputs, _)):
            if configuration.requiredPropertyFailure == .batch,
                let (position, missing) = firstMissingRequired(inputs, generation: generation)
            {
                return Self.requiredPropertyReply(code: missing.code, properties: missing.properties, input: position)
            }
            var results: [[String: Any]] = []
            var errors: [[String: Any]] = []
            var missing: [String] = []
            for input in inputs {
                let trace = input["objectWriteTraceId"] as? String
                guard let key = input["id"] as? String,
                    let record = resolve(key, byEmail: (input["idProperty"] as? String) == "email")
                else {
                    missing.append(input["id"] as? String ?? "")
                    continue
                }
                switch Self.validate(input["properties"]) {
                case .failure(let problem):
                    errors.append(
                        HubSpotWire.batchError(
                            category: problem.category, message: problem.message, ids: [key], traceId: trace))
                case .success(let properties):
                    if let missing = missingRequiredProperties(after: Self.merged(record, properties), on: generation) {
                        errors.append(
                            Self.requiredPropertyBatchError(
                                code: missing.code, properties: missing.properties, ids: [key], traceId: trace))
                        continue
                    }
                    switch updateContact(record.id, properties) {
                    case .success(let updated):
                        var json = updated.json(properties: nil, withHistory: [])
                        if let trace { json["objectWriteTraceId"] = trace }
                        results.append(json)
                    case .failure(let problem):
                        errors.append(
                            HubSpotWire.batchError(
                                category: problem.category, message: problem.message, ids: [key], traceId: trace))
                    }
                }
            }
            if !missing.isEmpty {
                errors.append(
                    HubSpotWire.batchError(
                        category: "OBJECT_NOT_FOUND", message: "Could not find some CONTACT objects", ids: missing))
            }
            return envelope(results: results, errors: errors)
        }
    }

    /// `POST .../batch/upsert` keyed by email: all-or-nothing, one bad input fails the batch (400).
    func batchUpsert(_ body: Data, generation: MockAPIGeneration = .legacy) -> MockReply {
        switch batchInputs(body) {
        case .failure(let error): return error.reply
        case .success(let (inputs, _)):
            var planned: [(email: String, properties: [String: String?], trace: String?)] = []
            var errors: [[String: Any]] = []
            var seen: Set<String> = []
            for (position, input) in inputs.enumerated() {
                guard (input["idProperty"] as? String) == "email", let key = input["id"] as? String else {
                    return .validation("Input \(position): upsert needs idProperty \"email\" and an id")
                }
                let email = key.lowercased()
                guard Self.isValidEmail(email) else {
                    return .json(
                        400,
                        HubSpotWire.error(
                            category: "VALIDATION_ERROR", message: "Input \(position): Email address \(key) is invalid",
                            errors: [
                                ["message": "Email address \(key) is invalid", "in": "id", "code": "INVALID_EMAIL"]
                            ],
                            context: ["index": [String(position)]]))
                }
                guard !blocklist.contains(email) else {
                    return .validation(
                        "Input \(position): email address is blocklisted after a GDPR delete", code: "BLOCKED_EMAIL",
                        field: "id")
                }
                guard seen.insert(email).inserted else {
                    return .validation("Input \(position): duplicate id in batch")
                }
                switch Self.validate(input["properties"] ?? [String: Any]()) {
                case .failure(let problem):
                    return .validation(
                        "Input \(position): \(problem.message)", code: problem.code, field: problem.property)
                case .success(var properties):
                    if let other = properties["email"] ?? nil, other != email {
                        return .validation("Input \(position): the email property must match the id")
                    }
                    properties["email"] = email
                    let trace = input["objectWriteTraceId"] as? String
                    let existing = emailIndex[email].flatMap { contacts[$0] }
                    if let missing = missingRequiredProperties(after: Self.merged(existing, properties), on: generation)
                    {
                        guard configuration.requiredPropertyFailure == .perInput else {
                            return Self.requiredPropertyReply(
                                code: missing.code, properties: missing.properties, input: position)
                        }
                        errors.append(
                            Self.requiredPropertyBatchError(
                                code: missing.code, properties: missing.properties, ids: [key], traceId: trace))
                        continue
                    }
                    planned.append((email, properties, trace))
                }
            }
            var results: [[String: Any]] = []
            for (email, properties, trace) in planned {
                var json: [String: Any]
                if let id = emailIndex[email], case .success(let updated) = updateContact(id, properties) {
                    json = updated.json(properties: nil, withHistory: [])
                    json["new"] = false
                } else {
                    json = insertContact(properties).json(properties: nil, withHistory: [])
                    json["new"] = true
                }
                if let trace { json["objectWriteTraceId"] = trace }
                results.append(json)
            }
            return envelope(results: results, errors: errors)
        }
    }

    /// The first input of a batch update that would leave its record without a required property.
    private func firstMissingRequired(_ inputs: [[String: Any]], generation: MockAPIGeneration) -> (
        Int, (code: String, properties: [String])
    )? {
        for (position, input) in inputs.enumerated() {
            guard let key = input["id"] as? String,
                let record = resolve(key, byEmail: (input["idProperty"] as? String) == "email"),
                case .success(let properties) = Self.validate(input["properties"]),
                let missing = missingRequiredProperties(after: Self.merged(record, properties), on: generation)
            else { continue }
            return (position, missing)
        }
        return nil
    }

    /// `POST .../batch/archive`: `204`.
    func batchArchive(_ body: Data) -> MockReply {
        switch batchInputs(body) {
        case .failure(let error): return error.reply
        case .success(let (inputs, _)):
            for input in inputs {
                if let key = input["id"] as? String, let record = resolve(key, byEmail: false) { archive(record.id) }
            }
            return .noContent()
        }
    }
}
