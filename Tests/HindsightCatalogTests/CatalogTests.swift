import Foundation
import HindsightCatalog
import HindsightCore
import HindsightLog
import HindsightWorkload
import Testing

/// The project's EventSchemas/ folder.
let schemaFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("EventSchemas")

func schemaFiles(_ subfolder: String? = nil, ending suffix: String) throws -> [URL] {
    let folder = subfolder.map { schemaFolder.appendingPathComponent($0) } ?? schemaFolder
    return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        .filter { $0.lastPathComponent.hasSuffix(suffix) }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
}

/// Parses lines as `hindsight append` does, with the standard catalogue.
func validate(_ lines: [String]) throws(LogError) -> EnvelopeBatch {
    try EnvelopeParser.parse(ndjson: Array(lines.joined(separator: "\n").utf8), catalog: .standard)
}

func refusal(_ line: String) -> LogError? {
    do {
        _ = try validate([line])
        return nil
    } catch {
        return error
    }
}

@Suite struct SchemaFolderTests {
    @Test func theEngineCarriesExactlyTheSchemaFolder() throws {
        let folder = try schemaFiles(ending: ".json").map { ($0.lastPathComponent, try String(contentsOf: $0, encoding: .utf8)) }
        let embedded = try Catalog(files: folder).schemas.map { "\($0.type).v\($0.version).json" }
        #expect(Catalog.standard.schemas.map { "\($0.type).v\($0.version).json" } == embedded)
        let compiled = Set(embedded)
        let typeFiles = Set(folder.map(\.0).filter { $0 != "common.json" && $0 != "envelope.json" })
        #expect(compiled == typeFiles)
        // The build embeds the folder as it is (the EmbedSchemas plugin): the engine's
        // catalogue is the folder's.
        #expect(try Catalog(files: folder).schemas == Catalog.standard.schemas)
    }

    @Test func everyTypeOfTheSpecHasASchema() {
        let types = Set(Catalog.standard.types)
        let spec = [
            "project.created", "project.transferred", "project.deleted", "build.queued", "build.started",
            "build.step_logged", "build.hook_executed", "build.cache_restored", "build.cache_purged",
            "build.succeeded", "build.failed", "build.canceled", "function.deployed", "function.invoked",
            "function.deleted", "role.defined", "role.deleted", "role.granted", "role.revoked", "access.denied",
            "team.created", "member.invited", "invitation.accepted", "invitation.revoked", "member.role_changed",
            "member.removed", "metric.recorded", "alert.rule_defined", "alert.rule_removed",
            "database.provisioned", "database.deprovisioned", "database.query_executed", "backup.schedule_set",
            "backup.started", "backup.completed", "backup.failed", "backup.restored", "token.created",
            "token.rotated", "token.revoked", "webhook.registered", "webhook.delivered", "webhook.failed",
            "webhook.disabled", "env_var.set", "env_var.removed", "domain.added", "domain.verified",
            "domain.removed", "build_settings.changed", "person.erased",
        ]
        #expect(types == Set(spec))
        #expect(Catalog.standard.versions(of: "function.invoked").map(\.version) == [1, 2])
        #expect(Catalog.standard.versions(of: "member.invited").first?.personalFields == ["email"])
    }

    @Test func everyExampleIsAccepted() throws {
        for file in try schemaFiles("examples", ending: ".ndjson") {
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(!lines.isEmpty, "\(file.lastPathComponent) has no examples")
            for (number, line) in lines.enumerated() {
                #expect(
                    refusal(line) == nil,
                    "\(file.lastPathComponent) line \(number + 1): \(refusal(line).map(String.init(describing:)) ?? "")")
            }
        }
    }

    @Test func everySchemaHasExamplesAndCounterExamples() throws {
        let examples = Set(try schemaFiles("examples", ending: ".ndjson").map { $0.deletingPathExtension().lastPathComponent })
        let invalid = Set(try schemaFiles("invalid", ending: ".ndjson").map { $0.deletingPathExtension().lastPathComponent })
        for schema in Catalog.standard.schemas {
            #expect(examples.contains("\(schema.type).v\(schema.version)"))
            #expect(invalid.contains("\(schema.type).v\(schema.version)"))
        }
    }

    /// Each counter-example states the rule it breaks and where; the engine must refuse it for
    /// exactly that reason.
    @Test func everyCounterExampleIsRefusedForTheRuleItStates() throws {
        var checked = 0
        for file in try schemaFiles("invalid", ending: ".ndjson") {
            for (number, line) in try String(contentsOf: file, encoding: .utf8).split(separator: "\n").enumerated() {
                let place = "\(file.lastPathComponent) line \(number + 1)"
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(place)")
                // The event as written (its field order matters to the first error), which each
                // line holds last: {"rule":…,"pointer":…,"because":…,"event":{…}}.
                let marker = try #require(line.range(of: #","event":"#), "\(place) has no event")
                let event = String(line[marker.upperBound..<line.index(before: line.endIndex)])
                let error = try #require(refusal(event), "\(place) was accepted")
                #expect(error.rule == object["rule"] as? String, "\(place): \(error)")
                #expect(error.fieldPath == object["pointer"] as? String, "\(place): \(error)")
                #expect(error.location == "line 1")
                checked += 1
            }
        }
        #expect(checked > 200)
    }
}

