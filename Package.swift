// swift-tools-version: 6.0
// lora-squeeze: squeeze LoRA adapters to one deployment rank, and serve them.
//
// Layers point one way (see README "Layout"):
//   lora-squeeze (CLI) → Service → HTTPServer, Store, SqueezeEngine
//                        SqueezeEngine → AdapterFormats
//                        SqueezeEngine → CBLAS, CLAPACKE (system-library shims)
//   HTTPServer (→ CEpoll, CSSL) knows nothing of LoRA, SQLite or BLAS; Store (→ CSQLite3, CLibPQ, CCrypto) knows nothing of HTTP.
//
// Linux only (built and tested on Debian 12 with Swift 6.x): the server, the store and the compute
// pools call Linux interfaces (sendfile, statvfs's f_bavail, per-thread nice, /proc, MSG_NOSIGNAL,
// accept's EMFILE handling), so no Apple platform is declared.
import PackageDescription

let package = Package(
    name: "lora-squeeze",
    products: [
        .executable(name: "lora-squeeze", targets: ["lora-squeeze"]),
        .library(name: "SqueezeEngine", targets: ["SqueezeEngine"]),
        .library(name: "AdapterFormats", targets: ["AdapterFormats"]),
        .library(name: "HTTPServer", targets: ["HTTPServer"]),
        .library(name: "Store", targets: ["Store"]),
        .library(name: "Service", targets: ["Service"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        // C shims: each imported by exactly one Swift module, found by pkg-config (CEpoll is libc's).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", pkgConfig: "lapacke",
                       providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        // libpq: the PostgreSQL catalog backend (Store/PostgreSQL).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        // libssl: TLS for HTTPServer.
        .systemLibrary(name: "CSSL", pkgConfig: "libssl",
                       providers: [.apt(["libssl-dev"])]),
        // epoll(7) from libc, for the HTTP server's connection readiness (see EventLoop.swift).
        .systemLibrary(name: "CEpoll"),

        // The one lock every module shares (see Locked.swift for why not Synchronization.Mutex).
        .target(name: "Locking"),
        // Pure file formats: safetensors, PEFT, kohya. Bytes in, values or typed errors out.
        .target(name: "AdapterFormats"),
        // Linear algebra and the squeeze itself. Knows nothing of HTTP or SQLite.
        .target(name: "SqueezeEngine",
                dependencies: ["AdapterFormats", "Locking", "CBLAS", "CLAPACKE",
                               .product(name: "Logging", package: "swift-log")]),
        // HTTP/1.1 on sockets and Dispatch. Knows nothing of LoRA, SQLite or BLAS.
        .target(name: "HTTPServer",
                dependencies: ["CEpoll", "CSSL", "Locking", .product(name: "Logging", package: "swift-log")]),
        // The catalog (SQLite, or PostgreSQL when shared by replicas) and content-addressed blobs.
        // Knows nothing of HTTP.
        .target(name: "Store",
                dependencies: ["CSQLite3", "CLibPQ", "CCrypto", "Locking", .product(name: "Logging", package: "swift-log")]),
        // The adapter service: the only module that knows HTTP and adapters both.
        .target(name: "Service",
                dependencies: ["HTTPServer", "Store", "SqueezeEngine", "AdapterFormats", "Locking",
                               .product(name: "Logging", package: "swift-log")],
                resources: [.embedInCode("Resources/openapi.json"), .embedInCode("Resources/dashboard.css"),
                            .embedInCode("Resources/dashboard.js")]),
        .executableTarget(name: "lora-squeeze",
                          dependencies: ["Service", "HTTPServer", "Store", "SqueezeEngine", "AdapterFormats", "Locking",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log")]),

        // The server side of Benchmarks/http/run.sh (wrk against it and nginx in the same run).
        .executableTarget(name: "http-bench-server",
                          dependencies: ["HTTPServer", .product(name: "Logging", package: "swift-log")],
                          path: "Benchmarks/http/BenchServer"),

        // Fixture builders shared by the test targets.
        .target(name: "TestSupport", dependencies: ["AdapterFormats"], path: "Tests/TestSupport"),
        .testTarget(name: "AdapterFormatsTests", dependencies: ["AdapterFormats", "TestSupport"]),
        .testTarget(name: "SqueezeEngineTests", dependencies: ["SqueezeEngine", "AdapterFormats", "Locking", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["lora-squeeze", "AdapterFormats", "SqueezeEngine", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Locking"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Locking"]),
        .testTarget(name: "ServiceTests", dependencies: ["Service", "HTTPServer", "Store", "AdapterFormats", "SqueezeEngine", "Locking", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
