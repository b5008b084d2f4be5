// swift-tools-version: 6.1
import PackageDescription

/// Strict settings every Swift target shares: Swift 6 language mode is the package
/// default; upcoming features that catch mistakes early are switched on here once.
let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Hindsight",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hindsight", targets: ["hindsight"]),
        .library(name: "HindsightLog", targets: ["HindsightLog"]),
        .library(name: "HindsightCatalog", targets: ["HindsightCatalog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
        // The event catalogue: EventSchemas/ embedded and compiled into native checks.
        .target(
            name: "HindsightCatalog",
            dependencies: ["CShim"],
            swiftSettings: strictSwift
        ),
        .target(
            name: "HindsightLog",
            dependencies: ["CLZ4", "CShim", "HindsightCatalog"],
            swiftSettings: strictSwift
        ),
        // Erasable personal data: per-person AES-GCM keys (swift-crypto) beside the segments.
        .target(
            name: "HindsightPrivacy",
            dependencies: ["HindsightCatalog", "HindsightLog", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSwift
        ),
        // The writer's composition: log, catalogue and vault, one way in for every append.
        .target(
            name: "HindsightEngine",
            dependencies: ["HindsightCatalog", "HindsightLog", "HindsightPrivacy"],
            swiftSettings: strictSwift
        ),
        // The access rules of EVENTS.md: permissions, their patterns and the built-in roles.
        .target(
            name: "HindsightAccess",
            swiftSettings: strictSwift
        ),
        // Evidence anyone can check offline: signing keys, signed checkpoints, export bundles
        // with Merkle proofs, and their verification.
        .target(
            name: "HindsightEvidence",
            dependencies: ["HindsightCatalog", "HindsightLog", "HindsightPrivacy", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSwift
        ),
        // SQLite from Debian (libsqlite3-dev), where read models keep their tables.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // Read models: the projection engine and the models it keeps caught up.
        .target(
            name: "HindsightProjections",
            dependencies: [
                "CSQLite", "HindsightAccess", "HindsightCatalog", "HindsightLog", "HindsightPrivacy",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        // The query interface: JSON-RPC 2.0 over lines (QUERIES.md), for `serve` and `query`.
        .target(
            name: "HindsightRPC",
            dependencies: ["HindsightAccess", "HindsightCatalog", "HindsightEngine", "HindsightEvidence", "HindsightLog", "HindsightPrivacy", "HindsightProjections"],
            swiftSettings: strictSwift
        ),
        // Deterministic, seeded platform histories for tests and benchmarks.
        .target(
            name: "HindsightWorkload",
            dependencies: ["HindsightLog"],
            path: "Tools/Workload",
            // Optimised in debug builds too: tests generate histories of a million events.
            swiftSettings: strictSwift + [.unsafeFlags(["-O"])]
        ),
        .executableTarget(
            name: "hindsight",
            dependencies: [
                "HindsightCatalog",
                "HindsightEngine",
                "HindsightEvidence",
                "HindsightLog",
                "HindsightPrivacy",
                "HindsightProjections",
                "HindsightRPC",
                "HindsightWorkload",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        // The benchmark command: `swift run -c release hindsight-bench`.
        .executableTarget(
            name: "hindsight-bench",
            dependencies: [
                "HindsightAccess",
                "HindsightCatalog",
                "HindsightEngine",
                "HindsightEvidence",
                "HindsightLog",
                "HindsightPrivacy",
                "HindsightProjections",
                "HindsightWorkload",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/Bench",
            swiftSettings: strictSwift
        ),
        // Scratch directories and running the built CLI, for every test target.
        .target(
            name: "HindsightTestSupport",
            path: "Tests/HindsightTestSupport",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightLogTests",
            dependencies: ["HindsightLog", "HindsightWorkload", "HindsightTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightCatalogTests",
            dependencies: ["HindsightCatalog", "HindsightLog", "HindsightWorkload", "HindsightTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightPrivacyTests",
            dependencies: ["HindsightCatalog", "HindsightEngine", "HindsightLog", "HindsightPrivacy", "HindsightTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightAccessTests",
            dependencies: [
                "HindsightAccess", "HindsightCatalog", "HindsightLog", "HindsightPrivacy", "HindsightProjections", "HindsightTestSupport",
                "HindsightWorkload",
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightProjectionsTests",
            dependencies: ["HindsightCatalog", "HindsightEngine", "HindsightLog", "HindsightPrivacy", "HindsightProjections", "HindsightTestSupport", "HindsightWorkload"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightEvidenceTests",
            dependencies: ["HindsightTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HindsightRPCTests",
            dependencies: ["HindsightEngine", "HindsightProjections", "HindsightRPC", "HindsightTestSupport"],
            swiftSettings: strictSwift
        ),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
