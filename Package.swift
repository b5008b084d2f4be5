// swift-tools-version: 6.1
import PackageDescription

/// Strict settings every Swift target shares: Swift 6 language mode is the package
/// default; upcoming features that catch mistakes early are switched on here once.
let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The modules on the append and scan paths: their small functions are called per event from
/// the modules above, so a release build makes them all available for inlining across modules
/// (without it, the module split cost appends 26–40%: BENCHMARKS.md).
let hotPath: [SwiftSetting] = strictSwift + [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "Hindsight",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hindsight", targets: ["hindsight"]),
        .executable(name: "hindsight-generate", targets: ["hindsight-generate"]),
        .library(name: "HindsightLog", targets: ["HindsightLog"]),
        .library(name: "HindsightCatalog", targets: ["HindsightCatalog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", exact: "0.12.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // liblz4 from Debian (liblz4-dev): the frame format, HC compression and checksums.
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4"),
        // The hot paths in C++: envelope validation and minifying over simdjson (Debian
        // libsimdjson-dev) and RFC 6962 hashing over libcrypto (libssl-dev), each behind a
        // small C API so that a million events cost no per-event Swift allocation.
        .target(
            name: "CShim",
            path: "Sources/CShim",
            // Optimised in debug builds too, so tests push realistic volumes through quickly.
            cxxSettings: [.unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("simdjson"), .linkedLibrary("crypto"), .linkedLibrary("stdc++")]
        ),
        // The vocabulary every layer shares, with no I/O: stored events, validated batches,
        // positions, timestamps, tree hashes and the errors with their codes.
        .target(
            name: "HindsightCore",
            dependencies: ["CShim"],
            swiftSettings: hotPath
        ),
        // Durable files: fsync discipline, atomic replacement, held directories, mappings.
        .target(
            name: "HindsightFiles",
            dependencies: ["CShim", "HindsightCore"],
            swiftSettings: strictSwift
        ),
        // The event catalogue: EventSchemas/ embedded (at build time) and compiled into native checks, the
        // validation of producers' NDJSON into batches, upcasting and personal fields.
        .target(
            name: "HindsightCatalog",
            dependencies: ["CShim", "HindsightCore", "HindsightFiles"],
            swiftSettings: hotPath,
            plugins: ["EmbedSchemas"]
        ),
        // Embeds EventSchemas/*.json in the catalogue at build time.
        .plugin(name: "EmbedSchemas", capability: .buildTool(), dependencies: ["embed-schemas"]),
        .executableTarget(name: "embed-schemas", path: "Tools/EmbedSchemas"),
        // The log: LZ4 segments of validated batches under a Merkle tree, read, verified and
        // proved. It knows neither schemas nor privacy, and cannot write (HindsightLogWriter).
        .target(
            name: "HindsightLog",
            dependencies: ["CLZ4", "CShim", "HindsightCore", "HindsightFiles"],
            swiftSettings: hotPath
        ),
        // The log's one writer: appends validated batches (group commit, recovery after a
        // crash) and compacts sealed segments. Only the engine uses it.
        .target(
            name: "HindsightLogWriter",
            dependencies: ["CShim", "HindsightCore", "HindsightFiles", "HindsightLog"],
            swiftSettings: hotPath
        ),
        // Erasable personal data: per-person AES-GCM keys (swift-crypto) beside the segments.
        // Seals, reveals and destroys; never touches the log.
        .target(
            name: "HindsightVault",
            dependencies: ["HindsightCatalog", "HindsightCore", "HindsightFiles", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSwift
        ),
        // The log as readers see it (`EventSource`): the one way events are presented to readers
        // (revealed, upcast). Read models and evidence reach the log through it alone.
        .target(
            name: "HindsightReadSide",
            dependencies: ["HindsightCatalog", "HindsightCore", "HindsightLog", "HindsightVault"],
            swiftSettings: strictSwift
        ),
        // The only write path: validate, seal, erasures, append.
        .target(
            name: "HindsightEngine",
            dependencies: [
                "HindsightCatalog", "HindsightCore", "HindsightFiles", "HindsightLog", "HindsightLogWriter", "HindsightReadSide",
                "HindsightVault",
            ],
            swiftSettings: strictSwift
        ),
        // The access rules of EVENTS.md: permissions, their patterns and the built-in roles.
        .target(
            name: "HindsightAccess",
            swiftSettings: strictSwift
        ),
        // Evidence anyone can check offline: signing keys, signed checkpoints, export bundles
        // with Merkle proofs and their verification, the access review's composition and the
        // one CSV and JSON lines writer.
        .target(
            name: "HindsightEvidence",
            dependencies: [
                "HindsightCore", "HindsightFiles", "HindsightLog", "HindsightProjections", "HindsightReadSide",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        // SQLite from Debian (libsqlite3-dev), where read models keep their tables.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // Read models: the projection engine and the models it keeps caught up.
        .target(
            name: "HindsightProjections",
            dependencies: [
                "CSQLite", "HindsightAccess", "HindsightCore", "HindsightFiles", "HindsightLog", "HindsightReadSide",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        // The query service: every method of QUERIES.md as a Swift function over typed
        // parameters and answers, with their JSON Schema. Reads through the engine's read side.
        .target(
            name: "HindsightQuery",
            dependencies: [
                "HindsightAccess", "HindsightCatalog", "HindsightCore", "HindsightEngine", "HindsightEvidence", "HindsightLog",
                "HindsightProjections", "HindsightReadSide",
            ],
            swiftSettings: strictSwift
        ),
        // JSON-RPC 2.0 over lines (QUERIES.md), for `serve` and `query`: a thin edge over the
        // query service, with its own request parser.
        .target(
            name: "HindsightRPC",
            dependencies: ["HindsightCore", "HindsightQuery"],
            swiftSettings: strictSwift
        ),
        // The Model Context Protocol over stdio, for `hindsight mcp`: each method of the query
        // service a tool, another thin edge.
        .target(
            name: "HindsightMCP",
            dependencies: [
                "HindsightCore", "HindsightQuery", "HindsightRPC", .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // Deterministic, seeded platform histories for tests and benchmarks.
        .target(
            name: "HindsightWorkload",
            dependencies: ["HindsightCore"],
            path: "Tools/Workload",
            // Optimised in debug builds too: tests generate histories of a million events.
            swiftSettings: strictSwift + [.unsafeFlags(["-O"])]
        ),
        .executableTarget(
            name: "hindsight",
            dependencies: [
                "HindsightCatalog",
                "HindsightCore",
                "HindsightEngine",
                "HindsightEvidence",
                "HindsightFiles",
                "HindsightLog",
                "HindsightLogWriter",
                "HindsightMCP",
                "HindsightProjections",
                "HindsightQuery",
                "HindsightReadSide",
                "HindsightRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        // The workload generator as a command (`hindsight-generate`), apart from the shipped binary.
        .executableTarget(
            name: "hindsight-generate",
            dependencies: ["HindsightWorkload", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tools/Generate",
            swiftSettings: strictSwift
        ),
        // The benchmark command: `swift run -c release hindsight-bench`.
        .executableTarget(
            name: "hindsight-bench",
            dependencies: [
                "HindsightAccess",
                "HindsightCatalog",
                "HindsightCore",
                "HindsightEngine",
                "HindsightEvidence",
                "HindsightFiles",
                "HindsightLog",
                "HindsightLogWriter",
                "HindsightProjections",
                "HindsightReadSide",
                "HindsightWorkload",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/Bench",
            swiftSettings: strictSwift
        ),
        // Scratch directories and running the built CLI, for every test target.
        .target(
            name: "HindsightTestSupport",
            dependencies: ["HindsightCatalog", "HindsightCore", "HindsightWorkload"],
            path: "Tests/HindsightTestSupport",
            swiftSettings: strictSwift
        ),
        // Test targets named after the modules they test (the engine's tests cover the vault's
        // erasure and the writer's place in it; the log's, its writer).
        .testTarget(
            name: "HindsightCoreTests",
            dependencies: ["HindsightCore", "HindsightTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightFilesTests",
            dependencies: ["HindsightCore", "HindsightFiles", "HindsightTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightCatalogTests",
            dependencies: [
                "HindsightCatalog", "HindsightCore", "HindsightLog", "HindsightLogWriter", "HindsightWorkload", "HindsightTestSupport",
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightLogTests",
            dependencies: [
                "HindsightCatalog", "HindsightCore", "HindsightFiles", "HindsightLog", "HindsightLogWriter", "HindsightWorkload",
                "HindsightTestSupport",
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightEngineTests",
            dependencies: [
                "HindsightCatalog", "HindsightCore", "HindsightEngine", "HindsightLog", "HindsightVault", "HindsightTestSupport",
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightAccessTests",
            dependencies: [
                "HindsightAccess", "HindsightCatalog", "HindsightCore", "HindsightEngine", "HindsightLog", "HindsightLogWriter",
                "HindsightReadSide",
                "HindsightProjections", "HindsightTestSupport", "HindsightWorkload",
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightProjectionsTests",
            dependencies: [
                "HindsightCatalog", "HindsightCore", "HindsightEngine", "HindsightLog", "HindsightProjections", "HindsightReadSide",
                "HindsightTestSupport",
                "HindsightWorkload",
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightEvidenceTests",
            dependencies: ["HindsightCore", "HindsightTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightRPCTests",
            dependencies: [
                "HindsightCore", "HindsightEngine", "HindsightProjections", "HindsightQuery", "HindsightRPC", "HindsightTestSupport",
            ],
            swiftSettings: strictSwift
        ),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