/// A schema the engine cannot enforce exactly is refused when the catalogue is built, naming
/// the file and the place in it: the folder never promises more than the engine checks.
@Suite struct SchemaCompilerTests {
    static let common = try! String(contentsOf: schemaFolder.appendingPathComponent("common.json"), encoding: .utf8)

    static func schema(_ type: String = "thing.happened", version: Int = 1, data: String, extra: String = "") -> String {
        #"{"$ref":"envelope.json","properties":{"type":{"const":"\#(type)"},"schemaVersion":{"const":\#(version)},"data":\#(data)}\#(extra)}"#
    }

    func refusal(_ name: String, _ text: String) -> CatalogError? {
        do {
            _ = try Catalog(files: [("common.json", Self.common), (name, text)])
            return nil
        } catch {
            return error
        }
    }

    @Test func aWellFormedSchemaCompiles() {
        let data =
            #"{"type":"object","additionalProperties":false,"required":["project"],"properties":{"project":{"$ref":"common.json#/$defs/projectId"}}}"#
        #expect(refusal("thing.happened.v1.json", Self.schema(data: data)) == nil)
    }

    @Test(arguments: [
        (
            #"{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string","pattern":"^x$"}}}"#,
            "/properties/data/properties/a/pattern"
        ),
        (
            #"{"type":"object","additionalProperties":false,"properties":{"a":{"oneOf":[{"type":"string"}]}}}"#,
            "/properties/data/properties/a/oneOf"
        ),
        (
            #"{"type":"object","additionalProperties":false,"properties":{"a":{"$ref":"common.json#/$defs/nothing"}}}"#,
            "/properties/data/properties/a/$ref"
        ),
        (
            #"{"type":"object","additionalProperties":false,"required":["b"],"properties":{"a":{"type":"string"}}}"#,
            "/properties/data/required"
        ),
        (#"{"type":"object","properties":{"a":{"type":"string"}}}"#, "/properties/data"),
        (#"{"type":"object","additionalProperties":false,"properties":{"a":{"enum":["x"]}}}"#, "/properties/data/properties/a"),
    ])
    func keywordsTheEngineDoesNotEnforceAreRefused(data: String, pointer: String) throws {
        let error = try #require(refusal("thing.happened.v1.json", Self.schema(data: data)))
        #expect(error.file == "thing.happened.v1.json")
        #expect(error.path == pointer, "\(error)")
    }

    @Test func aFileMustBeNamedForItsTypeAndVersion() throws {
        let data = #"{"type":"object","additionalProperties":false,"properties":{}}"#
        let error = try #require(refusal("other.v1.json", Self.schema(data: data)))
        #expect(error.message.contains("must be named thing.happened.v1.json"))
    }

    @Test func aLaterVersionMustSayHowTheOneBeforeUpcasts() throws {
        let data = #"{"type":"object","additionalProperties":false,"properties":{}}"#
        let v1 = Self.schema(data: data)
        let v2 = Self.schema(version: 2, data: data)
        let files = [("common.json", Self.common), ("thing.happened.v1.json", v1), ("thing.happened.v2.json", v2)]
        #expect(throws: CatalogError.self) { try Catalog(files: files) }
        let upcasting = Self.schema(version: 2, data: data, extra: #","x-upcast":{"from":1,"set":{}}"#)
        #expect(throws: Never.self) { try Catalog(files: [files[0], files[1], ("thing.happened.v2.json", upcasting)]) }
    }
}
